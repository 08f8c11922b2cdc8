"""`ata demo`: the ATA on the sim board places and takes real calls through a local PBX.

Starts Kamailio (registrar and proxy with digest auth) and baresip (the far-end
phone, extension 1002) on loopback, boots the firmware on the sim as extension
1001, and has the virtual phone lift the handset, listen for dial tone, pulse-dial
1002, talk (a 1 kHz tone) while listening to the far end (440 Hz), and hang up.
Then baresip calls 1001: the phone rings, the caller ID between the rings is
decoded (spandsp), the phone answers and hears the far end. A second baresip (1003,
660 Hz) calls: call-waiting tone, the phone's ACK and the off-hook caller ID
(CIDCW, decoded); hook flash swaps to 1003 and back; the phone hangs up on 1002 and
is rung back for 1003, which it answers and hangs up.
Prints a trace with timings; leaves a pcap, the recordings, the logs and a picture
(timeline.png: a spectrogram of what the phone heard under the hook, ring and SIP
events) in build/demo/. Exits 0 only if every step happened.
"""
import shutil
import subprocess
import sys
import time

from . import callerid_rx, paths, peers, signals, timeline
from .phone import VirtualPhone
from .sim import SimProcess

PHONE_HZ = 1000
FAR_HZ = 440
WAITING_HZ = 660     # what the second caller (1003) plays


class Trace:
    def __init__(self):
        self.t0 = time.monotonic()
        self.failed = []
        self.clock = None             # timeline.SimClock once the phone is plugged in
        self.notes = []               # (sim µs, text): steps marked on the picture

    def say(self, text):
        print("[%6.2f s] %s" % (time.monotonic() - self.t0, text), flush=True)
        if self.clock is not None:
            self.clock.sample()

    def note(self, text, label=None):
        """say() and mark the step on the timeline picture at the phone's sim time."""
        self.say(text)
        if self.clock is not None and self.clock.phone.sim_now_us:
            self.notes.append((self.clock.phone.sim_now_us, label or text))

    def check(self, ok, text):
        self.say(("ok    " if ok else "FAIL  ") + text)
        if not ok:
            self.failed.append(text)
        return ok


def describe(x):
    peaks = signals.spectrum_peaks(x, 2)
    return "%.1f dBm0, %s" % (signals.dbm0(x), " + ".join("%.0f Hz" % f for f, rel in peaks if rel > -10))


def sip_summary(pcap, ports):
    """The capture's SIP messages. Every peer's port is named as SIP: the ports are
    chosen at run time, and tshark decodes a port registered to another protocol as
    that one (a run's Kamailio on 23272 came out as 3GPP2 A21: 0 SIP messages)."""
    decode = []
    for port in sorted(set(ports)):
        decode += ["-d", "udp.port==%d,sip" % port]
    r = subprocess.run(["tshark", "-r", str(pcap), *decode, "-Y", "sip", "-T", "fields",
                        "-e", "frame.time_relative", "-e", "ip.src", "-e", "udp.srcport",
                        "-e", "udp.dstport", "-e", "sip.Method", "-e", "sip.Status-Code",
                        "-e", "sip.CSeq.method", "-e", "frame.time_epoch"],
                       capture_output=True, text=True)
    return [line.split("\t") for line in r.stdout.splitlines() if line.strip()]


def rtp_streams(pcap, lo, hi):
    r = subprocess.run(["tshark", "-r", str(pcap), "-q", "-d", "udp.port==%d-%d,rtp" % (lo, hi),
                        "-z", "rtp,streams"], capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if "ITU-T G.711" in line or "g711" in line.lower()]


