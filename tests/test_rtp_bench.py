"""ata.rtpbench: the pcap reader and send-interval figures agree with tshark on a
real capture of the MicroPython sender, and the report counts what it says."""
from ata import peers
from ata.rtpbench import interval_report, read_pcap_udp, send_intervals
from conftest import run_micropython
from test_rtp_interop import SENDER, capture, tshark


def test_intervals_match_tshark(tmp_path):
    src = peers.free_udp_range(2)[0]
    dst = peers.free_udp_range(2)[0]
    script = tmp_path / "send.py"
    script.write_text(SENDER)
    pcap, r = capture(tmp_path, (dst,), lambda: run_micropython(
        [str(script), str(src), str(dst), "0"], timeout=60))
    assert r.returncode == 0, r.stderr
    pkts = read_pcap_udp(str(pcap))
    assert len(pkts) == 38 and all(d == dst and s == src for _, s, d, _ in pkts)
    ours = send_intervals(str(pcap), dst, pt=0)
    times = [float(x) for x in tshark("-r", str(pcap), "-d", "udp.port==%d,rtp" % dst,
                                      "-Y", "rtp.p_type==0", "-T", "fields",
                                      "-e", "frame.time_relative").split()]
    theirs = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    assert len(ours) == len(theirs) == 29
    assert all(abs(a - b) < 0.002 for a, b in zip(ours, theirs))
    rep = interval_report(ours)
    # The sender slept 20 ms per tick; around the event and the silence the audio
    # intervals are longer (9 and 3 ticks).
    assert rep["count"] == 29
    assert 160 <= rep["max_ms"] <= 200, rep
    assert rep["within"] == sum(1 for x in ours if 18 <= x <= 22)


def test_report_arithmetic():
    rep = interval_report([20.0] * 97 + [23.0, 17.5, 40.0])
    assert rep["count"] == 100 and rep["within"] == 97 and rep["within_pct"] == 97.0
    assert rep["max_ms"] == 40.0 and rep["min_ms"] == 17.5 and rep["median_ms"] == 20.0
    assert interval_report([]) == {"count": 0}


def test_pesq_leg_clean_path_reaches_the_codec_ceiling(tmp_path):
    # lib/rtp alone (sender, loopback, jitter buffer, PLC delay line) must not cost
    # audio quality on a clean path: the issue allows 0.05 for the whole chain.
    from conftest import require_tool
    require_tool("espeak-ng", "Debian package espeak-ng (make setup)")
    require_tool("sox", "Debian package sox (make setup)")
    from ata.rtpbench import pesq_leg
    # Direct and unpaced: the result must not depend on how loaded the machine is
    # (the real-time relay run is `python -m ata.rtpbench pesq`).
    rep = pesq_leg(workdir=tmp_path, direct=True,
                   text="Glue the sheet to the dark blue background. "
                        "It is easy to tell the depth of a well.")
    assert rep["ceiling"] > 3.5, rep
    assert abs(rep["leg"] - rep["ceiling"]) <= 0.05, rep
    assert rep["receiver"]["lost"] == 0 and rep["receiver"]["late"] == 0, rep
    assert rep["receiver"]["frames"]["lost"] <= 3, rep  # only the stream's tail
