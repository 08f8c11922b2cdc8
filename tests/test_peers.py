"""The real-peer harness works: Kamailio registers two baresips that call each other."""
import socket
import time
import wave

import numpy as np
import pytest

from ata import peers
from ata.peers import Baresip, Kamailio, free_udp_port, free_udp_range, sip_ping

pytestmark = pytest.mark.interop


def _dominant_hz(path):
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    assert len(x) > rate // 2, "recording too short: %d samples" % len(x)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * rate / len(x)


def test_kamailio_registers_and_baresips_call(tmp_path):
    with Kamailio(tmp_path / "kam") as kam:
        assert sip_ping("127.0.0.1", kam.port) == 200
        a = Baresip(tmp_path / "a", "1001", "secret1", kam.port, record_dir=tmp_path / "rec_a")
        b = Baresip(tmp_path / "b", "1002", "secret2", kam.port, record_dir=tmp_path / "rec_b")
        with a, b:
            assert kam.contacts("1001") and kam.contacts("1002")
            a.dial("sip:1002@127.0.0.1:%d" % kam.port)
            b.wait_event("CALL_ESTABLISHED", 5)
            a.wait_event("CALL_ESTABLISHED", 5)
            time.sleep(1.0)
            a.hangup()
            b.wait_event("CALL_CLOSED", 5)
        # each side heard the other's 440 Hz tone through Kamailio's routing
        for rec in (a.recordings("dec"), b.recordings("dec")):
            assert rec, "no recording"
            assert abs(_dominant_hz(rec[0]) - 440) < 5
        kam.clear("1001")
        assert not kam.contacts("1001")
    assert sip_ping("127.0.0.1", kam.port, timeout=0.2) is None


def test_free_ports_are_unique_outside_the_ephemeral_range_and_free_for_tcp_too():
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    # the band itself, not only what 220 draws happen to hit: CI once drew 20000,
    # which is the firmware's (its port_max is inclusive)
    assert peers._BAND[0] > 20000 and not lo <= peers._BAND[0] <= hi
    ports = [free_udp_port() for _ in range(200)] + list(range(*free_udp_range(20)))
    assert len(set(ports)) == len(ports)          # never handed out twice
    for p in ports:
        assert not lo <= p <= hi       # the kernel never gives it to an outgoing socket
        assert p > 20000               # nor is it in the firmware's own RTP range
    # a port someone listens on over TCP is not "free" even though UDP would bind
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    held.listen()
    try:
        assert not peers._free_both(held.getsockname()[1], "127.0.0.1")
    finally:
        held.close()
