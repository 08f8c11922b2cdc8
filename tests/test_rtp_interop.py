"""Our RTP on the wire as a real decoder sees it: tshark parses the MicroPython
sender's packets as valid RTP (PT, sequence, timestamp, marker, no problems in
`-z rtp,streams`), decodes the RFC 4733 events (rtpevent) and the RTCP compound
(SR, SDES CNAME, BYE). Also a MicroPython-to-MicroPython call leg through the
impairment relay: loss, jitter and concealment statistics come out right."""
import json
import signal
import subprocess
import time

import pytest

from ata import peers
from ata.impair import Relay
from conftest import run_micropython

SENDER = r"""
import sys, time
from rtp import RtpSession
port, dst, pt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = RtpSession("127.0.0.1", port, pt=pt)
s.open()
s.set_remote("127.0.0.1", dst)
fr = bytes(range(160))
for i in range(40):
    if i == 10:
        s.event_start("#")
    if i == 15:
        s.event_end()
    if i in (30, 31):
        s.send(None)   # two ticks of silence: the next packet carries the marker
    else:
        s.send(fr)
    time.sleep_ms(20)
now = time.ticks_ms()
s.rtcp_tick(now)
s.rtcp_tick(time.ticks_add(now, 8000))   # due: an SR goes out
print("SSRC", "%02x%02x%02x%02x" % tuple(s.ssrc))
s.close()                                # RTCP BYE
"""


def capture(tmp_path, ports, run):
    pcap = tmp_path / "rtp.pcap"
    filt = " or ".join("udp port %d" % p for p in ports)
    td = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-w",
                           str(pcap), filt], stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:  # wait until it listens
            line = td.stderr.readline()
            if "listening on" in line:
                break
        result = run()
        time.sleep(0.3)
    finally:
        td.send_signal(signal.SIGTERM)
        td.wait(10)
    return pcap, result


def tshark(*args):
    r = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("pt,name", [(0, "g711U"), (8, "g711A")])
