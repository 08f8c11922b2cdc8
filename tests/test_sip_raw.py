"""lib/sip transactions and dialogs checked byte by byte from a raw UDP peer.

The peer plays the UA's proxy (its address is the UA's trusted server), so it can do
what sipp cannot: repeat a 200 exactly, withhold an ACK, route through Record-Route
to a different socket, send folded headers.
"""
import time

import pytest

from sip_host import UaProc, ua_config
from sip_raw import RawPeer, branch, invite, response_to

pytestmark = pytest.mark.interop

# Heap (x64) a challenged call's three finished transactions may hold: their objects,
# keys, addresses and the 407's ACK (measured 1,920 B); with their requests (parsed and
# encoded) it was 6,528 B (the driver keeps its calls, so the call itself is not in it).
LINGER_MAX = 4096

SDP = ("v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 7100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@pytest.fixture
def peer():
    p = RawPeer()
    yield p
    p.close()


def _ua(peer, **kw):
    return UaProc(ua_config(peer.port, register=False, **kw))


def test_retransmitted_200_is_acked_each_time(peer):
    with _ua(peer) as ua:
        ua.cmd("invite", target="1002")
        inv = peer.expect(lambda m: m.method == "INVITE")
        ok = response_to(inv, 200, "OK", "far1", "Contact: <sip:far@127.0.0.1:%d>" % peer.port, SDP)
        acks = []
        for _ in range(3):                   # our ACK "lost": the 200 comes again
            peer.send(ok, inv.addr)
            acks.append(peer.expect(lambda m: m.method == "ACK"))
        assert len({a.raw for a in acks}) == 1, "re-ACKs are the same ACK"
        assert acks[0].get("cseq") == "1 ACK" and acks[0].tag("to") == "far1"
        assert acks[0].get("via").split("branch=")[1] != inv.get("via").split("branch=")[1]
        # the driver reports the state on its stdout, which may trail the ACK on the wire
        ua.wait_state("confirmed", call=0, timeout=5)
        assert ua.states(0) == ["confirmed"]
        ua.cmd("hangup")
        bye = peer.expect(lambda m: m.method == "BYE")
        assert bye.get("cseq") == "2 BYE"
        peer.send(response_to(bye, 200, "OK"), bye.addr)
        ua.wait_state("ended", call=0, timeout=5)
        peer.send(ok, inv.addr)              # the 200 once more, after the call is gone
        again = peer.expect(lambda m: m.method == "ACK")
        assert again.raw == acks[0].raw, "the INVITE's lingering transaction re-ACKs it"


def _call_and_hang_up(ua, peer, n):
    """An outgoing call as through a PBX: its INVITE challenged (407), answered, hung up."""
    ua.cmd("invite", target="1002")
    first = peer.expect(lambda m: m.method == "INVITE")
    peer.send(response_to(first, 407, "Proxy Authentication Required", "px%d" % n,
                          'Proxy-Authenticate: Digest realm="pbx", nonce="n%d"\r\n' % n),
              first.addr)
    peer.expect(lambda m: m.method == "ACK")
    inv = peer.expect(lambda m: m.method == "INVITE")
    assert inv.get("proxy-authorization")
    ok = response_to(inv, 200, "OK", "far%d" % n, "Contact: <sip:far@127.0.0.1:%d>" % peer.port,
                     SDP)
    peer.send(ok, inv.addr)
    peer.expect(lambda m: m.method == "ACK")
    ua.wait_state("confirmed", call=n, timeout=5)
    ua.cmd("hangup", call=n)
    bye = peer.expect(lambda m: m.method == "BYE")
    peer.send(response_to(bye, 200, "OK"), bye.addr)
    ua.wait_state("ended", call=n, timeout=5)


def _past_timers(ua):
    """Move the UA's SIP clock past every lingering transaction's timer; wait till gone."""
    ua.cmd("warp", ms=33000)
    deadline = time.monotonic() + 5
    while ua.status()["transactions"]:
        assert time.monotonic() < deadline, "transactions left after the warp"
        time.sleep(0.05)


def test_an_ended_call_is_not_held_by_its_lingering_transactions(peer):
    """A call's transactions linger after it (the challenged INVITE's 32 s, timer D; the
    answered one's 64*T1; the BYE's T4), and a call back to back starts while they are
    there. They hold what answers retransmissions, not the requests (see LINGER_MAX)."""
    with _ua(peer) as ua:
        _call_and_hang_up(ua, peer, 0)       # the first call loads what calls load
        _past_timers(ua)
        base = min(ua.cmd("heap")["alloc"] for _ in range(3))
        _call_and_hang_up(ua, peer, 1)
        # the INVITEs' (407, 200: 32 s) and the BYE's (5 s, gone on a slow machine)
        assert ua.status()["transactions"] >= 2
        lingering = min(ua.cmd("heap")["alloc"] for _ in range(3)) - base
        _past_timers(ua)
        left = min(ua.cmd("heap")["alloc"] for _ in range(3)) - base
        print("heap while the transactions linger: %+d B; after: %+d B" % (lingering, left))
        assert lingering - left < LINGER_MAX


def test_a_challenge_the_ua_has_no_room_to_answer_fails_the_call_at_once(peer):
    """Out of heap while handling the 407 (the retry INVITE not built): the call fails
    (408, so the line plays its tone) instead of waiting for ever, and the next goes."""
    with _ua(peer) as ua:
        ua.cmd("no_room_for_retry")
        ua.cmd("invite", target="1002")
        first = peer.expect(lambda m: m.method == "INVITE")
        peer.send(response_to(first, 407, "Proxy Authentication Required", "px",
                              'Proxy-Authenticate: Digest realm="pbx", nonce="n"\r\n'),
                  first.addr)
        assert peer.expect(lambda m: m.method == "ACK").get("call-id") == first.get("call-id")
        ev = ua.wait_state("failed", call=0, timeout=5)
        assert ev["detail"] == 408, ev
        assert ua.status()["counters"]["errors"] == 1      # the handler's MemoryError
        _call_and_hang_up(ua, peer, 1)


def test_200_retransmitted_until_ack_and_invite_retransmission_absorbed(peer):
    with _ua(peer) as ua:
        pai = 'P-Asserted-Identity: "Alice Smith" <sip:+4930123@pbx.example>\r\n'
        data, call_id = invite(peer, ua.port, br=branch(), extra=pai)
        peer.send(data, ("127.0.0.1", ua.port))
        got = [peer.expect(lambda m: m.status == 200)]
        peer.send(data, ("127.0.0.1", ua.port))      # INVITE retransmission
        t0 = time.monotonic()
        times = []
        while time.monotonic() - t0 < 2.0:
            m = peer.recv(0.1)
            if m is not None and m.status == 200:
                got.append(m)
                times.append(time.monotonic() - t0)
        # the retransmitted INVITE re-sent the 200 at once; timer G re-sent it at ~0.5, ~1.5 s
        assert len(got) >= 3, times
        assert len({m.raw for m in got}) == 1
        inc = [e for e in ua.lines if e.get("ev") == "incoming"]
        assert len(inc) == 1 and inc[0]["caller"] == ["Alice Smith", "+4930123"], inc
        ok = got[0]
        ack = ("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
               "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (
                   ua.port, peer.port, branch(), ok.get("from"), ok.get("to"), call_id)
        peer.send(ack.encode(), ("127.0.0.1", ua.port))
        assert [m for m in peer.drain(1.2) if m.status == 200] == [], "200 stops after the ACK"
        st = ua.status()
        assert st["counters"]["retransmits"] == 1, st


def test_record_route_route_set_and_rport(peer):
    far = RawPeer()                           # the caller's own socket (its Contact)
    try:
        with _ua(peer) as ua:
            rr = "<sip:127.0.0.1:%d;lr>" % peer.port
            data, call_id = invite(far, ua.port, extra="Record-Route: %s\r\n" % rr)
            # the proxy forwards it: its Via on top, from its own port
            text = data.decode().replace("Via: ", "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
                                         "Via: " % (peer.port, branch()), 1)
            peer.send(text.encode(), ("127.0.0.1", ua.port))
            ok = peer.expect(lambda m: m.status == 200)
            vias = ok.all("via")
            assert len(vias) == 2 and "rport=%d" % peer.port in vias[0], vias
            assert ok.all("record-route") == [rr]
            ua.wait_state("confirmed", 0, 3)
            ua.cmd("hangup")
            bye = peer.expect(lambda m: m.method == "BYE")   # via the route set, not direct
            assert bye.start == "BYE sip:2000@127.0.0.1:%d SIP/2.0" % far.port, bye.start
            assert bye.all("route") == [rr]
            assert far.drain(0.2) == []
    finally:
        far.close()


def test_options_rport_received_and_folding(peer):
    with _ua(peer) as ua:
        text = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 192.0.2.9:5999;branch=%s;rport\r\n"
                "From: <sip:x@127.0.0.1>;tag=a\r\nTo:\r\n <sip:1001@127.0.0.1>\r\n"
                "Call-ID: opt-1\r\ncseq: 7 OPTIONS\r\nMax-Forwards: 70\r\nl: 0\r\n\r\n") % (
                    ua.port, branch())
        peer.send(text.encode(), ("127.0.0.1", ua.port))
        r = peer.expect(lambda m: m.status == 200)
        via = r.get("via")
        assert "received=127.0.0.1" in via and "rport=%d" % peer.port in via, via
        assert "INVITE" in r.get("allow")


def test_malformed_request_from_proxy_gets_400_with_reason(peer):
    with _ua(peer) as ua:
        text = ("INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
                "From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: bad-1\r\n"
                "CSeq: one INVITE\r\nContent-Length: 0\r\n\r\n") % (peer.port, branch())
        peer.send(text.encode(), ("127.0.0.1", ua.port))
        r = peer.expect(lambda m: m.status == 400)
        assert r.start == "SIP/2.0 400 bad CSeq"
        assert ua.status()["counters"]["malformed"] == 1


def test_require_unknown_extension_420_and_bye_unknown_481(peer):
    with _ua(peer) as ua:
        data, _ = invite(peer, ua.port, extra="Require: 100rel\r\n")
        peer.send(data, ("127.0.0.1", ua.port))
        r = peer.expect(lambda m: m.status >= 200)
        assert r.status == 420 and r.get("unsupported") == "100rel"
        assert not [e for e in ua.lines if e.get("ev") == "incoming"]