def run(out):
    tr = Trace()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    kam = peers.Kamailio(out / "kamailio",
                         users={"1001": "secret1", "1002": "secret2", "1003": "secret3"})
    kam.start()
    tr.say("Kamailio registrar/proxy up on 127.0.0.1:%d (users 1001, 1002, 1003; digest auth)"
           % kam.port)
    rtp_lo, rtp_hi = peers.free_udp_range(40)
    far_wav = peers.write_tone_wav(out / "far-end-440Hz.wav", seconds=300, freq_hz=FAR_HZ)
    far = peers.Baresip(out / "baresip", "1002", "secret2", kam.port, audio_wav=far_wav,
                        record_dir=out / "recordings", rtp_range=(rtp_lo, rtp_lo + 9))
    waiting_wav = peers.write_tone_wav(out / "waiting-660Hz.wav", seconds=300,
                                       freq_hz=WAITING_HZ)
    waiting = peers.Baresip(out / "baresip-1003", "1003", "secret3", kam.port,
                            audio_wav=waiting_wav, rtp_range=(rtp_lo + 10, rtp_lo + 19))
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
                            "udp and (port %d or port %d or port %d or port %d or portrange %d-%d)"
                            % (kam.port, cfg["sip"]["sip_port"], far.sip_port, waiting.sip_port,
                               rtp_lo, rtp_hi)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    sim = phone = None
    try:
        far.start()
        tr.say("baresip (far end, 1002) registered; it answers automatically and plays %d Hz" % FAR_HZ)
        waiting.start()
        tr.say("baresip 1003 registered (plays %d Hz): the waiting caller later" % WAITING_HZ)
        sim = SimProcess(cfg, run_dir=out / "sim").start()
        tr.say("ATA firmware booted on the sim board; console %s" % sim.console_path)
        sim.wait_log("sip: registered", 15)
        tr.check(kam.registered("1001"), "ATA registered as 1001 (digest auth) - Kamailio has its contact")
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        tr.clock = timeline.SimClock(phone)
        tr.say("virtual phone plugged in (on-hook)")

        t_off = phone.off_hook(bounce_ms=5)
        tr.note("phone: handset lifted", "off-hook")
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
        tr.note("phone: rotary-dialling 1002 (10 pulses/s, 60 % break, 5 ms contact bounce)",
                "pulse-dial 1002")
        phone.dial_pulse("1002", pps=10, break_ratio=0.6, bounce_ms=5)
        m = sim.wait_log(r"line: dialled (\d+)", 10)
        tr.check(m.group(1) == "1002", "ATA decoded the pulses as %s" % m.group(1))
        far.wait_event("CALL_ESTABLISHED", 15)
        sim.wait_log("call: confirmed", 5)
        tr.note("INVITE through Kamailio; baresip answered; call up", "call up")
        t_call = phone.sim_now_us
        phone.sleep_sim(4000)
        heard = phone.recording(t_call + 500_000)
        share = signals.tone_power(heard, FAR_HZ)
        tr.check(share > 0.8, "phone hears the far end: %s (%.0f %% of energy at %d Hz)"
                 % (describe(heard), 100 * share, FAR_HZ))
        phone.on_hook(bounce_ms=5)
        tr.note("phone: handset replaced", "on-hook")
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
        incoming_call(tr, kam, far, phone)
        call_waiting(tr, kam, far, waiting, sim, phone)
        signals.write_wav(out / "phone-heard.wav", phone.recording())
    finally:
        if phone is not None:
            phone.close()
        if sim is not None:
            sim.stop()
        far.stop()
        waiting.stop()
        kam.stop()
        time.sleep(0.3)
        cap.terminate()
        cap.wait(5)
    names = {str(kam.port): "Kamailio", str(cfg["sip"]["sip_port"]): "ATA",
             str(far.sip_port): "baresip", str(waiting.sip_port): "1003"}
    msgs = sip_summary(pcap, [int(p) for p in names])
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
    if phone is not None and phone.heard:
        picture(tr, out / "timeline.png", phone, msgs, names)
    print()
    print("outputs in %s:" % out)
    print("  demo.pcap                   the capture (SIP and RTP), e.g. tshark -r %s -Y sip" % pcap)
    print("  phone-heard.wav             everything the phone's earpiece heard")
    print("  timeline.png                spectrogram of the earpiece under hook, ring and SIP")
    print("  recordings/*-dec.wav        what baresip heard;  *-enc.wav what it sent")
    print("  sim/console.log, kamailio/kamailio.log, baresip/baresip.log")
    if tr.failed:
        print("\nDEMO FAILED: %d step(s): %s" % (len(tr.failed), "; ".join(tr.failed)))
        return 1
    print("\nDEMO PASSED: every step happened.")
    return 0


def incoming_call(tr, kam, far, phone):
    """baresip calls the ATA: ring cadence, caller ID between the rings (spandsp),
    answer, hear the far end, hang up."""
    phone.silence()
    n0 = len(phone.bursts)
    far.dial("sip:1001@127.0.0.1:%d" % kam.port)
    tr.note("baresip (1002) calls the ATA's extension 1001", "1002 calls")
    phone.wait_for(lambda: len(phone.bursts) >= n0 + 2 and len(phone.bursts[n0 + 1].toggles) >= 2,
                   15, "second ring")
    first, second = phone.bursts[n0], phone.bursts[n0 + 1]
    hz = first.frequency_hz or 0.0
    tr.check(abs(first.on_ms - 2000) <= 25 and abs(hz - 20) <= 0.2,
             "the phone rings: %.0f ms of %.2f Hz (US plan: 2 s on, 4 s off, 20 Hz)"
             % (first.on_ms, hz))
    msgs = callerid_rx.decode(phone.recording(first.end_us, second.start_us), callerid_rx.BELL202)
    number, name = callerid_rx.display(msgs[0]) if msgs else (None, None)
    # baresip sends no display name: the name goes as absent, reason 'O' (unavailable)
    shown = {"O": "unavailable (O)", "P": "private (P)"}.get(name, repr(name))
    tr.check(number == "1002", "caller ID between the first and second ring (Bell 202 MDMF, "
             "decoded by spandsp): number %s, name %s" % (number, shown))
    phone.play_tone(PHONE_HZ, -10)
    phone.off_hook(bounce_ms=5)
    tr.note("phone: answered (ring trip)", "answer")
    answered = _happened(lambda: far.wait_event("CALL_ESTABLISHED", 10))
    tr.check(answered, "baresip sees the call answered")
    heard = listen(phone, 2000)
    share = signals.tone_power(heard, FAR_HZ) if len(heard) else 0.0
    tr.check(share > 0.8, "phone hears the caller: %s (%.0f %% of energy at %d Hz)"
             % (describe(heard) if len(heard) else "nothing", 100 * share, FAR_HZ))


