"""The receiver against another implementation's packets: the G.711 A-law stream
(30 ms packets) and the RFC 2833 digit captures that ship with sipp are replayed in
real time to a MicroPython RtpSession, which must play the audio bytes unchanged and
in order, and report each digit once (the captures repeat the end packet with the
same sequence number: duplicates)."""
import json
import pathlib
import socket
import subprocess
import time

import pytest

from ata import peers
from ata.rtpbench import read_pcap_udp
from conftest import MICROPYTHON, MICROPYPATH, ROOT, require_tool

PCAPS = pathlib.Path("/usr/share/sip-tester")
_PCAP_HINT = "sipp's sample pcaps come with the Debian package sip-tester (make setup)"

RECEIVER = r"""
import sys, time, json
from rtp import RtpSession, AUDIO, LOST, EMPTY
port, pt, quiet_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = RtpSession("127.0.0.1", port, pt=pt, jitter_min_ms=100, symmetric=True,
               latch_packets=1)  # no SDP here: the replayer is followed at once
s.open()
events = []
s.on_event = lambda e, ended: events.append([e, ended])
out = bytearray(160)
audio = bytearray()
kinds = {AUDIO: 0, LOST: 0, EMPTY: 0}
print("READY")
t = time.ticks_ms()
last = None
while True:
    if s.receive():
        last = time.ticks_ms()
    k = s.pull(out)
    kinds[k] += 1
    if k == AUDIO:
        audio.extend(out)
    if last is not None and time.ticks_diff(time.ticks_ms(), last) > quiet_ms:
        break
    t = time.ticks_add(t, 20)
    while time.ticks_diff(t, time.ticks_ms()) > 0:
        time.sleep_ms(2)
st = s.stats()
st["remote"] = None
print(json.dumps({"audio": audio.hex(), "kinds": [kinds[AUDIO], kinds[LOST], kinds[EMPTY]],
                  "events": events, "stats": st}))
"""


def read_pcap(path):
    """[(time s, UDP payload)] of a pcap."""
    return [(t, p) for t, _, _, p in read_pcap_udp(path)]


def replay(pt, packets, quiet_ms=600):
    port = peers.free_udp_range(2)[0]
    env = {"MICROPYPATH": MICROPYPATH, "PATH": "/usr/bin:/bin"}
    p = subprocess.Popen([MICROPYTHON, "-c", RECEIVER, str(port), str(pt), str(quiet_ms)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=ROOT)
    try:
        assert p.stdout.readline().strip() == "READY"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        base = packets[0][0]
        for ts, payload in packets:
            d = t0 + (ts - base) - time.monotonic()
            if d > 0:
                time.sleep(d)
            s.sendto(payload, ("127.0.0.1", port))
        s.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_sipp_g711a_stream_plays_bit_exact():
    require_tool(str(PCAPS / "g711a.pcap"), _PCAP_HINT)
    pkts = read_pcap(PCAPS / "g711a.pcap")[:100]  # 3 s of 30 ms packets
    assert all(p[1] & 0x7F == 8 and len(p) == 252 for _, p in pkts)
    res = replay(8, pkts)
    st = res["stats"]
    assert st["received"] == 100 and st["lost"] == 0 and st["discarded"] == 0, st
    assert st["late"] == 0, st
    sent = b"".join(p[12:] for _, p in pkts)
    got = bytes.fromhex(res["audio"])
    audio, lost, _ = res["kinds"]
    assert lost <= 3, res["kinds"]  # only the stream's tail (60 ms of LOST)
    # 30 ms packets cut into 20 ms frames: the same bytes in order. The only gaps
    # allowed are whole frames the buffer dropped to shrink (counted in "shrunk").
    pos = 0
    skipped = 0
    for i in range(0, len(got), 160):
        f = got[i:i + 160]
        k = 0
        while sent[pos + 160 * k:pos + 160 * k + 160] != f:
            k += 1
            assert pos + 160 * k < len(sent), "frame %d not found in order" % (i // 160)
        skipped += k
        pos += 160 * (k + 1)
    # (A dropped silent frame may equal its neighbour, so count at most that many.)
    assert skipped <= st["shrunk"], (skipped, st)
    assert len(got) + 160 * st["shrunk"] >= len(sent) - 160, (len(got), len(sent))


@pytest.mark.parametrize("name,code", [("5", 5), ("pound", 11), ("star", 10), ("0", 0)])
def test_sipp_rfc2833_digit_reported_once(name, code):
    require_tool(str(PCAPS / ("dtmf_2833_%s.pcap" % name)), _PCAP_HINT)
    pkts = read_pcap(PCAPS / ("dtmf_2833_%s.pcap" % name))
    res = replay(0, pkts, quiet_ms=300)
    assert res["events"] == [[code, False], [code, True]], res["events"]
    st = res["stats"]
    assert st["events_rx"] == 1
    assert st["duplicates"] == 2, st  # the end packet, repeated with its sequence number
    # The digit's span and the end retransmissions play as silence, never as loss.
    assert res["kinds"][1] == 0, res["kinds"]
