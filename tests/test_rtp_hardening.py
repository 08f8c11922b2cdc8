"""RTP/RTCP hardening through the firmware on the sim, with Kamailio and baresip as the
far end (which plays a 440 Hz tone): strangers spray RTP and RTCP at the ATA's port
before the answer and during the call; the far end's own address carries SSRC,
sequence and timestamp jumps and oversize datagrams (spoofed from a raw socket); and
a flood of 8 KB garbage datagrams runs during a call, with the earpiece's frame
underruns counted and printed (a figure, not a timing assertion)."""
import audioop
import json
import os
import random
import re
import socket
import struct
import threading
import time

import numpy as np
import pytest

from ata import signals
from simfix import FAR_TONE_HZ

STRANGER_HZ = 1700    # what the strangers' RTP carries: must never reach the earpiece
FLOOD_SIZE = 8192     # bytes per garbage datagram
FLOOD_RATE = 500      # datagrams per second
FLOOD_S = 5           # seconds of flood (sim time)


# -- helpers ------------------------------------------------------------------------
def console(sim, command, pattern, timeout=5):
    """Type a console command; the first match of pattern in what it printed."""
    start = len(sim.log_text())
    sim.send(command)
    return sim.wait_log(pattern, timeout, start=start)


def media_status(sim):
    m = console(sim, "status", r"media: (\{[^\n]*\})\n")
    return json.loads(m.group(1))


def call_rtp(sim):
    m = console(sim, "calls", r'(\{[^\n]*"counts"[^\n]*\})\n')
    return json.loads(m.group(1))["rtp"]


def wait_status(sim, pred, timeout=5, what="media status"):
    """Poll the console until pred(media status) holds (the firmware drains its
    sockets once per 20 ms frame; this waits for that, it does not sleep a guess)."""
    end = time.monotonic() + timeout
    while True:
        st = media_status(sim)
        if pred(st):
            return st
        if time.monotonic() > end:
            raise AssertionError("%s never held: %r" % (what, st))


def ulaw_tone(hz, n=160, level=0.3, phase=0):
    t = (np.arange(n) + phase) / 8000.0
    pcm = (np.sin(2 * np.pi * hz * t) * level * 32767).astype("<i2").tobytes()
    return audioop.lin2ulaw(pcm, 2)


def rtp_packet(seq, ts, ssrc, payload, pt=0, marker=False):
    return struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


