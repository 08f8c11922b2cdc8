"""Call transfer as the transferor (lib/sip/refer.py), played from raw UDP peers against
the MicroPython UserAgent (tests/sip_driver.py): the REFER we send (Refer-To, and
Replaces naming the consultation dialog for an attended transfer), the transferee's
NOTIFYs (message/sipfrag, RFC 3515/3420) reported to the app, and the ways it fails:
a refused REFER, no answer at all, a NOTIFY with a body that is no status line, a
NOTIFY for a transfer nobody asked for."""
from urllib.parse import unquote

import pytest

from sip_host import UaProc, ua_config
from sip_raw import RawPeer, response_to
from test_sip_state import SDP, _answered_incoming, _in_dialog, peer  # noqa: F401 (fixture)

pytestmark = pytest.mark.interop


def _notify(ua, peer, call_id, our_tag, cseq, body, state="active"):
    extra = ("Event: refer\r\nSubscription-State: %s\r\nContact: <sip:2000@%s:%d>\r\n"
             "Content-Type: message/sipfrag\r\n") % (state, peer.ip, peer.port)
    peer.send(_in_dialog("NOTIFY", ua.port, peer, call_id, "far9", our_tag, cseq, extra, body),
              ("127.0.0.1", ua.port))
    return peer.expect(lambda m: m.status and "NOTIFY" in (m.get("cseq") or "")).status


def _refer_events(ua):
    with ua.cond:
        return [(e["code"], e["final"]) for e in ua.lines if e.get("ev") == "refer"]


def _wait_refer(ua, code):
    return ua.wait_for(lambda e: e.get("ev") == "refer" and e.get("code") == code, 3)


def test_blind_transfer_refer_and_sipfrag_notifies(peer):
    with UaProc(ua_config(peer.port, register=False)) as ua:
        call_id, our_tag, _ = _answered_incoming(ua, peer)
        assert ua.cmd("refer", call=0, target="sip:1003@127.0.0.1")["ok"]
        ref = peer.expect(lambda m: m.method == "REFER")
        assert ref.get("call-id") == call_id and ref.tag("from") == our_tag
        assert ref.tag("to") == "far9"
        assert ref.get("refer-to") == "<sip:1003@127.0.0.1>"
        assert ref.get("referred-by") == "<sip:1001@127.0.0.1:%d>" % peer.port   # our AOR
        # a second transfer while this one runs is refused by the API
        assert not ua.cmd("refer", call=0, target="sip:1004@127.0.0.1")["ok"]
        peer.send(response_to(ref, 202, "Accepted"), ref.addr)
        _wait_refer(ua, 202)
        assert _notify(ua, peer, call_id, our_tag, 2, "SIP/2.0 100 Trying\r\n") == 200
        _wait_refer(ua, 100)
        # a body that is no status line: 400, nothing reported, the transfer runs on
        assert _notify(ua, peer, call_id, our_tag, 3, "hello\r\n") == 400
        assert _notify(ua, peer, call_id, our_tag, 4, "SIP/2.0 180 Ringing\r\n") == 200
        _wait_refer(ua, 180)
        assert _notify(ua, peer, call_id, our_tag, 5, "SIP/2.0 200 OK\r\n",
                       "terminated;reason=noresource") == 200
        _wait_refer(ua, 200)
        assert _refer_events(ua) == [(202, False), (100, False), (180, False), (200, True)]
        # the subscription is over: a late NOTIFY gets 481 and reports nothing
        assert _notify(ua, peer, call_id, our_tag, 6, "SIP/2.0 200 OK\r\n") == 481
        assert len(_refer_events(ua)) == 4
        assert ua.cmd("info", call=0)["state"] == "confirmed"   # the app ends the call


def test_attended_transfer_names_the_consultation_dialog(peer):
    far_b = RawPeer()
    try:
        with UaProc(ua_config(peer.port, register=False)) as ua:
            call_a, _, _ = _answered_incoming(ua, peer)
            # the consultation call, to B through the proxy (the peer relays nothing: B
            # answers from its own socket as if the proxy had forked to it)
            ua.cmd("invite", target="1003")
            inv = peer.expect(lambda m: m.method == "INVITE")
            ok = response_to(inv, 200, "OK", "btag7",
                             "Contact: <sip:1003@127.0.0.1:%d>" % far_b.port, SDP)
            far_b.send(ok, inv.addr)
            peer.send(ok, inv.addr)
            ua.wait_state("confirmed", 1, 3)
            assert ua.cmd("refer", call=0, target="sip:1003@127.0.0.1", replaces_call=1)["ok"]
            ref = peer.expect(lambda m: m.method == "REFER")
            assert ref.get("call-id") == call_a
            value = ref.get("refer-to")
            assert value.startswith("<sip:1003@127.0.0.1?Replaces=") and value.endswith(">")
            rep = unquote(value[len("<sip:1003@127.0.0.1?Replaces="):-1])
            assert ";" not in value[1:-1].split("?")[1], "Replaces must be escaped in the URI"
            assert rep == "%s;to-tag=btag7;from-tag=%s" % (inv.get("call-id"), inv.tag("from"))
            peer.send(response_to(ref, 202, "Accepted"), ref.addr)
            _wait_refer(ua, 202)
    finally:
        far_b.close()


@pytest.mark.parametrize("status", [403, 405, 501])
def test_refused_refer_is_final(peer, status):
    with UaProc(ua_config(peer.port, register=False)) as ua:
        call_id, our_tag, _ = _answered_incoming(ua, peer)
        assert ua.cmd("refer", call=0, target="sip:1003@127.0.0.1")["ok"]
        ref = peer.expect(lambda m: m.method == "REFER")
        peer.send(response_to(ref, status, "No"), ref.addr)
        _wait_refer(ua, status)
        assert _refer_events(ua) == [(status, True)]
        # over: a NOTIFY now is for no subscription of ours
        assert _notify(ua, peer, call_id, our_tag, 2, "SIP/2.0 200 OK\r\n") == 481
        # and another transfer may be asked
        assert ua.cmd("refer", call=0, target="sip:1004@127.0.0.1")["ok"]


def test_unanswered_refer_times_out_408(peer):
    with UaProc(ua_config(peer.port, register=False)) as ua:
        _answered_incoming(ua, peer)
        assert ua.cmd("refer", call=0, target="sip:1003@127.0.0.1")["ok"]
        peer.expect(lambda m: m.method == "REFER")
        ua.cmd("warp", ms=33000)            # past timer F (64*T1)
        _wait_refer(ua, 408)
        assert _refer_events(ua) == [(408, True)]


def test_notify_without_a_transfer_gets_481(peer):
    with UaProc(ua_config(peer.port, register=False)) as ua:
        call_id, our_tag, _ = _answered_incoming(ua, peer)
        assert _notify(ua, peer, call_id, our_tag, 2, "SIP/2.0 200 OK\r\n") == 481
        assert _refer_events(ua) == []
        assert ua.cmd("info", call=0)["state"] == "confirmed"

