"""lib/sip on MicroPython against real peers: Kamailio registrar/proxy and baresip phones."""
import re
import time

import pytest

from ata.peers import Baresip, Kamailio
from sip_host import UaProc, ua_config

pytestmark = pytest.mark.interop


@pytest.fixture(params=[False, True], ids=["noqop", "qop"])
def kam(request, tmp_path):
    k = Kamailio(tmp_path / "kam", qop=request.param, min_expires=2)
    k.start()
    yield k
    k.stop()


@pytest.fixture
def kam_plain(tmp_path):
    k = Kamailio(tmp_path / "kam", min_expires=2)
    k.start()
    yield k
    k.stop()


def _baresip(tmp_path, kam, name="b", **kw):
    return Baresip(tmp_path / name, "1002", "secret2", kam.port, **kw).start()


def _logged(ua, pattern, timeout=10.0, start=0):
    """The first log line of the UA (from event index start) matching pattern."""
    e = ua.wait_for(lambda e: e.get("ev") == "log" and re.search(pattern, e["text"]),
                    timeout, start)
    return re.search(pattern, e["text"])


def test_register_refresh_unregister(kam):
    ua = UaProc(ua_config(kam.port, expires=4, verbose=True))
    try:
        first = _logged(ua, r"sip: registered for (\d+) s, refresh in (\d+) s")
        assert first.groups() == ("4", "2"), first.group(0)   # refreshed at half-time
        assert kam.contacts("1001") == ["sip:1001@127.0.0.1:%d" % ua.port]
        t0 = time.monotonic()
        mark = ua.mark()
        _logged(ua, r"sip: registered for 4 s", timeout=10, start=mark)
        took = time.monotonic() - t0
        st = ua.status()
        assert st["registrations"] >= 2 and st["registered"], st
        # A refresh sent at once instead of at half-time would come within a second;
        # a loaded host can only make it later, so only the lower bound is checked.
        assert took > 1.0, took
    finally:
        ua.stop()
    assert kam.contacts("1001") == [], "un-REGISTER on stop"


def test_auth_id_differs_from_user(tmp_path):
    with Kamailio(tmp_path / "kam", users={"a-1001": "pw1"}, auth_id_must_match=False) as k:
        ua = UaProc(ua_config(k.port, auth_id="a-1001", password="pw1"))
        with ua:
            ua.wait_registered(5)
            assert k.contacts("1001"), k.ul_dump()
        bad = UaProc(ua_config(k.port, auth_id="a-1001", password="wrong"))
        with bad:
            t0 = time.monotonic()
            while not bad.status()["last_error"] and time.monotonic() - t0 < 5:
                time.sleep(0.1)
            st = bad.status()
            assert not st["registered"] and "authentication rejected" in st["last_error"], st
            assert not k.contacts("1001")


def test_423_interval_too_brief(tmp_path):
    with Kamailio(tmp_path / "kam", min_expires=120, min_expires_423=True) as k:
        with UaProc(ua_config(k.port, expires=30, verbose=True)) as ua:
            t0 = time.monotonic()
            # asked 30, refused with 423 Min-Expires 120, asked again with 120
            _logged(ua, r"sip: registered for 120 s, refresh in \d+ s")
            dump = k.ul_dump()
            elapsed = time.monotonic() - t0
            # Kamailio's ul.dump shows the seconds left, counting down from 120
            left = [int(x) for x in re.findall(r"Expires:\s*(\d+)", dump)]
            assert len(left) == 1, dump
            assert 120 - int(elapsed) - 1 <= left[0] <= 120, (left, elapsed)


def test_call_out_hold_resume_hangup(kam, tmp_path):
    b = _baresip(tmp_path, kam)
    ua = UaProc(ua_config(kam.port))
    try:
        ua.wait_registered(5)
        ua.cmd("invite", target="1002")
        ev = ua.wait_state("confirmed", 0, 5)
        assert "m=audio" in ev["remote_sdp"]
        b.wait_event("CALL_ESTABLISHED", 5)
        m = ua.mark()
        assert ua.cmd("hold")["ok"]
        ev = ua.wait_state("confirmed", 0, 5, start=m)
        assert ev["detail"] == "hold" and "a=recvonly" in ev["remote_sdp"], ev
        m = ua.mark()
        assert ua.cmd("resume")["ok"]
        ev = ua.wait_state("confirmed", 0, 5, start=m)
        assert ev["detail"] == "resume" and "a=sendrecv" in ev["remote_sdp"], ev
        ua.cmd("hangup")
        b.wait_event("CALL_CLOSED", 5)
        assert ua.states(0)[-4:] == ["confirmed", "confirmed", "confirmed", "ended"], ua.states(0)
    finally:
        ua.stop()
        b.stop()


