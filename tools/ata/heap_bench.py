"""`ata bench --only heap`: the firmware's GC heap the way a board holds its code.

The sim board boots three times (and then a few more, below) against Kamailio and
baresip, each time through tools/ata/simboot.py, and completes one call (the third
time two, at once):
- from the ROMFS image (`ata build --romfs`: build/boards/sim.romfs mounted with
  vfs.VfsRom at /rom, bytecode run in place as from a board's ROMFS partition);
- from the .mpy tree (`ata build`: build/boards/sim/, bytecode loaded into the heap,
  as from a board's filesystem);
- from the ROMFS image with two FXS ports configured (config "ports"), line 1 in a
  call with baresip 1002 and line 2 with 1003 at the same time (row romfs2);
- from the ROMFS image, BACK_TO_BACK calls in a row, each half a second after the last
  (row romfs10): the last calls' SIP transactions linger (timer D: 32 s) beside it.
simboot collects garbage every TRACE_MS and prints the live heap (the image buffer,
which the unix port must hold in its heap, left out). Reported: the highest live heap
after boot (registered, idle) and during the call (dial, talk, hang up), in bytes
on x64, and a 32-bit estimate (ESP32) with the method in docs/bench-heap.md. Then
the least heap budget in which the sim from ROMFS completes its call, by bisection
(the free heap comes in pieces, so a call needs more than the live heap).
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from . import build, paths

TRACE_MS = 100
BAR = 128 * 1024          # x64, live heap in a call, image excluded (issue 9)
GOAL = 96 * 1024
BUDGET_TOP = 320 * 1024   # the heap budget tests/test_romfs_sim.py gives a call
BUDGET_STEP = 8 * 1024    # the least budget is found to this
ESP32_HEAP = 112 * 1024   # GC heap of a PSRAM-less ESP32 after Wi-Fi (issue 9)
BACK_TO_BACK = 10         # calls in a row for the bench's back-to-back row
# 32-bit estimate: words halve (pointers, small ints, dict slots, object headers; the
# GC block is 4 words: 32 bytes on x64, 16 on the ESP32), byte data does not. The
# firmware's byte data in a call, counted from the code (bytes): media frames
# (8 x 320 + 2 x 160), jitter ring and flags (rtp.jitter: 16 x 160 + 16), PLC history
# (rtp.plc: 2 x 780 + 2 x 80 + 2 x 160), DTMF detector words (dsp.dtmf: ~1 KB), G.711
# tables (4 x 1 KB), tone sine table (~1 KB), socket buffers (2 x 1500, SIP, RTP).
BYTE_DATA = 8 * 320 + 2 * 160 + 16 * 160 + 16 + 2 * 780 + 2 * 80 + 2 * 160 + 1024 + 4096 + 1024 + 3000


# Of that, each line has its own (the rest, G.711 and sine tables, is shared): media
# frames, jitter ring, PLC history, DTMF detector, RTP socket buffer (1500).
LINE_BYTE_DATA = 8 * 320 + 2 * 160 + 16 * 160 + 16 + 2 * 780 + 2 * 80 + 2 * 160 + 1024 + 1500


def est32(live, lines=1):
    byte_data = BYTE_DATA + (lines - 1) * LINE_BYTE_DATA
    return (max(live - byte_data, 0)) // 2 + min(live, byte_data)


# A qstr pool entry is a pointer, a 2-byte hash and a 1-byte length: 11 bytes on x64,
# 7 on the ESP32 (MICROPY_QSTR_BYTES_IN_HASH 2 at its feature level), not half.
POOL_32_OF_64 = (7, 11)


def est32_romfs(live, held, lines=1):
    """est32 with what ata.heap_holders measured (held, see holders_in_a_call) for
    code run from ROMFS: the qstr pools shrink by 7/11, the modules' name tables
    (16-bit entries) not at all; the rest as est32."""
    pools, names = held["pools"], held["names"]
    num, den = POOL_32_OF_64
    return est32(live - pools - names, lines) + pools * num // den + names


def image(board="sim", arch=None):
    """The board's ROMFS image, built now (for `arch` instead of the board's own: the
    sim for a 32-bit unix MicroPython is x86)."""
    img = build.romfs_path(build.tree_name(board, arch))
    r = subprocess.run([str(paths.VENV_BIN / "ata"), "build", "--board", board, "--romfs"]
                       + (["--arch", arch] if arch else []), capture_output=True, text=True)
    if r.returncode or not img.exists():
        raise RuntimeError("ata build --romfs failed:\n" + r.stdout + r.stderr)
    return img


def samples(text, start=0, end=None):
    return [int(m.group(1)) for m in
            re.finditer(r"heap: live (\d+) max \d+", text[start:end])]


def call_and_measure(sim, phone, far, talk_ms=3000, traced=True, calls=1):
    """With the sim registered: measure idle, make a call to 1002, talk, hang up; then
    `calls` - 1 more back to back (dialled by DTMF, each started within a second of the
    last hang-up, while the last ones' SIP transactions linger). Returns {"boot": bytes,
    "call": bytes} (highest live heap sampled in each phase, all calls in "call");
    traced=False: the sim runs without the heap trace, returns {}."""
    import time
    sim.wait_log("sip: registered", 15)
    ready = sim.log_text().find("sip: registered")
    time.sleep(1.0)
    phone.sleep_sim(0)
    mark = len(sim.log_text())
    boot = samples(sim.log_text(), ready, mark)
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_pulse("1002")
    talk_and_hang_up(sim, phone, far, talk_ms, mark)
    for _ in range(calls - 1):
        again(sim, phone, far, talk_ms)
    time.sleep(3 * TRACE_MS / 1000)
    call = samples(sim.log_text(), mark)
    if not traced:
        return {}
    if not boot or not call:
        raise RuntimeError("no heap trace in the sim's log:\n" + sim.log_text()[-2000:])
    return {"boot": max(boot), "call": max(call)}


def again(sim, phone, far, talk_ms):
    """One more call to 1002 right after the last: off hook half a second after it
    ended, "1002#" in DTMF, talk, hang up; raises if it does not complete."""
    mark = len(sim.log_text())
    phone.sleep_sim(500)
    phone.off_hook()
    sim.wait_log("idle -> dialtone", 5, start=mark)
    phone.dial_dtmf("1002#", on_ms=70, off_ms=70, level_dbm0=-8)
    talk_and_hang_up(sim, phone, far, talk_ms, mark)


def talk_and_hang_up(sim, phone, far, talk_ms, mark):
    """The call just dialled: answered by baresip, talk (a tone), hang up, the line
    idle again (the sim's log read from `mark`)."""
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5, start=mark)
    phone.play_tone(1000, -10)
    phone.sleep_sim(talk_ms)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    sim.wait_log("line: call -> idle", 5, start=mark)