class Spoofer:
    """Sends UDP datagrams with any source address (raw socket; needs root)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def send(self, src, dst, payload):
        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), random.getrandbits(16),
                         0, 64, 17, 0, socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
        self.s.sendto(ip + udp, (dst[0], 0))

    def close(self):
        self.s.close()


def spoofer_or_skip():
    try:
        return Spoofer()
    except PermissionError:
        pytest.skip("raw sockets need root (CAP_NET_RAW) to spoof the far end's address")


class Stranger(threading.Thread):
    """Sprays RTP at the ATA's RTP port: every 20 ms, from one port, one packet per
    kind (PCMU with its own SSRC, PCMU with a second SSRC, PCMA, an RFC 4733 event),
    and from a second port a clean PCMU stream (one SSRC, consecutive sequence: what
    symmetric RTP would follow), all carrying STRANGER_HZ; plus one RTCP garbage
    datagram to port+1."""

    def __init__(self, rtp_port):
        super().__init__(daemon=True)
        self.to = ("127.0.0.1", rtp_port)
        self.rtcp_to = ("127.0.0.1", rtp_port + 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.clean = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.clean.bind(("127.0.0.1", 0))
        self.stop_ev = threading.Event()
        self.rtp_sent = 0
        self.rtcp_sent = 0

    def run(self):
        seq, ts, k = random.getrandbits(16), random.getrandbits(32), 0
        alaw = audioop.lin2alaw(audioop.ulaw2lin(ulaw_tone(STRANGER_HZ), 2), 2)
        while not self.stop_ev.is_set():
            body = ulaw_tone(STRANGER_HZ, phase=160 * k)
            for pkt in (rtp_packet(seq, ts, 0x11111111, body, marker=k == 0),
                        rtp_packet(seq + 7, ts + 999, 0x22222222, body),
                        rtp_packet(seq, ts, 0x33333333, alaw, pt=8),
                        rtp_packet(seq, ts, 0x11111111, bytes([5, 10, 0, 160]), pt=101)):
                self.sock.sendto(pkt, self.to)
                self.rtp_sent += 1
            self.clean.sendto(rtp_packet(seq, ts, 0x44444444, body), self.to)
            self.rtp_sent += 1
            self.sock.sendto(os.urandom(64), self.rtcp_to)
            self.rtcp_sent += 1
            seq, ts, k = seq + 1, ts + 160, k + 1
            time.sleep(0.02)    # pacing of the load, not synchronisation

    def stop(self):
        self.stop_ev.set()
        self.join(5)
        self.sock.close()
        self.clean.close()


def dial_far_end(sim, phone):
    phone.off_hook()
    phone.sleep_sim(400)
    start = len(sim.log_text())
    phone.dial_pulse("1002")
    return start


def rtp_port_of_call(sim, start):
    return int(sim.wait_log(r"call: RTP on port (\d+)", 15, start=start).group(1))


def share(x, hz):
    return signals.tone_power(x, hz) if len(x) else 0.0


# -- tests --------------------------------------------------------------------------
@pytest.mark.parametrize("sim_options", [{}, {"rtp": {"symmetric": True}}],
                         ids=["strict", "symmetric"])
def test_strangers_before_and_during_a_call_are_never_heard(pbx, ata, sim_options):
    kam, far = pbx
    sim, phone = ata
    start = dial_far_end(sim, phone)
    port = rtp_port_of_call(sim, start)
    assert port % 2 == 0 and 10000 <= port < 20000, port
    stranger = Stranger(port)
    early = 0                   # before the answer: our offer is out, no address yet
    for k in range(20):
        stranger.sock.sendto(rtp_packet(k, 160 * k, 0x11111111, ulaw_tone(STRANGER_HZ)),
                             stranger.to)
        early += 1
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5, start=start)
    stranger.rtp_sent = early
    stranger.start()            # and during the call
    try:
        t0 = phone.sim_now_us
        phone.sleep_sim(3000)
        heard = phone.recording(t0 + 500_000, phone.sim_now_us)
    finally:
        stranger.stop()
    st = wait_status(sim, lambda s: s["rtp"]["strangers"] >= stranger.rtp_sent and
                     s["rtp"]["rtcp_strangers"] >= stranger.rtcp_sent,
                     what="every stranger datagram counted (sent %d RTP, %d RTCP)"
                     % (stranger.rtp_sent, stranger.rtcp_sent))
    rtp = call_rtp(sim)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    print("stranger sent %d RTP + %d RTCP; ATA counted %r" % (
        stranger.rtp_sent, stranger.rtcp_sent, st["rtp"]))
    assert st["rtp"]["strangers"] == stranger.rtp_sent, (st, stranger.rtp_sent)
    assert st["rtp"]["rtcp_strangers"] == stranger.rtcp_sent, (st, stranger.rtcp_sent)
    assert stranger.rtp_sent > 100
    assert share(heard, FAR_TONE_HZ) > 0.8, signals.spectrum_peaks(heard, 3)
    assert share(heard, STRANGER_HZ) < 0.01, signals.spectrum_peaks(heard, 3)
    assert rtp["latched"] is False and rtp["received"] > 100, rtp


def test_replies_go_to_the_far_end_only(pbx, ata):
    """The stranger's socket receives nothing from the ATA, and baresip records the
    phone's tone (our audio was not taken)."""
    kam, far = pbx
    sim, phone = ata
    phone.play_tone(1000, -10)
    start = dial_far_end(sim, phone)
    port = rtp_port_of_call(sim, start)
    stranger = Stranger(port)
    stranger.start()
    try:
        far.wait_event("CALL_ESTABLISHED", 15)
        sim.wait_log("call: confirmed", 5, start=start)
        phone.sleep_sim(2500)
        stranger.sock.setblocking(False)
        stolen = 0
        while True:
            try:
                stranger.sock.recv(4096)
                stolen += 1
            except BlockingIOError:
                break
    finally:
        stranger.stop()
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    assert stolen == 0, "%d of our packets went to the stranger" % stolen
    got = signals.read_wav(far.recordings("dec")[-1])
    got = got[len(got) // 4:]
    assert share(got, 1000) > 0.8, signals.spectrum_peaks(got, 3)


def test_far_end_ssrc_sequence_timestamp_jumps_and_oversize(pbx, ata):
    """Datagrams from the far end's own address (spoofed) restart the stream every
    way (new SSRC, sequence and timestamp jumps), some are oversize, and RTCP garbage
    comes from its RTCP address: the call goes on, and once they stop the phone hears
    the far end again."""
    kam, far = pbx
    sim, phone = ata
    spoof = spoofer_or_skip()
    start = dial_far_end(sim, phone)
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5, start=start)
    rtp = call_rtp(sim)
    src = tuple(rtp["remote"])
    dst = ("127.0.0.1", rtp["local_port"])
    phone.sleep_sim(500)
    before = call_rtp(sim)
    body = ulaw_tone(STRANGER_HZ)
    plan = [(0x51515151, 1000, 10_000), (0x51515151, 40_000, 10_000),   # seq jump
            (0x51515151, 40_100, 8000 * 3600),                          # ts +1 h
            (0x51515151, 40_200, 160),                                  # ts back
            (0x52525252, 7, 0xFFFFFF00)]                                # new SSRC, wrap
    for ssrc, seq0, ts0 in plan:
        for k in range(10):
            spoof.send(src, dst, rtp_packet(seq0 + k, ts0 + 160 * k, ssrc, body,
                                            marker=k == 0))
            time.sleep(0.02)    # pacing of the injected stream, not synchronisation
    for k in range(5):
        spoof.send(src, dst, rtp_packet(9 + k, 0xFFFFFF00 + 1600, 0x52525252,
                                        os.urandom(FLOOD_SIZE - 12)))
    # RTCP garbage from the far end's own RTCP address: parsed, must not hurt.
    rsrc, rdst = (src[0], src[1] + 1), (dst[0], dst[1] + 1)
    for k in range(50):
        junk = bytes([0x80 | (k & 0x1F), 200 + k % 5, 0xFF, 0xFF]) + os.urandom(k * 8)
        spoof.send(rsrc, rdst, junk if k % 2 else os.urandom(1 + k * 20))
    spoof.close()
    after = wait_status(sim, lambda s: s["rtp"]["oversize"] >= 5, what="oversize counted")
    t0 = phone.sim_now_us
    phone.sleep_sim(3000)
    heard = phone.recording(t0 + 1_000_000, phone.sim_now_us)
    rtp = call_rtp(sim)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    print("jumps: resyncs %d -> %d, received %d -> %d, oversize %d" % (
        before["resyncs"], rtp["resyncs"], before["received"], rtp["received"],
        after["rtp"]["oversize"]))
    assert after["rtp"]["oversize"] == 5, after
    assert rtp["resyncs"] > before["resyncs"], (before, rtp)
    assert rtp["strangers"] == 0 and rtp["latched"] is False, rtp
    assert share(heard, FAR_TONE_HZ) > 0.8, signals.spectrum_peaks(heard, 3)