def listen(phone, ms, skip_ms=500):
    """What the phone hears over the next skip_ms + ms, less the first skip_ms."""
    t = phone.sim_now_us
    phone.sleep_sim(skip_ms + ms)
    return phone.recording(t + skip_ms * 1000, t + (skip_ms + ms) * 1000)


def _hears(tr, phone, hz, who):
    heard = listen(phone, 800)
    share = signals.tone_power(heard, hz) if len(heard) else 0.0
    return tr.check(share > 0.8, "phone hears %s: %s (%.0f %% of energy at %d Hz)"
                    % (who, describe(heard) if len(heard) else "nothing", 100 * share, hz))


def call_waiting(tr, kam, far, waiting, sim, phone):
    """In the call with 1002, 1003 calls: tone + CIDCW, flash to 1003 and back, hang up on
    1002, rung back for 1003 on hold, answer, hang up."""
    phone.cas_ack = "D"                  # a CIDCW phone: answers the CAS with DTMF D
    mark = len(sim.log_text())
    waiting.dial("sip:1001@127.0.0.1:%d" % kam.port)
    tr.note("baresip 1003 calls while the phone talks to 1002", "1003 waits")
    sent = _happened(lambda: sim.wait_log(r"call: waiting caller ID sent", 10, start=mark))
    tr.check(sent and bool(phone.cas_heard) and bool(phone.acks_sent),
             "call-waiting tone, then the CAS (2130 + 2750 Hz) and the phone's ACK (D)")
    phone.sleep_sim(1200)                # 80 mark bits and the message: < 1 s
    msgs = callerid_rx.decode(phone.recording(phone.acks_sent[0]) if phone.acks_sent else [],
                              callerid_rx.BELL202)
    number = callerid_rx.display(msgs[0])[0] if msgs else None
    tr.check(number == "1003", "caller ID on call waiting (CIDCW, decoded by spandsp): %s"
             % number)
    phone.flash(500)
    tr.note("phone: hook flash: 1003 answered, 1002 on hold", "flash")
    tr.check(_happened(lambda: waiting.wait_event("CALL_ESTABLISHED", 10)),
             "1003 answered by the flash")
    _hears(tr, phone, WAITING_HZ, "1003")
    phone.flash(500)
    tr.note("phone: hook flash: back to 1002, 1003 on hold", "flash")
    _hears(tr, phone, FAR_HZ, "1002 again")
    n0 = len(phone.bursts)
    phone.on_hook(bounce_ms=5)
    tr.note("phone: hangs up on 1002 with 1003 on hold", "on-hook")
    tr.check(_happened(lambda: far.wait_event("CALL_CLOSED", 10)), "1002's call closed")
    rang = _happened(lambda: phone.wait_for(lambda: len(phone.bursts) > n0, 10, "ring-back"))
    tr.check(rang, "the phone is rung back for 1003, still on hold")
    phone.off_hook(bounce_ms=5)
    tr.note("phone: answers the ring-back", "answer")
    _hears(tr, phone, WAITING_HZ, "1003 resumed")
    phone.on_hook(bounce_ms=5)
    tr.note("phone: handset replaced", "on-hook")
    tr.check(_happened(lambda: waiting.wait_event("CALL_CLOSED", 10)), "1003's call closed")


def picture(tr, path, phone, msgs, names):
    """timeline.png from what the phone recorded and the SIP in the capture."""
    short = {"ATA": "A", "Kamailio": "K", "baresip": "B", "1003": "C"}
    sip = []
    for f in msgs:
        t, src, sport, dport, method, code, cseq, epoch = (f + [""] * 8)[:8]
        if not epoch:
            continue
        what = method or "%s %s" % (code, cseq)
        sip.append((tr.clock.to_sim_us(float(epoch)), "%s %s>%s" % (
            what, short.get(names.get(sport), "?"), short.get(names.get(dport), "?"))))
    drawn = timeline.render(path, phone.heard, phone.hook_log, phone.bursts, sip, tr.notes,
                            "ata demo: the sim's phone, extension 1001")
    tr.check(drawn["sip_messages"] >= 10 and drawn["ring_bursts"] >= 2 and drawn["hook_spans"] >= 2,
             "timeline picture %s: %.1f s, %d SIP messages, %d ring bursts, %d off-hook spans"
             % (path.name, drawn["seconds"], drawn["sip_messages"], drawn["ring_bursts"],
                drawn["hook_spans"]))


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