def two_calls_and_measure(sim, phones, fars, talk_ms=3000):
    """Two ports registered (1001, 1004): measure idle, then line 1 calls 1002 and
    line 2 calls 1003, both talk at once, both hang up. Returns {"boot", "call"}."""
    import time
    sim.wait_log(r"\.\d\d\d\] sip: registered", 15)     # port 1's line (no "[2] ")
    sim.wait_log(r"\[2\] sip: registered", 15)
    text = sim.log_text()
    ready = max(text.find("] sip: registered"), text.find("[2] sip: registered"))
    time.sleep(1.0)
    phones[0].sleep_sim(0)
    mark = len(sim.log_text())
    boot = samples(sim.log_text(), ready, mark)
    for phone, far in zip(phones, fars):
        phone.off_hook()
        phone.sleep_sim(400)
        phone.dial_dtmf(far.user, on_ms=70, off_ms=70, level_dbm0=-8)
        phone.play_tone(1000, -10)
    for far in fars:
        far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log(r"\[2\] call: confirmed", 5, start=mark)
    phones[0].sleep_sim(talk_ms)
    for phone in phones:
        phone.on_hook()
    for far in fars:
        far.wait_event("CALL_CLOSED", 10)
    sim.wait_log(r"\[2\] line: call -> idle", 5, start=mark)
    time.sleep(3 * TRACE_MS / 1000)
    call = samples(sim.log_text(), mark)
    if not boot or not call:
        raise RuntimeError("no heap trace in the sim's log:\n" + sim.log_text()[-2000:])
    return {"boot": max(boot), "call": max(call)}


