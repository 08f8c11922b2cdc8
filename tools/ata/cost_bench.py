"""`ata bench --only cost`: what the whole sim firmware costs per 20 ms frame, idle and in a call.

The sim firmware (firmware/main.py on the sim board, unchanged) runs under valgrind's
callgrind against Kamailio and baresip, booted through tools/ata/cost_boot.py. The
host arms windows from the console; the shim zeroes callgrind's counters at the start
of a media frame and dumps them N frames later (callgrind --zero-before/--dump-before
on two C functions only the shim calls), so boot and set-up never enter a figure.
Each phase (idle: registered, on-hook; call: talking to baresip, tone both ways) gets
two windows, N1 and N2 frames: per frame = (I(N2) - I(N1)) / (N2 - N1), what one frame
more costs (the window's own fixed cost cancels), beside I(N2) / N2.

A second run boots with the shim's profiler (--profile): task steps, the media frame,
its DSP and RTP calls and the hook sampler timed with ticks_us, and the time the
asyncio loop sat blocked in poll. Under callgrind time follows instructions closely;
each part's share of the busy time splits the first run's per-frame figure. The same
run gives the longest single task step in the call. The SIP rows are sip_bench's.
ESP32 load: instructions x ESP32_CYCLES_PER_INSN / (clock x 20 ms); docs/bench-cost.md.
"""
import argparse
import ast
import os
import pathlib
import re
import shutil
import stat
import sys
import tempfile
import time

from . import paths

ESP32_CYCLES_PER_INSN = 2.0     # MicroPython perf suite scores (docs/bench-cost.md)
CLOCKS_MHZ = (240, 160)
FRAME_S = 0.020
WINDOWS = (50, 150)             # frames: 1 s and 3 s of audio per phase
BOOT_TIMEOUT_S = 240            # boot under callgrind (about 50x slower than native)
SHIM = paths.ROOT / "tools" / "ata" / "cost_boot.py"
PARTS = ("media", "DSP", "RTP", "SIP", "line/hook", "sim board", "other tasks")

_DONE = re.compile(r"costhook: done (\w+) frames (\d+) wall_us (\d+) blocked_us (\d+) "
                   r"steps (\d+) longest_us (\d+) longest_task (.*?) parts (\[.*?\])"
                   r"(?: part_steps (\[.*?\]))?\s*$")


def wrapper(workdir, profile):
    """A micropython stand-in that starts the real one under callgrind with the shim."""
    path = pathlib.Path(workdir) / "micropython-callgrind"
    path.write_text(
        "#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p "
        "--zero-before=mp_math_erfc --dump-before=mp_math_lgamma %s %s %s\"$@\"\n" % (
            workdir, paths.MICROPYTHON, SHIM, "--profile " if profile else ""))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def sim_under_callgrind(cfg, workdir, cg, profile):
    """The sim (not started) whose micropython is wrapper()'s: callgrind and the shim."""
    from ata.sim import SimProcess
    return SimProcess(cfg, run_dir=pathlib.Path(workdir) / "sim",
                      micropython=wrapper(cg, profile))


def dumps(workdir):
    """Instructions of each dump (callgrind.out.PID.N in order N), from its totals line."""
    out = []
    for f in pathlib.Path(workdir).glob("cg.*.*"):
        n = int(f.name.rsplit(".", 1)[1])
        m = re.search(r"^(?:totals|summary):\s*(\d+)", f.read_text(errors="replace"), re.M)
        if not m:
            raise RuntimeError("no totals in %s" % f)
        out.append((n, int(m.group(1))))
    return [i for _, i in sorted(out)]


def parse_done(line):
    """The shim's window report as a dict (parts: {part: us})."""
    m = _DONE.search(line)
    if not m:
        raise ValueError("not a costhook report: %r" % line)
    return {"phase": m.group(1), "frames": int(m.group(2)), "wall_us": int(m.group(3)),
            "blocked_us": int(m.group(4)), "steps": int(m.group(5)),
            "longest_us": int(m.group(6)), "longest_task": m.group(7),
            "parts": dict(ast.literal_eval(m.group(8))),
            "part_steps": dict(ast.literal_eval(m.group(9))) if m.group(9) else {}}


def window(sim, phase, frames, timeout):
    mark = len(sim.log_text())
    sim.send('py __import__("costhook").arm("%s", %d)' % (phase, frames))
    m = sim.wait_log(r"costhook: done %s [^\n]*" % phase, timeout, start=mark)
    return parse_done(m.group(0))