def test_flood_during_a_call_underruns_counted(pbx, ata, capsys):
    """8 KB garbage datagrams at 500/s from strangers at the RTP port (and as many at
    the SIP port) for 5 s of a call. Prints the earpiece's frame underruns in the
    flood and in as long a span without it. Asserts only that the call survives and
    the far end's audio continues."""
    kam, far = pbx
    sim, phone = ata
    start = dial_far_end(sim, phone)
    port = rtp_port_of_call(sim, start)
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5, start=start)
    sip_port = sim_sip_port(sim)
    phone.sleep_sim(500)

    def span(flood):
        st0 = media_status(sim)
        t0 = phone.sim_now_us
        sent = [0]
        stop = threading.Event()

        def spray():
            socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
            junk = os.urandom(FLOOD_SIZE)
            t = time.monotonic()
            i = 0
            while not stop.is_set():
                s = socks[i % len(socks)]
                s.sendto(junk, ("127.0.0.1", port))
                s.sendto(junk, ("127.0.0.1", sip_port))
                sent[0] += 1
                i += 1
                t += 1.0 / FLOOD_RATE
                d = t - time.monotonic()
                if d > 0:
                    time.sleep(d)    # pacing of the load, not synchronisation
            for s in socks:
                s.close()
        th = threading.Thread(target=spray, daemon=True)
        if flood:
            th.start()
        phone.sleep_sim(FLOOD_S * 1000)
        stop.set()
        if flood:
            th.join(5)
        heard = phone.recording(t0 + 500_000, phone.sim_now_us)
        st1 = media_status(sim)
        return (st1["underruns"] - st0["underruns"], st1["frames"] - st0["frames"],
                sent[0], st1["rtp"]["strangers"] - st0["rtp"]["strangers"], heard)

    quiet = span(False)
    flood = span(True)
    rtp = call_rtp(sim)
    calls = console(sim, "calls", r'(\{[^\n]*"counts"[^\n]*\})\n')
    state = json.loads(calls.group(1))["call"]
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    with capsys.disabled():
        print("\nFLOOD FIGURE: %d x %d-byte datagrams at %d/s to the RTP and SIP ports "
              "over %d s of call: earpiece underruns %d in %d frames (without flood: %d in "
              "%d frames); strangers counted %d; far-end packets received %d, lost %d"
              % (flood[2], FLOOD_SIZE, FLOOD_RATE, FLOOD_S, flood[0], flood[1], quiet[0],
                 quiet[1], flood[3], rtp["received"], rtp["lost"]))
    assert state == "confirmed", state
    assert flood[3] > 0, "no stranger datagram reached the RTP port"
    assert share(flood[4], FAR_TONE_HZ) > 0.8, signals.spectrum_peaks(flood[4], 3)


def sim_sip_port(sim):
    import json as _json
    cfg = _json.loads(open(sim.config_path).read())
    return cfg["sip"]["sip_port"]