def measure_two_lines(workdir, heapsize=None, img=None):
    """The sim with two ports from the ROMFS image `img` (built when None), both lines
    in calls at once (line 1 with baresip 1002, line 2 with 1003) against a fresh
    Kamailio in workdir."""
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from simfix import base_config
    from ata import peers
    from ata.phone import VirtualPhone
    from ata.sim import SimProcess
    workdir = pathlib.Path(workdir)
    img = img or image()
    users = {"1001": "secret1", "1002": "secret2", "1003": "secret3", "1004": "secret4"}
    kam = peers.Kamailio(workdir / "kamailio", users=users)
    kam.start()
    fars, phones, sim = [], [], None
    try:
        wav = workdir / "far.wav"
        peers.write_tone_wav(wav, seconds=60, freq_hz=440)
        for user in ("1002", "1003"):
            fars.append(peers.Baresip(workdir / user, user, users[user], kam.port,
                                      audio_wav=wav))
            fars[-1].start()
        cfg = base_config(kam.port)
        cfg["ports"] = [{}, {"sip": {"user": "1004", "password": users["1004"],
                                     "sip_port": peers.free_udp_port()},
                             "sim": {"phone_port": peers.free_tcp_port()}}]
        sim = SimProcess(cfg, run_dir=workdir / "sim-two", heapsize=heapsize,
                         heap_trace_ms=TRACE_MS, romfs=img).start()
        for port in (cfg["sim"]["phone_port"], cfg["ports"][1]["sim"]["phone_port"]):
            phones.append(VirtualPhone("127.0.0.1", port).connect())
        out = two_calls_and_measure(sim, phones, fars)
        out["image"] = img.stat().st_size
        return out
    finally:
        for phone in phones:
            phone.close()
        if sim:
            sim.stop()
        for far in fars:
            far.stop()
        kam.stop()


def measure(kind, workdir, heapsize=None, traced=True, img=None, micropython=None, calls=1):
    """kind: "romfs", "files" or "frozen". Boots the sim that way (from `img`, the
    ROMFS image, or the .mpy tree built beside it, built when None; frozen: the code
    frozen into `micropython`) against a fresh Kamailio and baresip in workdir and
    returns the figures (plus the image size for romfs). micropython: the binary
    (default the venv's). traced=False: no heap trace (its collections every
    TRACE_MS, which a board does not make, would keep the heap tidier than the
    firmware alone does). calls: that many back to back (call_and_measure)."""
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from simfix import base_config
    from ata import peers
    from ata.phone import VirtualPhone
    from ata.sim import SimProcess
    workdir = pathlib.Path(workdir)
    img = img or (None if kind == "frozen" else image())
    kam = peers.Kamailio(workdir / "kamailio")
    kam.start()
    far = None
    sim = None
    phone = None
    try:
        wav = workdir / "far.wav"
        peers.write_tone_wav(wav, seconds=60, freq_hz=440)
        far = peers.Baresip(workdir / "baresip", "1002", "secret2", kam.port, audio_wav=wav)
        far.start()
        cfg = base_config(kam.port)
        code = ({"romfs": img} if kind == "romfs" else {"frozen": True} if kind == "frozen"
                else {"mpy_tree": img.with_suffix("")})
        sim = SimProcess(cfg, run_dir=workdir / ("sim-" + kind), heapsize=heapsize,
                         heap_trace_ms=TRACE_MS if traced else 0, micropython=micropython,
                         **code).start()
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        try:
            out = call_and_measure(sim, phone, far, traced=traced, calls=calls)
        except Exception as e:  # noqa: say what the sim saw (a MemoryError, mostly)
            text = sim.log_text()
            raise RuntimeError("%s; the sim's first error: %s; %d of %d calls completed" % (
                str(e).split("\n")[0][:120], first_error(text), calls_completed(text),
                calls)) from e
        out["image"] = img.stat().st_size if kind == "romfs" else 0
        phone.close()
        phone = None
        rc, text = sim.stop(), sim.log_text()
        sim = None
        why = sim_failure(rc, text)
        if why:
            raise RuntimeError(why)
        return out
    finally:
        if phone:
            phone.close()
        if sim:
            sim.stop()
        if far:
            far.stop()
        kam.stop()