def one_run(workdir, profile, windows=WINDOWS, log=print):
    """Boot under callgrind, run the windows idle and in a call. Returns
    {phase: [(report, instructions) per window]}."""
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from simfix import base_config
    from ata import peers
    from ata.phone import VirtualPhone
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cg = workdir / "callgrind"
    cg.mkdir()
    kam = peers.Kamailio(workdir / "kamailio")
    kam.start()
    far = sim = phone = None
    try:
        wav = workdir / "far.wav"
        peers.write_tone_wav(wav, seconds=120, freq_hz=440)
        far = peers.Baresip(workdir / "baresip", "1002", "secret2", kam.port, audio_wav=wav)
        far.start()
        cfg = base_config(kam.port)
        sim = sim_under_callgrind(cfg, workdir, cg, profile)
        sim.start(wait_ready=False)
        sim.wait_log("sip: registered", BOOT_TIMEOUT_S)
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect(timeout=60)
        per_window_s = 60 + max(windows) * FRAME_S * 100
        reports = {"idle": [], "call": []}
        phone.sleep_sim(2000)                          # settle after registration
        for n in windows:
            log("bench: cost, %s window of %d frames%s ..." % (
                "idle", n, " (profiled)" if profile else ""))
            reports["idle"].append(window(sim, "idle", n, per_window_s))
        # Off-hook, then the number from the console: dialling by pulses or DTMF
        # needs the hook sampler and detector in real time, which callgrind's pace
        # does not always give (digits were lost); the call itself is the same.
        mark = len(sim.log_text())
        phone.off_hook()
        sim.wait_log("line: idle -> dialtone", 60, start=mark)
        sim.send("dial 1002")
        far.wait_event("CALL_ESTABLISHED", 120)
        sim.wait_log("call: confirmed", 60)
        phone.play_tone(1000, -10)
        phone.sleep_sim(2000)                          # jitter buffer and PLC settled
        for n in windows:
            log("bench: cost, %s window of %d frames%s ..." % (
                "call", n, " (profiled)" if profile else ""))
            reports["call"].append(window(sim, "call", n, per_window_s))
        phone.on_hook()
        far.wait_event("CALL_CLOSED", 60)
    except Exception as e:
        tail = sim.log_text()[-3000:] if sim else ""
        raise RuntimeError("%s; the sim's log ends:\n%s" % (e, tail)) from e
    finally:
        if phone:
            phone.close()
        if sim:
            sim.stop(timeout=60)
        if far:
            far.stop()
        kam.stop()
    counts = dumps(cg)
    flat = reports["idle"] + reports["call"]
    if len(counts) < len(flat):
        raise RuntimeError("callgrind wrote %d window dumps, %d windows ran" % (
            len(counts), len(flat)))
    k = 0
    out = {}
    for phase in ("idle", "call"):
        out[phase] = []
        for rep in reports[phase]:
            out[phase].append((rep, counts[k]))
            k += 1
    return out


IDLE_CPU_S = 20                 # seconds of each idle host CPU reading