def test_tshark_decodes_rtp_rtpevent_and_rtcp(tmp_path, pt, name):
    src = peers.free_udp_range(2)[0]
    dst = peers.free_udp_range(2)[0]
    script = tmp_path / "send.py"
    script.write_text(SENDER)
    pcap, r = capture(tmp_path, (dst, dst + 1), lambda: run_micropython(
        [str(script), str(src), str(dst), str(pt)], timeout=60))
    assert r.returncode == 0, r.stdout + r.stderr
    ssrc = r.stdout.split("SSRC")[1].split()[0]

    rows = [line.split("\t") for line in tshark(
        "-r", str(pcap), "-d", "udp.port==%d,rtp" % dst, "-Y", "rtp",
        "-T", "fields", "-e", "rtp.version", "-e", "rtp.p_type", "-e", "rtp.seq",
        "-e", "rtp.timestamp", "-e", "rtp.marker", "-e", "rtp.ssrc",
        "-e", "rtpevent.event_id", "-e", "rtpevent.end_of_event",
        "-e", "rtpevent.duration", "-e", "udp.srcport").splitlines()]
    assert len(rows) == 38, rows  # 40 ticks, 2 silent
    assert {r[0] for r in rows} == {"2"}
    assert {int(r[5], 16) for r in rows} == {int(ssrc, 16)}
    assert {int(r[9]) for r in rows} == {src}
    seqs = [int(r[2]) for r in rows]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(38)], "sequence +1 per packet"
    audio = [r for r in rows if r[1] == str(pt)]
    events = [r for r in rows if r[1] == "101"]
    assert len(audio) == 30 and len(events) == 8
    ts0 = int(rows[0][3])
    # Audio timestamps: +160 per 20 ms tick, counting the event and silent ticks.
    audio_ticks = [i for i in range(40) if not 10 <= i < 18 and i not in (30, 31)]
    assert [int(r[3]) for r in audio] == [(ts0 + 160 * i) & 0xFFFFFFFF for i in audio_ticks]
    assert [r[4] for r in audio] == ["1"] + ["0"] * 21 + ["1"] + ["0"] * 7, \
        "marker: first packet and after silence"
    # RFC 4733 as tshark decodes it: '#' = 11, one timestamp, marker on the start,
    # cumulative durations, the end packet three times.
    assert {r[6] for r in events} == {"11"}
    assert {int(r[3]) for r in events} == {(ts0 + 1600) & 0xFFFFFFFF}
    assert [r[4] for r in events] == ["1"] + ["0"] * 7
    assert [r[7] for r in events] == ["0"] * 5 + ["1"] * 3
    assert [int(r[8]) for r in events] == [160, 320, 480, 640, 800, 960, 960, 960]

    streams = tshark("-r", str(pcap), "-q", "-d", "udp.port==%d,rtp" % dst,
                     "-z", "rtp,streams")
    line = [l for l in streams.splitlines() if ("0x" + ssrc).upper() in l.upper()]
    assert len(line) == 1, streams
    assert name in line[0] and "rtpevent" in line[0], line[0]
    assert " 38 " in line[0] and "0 (0.0%)" in line[0], line[0]
    assert not line[0].rstrip().endswith("X"), "tshark flags a problem: " + line[0]

    rtcp = tshark("-r", str(pcap), "-d", "udp.port==%d,rtcp" % (dst + 1), "-Y", "rtcp",
                  "-T", "fields", "-e", "rtcp.pt", "-e", "rtcp.senderssrc",
                  "-e", "rtcp.sender.packetcount", "-e", "rtcp.sdes.text")
    pkts = rtcp.splitlines()
    assert len(pkts) == 2, rtcp  # the SR compound, then the BYE compound
    first = pkts[0].split("\t")
    assert first[0].split(",")[:2] == ["200", "202"], first  # SR + SDES
    assert int(first[1], 16) == int(ssrc, 16)
    assert first[2] == "38"
    assert first[3] == "ata@127.0.0.1"
    assert "203" in pkts[1].split("\t")[0].split(","), pkts[1]  # BYE


LEG = r"""
import sys, time, json
from rtp import RtpSession, AUDIO, LOST, EMPTY
pa, pb, relay_a, relay_b = (int(x) for x in sys.argv[1:5])
a = RtpSession("127.0.0.1", pa)
b = RtpSession("127.0.0.1", pb, jitter_min_ms=20, jitter_max_ms=200)
a.open(); b.open()
a.set_remote("127.0.0.1", relay_a)      # A -> relay -> B
b.set_remote("127.0.0.1", relay_b)      # what B's SDP would name: the relay's B side
fr = bytearray(160)
out = bytearray(160)
order = []
counts = {AUDIO: 0, LOST: 0, EMPTY: 0}
t = time.ticks_ms()
for i in range(250):                    # 5 s of audio, paced like the audio clock
    for j in range(160):
        fr[j] = i & 0xFF
    a.send(fr)
    b.receive()
    k = b.pull(out)
    counts[k] += 1
    if k == AUDIO:
        order.append(out[0])
    t = time.ticks_add(t, 20)
    while time.ticks_diff(t, time.ticks_ms()) > 0:
        time.sleep_ms(1)
        b.receive()                     # polled between ticks: finer arrival times
st = b.stats()
st["remote"] = None
print(json.dumps({"stats": st, "audio": counts[AUDIO], "lost": counts[LOST],
                  "empty": counts[EMPTY], "order": order}))
"""


def check_order(order, may_skip):
    """Frames (numbered mod 256) played in order, none twice, and no more skipped than
    were lost, late or dropped by the buffer shrinking."""
    assert len(order) >= 200
    gaps = [(order[i + 1] - order[i]) % 256 for i in range(len(order) - 1)]
    assert all(1 <= g <= 8 for g in gaps), ("frames out of order", order)
    assert sum(g - 1 for g in gaps) <= may_skip, (sum(g - 1 for g in gaps), may_skip)