_ERROR = re.compile(r"MemoryError|Traceback|Error|crashed|no room")


def first_error(text):
    """The first line of a sim's log that tells of an error, or "none". For a traceback,
    the line that closes it (the exception and its message), which says what failed."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _ERROR.search(line):
            if line.lstrip().startswith("Traceback"):
                for after in lines[i + 1:]:
                    if after and not after[0].isspace():
                        return after.strip() + " (a traceback's last line)"
            return line.strip()
    return "none"


def calls_completed(text):
    """How many calls in a sim's log went from talking back to idle."""
    return text.count("line: call -> idle")


def sim_failure(rc, text):
    """Why a sim run failed, by its exit code and its log (a MemoryError, a traceback),
    or None."""
    if rc != 0 or "MemoryError" in text or "Traceback" in text:
        return "the sim failed (exit %r): %s\n%s" % (rc, first_error(text), text[-3000:])
    return None


def failure_at(workdir, budget, img, micropython=None, calls=1):
    """None if the sim from the ROMFS image `img` (None: the code frozen into
    `micropython`), under a heap limit of the image plus `budget` bytes, boots,
    registers and completes the bench's call (and `calls` - 1 more back to back) with
    nothing failing in its log; else the first line of what failed (untraced)."""
    kind, image_bytes = ("romfs", img.stat().st_size) if img else ("frozen", 0)
    try:
        measure(kind, workdir, heapsize=image_bytes + budget, traced=False, img=img,
                micropython=micropython, calls=calls)
        return None
    except Exception as e:  # noqa: any failure (a call that never came, a MemoryError) = no
        return str(e).split("\n")[0]