def cpu_seconds(pid):
    """utime + stime of a process so far, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sim_idle_cpu(workdir, seconds=IDLE_CPU_S, log=print):
    """The sim's own host CPU while idle, natively (no callgrind): registered with
    Kamailio, on-hook, `seconds` without a phone (`ata sim` alone), then `seconds`
    with the virtual phone connected (its audio flows every 20 ms). Returns
    {"no phone": fraction of a core, "phone": fraction}."""
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from simfix import base_config
    from ata import peers
    from ata.phone import VirtualPhone
    from ata.sim import SimProcess
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kam = peers.Kamailio(workdir / "kamailio")
    kam.start()
    sim = phone = None
    out = {}
    try:
        cfg = base_config(kam.port)
        sim = SimProcess(cfg, run_dir=workdir / "sim")
        sim.start(wait_ready=False)
        sim.wait_log("sip: registered", 60)
        time.sleep(2)                                   # settle after registration
        for what in ("no phone", "phone"):
            if what == "phone":
                phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect(timeout=30)
                time.sleep(2)
            log("bench: cost, sim idle host CPU (%s), %d s ..." % (what, seconds))
            pid = sim.proc.pid
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            out[what] = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    finally:
        if phone:
            phone.close()
        if sim:
            sim.stop(timeout=30)
        kam.stop()
    return out


def per_frame(rows):
    """(marginal per frame from the two windows, plain per frame of the longer)."""
    (r1, i1), (r2, i2) = rows[0], rows[-1]
    return (i2 - i1) / (r2["frames"] - r1["frames"]), i2 / r2["frames"]


def split(rows, total):
    """Each part's instructions per frame: its share of the profiled window's busy
    time (wall - blocked in poll) applied to `total`; the rest is the asyncio loop
    (scheduling, poll, task switches) and the profiler itself."""
    rep = rows[-1][0]
    busy = rep["wall_us"] - rep["blocked_us"]
    out = {}
    for part in PARTS:
        out[part] = rep["parts"].get(part, 0) / busy * total if busy > 0 else 0.0
    out["asyncio loop (+ profiler)"] = total - sum(out.values())
    return out, busy


def firmware_part(rows, parts):
    """The firmware's own instructions per frame: the whole less the sim board part and
    the sim board's share of the asyncio loop (its task steps over all task steps in
    the profiled window: the loop's cost is mostly per step). Returns (firmware, the
    sim's share of the loop, sim board steps, all steps)."""
    steps = rows[-1][0].get("part_steps") or {}
    total = sum(steps.values())
    sim = steps.get("sim board", 0)
    loop = parts["asyncio loop (+ profiler)"] * sim / total if total else 0.0
    whole = sum(parts.values())
    return whole - parts["sim board"] - loop, loop, sim, total


MEDIA_DRIVER = paths.ROOT / "bench" / "media_mpy.py"
MEDIA_LOOPS = 250               # frames per REP, as in bench/media_mpy.py
MEDIA_REPS = (1, 3)


MEDIA_MODES = ("media", "none", "conf", "confnone")


def media_path(ex):
    """Instructions per frame of the media path alone (bench/media_mpy.py), in a call
    and in a three-way conference: a future of (call, conference)."""
    from .bench import _callgrind

    def count(mode, reps):
        return _callgrind([paths.MICROPYTHON, MEDIA_DRIVER, mode, reps], paths.micropython_env())
    jobs = {(m, r): ex.submit(count, m, r) for m in MEDIA_MODES for r in MEDIA_REPS}

    def result():
        per = {m: (jobs[m, MEDIA_REPS[1]].result() - jobs[m, MEDIA_REPS[0]].result())
               / ((MEDIA_REPS[1] - MEDIA_REPS[0]) * MEDIA_LOOPS) for m in MEDIA_MODES}
        return per["media"] - per["none"], per["conf"] - per["confnone"]
    return result


def esp32_load(insn_per_frame, mhz):
    return insn_per_frame * ESP32_CYCLES_PER_INSN / (mhz * 1e6 * FRAME_S)