def test_call_leg_through_impairment_relay(tmp_path):
    """A -> relay (5 % loss, 30 +- 10 ms) -> B, 5 s in real time; B's statistics
    against the relay's own count and against tshark's RFC 3550 jitter."""
    pa = peers.free_udp_range(2)[0]
    pb = peers.free_udp_range(2)[0]
    script = tmp_path / "leg.py"
    script.write_text(LEG)
    with Relay(("127.0.0.1", pb), loss=5, delay_ms=30, jitter_ms=10, seed=7) as relay:
        pcap, r = capture(tmp_path, (pb,), lambda: run_micropython(
            [str(script), str(pa), str(pb), str(relay.a_port), str(relay.b_port)], timeout=60))
        stats = relay.stats
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    st = res["stats"]
    dropped = stats["a_to_b"]["dropped"]
    assert 4 <= dropped <= 25, stats
    # The receiver's RFC 3550 loss is what the relay dropped.
    # (The last packet or two may still be in flight when the loop ends.)
    assert abs(st["lost"] - dropped) <= 1, (st, stats)
    assert 0 <= stats["a_to_b"]["forwarded"] - st["received"] <= 2, (st, stats)
    # Interarrival jitter as tshark computes it from the capture.
    streams = tshark("-r", str(pcap), "-q", "-d", "udp.port==%d,rtp" % pb, "-z", "rtp,streams")
    row = [l for l in streams.splitlines() if "g711U" in l]
    assert len(row) == 1, streams
    cols = row[0].split()
    if cols[-1] == "X":  # tshark's "problems" flag: here, the loss
        cols = cols[:-1]
    mean_jitter = float(cols[-2])  # ... Min Jitter, Mean Jitter, Max Jitter
    assert 3 <= mean_jitter <= 12, row
    assert abs(st["jitter_ms"] - mean_jitter) <= 4, (st["jitter_ms"], row)
    # The buffer grew to cover the jitter but stayed well below its 200 ms maximum.
    # (Tolerances leave room for a loaded machine: this runs in real time.)
    assert 20 <= st["buffer_ms"] <= 140, st
    assert st["late"] <= 8, st
    # Frames concealed: the lost ones, plus a few while the buffer adapted.
    assert dropped <= res["lost"] <= dropped + st["late"] + 4, (res["lost"], st)
    check_order(res["order"], dropped + st["shrunk"] + st["late"])


def test_call_leg_with_reordering_and_duplicates(tmp_path):
    """A -> relay (5 % held back 45 ms past later packets, 3 % duplicated, 20 +- 5 ms)
    -> B: reordered packets are put back in place once the buffer has grown to the
    reordering depth, duplicates are counted and never played twice."""
    pa = peers.free_udp_range(2)[0]
    pb = peers.free_udp_range(2)[0]
    script = tmp_path / "leg.py"
    script.write_text(LEG)
    with Relay(("127.0.0.1", pb), delay_ms=20, jitter_ms=5, reorder=5, duplicate=3,
               seed=11) as relay:
        r = run_micropython([str(script), str(pa), str(pb), str(relay.a_port), str(relay.b_port)], timeout=60)
        stats = relay.stats["a_to_b"]
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    st = res["stats"]
    assert stats["reordered"] >= 5 and stats["duplicated"] >= 3, stats
    assert stats["dropped"] == 0
    assert 0 <= stats["duplicated"] - st["duplicates"] <= 2, (st, stats)
    assert st["lost"] <= 2, st  # only what is still in flight at the end
    # The first held-back packets come too late; then the buffer covers 45 ms.
    assert st["late"] <= 6, st
    assert 60 <= st["buffer_ms"] <= 160, st
    check_order(res["order"], st["shrunk"] + st["late"])
    assert res["lost"] <= st["late"] + 6, (res["lost"], st)