def test_call_in_answered_far_end_hangs_up(kam, tmp_path):
    b = _baresip(tmp_path, kam)
    ua = UaProc(ua_config(kam.port))
    try:
        ua.wait_registered(5)
        b.dial("sip:1001@127.0.0.1:%d" % kam.port)
        inc = ua.wait_for(lambda e: e.get("ev") == "incoming", 5)
        assert inc["from"].startswith("sip:1002@") and "PCMU" in inc["remote_sdp"]
        assert inc["caller"][1] == "1002"
        b.wait_event("CALL_ESTABLISHED", 5)
        ua.wait_state("confirmed", 0, 5)
        time.sleep(0.3)
        b.hangup()
        ev = ua.wait_state("ended", 0, 5)
        assert ev["detail"] == "bye"
    finally:
        ua.stop()
        b.stop()


def test_busy_gives_486(kam_plain, tmp_path):
    b = _baresip(tmp_path, kam_plain)
    ua = UaProc(ua_config(kam_plain.port))
    try:
        ua.wait_registered(5)
        ua.cmd("busy", value=True)
        b.dial("sip:1001@127.0.0.1:%d" % kam_plain.port)
        ev = b.wait_event("CALL_CLOSED", 5)
        assert "486" in ev.get("param", ""), ev
        st = ua.status()
        assert st["counters"]["calls_in"] == 1 and st["calls"] == 0
        assert not [e for e in ua.lines if e.get("ev") == "incoming"]
    finally:
        ua.stop()
        b.stop()


def test_cancel_before_answer(kam_plain, tmp_path):
    b = _baresip(tmp_path, kam_plain, answermode="manual")
    ua = UaProc(ua_config(kam_plain.port, hangup_on="ringing"))
    try:
        ua.wait_registered(5)
        ua.cmd("invite", target="1002")
        b.wait_event("CALL_INCOMING", 5)
        ev = ua.wait_state("ended", 0, 5)
        assert ev["detail"] == "cancel", ev
        b.wait_event("CALL_CLOSED", 5)
    finally:
        ua.stop()
        b.stop()


def test_caller_cancels_incoming(kam_plain, tmp_path):
    b = _baresip(tmp_path, kam_plain)
    ua = UaProc(ua_config(kam_plain.port, auto="ring"))
    try:
        ua.wait_registered(5)
        b.dial("sip:1001@127.0.0.1:%d" % kam_plain.port)
        ua.wait_state("ringing", 0, 5)
        time.sleep(0.2)
        b.hangup()
        ev = ua.wait_state("ended", 0, 5)
        assert ev["detail"] == "cancel", ev
    finally:
        ua.stop()
        b.stop()


def test_488_when_no_codec_matches(kam_plain, tmp_path):
    b = _baresip(tmp_path, kam_plain, codecs="G722")
    ua = UaProc(ua_config(kam_plain.port))
    try:
        ua.wait_registered(5)
        b.dial("sip:1001@127.0.0.1:%d" % kam_plain.port)
        ev = b.wait_event("CALL_CLOSED", 5)
        assert "488" in ev.get("param", ""), ev
        ua.cmd("invite", target="1002")         # and the other way: baresip says 488
        ev = ua.wait_state("failed", 0, 5)
        assert ev["detail"] == 488, ev
    finally:
        ua.stop()
        b.stop()


def test_registration_recovers_after_kamailio_restart(tmp_path):
    k = Kamailio(tmp_path / "kam", min_expires=2)
    k.start()
    ua = UaProc(ua_config(k.port, keepalive_s=1, expires=300))
    try:
        ua.wait_registered(5)
        k.stop()
        ua.wait_registered(15, value=False)     # keep-alive noticed the loss
        time.sleep(1.0)
        k.start()                               # same port, empty location table
        t0 = time.monotonic()
        while not k.contacts("1001"):
            assert time.monotonic() - t0 < 30, "no re-registration within 30 s"
            time.sleep(0.2)
        print("re-registered %.1f s after the restart" % (time.monotonic() - t0))
        ua.wait_registered(5)
    finally:
        ua.stop()
        k.stop()


def test_outbound_proxy_carries_registration_and_calls(kam_plain, tmp_path):
    # the registrar's own address is unreachable; everything goes through the proxy,
    # and the proxy's address is the one trusted for incoming requests
    b = _baresip(tmp_path, kam_plain)
    cfg = ua_config(kam_plain.port, outbound_proxy="127.0.0.1:%d" % kam_plain.port)
    cfg["port"] = 9                      # discard port: nothing answers there
    ua = UaProc(cfg)
    try:
        ua.wait_registered(5)
        assert kam_plain.contacts("1001")
        b.dial("sip:1001@127.0.0.1:%d" % kam_plain.port)
        ua.wait_for(lambda e: e.get("ev") == "incoming", 5)
        b.wait_event("CALL_ESTABLISHED", 5)
        b.hangup()
        ua.wait_state("ended", 0, 5)
        r = ua.cmd("invite", target="1002")
        b.wait_event("CALL_ESTABLISHED", 5)
        ua.cmd("hangup", call=r["call"])
        b.wait_event("CALL_CLOSED", 5)
    finally:
        ua.stop()
        b.stop()