def run(log=print, windows=WINDOWS, sip=True):
    import concurrent.futures
    work = pathlib.Path(tempfile.mkdtemp(prefix="ata-cost-"))
    t0 = time.time()
    try:
        log("bench: cost, sim firmware under callgrind (no profiler) ...")
        clean = one_run(work / "clean", False, windows, log)
        log("bench: cost, sim firmware under callgrind with the profiler ...")
        prof = one_run(work / "profiled", True, windows, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log("bench: cost, the sim's idle host CPU (natively, /proc/PID/stat) ...")
    try:
        idle_cpu = sim_idle_cpu(work / "idle-cpu", log=log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # After the sim runs, not beside them: those must keep pace with real time.
    log("bench: cost, the media path alone (bench/media_mpy.py) ...")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        media_alone, media_conf = media_path(ex)()
    lines = ["ata bench --only cost: x86-64 instructions per 20 ms frame of the whole sim "
             "firmware, callgrind,",
             "windows of %s frames zeroed/dumped at frame starts by the firmware's shim; "
             "see docs/bench-cost.md" % " and ".join(str(n) for n in windows), ""]
    figures = {}
    for phase in ("idle", "call"):
        marg, plain = per_frame(clean[phase])
        pmarg, _ = per_frame(prof[phase])
        figures[phase] = marg
        r = clean[phase][-1][0]
        lines.append("%-5s %9.0f per frame (difference of the windows; %0.f over the %d-frame "
                     "window alone); %.0f frames per wall second under callgrind" % (
                         phase, marg, plain, r["frames"],
                         r["frames"] / (r["wall_us"] / 1e6) if r["wall_us"] else 0))
        parts, busy = split(prof[phase], marg)
        lines.append("      profiled run: %.0f per frame (profiler overhead %+.0f), "
                     "busy %.0f %% of the window" % (
                         pmarg, pmarg - marg, 100.0 * busy / prof[phase][-1][0]["wall_us"]))
        for name, v in parts.items():
            lines.append("      %-28s %9.0f  %5.1f %%" % (name, v, 100.0 * v / marg if marg else 0))
        figures[phase + "_parts"] = parts
        fw, sim_loop, sim_steps, all_steps = firmware_part(prof[phase], parts)
        lines.append("      %-28s %9.0f  %5.1f %%  (the whole less the sim board and %.0f of "
                     "the asyncio loop: its %d of %d task steps)" % (
                         "firmware alone (estimate)", fw, 100.0 * fw / marg if marg else 0,
                         sim_loop, sim_steps, all_steps))
        figures[phase + "_firmware"] = fw
    lines += ["", "media path alone (bench/media_mpy.py: Media.frame in a call, u-law, DTMF "
              "detector on, RTP in, 1 in 10 packets lost and concealed): %.0f per frame"
              % media_alone,
              "media path alone in a three-way conference (the same, a second leg in A-law, "
              "mixed): %.0f per frame" % media_conf]
    figures["media_alone"] = media_alone
    figures["media_conference"] = media_conf
    rep = prof["call"][-1][0]
    rows = prof["call"][-1]
    busy = rep["wall_us"] - rep["blocked_us"]
    rate = rows[1] / busy if busy > 0 else 0.0     # profiled run's instructions per busy us
    longest = rep["longest_us"] * rate
    lines += ["", "longest task step in the call: %s, %.1f ms under callgrind ~ %.0f k "
              "instructions ~ %.1f ms on an ESP32 at 240 MHz (%d task steps in %d frames)" % (
                  rep["longest_task"], rep["longest_us"] / 1000, longest / 1000,
                  longest * ESP32_CYCLES_PER_INSN / 240e3, rep["steps"], rep["frames"])]
    figures["longest"] = (rep["longest_task"], longest)
    call = figures["call"]
    board = figures["call_firmware"]
    lines += ["", "ESP32 load estimate in a call (%.0f ESP32 cycles per x86-64 instruction, "
              "docs/bench-cost.md):" % ESP32_CYCLES_PER_INSN]
    for mhz in CLOCKS_MHZ:
        lines.append("  %d MHz: %.1f %% of a core (whole sim firmware), %.1f %% the firmware "
                     "alone; idle %.1f %% / %.1f %%" % (
                         mhz, 100 * esp32_load(call, mhz), 100 * esp32_load(board, mhz),
                         100 * esp32_load(figures["idle"], mhz),
                         100 * esp32_load(figures["idle_firmware"], mhz)))
    lines += ["", "sim idle host CPU (natively, registered, on-hook, utime+stime over %d s): "
              "%.1f %% of a core without a phone, %.1f %% with the virtual phone connected"
              % (IDLE_CPU_S, 100 * idle_cpu["no phone"], 100 * idle_cpu["phone"])]
    figures["idle_cpu"] = idle_cpu
    text = "\n".join(lines) + "\n"
    if sip:
        from ata import sip_bench
        log("bench: cost, SIP parse and handle (sip_bench) ...")
        sip_text, _ = sip_bench.run()
        text += "\n" + sip_text
    text += "(bench took %.0f s)\n" % (time.time() - t0)
    return text, figures


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata bench --only cost", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="table file (default build/bench-cost.txt)")
    ap.add_argument("--windows", default=",".join(str(n) for n in WINDOWS),
                    help="two window lengths in frames (default %s)" %
                    ",".join(str(n) for n in WINDOWS))
    ap.add_argument("--no-sip", action="store_true", help="leave out the SIP rows")
    a = ap.parse_args(argv)
    try:
        windows = tuple(int(x) for x in a.windows.split(","))
    except ValueError:
        ap.error("--windows: two whole numbers, e.g. 50,150")
    if len(windows) != 2 or not 0 < windows[0] < windows[1]:
        ap.error("--windows: two lengths, the first shorter, e.g. 50,150")
    text, _ = run(log=lambda m: print(m, file=sys.stderr, flush=True), windows=windows,
                  sip=not a.no_sip)
    out = pathlib.Path(a.out) if a.out else paths.BUILD / "bench-cost.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text, end="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