def completes_a_call(workdir, budget, img, log=print, micropython=None, calls=1):
    """True if failure_at finds nothing failing (logged when it does)."""
    why = failure_at(workdir, budget, img, micropython, calls)
    if why is not None:
        log("bench: heap budget %d KB failed: %s" % (budget // 1024, why))
    return why is None


def least_budget(workdir, lo, hi, img=None, step=BUDGET_STEP, log=print, micropython=None,
                 frozen=False, calls=1):
    """The least heap budget (limit less the image), to `step` bytes, in which the sim
    from ROMFS completes a call: bisection between lo (below the live heap: fails) and
    hi, one run per budget. Returns (least that passed, most that failed), or None if
    hi fails. The free heap comes in pieces, so this is above the live heap. img: the
    ROMFS image (built when None). frozen: the code frozen into `micropython` instead.
    calls: the least budget for that many calls back to back."""
    img = None if frozen else (img or image())
    lo, hi = lo // step, -(-hi // step)

    def passes(units):
        log("bench: heap budget %d KB ..." % (units * step // 1024))
        return completes_a_call(pathlib.Path(workdir) / ("b%d" % units), units * step, img,
                                log, micropython, calls)
    if not passes(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi * step, lo * step


def board_module_run(img, stubs):
    """tools/ata/heap_board_mp.py on the board image `img`, the stand-in C modules
    from the folder `stubs`: its CompletedProcess."""
    env = paths.micropython_env()
    env["MICROPYPATH"] = ".frozen"
    return subprocess.run([paths.MICROPYTHON, str(paths.ROOT / "tools" / "ata" / "heap_board_mp.py"),
                           str(img), str(paths.ROOT / "boards" / "sim"), str(stubs)],
                          cwd=str(stubs), env=env, capture_output=True, text=True, timeout=60)


def esp32_board_module(img=None):
    """Live bytes the ESP32's own board module (boards/esp32_ag1171/board.py, with the
    slic.rmt_ring it imports) takes when imported from its ROMFS image on the host
    (tools/ata/heap_board_mp.py); img: that image (built when None)."""
    img = img or image("esp32_ag1171")
    with tempfile.TemporaryDirectory(prefix="ata-board-") as d:
        # `network` is a C module on a board (no heap); this empty one lets board.py import
        (pathlib.Path(d) / "network.py").write_text("# stand-in for the C module\n")
        r = board_module_run(img, d)
    m = re.search(r"board module: (\d+) bytes", r.stdout)
    if r.returncode or not m:
        raise RuntimeError("heap_board_mp failed:\n" + r.stdout + r.stderr)
    return int(m.group(1))


def holders_in_a_call(img=None):
    """By ata.heap_holders, in a call: {"sim": the sim's virtual hardware (its board,
    vmachine, phonelink, codec modules and every instance of their classes), "pools":
    the qstr pools, "names": the modules' name tables, "flash": what else a frozen
    build keeps in flash (the modules' name and constant tables, constant objects,
    raw code)}, live bytes on x64. img: the sim's ROMFS image (built when None)."""
    from . import heap_holders as hh
    for tag, heap, roots, sim_types, names, pool in hh.run(img or image()):
        if tag == "in-a-call":
            by_group, _, _, _, owner = hh.groups(heap, roots, sim_types)
            return {"sim": by_group["sim's virtual hardware"],
                    "pools": by_group["VM: qstr pools"],
                    "names": hh.name_table_bytes(heap, owner, names),
                    "flash": sum(hh.flash_kept(heap, owner, names).values())}
    raise RuntimeError("heap_holders gave no in-a-call dump")


def run(log=print):
    work = pathlib.Path(tempfile.mkdtemp(prefix="ata-heap-"))
    try:
        img = image()          # built once: every run below boots from it (or its tree)
        rows = []
        for kind, what in (("romfs", "ROMFS image at /rom (as a board's ROMFS partition)"),
                           ("files", ".mpy files (as a board's filesystem)")):
            log("bench: heap, sim booted from %s, one call ..." % kind)
            rows.append((kind, what, measure(kind, work / kind, img=img)))
        log("bench: heap, sim with two ports booted from romfs, both lines in calls ...")
        rows.append(("romfs2", "ROMFS image, two ports: both lines in calls at once",
                     measure_two_lines(work / "two", img=img)))
        log("bench: heap, sim booted from romfs, %d calls back to back ..." % BACK_TO_BACK)
        rows.append(("romfs%d" % BACK_TO_BACK, "ROMFS image, %d calls back to back (the last "
                     "ones' SIP transactions lingering)" % BACK_TO_BACK,
                     measure("romfs", work / "b2b", img=img, calls=BACK_TO_BACK)))
        log("bench: heap, the least heap budget in which the sim from ROMFS completes "
            "a call ...")
        least = least_budget(work / "budget", rows[0][2]["call"], BUDGET_TOP, img, log=log)
        log("bench: heap, the sim's virtual hardware (ata.heap_holders) and the ESP32's "
            "board module ...")
        held, esp32_board = holders_in_a_call(img), esp32_board_module()
        sim_hw = held["sim"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    k = 1024.0
    lines = ["ata bench: GC heap of the firmware on the sim (x64 unix port), live bytes "
             "after gc.collect() every %d ms, image buffer excluded; see docs/bench-heap.md" % TRACE_MS,
             "",
             "%-7s %12s %12s %12s %12s   %s" % ("code", "after boot", "in call(s)",
                                              "32-bit boot", "32-bit call", "held as")]
    lines.append("-" * len(lines[-1]))
    def e32(kind, live):
        n = 2 if kind == "romfs2" else 1
        return est32(live, n) if kind == "files" else est32_romfs(live, held, n)

    for kind, what, f in rows:
        lines.append("%-7s %9.1f KB %9.1f KB %9.1f KB %9.1f KB   %s" % (
            kind, f["boot"] / k, f["call"] / k, e32(kind, f["boot"]) / k,
            e32(kind, f["call"]) / k, what))
    rom = rows[0][2]
    two = rows[2][2]
    lines.append("")
    lines.append("second line (romfs2 - romfs): +%.1f KB after boot, +%.1f KB in calls "
                 "(32-bit est. +%.1f / +%.1f KB)" % (
                     (two["boot"] - rom["boot"]) / k, (two["call"] - rom["call"]) / k,
                     (e32("romfs2", two["boot"]) - e32("romfs", rom["boot"])) / k,
                     (e32("romfs2", two["call"]) - e32("romfs", rom["call"])) / k))
    lines.append("ROMFS image: %d bytes (held in the heap on the host only; left out above)"
                 % rom["image"])
    ok = rom["call"] <= BAR
    lines.append("bar (x64, in a call, ROMFS): <= %d KB: %s; goal <= %d KB: %s" % (
        BAR // 1024, "PASS" if ok else "FAIL (%.1f KB)" % (rom["call"] / k),
        GOAL // 1024, "met" if rom["call"] <= GOAL else "not met"))
    if least is None:
        lines.append("least heap budget for a call from ROMFS: none up to %d KB" % (BUDGET_TOP // 1024))
        ratio = None
    else:
        ratio = least[0] / rom["call"]
        lines.append("least heap budget for a call from ROMFS (heap limit less the image, one "
                     "run each, to %d KB): %d KB passed, %d KB failed; %.2f x the live heap in "
                     "a call (the free rest comes in pieces)" % (
                         BUDGET_STEP // 1024, least[0] // 1024, least[1] // 1024, ratio))
    lines.append("32-bit estimate: (live - %d B of byte data) / 2 + byte data; two lines: "
                 "%d B more byte data (the second line's); from ROMFS the qstr pools (%.1f KB) "
                 "count 7/11 and the modules' name tables (%.1f KB) whole (ata.heap_holders); "
                 "files: plain, bytecode halved with the rest (an underestimate)" % (
                     BYTE_DATA, LINE_BYTE_DATA, held["pools"] / k, held["names"] / k))
    # A board holds its own board module, not the sim's with its virtual hardware.
    board = {p: rom[p] - sim_hw + esp32_board for p in ("boot", "call")}
    lines.append("ESP32 from ROMFS: romfs less the sim's virtual hardware (%.1f KB in a call, "
                 "ata.heap_holders) plus the ESP32's board module (%.1f KB): %.1f / %.1f KB "
                 "x64 after boot / in a call; 32-bit est. %.1f / %.1f KB (its peripherals' "
                 "objects not counted)" % (
                     sim_hw / k, esp32_board / k, board["boot"] / k, board["call"] / k,
                     est32_romfs(board["boot"], held) / k, est32_romfs(board["call"], held) / k))
    # A frozen build (boards/esp32_ag1171/frozen) keeps the names and the code's
    # tables, constants and raw code in flash: not built here, so an estimate.
    frozen = board["call"] - held["pools"] - held["flash"]   # (the name tables are in "flash")
    lines.append("ESP32 frozen (estimate, not built here): that less the qstr pools (%.1f KB) "
                 "and what else a frozen build keeps in flash (%.1f KB, ata.heap_holders): "
                 "%.1f KB x64 in a call; 32-bit est. %.1f KB" % (
                     held["pools"] / k, held["flash"] / k, frozen / k, est32(frozen) / k))
    if ratio is not None:
        # The same headroom over the live heap on the ESP32: an estimate on an estimate
        # (its blocks are 16 bytes, not 32, and its heap holds other things).
        lines.append("heap an ESP32 would need for a call, the 32-bit estimates times %.2f: "
                     "from ROMFS %.1f KB, frozen %.1f KB; a PSRAM-less ESP32 has ~%d KB" % (
                         ratio, ratio * est32_romfs(board["call"], held) / k,
                         ratio * est32(frozen) / k, ESP32_HEAP // 1024))
    return "\n".join(lines) + "\n", ok


def image_for(arch):
    """The sim's ROMFS image for a MicroPython of `arch` (x64 is the sim's own arch:
    its image as `ata build --romfs` makes it)."""
    return image(arch=None if arch == "x64" else arch)


def run_other(micropython, arch, frozen, log=print, calls=1):
    """The sim on a MicroPython of one's own (a 32-bit unix build, say; docs/bench-heap.md,
    On 32 bits, measured): its code from the ROMFS image built for `arch`, or
    frozen into the binary (boards/sim/frozen/manifest.py). One call (or `calls` back to
    back) measured with the heap trace, then the least heap budget for it. Returns
    (text, within ESP32_HEAP)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="ata-heap-"))
    kind = "frozen" if frozen else "romfs"
    try:
        img = None if frozen else image_for(arch)
        log("bench: heap, sim on %s, code %s (%s), %d call(s) ..." % (micropython, kind, arch,
                                                                       calls))
        f = measure(kind, work / kind, img=img, micropython=micropython, calls=calls)
        log("bench: heap, the least heap budget in which it completes them ...")
        least = least_budget(work / "budget", f["call"], BUDGET_TOP, img, log=log,
                             micropython=micropython, frozen=frozen, calls=calls)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    k = 1024.0
    what = "a call" if calls == 1 else "%d calls back to back" % calls
    lines = ["ata bench: GC heap of the firmware on the sim, MicroPython %s (code %s, %s), "
             "live bytes after gc.collect() every %d ms%s; see docs/bench-heap.md" % (
                 micropython, kind, arch, TRACE_MS, "" if frozen else ", image buffer excluded"),
             "",
             "after boot: %.1f KB; in %s: %.1f KB (the sim's virtual hardware included)" % (
                 f["boot"] / k, what, f["call"] / k)]
    if least is None:
        lines.append("least heap budget for %s: none up to %d KB" % (what, BUDGET_TOP // 1024))
    else:
        lines.append("least heap budget for %s (one run each, to %d KB): %d KB passed, %d KB "
                     "failed; %.2f x the live heap in %s" % (
                         what, BUDGET_STEP // 1024, least[0] // 1024, least[1] // 1024,
                         least[0] / f["call"], what))
    fits = least is not None and least[0] <= ESP32_HEAP
    lines.append("a PSRAM-less ESP32 has ~%d KB of GC heap after Wi-Fi: %s" % (
        ESP32_HEAP // 1024, "within it" if fits else "over it"))
    return "\n".join(lines) + "\n", fits


def runs_at(micropython, arch, frozen, budget, runs, calls, log=print):
    """`runs` single runs of `calls` calls back to back under one heap budget (limit
    less the image), without the heap trace, as the bisection runs them: how often
    they all complete near the edge, where single runs differ. Returns the text."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="ata-heap-"))
    kind = "frozen" if frozen else "romfs"
    lines = []
    passed = 0
    try:
        img = None if frozen else image_for(arch)
        for i in range(runs):
            log("bench: heap budget %d KB, run %d of %d ..." % (budget // 1024, i + 1, runs))
            why = failure_at(work / ("r%d" % i), budget, img, micropython, calls)
            if why is None:
                passed += 1
                lines.append("run %d: all %d calls completed" % (i + 1, calls))
            else:
                lines.append("run %d: failed: %s" % (i + 1, why))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = ("ata bench: %d calls back to back under a heap budget of %d KB, MicroPython %s "
            "(code %s, %s), %d runs: %d completed them all" % (
                calls, budget // 1024, micropython, kind, arch, runs, passed))
    return "\n".join([head, ""] + lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata bench --only heap", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="table file (default build/bench-heap.txt, "
                    "or build/bench-heap-<arch>[-frozen].txt with --micropython)")
    ap.add_argument("--micropython", metavar="BIN", help="run the sim on this unix MicroPython "
                    "instead of the venv's (one's own build, e.g. 32-bit)")
    ap.add_argument("--arch", default="x64", help="with --micropython: the arch its native "
                    "code is (x86 for a 32-bit build; the image is built for it)")
    ap.add_argument("--frozen", action="store_true", help="with --micropython: the firmware is "
                    "frozen into it (boards/sim/frozen/manifest.py)")
    ap.add_argument("--calls", type=int, default=1, help="with --micropython: that many calls "
                    "back to back (each while the last ones' SIP transactions linger)")
    ap.add_argument("--at", type=int, metavar="KB", help="with --micropython: no bisection; "
                    "--runs single runs under this heap budget, each with its outcome")
    ap.add_argument("--runs", type=int, default=3, help="with --at: how many (default 3)")
    a = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if a.micropython and a.at:
        text = runs_at(str(pathlib.Path(a.micropython).resolve()), a.arch, a.frozen,
                       a.at * 1024, a.runs, a.calls, log)
        print(text, end="", flush=True)
        return 0
    if a.micropython:
        text, ok = run_other(str(pathlib.Path(a.micropython).resolve()), a.arch, a.frozen, log,
                             a.calls)
        name = "bench-heap-%s%s%s.txt" % (a.arch, "-frozen" if a.frozen else "",
                                          "-calls%d" % a.calls if a.calls > 1 else "")
    else:
        text, ok = run(log=log)
        name = "bench-heap.txt"
    out = pathlib.Path(a.out) if a.out else paths.BUILD / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text, end="", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
