"""lib/sip state stays bounded and clean whatever arrives (issue 8, item 2).

Each test is one weakness found on main, played from raw UDP peers against the
MicroPython UserAgent (tests/sip_driver.py): the peer is the UA's trusted proxy, a
"stranger" is another socket on loopback (a spoofer that guessed nothing but tags it
saw would be in the same position). Every wait is on a message or a status change.
"""
import time

import pytest

from sip_host import UaProc, ua_config
from sip_raw import RawPeer, branch, invite, response_to

pytestmark = pytest.mark.interop

SDP = ("v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 7100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@pytest.fixture
def peer():
    p = RawPeer()
    yield p
    p.close()


@pytest.fixture
def stranger():
    p = RawPeer()
    yield p
    p.close()


def _ua(peer, **kw):
    kw.setdefault("register", False)
    return UaProc(ua_config(peer.port, **kw))


def _until(fn, timeout=10.0, what="condition"):
    """Poll fn() (a status query) until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def _final(peer, timeout=3.0):
    return peer.expect(lambda m: m.status >= 200, timeout)


def _in_dialog(method, ua_port, src, call_id, from_tag, to_tag, cseq, extra="", body="",
               ruri_user="1001"):
    text = ("%s sip:%s@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:2000@%s:%d>;tag=%s\r\n"
            "To: <sip:1001@127.0.0.1:%d>;tag=%s\r\n"
            "Call-ID: %s\r\nCSeq: %d %s\r\n%s"
            "Content-Length: %d\r\n\r\n%s") % (
                method, ruri_user, ua_port, src.ip, src.port, branch(), src.ip, src.port,
                from_tag, ua_port, to_tag, call_id, cseq, method, extra, len(body.encode()),
                body)
    return text.encode()


def _answered_incoming(ua, peer):
    """An incoming call from the peer, answered and ACKed: (call_id, our tag, their tag)."""
    data, call_id = invite(peer, ua.port, tag="far9")
    peer.send(data, ("127.0.0.1", ua.port))
    ok = peer.expect(lambda m: m.status == 200)
    ack = ("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
           "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (
               ua.port, peer.port, branch(), ok.get("from"), ok.get("to"), call_id)
    peer.send(ack.encode(), ("127.0.0.1", ua.port))
    ua.wait_state("confirmed", 0, 3)
    return call_id, ok.tag("to"), "far9"


# ---- one INVITE must not be able to kill the phone ------------------------------------

@pytest.mark.parametrize("rr", ["garbage", "<http://example.com>", "<sip:nohost.invalid;lr>",
                                "<sip:;lr>"])
def test_bogus_record_route_refused_before_a_dialog(peer, rr):
    with _ua(peer) as ua:
        data, _ = invite(peer, ua.port, extra="Record-Route: %s\r\n" % rr)
        peer.send(data, ("127.0.0.1", ua.port))
        r = _final(peer)
        assert r.status == 400 and "Record-Route" in r.start, r.start
        assert not [e for e in ua.lines if e.get("ev") == "incoming"]
        st = ua.status()
        assert st["calls"] == 0 and st["dialogs"] == 0 and st["counters"]["errors"] == 0, st


@pytest.mark.parametrize("contact", ["", "Contact: *\r\n", "Contact: <tel:+123>\r\n",
                                     "Contact: <sip:far@nohost.invalid>\r\n"])
def test_bad_contact_refused_before_a_dialog(peer, contact):
    with _ua(peer) as ua:
        data, _ = invite(peer, ua.port)
        text = data.decode()
        start = text.index("Contact: ")
        text = text[:start] + contact + text[text.index("\r\n", start) + 2:]
        peer.send(text.encode(), ("127.0.0.1", ua.port))
        r = _final(peer)
        assert r.status == 400 and "Contact" in r.start, r.start
        assert ua.status()["calls"] == 0


@pytest.mark.parametrize("c_line", ["c=IN IP4 nohost.invalid", "c=IN IP4 999.1.1.1",
                                    "c=IN IP6 ::1"])
def test_sdp_host_name_refused_488(peer, c_line):
    with _ua(peer) as ua:
        data, _ = invite(peer, ua.port, sdp=SDP.replace("c=IN IP4 127.0.0.1", c_line))
        peer.send(data, ("127.0.0.1", ua.port))
        r = _final(peer)
        assert r.status == 488, r.start
        assert not [e for e in ua.lines if e.get("ev") == "incoming"]


# ---- server transactions: 481 without a dialog, 500 and freed on a handler error -------

def test_bye_before_the_dialog_gets_481_and_leaks_nothing(peer):
    with _ua(peer) as ua:
        ua.cmd("invite", target="1002")
        inv = peer.expect(lambda m: m.method == "INVITE")
        our_tag = inv.tag("from")
        for i in range(70):      # more than the server-transaction table holds
            peer.send(_in_dialog("BYE", ua.port, peer, inv.get("call-id"), "lost200", our_tag,
                                 2 + i), ("127.0.0.1", ua.port))
            r = peer.expect(lambda m: m.status >= 200 and (m.get("cseq") or "").endswith("BYE"))
            assert r.status == 481, r.start
        st = ua.status()
        assert st["server_tx"] == 0 and st["counters"]["errors"] == 0, st
        # the table is not exhausted: a new INVITE is handled (not 503)
        data, _ = invite(peer, ua.port)
        peer.send(data, ("127.0.0.1", ua.port))
        r = peer.expect(lambda m: m.status >= 180 and "INVITE" in (m.get("cseq") or ""))
        assert r.status != 503, r.start


def test_handler_exception_answers_500_and_frees_the_transaction(peer):
    with _ua(peer, auto="none") as ua:
        ua.cmd("inject")
        data, call_id = invite(peer, ua.port)
        peer.send(data, ("127.0.0.1", ua.port))
        r = _final(peer)
        assert r.status == 500, r.start
        assert ua.status()["calls"] == 0
        ack = ("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\n"
               "Call-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (
                   ua.port, r.get("via").split(";received")[0], r.get("from"), r.get("to"), call_id)
        peer.send(ack.encode(), ("127.0.0.1", ua.port))
        _until(lambda: ua.status()["server_tx"] == 0, 10, "transaction freed (timer I)")


def test_unacked_failure_answers_do_not_block_new_calls(peer):
    with _ua(peer) as ua:
        bad = SDP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 nohost.invalid")
        for _ in range(9):       # 488s nobody ACKs (more than MAX_PENDING; within the
            # INVITE rate limit, burst 10): each would be repeated for 32 s
            data, call_id = invite(peer, ua.port, sdp=bad)
            peer.send(data, ("127.0.0.1", ua.port))
            r = peer.expect(lambda m: m.status >= 200 and m.get("call-id") == call_id)
            assert r.status == 488, r.start
        st = ua.status()
        assert st["pending"] <= 8, st
        data, call_id = invite(peer, ua.port)
        peer.send(data, ("127.0.0.1", ua.port))
        r = peer.expect(lambda m: m.status >= 180 and m.get("call-id") == call_id)
        assert r.status in (180, 200), r.start


def test_bye_in_the_early_dialog_answers_the_invite_487(peer):
    with _ua(peer, auto="ring") as ua:
        data, call_id = invite(peer, ua.port, tag="far7")
        peer.send(data, ("127.0.0.1", ua.port))
        ring = peer.expect(lambda m: m.status == 180)
        peer.send(_in_dialog("BYE", ua.port, peer, call_id, "far7", ring.tag("to"), 2),
                  ("127.0.0.1", ua.port))
        got = {}
        while len(got) < 2:
            m = peer.expect(lambda m: m.status >= 200 and m.get("call-id") == call_id)
            got[(m.get("cseq") or "").split()[-1]] = m.status
        assert got == {"BYE": 200, "INVITE": 487}, got
        assert ua.status()["calls"] == 0


def test_cancel_never_answered_ends_the_call(peer):
    with _ua(peer) as ua:
        ua.cmd("invite", target="1002")
        inv = peer.expect(lambda m: m.method == "INVITE")
        peer.send(response_to(inv, 180, "Ringing", "far2"), inv.addr)
        ua.wait_state("ringing", 0, 3)
        ua.cmd("hangup")
        cancel = peer.expect(lambda m: m.method == "CANCEL")
        peer.send(response_to(cancel, 200, "OK"), cancel.addr)   # ... and never a 487
        ua.cmd("warp", ms=33000)                                  # past 64*T1
        ev = ua.wait_state("ended", 0, 5)
        assert ev["detail"] == "cancel", ev
        _until(lambda: ua.status()["calls"] == 0, 5, "call gone")


def test_far_end_bye_in_our_early_dialog_cancels_our_invite(peer):
    """The call ends on a BYE in the early dialog of our INVITE: the INVITE is CANCELled,
    and its transaction ends by 64*T1 even if the far end never gives a final answer (it
    used to ring on, held for the 300 s safety net: a leak the stateful fuzz found)."""
    with _ua(peer) as ua:
        ua.cmd("invite", target="1002")
        inv = peer.expect(lambda m: m.method == "INVITE")
        peer.send(response_to(inv, 180, "Ringing", "far3"), inv.addr)
        ua.wait_state("ringing", 0, 3)
        peer.send(_in_dialog("BYE", ua.port, peer, inv.get("call-id"), "far3", inv.tag("from"),
                             1), ("127.0.0.1", ua.port))
        assert peer.expect(lambda m: m.status and "BYE" in (m.get("cseq") or "")).status == 200
        cancel = peer.expect(lambda m: m.method == "CANCEL")
        assert cancel.get("call-id") == inv.get("call-id")
        rx = ua.status()["counters"]["rx"]
        peer.send(response_to(cancel, 200, "OK"), cancel.addr)   # ... and never a 487
        # the clock moves only once the UA has the 200: its CANCEL transaction's timer K
        # starts there (a warp before it, under load, left that timer 5 s to run)
        _until(lambda: ua.status()["counters"]["rx"] > rx, 5, "the CANCEL's 200 received")
        ua.cmd("warp", ms=33000)                                  # past 64*T1
        _until(lambda: ua.status()["transactions"] == 0, 5, "INVITE transaction gone")
        assert ua.status()["calls"] == 0


# ---- in-dialog requests only from the trusted set / the route set's next hop ----------

def test_stranger_in_dialog_cseq_and_reinvite_ignored(peer, stranger):
    with _ua(peer) as ua:
        call_id, our_tag, their_tag = _answered_incoming(ua, peer)
        # a stranger that knows the dialog's tags: huge CSeq, then a media redirect
        stranger.send(_in_dialog("INFO", ua.port, stranger, call_id, their_tag, our_tag,
                                 2 ** 31 - 1), ("127.0.0.1", ua.port))
        evil = SDP.replace("127.0.0.1", "10.9.9.9")
        stranger.send(_in_dialog("INVITE", ua.port, stranger, call_id, their_tag, our_tag, 50,
                                 extra="Contact: <sip:evil@127.0.0.1:%d>\r\n"
                                       "Content-Type: application/sdp\r\n" % stranger.port,
                                 body=evil), ("127.0.0.1", ua.port))
        # the real far end: the same CSeq twice on new transactions is not out of order
        for _ in range(2):
            peer.send(_in_dialog("INFO", ua.port, peer, call_id, their_tag, our_tag, 2),
                      ("127.0.0.1", ua.port))
            r = _final(peer)
            assert r.status == 200, r.start
        peer.send(_in_dialog("BYE", ua.port, peer, call_id, their_tag, our_tag, 3),
                  ("127.0.0.1", ua.port))
        r = peer.expect(lambda m: m.status >= 200 and "BYE" in (m.get("cseq") or ""))
        assert r.status == 200, r.start
        assert stranger.drain(0.3) == [], "the stranger was answered"
        assert "remote-offer" not in [e.get("detail") for e in ua.lines if e.get("ev") == "state"]
        st = ua.status()
        assert st["counters"]["rejected"] >= 2 and st["counters"]["errors"] == 0, st


def test_reinvite_2xx_with_unroutable_contact_keeps_the_dialog(peer):
    with _ua(peer) as ua:
        ua.cmd("invite", target="1002")
        inv = peer.expect(lambda m: m.method == "INVITE")
        peer.send(response_to(inv, 200, "OK", "far3", "Contact: <sip:far@127.0.0.1:%d>"
                              % peer.port, SDP), inv.addr)
        peer.expect(lambda m: m.method == "ACK")
        assert ua.cmd("hold")["ok"]
        re = peer.expect(lambda m: m.method == "INVITE" and m.tag("to") == "far3")
        peer.send(response_to(re, 200, "OK", None, "Contact: <sip:far@nohost.invalid>", SDP),
                  re.addr)
        peer.expect(lambda m: m.method == "ACK" and "2 ACK" in (m.get("cseq") or ""))
        ua.wait_for(lambda e: e.get("detail") == "hold", 3)
        ua.cmd("hangup")
        bye = peer.expect(lambda m: m.method == "BYE")      # still to the old target
        assert bye.start.startswith("BYE sip:far@127.0.0.1:%d " % peer.port), bye.start
        assert ua.status()["counters"]["errors"] == 0


def test_lower_cseq_from_the_far_end_is_500(peer):
    with _ua(peer) as ua:
        call_id, our_tag, their_tag = _answered_incoming(ua, peer)
        peer.send(_in_dialog("INFO", ua.port, peer, call_id, their_tag, our_tag, 9),
                  ("127.0.0.1", ua.port))
        assert _final(peer).status == 200
        peer.send(_in_dialog("INFO", ua.port, peer, call_id, their_tag, our_tag, 4),
                  ("127.0.0.1", ua.port))
        r = _final(peer)
        assert r.status == 500 and "CSeq" in r.start, r.start


# ---- responses only from where the request went; client table capped -------------------

def test_forged_2xx_from_a_stranger_is_dropped(peer, stranger):
    with _ua(peer) as ua:
        ua.cmd("invite", target="1002")
        inv = peer.expect(lambda m: m.method == "INVITE")
        for i in range(20):
            forged = response_to(inv, 200, "OK", "forged%d" % i,
                                 "Contact: <sip:victim@127.0.0.1:%d>" % stranger.port, SDP)
            stranger.send(forged, ("127.0.0.1", ua.port))
        peer.send(response_to(inv, 486, "Busy Here", "real1"), inv.addr)
        ua.wait_state("failed", 0, 3)
        assert stranger.drain(0.3) == [], "ACK/BYE sent where the forger said"
        st = ua.status()
        assert st["counters"]["rejected"] + st["counters"]["forged"] >= 20, st


def test_client_transaction_table_is_capped(peer):
    with _ua(peer) as ua:
        for i in range(40):
            ua.cmd("invite", target="1%03d" % i)
        st = ua.status()
        assert st["transactions"] <= 32, st      # only client transactions here
        ended = [n for n in range(40) if ua.cmd("info", call=n)["state"] == "ended"]
        assert len(ended) == 40 - st["transactions"], (len(ended), st)


# ---- ring time-out, accept_from CIDR ------------------------------------------------

def test_unanswered_call_ends_with_480_after_the_ring_timeout(peer):
    with _ua(peer, auto="ring", ring_timeout_s=2) as ua:
        data, _ = invite(peer, ua.port)
        peer.send(data, ("127.0.0.1", ua.port))
        peer.expect(lambda m: m.status == 180)
        r = _final(peer, timeout=8)
        assert r.status == 480, r.start
        ev = ua.wait_state("ended", 0, 3)
        assert ev["detail"] == "ring-timeout", ev
        assert ua.status()["calls"] == 0


def test_accept_from_cidr(peer, stranger):
    with _ua(peer, accept_from=["127.0.0.0/8"]) as ua:
        text = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
                "From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: cidr-1\r\n"
                "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % (ua.port, stranger.port, branch())
        stranger.send(text.encode(), ("127.0.0.1", ua.port))
        assert _final(stranger).status == 200


# ---- datagram level: filter before parsing, oversize dropped, bare CR refused ----------

def test_strangers_are_dropped_before_parsing(peer, stranger):
    with _ua(peer) as ua:
        for i in range(10):
            stranger.send(b"INVITE garbage %d\r\n\r\n" % i, ("127.0.0.1", ua.port))
        data, _ = invite(stranger, ua.port)
        stranger.send(data, ("127.0.0.1", ua.port))
        c = _until(lambda: (lambda s: s["rejected"] >= 11 and s)(ua.status()["counters"]), 5,
                   "rejected counted")
        assert c["malformed"] == 0, c
        assert stranger.drain(0.2) == []


def test_oversize_datagram_dropped_and_counted(peer):
    with _ua(peer) as ua:
        pad = "".join("X-Pad-%d: %s\r\n" % (i, "p" * 1500) for i in range(6))
        text = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
                "From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: big-1\r\n"
                "CSeq: 1 OPTIONS\r\n%sContent-Length: 0\r\n\r\n") % (ua.port, peer.port, branch(), pad)
        assert len(text) > 8192
        peer.send(text.encode(), ("127.0.0.1", ua.port))
        _until(lambda: ua.status()["counters"].get("oversize") == 1, 5, "oversize counted")
        assert peer.drain(0.2) == []
        assert ua.status()["counters"]["malformed"] == 0


def test_bare_cr_in_a_header_is_refused_not_echoed(peer):
    with _ua(peer) as ua:
        text = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
                "From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\n"
                "Call-ID: cr-1\rX-Injected:yes\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % (
                    ua.port, peer.port, branch())
        peer.send(text.encode(), ("127.0.0.1", ua.port))
        _until(lambda: ua.status()["counters"]["malformed"] == 1, 5, "refused as malformed")
        got = peer.drain(0.3)
        assert all(b"X-Injected" not in m.raw for m in got), got


# ---- registration: a huge Expires neither kills the task nor overflows the clock -------

def test_huge_expires_is_clamped(peer):
    with _ua(peer, register=True, keepalive_s=0) as ua:
        reg = peer.expect(lambda m: m.method == "REGISTER", 5)
        peer.send(response_to(reg, 200, "OK", "r1", "Expires: 99999999999\r\nContact: %s" %
                              reg.get("contact").split(";expires")[0]), reg.addr)
        st = _until(lambda: (lambda s: s["registered"] and s)(ua.status()), 5, "registered")
        assert 80000 < st["expires_in"] <= 86400, st
        assert st["counters"]["errors"] == 0, st
