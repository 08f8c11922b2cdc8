"""`ata demo`: the ATA on the sim board places a real call through a local PBX.

Starts Kamailio (registrar and proxy with digest auth) and baresip (the far-end
phone, extension 1002) on loopback, boots the firmware on the sim as extension
1001, and has the virtual phone lift the handset, listen for dial tone, pulse-dial
1002, talk (a 1 kHz tone) while listening to the far end (440 Hz), and hang up.
Prints a trace with timings; leaves a pcap, the recordings and the logs in
build/demo/. Exits 0 only if every step happened.
"""
import shutil
import subprocess
import sys
import time

from . import paths, peers, signals
from .phone import VirtualPhone
from .sim import SimProcess

PHONE_HZ = 1000
FAR_HZ = 440


class Trace:
    def __init__(self):
        self.t0 = time.monotonic()
        self.failed = []

    def say(self, text):
        print("[%6.2f s] %s" % (time.monotonic() - self.t0, text), flush=True)

    def check(self, ok, text):
        self.say(("ok    " if ok else "FAIL  ") + text)
        if not ok:
            self.failed.append(text)
        return ok


def describe(x):
    peaks = signals.spectrum_peaks(x, 2)
    return "%.1f dBm0, %s" % (signals.dbm0(x), " + ".join("%.0f Hz" % f for f, rel in peaks if rel > -10))


def sip_summary(pcap):
    r = subprocess.run(["tshark", "-r", str(pcap), "-Y", "sip", "-T", "fields",
                        "-e", "frame.time_relative", "-e", "ip.src", "-e", "udp.srcport",
                        "-e", "udp.dstport", "-e", "sip.Method", "-e", "sip.Status-Code",
                        "-e", "sip.CSeq.method"], capture_output=True, text=True)
    return [line.split("\t") for line in r.stdout.splitlines() if line.strip()]


def rtp_streams(pcap, lo, hi):
    r = subprocess.run(["tshark", "-r", str(pcap), "-q", "-d", "udp.port==%d-%d,rtp" % (lo, hi),
                        "-z", "rtp,streams"], capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if "ITU-T G.711" in line or "g711" in line.lower()]


