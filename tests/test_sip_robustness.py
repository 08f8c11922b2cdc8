"""lib/sip survives malformed input and scanners, and keeps working (real peers).

- Robustness: sipp's malformed requests (each answered 400 with its reason), then 1,200
  generated malformed/mutated datagrams from a trusted address; afterwards the UA runs,
  has raised no internal error, is still registered and places a call to baresip.
- Scanner: 200 INVITEs from 127.0.0.2 and from another port of 127.0.0.1 while baresip
  calls the UA through Kamailio: only the real call rings, the flood gets no answer.
"""
import pathlib
import socket
import threading
import time
import types

import pytest

from ata.peers import Baresip, Kamailio, free_udp_port, run_sipp
from sip_fuzz import messages
from sip_host import UaProc, ua_config
from sip_raw import invite

pytestmark = pytest.mark.interop
SC = pathlib.Path(__file__).resolve().parent / "sip_scenarios"
FUZZ_COUNT = 1200


@pytest.fixture
def net(tmp_path):
    k = Kamailio(tmp_path / "kam", min_expires=2)
    k.start()
    b = Baresip(tmp_path / "b", "1002", "secret2", k.port).start()
    yield k, b
    b.stop()
    k.stop()


def _incoming(ua):
    return [e for e in ua.lines if e.get("ev") == "incoming"]


def test_malformed_and_mutated_messages(net, tmp_path):
    kam, bare = net
    fuzz_port = free_udp_port()
    ua = UaProc(ua_config(kam.port, accept_from=["127.0.0.1"], rate_limit=100000))
    try:
        ua.wait_registered(5)
        # 1. sipp: malformed requests, each must get its 400
        rc, out, log = run_sipp(SC / "uac_malformed.xml", "127.0.0.1:%d" % ua.port, None,
                                tmp_path / "sipp", timeout_s=8, extra_args=["-s", "1001"])
        assert rc == 0, out + log[-4000:]
        for reason in ("bad Max-Forwards", "truncated body", "bad From: missing '>'",
                       "bad To: bad port", "bad From: IPv6 address without brackets"):
            assert "SIP/2.0 400 " + reason in log, reason
        # 2. generated: 1,200 datagrams, paced so the socket buffer keeps up
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", fuzz_port))
        s.setblocking(False)
        msgs = messages(20261128, FUZZ_COUNT, ua.port, fuzz_port)
        before = ua.status()["counters"]
        for i, data in enumerate(msgs):
            s.sendto(data, ("127.0.0.1", ua.port))
            if i % 20 == 19:
                # flow control: the next 20 go once the UA has taken these
                _until(lambda: ua.status()["counters"]["rx"] - before["rx"] >= i - 20)
                try:
                    while True:
                        s.recv(65535)     # drain the answers
                except BlockingIOError:
                    pass
        _until_settled(lambda: ua.status()["counters"]["rx"])
        st = ua.status()
        c = st["counters"]
        got = c["rx"] - before["rx"]
        print("fuzz: sent %d, received %d, counters %r" % (len(msgs), got, c))
        assert ua.proc.poll() is None, "MicroPython UA died: " + ua.stderr_text()
        assert got >= 1000, c
        assert c["errors"] == 0, "internal errors while handling input: %r" % c
        assert c["malformed"] >= 300, c
        assert st["registered"] and kam.contacts("1001")
        # 3. still places a call through Kamailio to baresip
        m = ua.mark()
        r = ua.cmd("invite", target="1002")
        bare.wait_event("CALL_ESTABLISHED", 5)
        ua.wait_state("confirmed", r["call"], 5, start=m)
        ua.cmd("hangup", call=r["call"])
        bare.wait_event("CALL_CLOSED", 5)
        s.close()
    finally:
        ua.stop()


def _until(pred, timeout=10.0):
    """Poll pred() until true (an event the UA reports), or fail after timeout."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def _until_settled(read, quiet=0.2, timeout=10.0):
    """Poll read() until it stops changing for `quiet` s: the UA has taken everything
    the kernel still held for it."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "still changing"
        time.sleep(0.02)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
    return last


def _flood(sources, ua_port, count, answers, stop, handled):
    """`count` scanner INVITEs round-robin from `sources` at 100/s; counts any answer.
    handled(): how many of them the UA has dealt with."""
    socks = []
    for ip in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, 0))
        s.setblocking(False)
        socks.append(s)
    for i in range(count):
        s = socks[i % len(socks)]
        ip, port = s.getsockname()
        p = types.SimpleNamespace(ip=ip, port=port)
        data, _ = invite(p, ua_port, user="1001" if i % 2 else str(100 + i))
        s.sendto(data, ("127.0.0.1", ua_port))
        time.sleep(0.01)
        for x in socks:
            try:
                while True:
                    x.recv(65535)
                    answers[0] += 1
            except BlockingIOError:
                pass
    _until(lambda: handled() >= count)           # every INVITE answered or dropped
    for x in socks:
        try:
            while True:
                x.recv(65535)
                answers[0] += 1
        except BlockingIOError:
            pass
        x.close()
    stop.set()


@pytest.mark.parametrize("mode", ["drop", "403"])
def test_scanner_flood_rings_nothing_and_real_call_works(net, mode):
    kam, bare = net
    ua = UaProc(ua_config(kam.port, reject=mode))
    try:
        ua.wait_registered(5)
        answers = [0]
        done = threading.Event()
        start = ua.status()["counters"]["rejected"]
        lock = threading.Lock()            # the UA's command pipe: one caller at a time

        def handled():
            with lock:
                return ua.status()["counters"]["rejected"] - start
        t = threading.Thread(target=_flood, args=(["127.0.0.2", "127.0.0.1"], ua.port, 200,
                                                  answers, done, handled))
        t.start()
        _until(lambda: handled() >= 20)              # the flood is under way
        bare.dial("sip:1001@127.0.0.1:%d" % kam.port)      # the real call, mid-flood
        bare.wait_event("CALL_ESTABLISHED", 5)
        assert not done.is_set(), "flood ended before the real call was up"
        t.join(15)
        c = ua.status()["counters"]
        inc = _incoming(ua)
        assert len(inc) == 1 and inc[0]["from"].startswith("sip:1002@"), inc
        assert c["rejected"] >= 200, c
        if mode == "drop":
            assert answers[0] == 0, "scanner got %d answers" % answers[0]
        else:
            # 403s are rate limited: burst 10 plus 5/s over the ~2.5 s flood
            assert 1 <= answers[0] <= 25, answers[0]
        bare.hangup()
        ua.wait_state("ended", 0, 5)
    finally:
        ua.stop()