def run(out):
    tr = Trace()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    kam = peers.Kamailio(out / "kamailio")
    kam.start()
    tr.say("Kamailio registrar/proxy up on 127.0.0.1:%d (users 1001, 1002; digest auth)" % kam.port)
    rtp_lo, rtp_hi = peers.free_udp_range(40)
    far_wav = peers.write_tone_wav(out / "far-end-440Hz.wav", seconds=300, freq_hz=FAR_HZ)
    far = peers.Baresip(out / "baresip", "1002", "secret2", kam.port, audio_wav=far_wav,
                        record_dir=out / "recordings", rtp_range=(rtp_lo, rtp_lo + 19))
    ata_rtp = rtp_lo + 20
    cfg = {
        "sip": {"server": "127.0.0.1", "port": kam.port, "user": "1001", "password": "secret1",
                "sip_port": peers.free_udp_port(), "expires": 120},
        "rtp": {"port": ata_rtp},
        "line": {"country": "US", "interdigit_ms": 2000},
        "sim": {"phone_port": peers.free_tcp_port()},
    }
    pcap = out / "demo.pcap"
    cap = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-w", str(pcap),
                            "udp and (port %d or port %d or port %d or portrange %d-%d)" % (
                                kam.port, cfg["sip"]["sip_port"], far.sip_port, rtp_lo, rtp_hi)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    sim = phone = None
    try:
        far.start()
        tr.say("baresip (far end, 1002) registered; it answers automatically and plays %d Hz" % FAR_HZ)
        sim = SimProcess(cfg, run_dir=out / "sim").start()
        tr.say("ATA firmware booted on the sim board; console %s" % sim.console_path)
        sim.wait_log("sip: registered", 15)
        tr.check(kam.registered("1001"), "ATA registered as 1001 (digest auth) - Kamailio has its contact")
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        tr.say("virtual phone plugged in (on-hook)")

        t_off = phone.off_hook(bounce_ms=5)
        tr.say("phone: handset lifted")
        phone.sleep_sim(800)
        t_tone = phone.first_sound_after(t_off)
        dial = phone.recording(t_off + 200_000, t_off + 800_000)
        ok = t_tone is not None and t_tone - t_off <= 200_000
        tr.check(ok, "dial tone after %s ms: %s" % (
            "?" if t_tone is None else "%.0f" % ((t_tone - t_off) / 1000), describe(dial)))
        peaks = sorted(f for f, rel in signals.spectrum_peaks(dial, 2) if rel > -6)
        tr.check(len(peaks) == 2 and abs(peaks[0] - 350) < 3 and abs(peaks[1] - 440) < 3,
                 "dial tone is the US plan's 350 + 440 Hz")

        phone.play_tone(PHONE_HZ, -10)
        tr.say("phone: rotary-dialling 1002 (10 pulses/s, 60 % break, 5 ms contact bounce)")
        phone.dial_pulse("1002", pps=10, break_ratio=0.6, bounce_ms=5)
        m = sim.wait_log(r"line: dialled (\d+)", 10)
        tr.check(m.group(1) == "1002", "ATA decoded the pulses as %s" % m.group(1))
        far.wait_event("CALL_ESTABLISHED", 15)
        sim.wait_log("call: confirmed", 5)
        tr.say("INVITE through Kamailio; baresip answered; call up")
        t_call = phone.sim_now_us
        phone.sleep_sim(4000)
        heard = phone.recording(t_call + 500_000)
        share = signals.tone_power(heard, FAR_HZ)
        tr.check(share > 0.8, "phone hears the far end: %s (%.0f %% of energy at %d Hz)"
                 % (describe(heard), 100 * share, FAR_HZ))
        phone.on_hook(bounce_ms=5)
        tr.say("phone: handset replaced")
        closed = _happened(lambda: far.wait_event("CALL_CLOSED", 10))
        idle = _happened(lambda: sim.wait_log("line: .* -> idle", 5))
        tr.check(closed, "baresip closed the call")
        tr.check(idle, "the ATA's line went back to idle")
        rec = far.recordings("dec")
        got = signals.read_wav(rec[-1]) if rec else []
        got = got[len(got) // 4:]
        share = signals.tone_power(got, PHONE_HZ) if len(got) else 0.0
        tr.check(share > 0.8, "far end heard the phone: %s (%.0f %% of energy at %d Hz)"
                 % (describe(got) if len(got) else "nothing", 100 * share, PHONE_HZ))
        signals.write_wav(out / "phone-heard.wav", phone.recording())
    finally:
        if phone is not None:
            phone.close()
        if sim is not None:
            sim.stop()
        far.stop()
        kam.stop()
        time.sleep(0.3)
        cap.terminate()
        cap.wait(5)
    msgs = sip_summary(pcap)
    names = {str(kam.port): "Kamailio", str(cfg["sip"]["sip_port"]): "ATA", str(far.sip_port): "baresip"}
    tr.say("SIP in the capture (%d messages):" % len(msgs))
    for f in msgs:
        t, src, sport, dport, method, code, cseq = (f + [""] * 7)[:7]
        print("           %7.3f s  %-8s -> %-8s  %s" % (
            float(t or 0), names.get(sport, sport), names.get(dport, dport),
            method or "%s (%s)" % (code, cseq)))
    methods = [f[4] for f in msgs if len(f) > 4 and f[4]]
    tr.check(all(m in methods for m in ("REGISTER", "INVITE", "ACK", "BYE")),
             "REGISTER, INVITE, ACK and BYE all on the wire")
    tr.check(any(len(f) > 4 and f[4] == "BYE" and names.get(f[2]) == "ATA" for f in msgs),
             "the BYE came from the ATA (the phone hung up)")
    streams = rtp_streams(pcap, rtp_lo, rtp_hi)
    tr.check(len(streams) >= 2, "RTP streams both ways in the capture: %d" % len(streams))
    for s in streams:
        print("           " + s.strip())
    print()
    print("outputs in %s:" % out)
    print("  demo.pcap                   the capture (SIP and RTP), e.g. tshark -r %s -Y sip" % pcap)
    print("  phone-heard.wav             everything the phone's earpiece heard")
    print("  recordings/*-dec.wav        what baresip heard;  *-enc.wav what it sent")
    print("  sim/console.log, kamailio/kamailio.log, baresip/baresip.log")
    if tr.failed:
        print("\nDEMO FAILED: %d step(s): %s" % (len(tr.failed), "; ".join(tr.failed)))
        return 1
    print("\nDEMO PASSED: every step happened.")
    return 0


def _happened(wait):
    """True when wait() saw its event, False when it timed out (the demo goes on and
    reports the step as failed)."""
    try:
        wait()
        return True
    except (TimeoutError, RuntimeError):
        return False


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    return run(paths.BUILD / "demo")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
