"""The firmware on the sim survives SIP that used to kill the line (issue 8, item 2).

A raw UDP peer is the sim's registrar (its address is the one the firmware trusts, as a
spoofer's would be): an INVITE with a bogus Record-Route, or SDP naming a host instead of
an address, used to ring the phone and then raise out of the line task on answer or
hang-up. Now each is refused before a dialog exists, a ghost call stops ringing at
sip.ring_timeout_s, and a real call still rings, connects and hangs up, and the phone
gets dial tone afterwards.
"""
import pytest

from ata import signals
from simfix import base_config, deep_merge, start_sim
from ata.phone import VirtualPhone
from sip_raw import RawPeer, branch, invite, response_to

pytestmark = pytest.mark.interop

SDP = ("v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 7100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
RING_TIMEOUT_S = 10


@pytest.fixture
def rig(tmp_path):
    peer = RawPeer()
    cfg = deep_merge(base_config(peer.port), {"sip": {"ring_timeout_s": RING_TIMEOUT_S}})
    sim = start_sim(cfg, tmp_path / "sim")
    reg = peer.expect(lambda m: m.method == "REGISTER", 10)
    peer.send(response_to(reg, 200, "OK", "reg1", "Expires: 3600"), reg.addr)
    sim.wait_log("sip: registered", 10)
    phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
    yield sim, phone, peer, cfg["sip"]["sip_port"]
    phone.close()
    rc = sim.stop()
    peer.close()
    log = sim.log_text()
    assert "Traceback" not in log and "error handling" not in log, log[-3000:]
    assert rc == 0, log[-2000:]


def _final_for(call_id):
    return lambda m: (m.status >= 200 and "INVITE" in (m.get("cseq") or "") and
                      m.get("call-id") == call_id)


def _ack(peer, port, ok, call_id, branch_param=None):
    """ACK for a final response: a new branch for a 2xx, the INVITE's for the others."""
    br = branch_param.partition("=")[2] if branch_param else branch()
    text = ("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
            "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (
                port, peer.port, br, ok.get("from"), ok.get("to"), call_id)
    peer.send(text.encode(), ("127.0.0.1", port))


def _options_answered(peer, port):
    text = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
            "From: <sip:pbx@127.0.0.1>;tag=o1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: %s\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % (port, peer.port, branch(), branch())
    peer.send(text.encode(), ("127.0.0.1", port))
    return peer.expect(lambda m: m.status == 200 and "OPTIONS" in (m.get("cseq") or ""), 5)


def _dial_tone(phone):
    t_off = phone.off_hook()
    phone.sleep_sim(1200)
    heard = phone.recording(t_off + 300_000)
    peaks = sorted(f for f, rel in signals.spectrum_peaks(heard, 2) if rel > -6)
    phone.on_hook()
    return peaks


def test_bad_invites_refused_ghost_call_times_out_real_call_works(rig):
    sim, phone, peer, port = rig
    to = ("127.0.0.1", port)
    # 1. bogus Record-Route, SDP with a host name, a Contact we could never route to
    for extra, sdp, want in (("Record-Route: <sip:nohost.invalid;lr>\r\n", SDP, 400),
                             ("Record-Route: garbage\r\n", SDP, 400),
                             ("", SDP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 nohost.invalid"),
                              488)):
        data, call_id = invite(peer, port, extra=extra, sdp=sdp)
        peer.send(data, to)
        r = peer.expect(_final_for(call_id), 5)
        assert r.status == want, (extra, r.start)
        _ack(peer, port, r, call_id, r.get("via").split(";")[1])
        assert not phone.ringing and not phone.bursts, "the phone rang for a refused INVITE"
        _options_answered(peer, port)
    # 2. a ghost call nobody answers: 480 after the ring time-out, ringing stops
    data, call_id = invite(peer, port)
    peer.send(data, to)
    phone.wait_ringing(10)
    r = peer.expect(_final_for(call_id), RING_TIMEOUT_S + 10)
    assert r.status == 480, r.start
    _ack(peer, port, r, call_id, r.get("via").split(";")[1])
    sim.wait_log("call: ended ring-timeout", 5)
    t_end = phone.sim_now_us
    phone.sleep_sim(6500)                       # longer than the US cadence's 4 s pause
    assert not [b for b in phone.bursts if b.start_us > t_end], phone.bursts[-3:]
    # 3. a real call: rings, answered off-hook, hung up on-hook with BYE to the caller
    data, call_id = invite(peer, port)
    peer.send(data, to)
    phone.wait_ringing(10)
    phone.off_hook()
    ok = peer.expect(_final_for(call_id), 5)
    assert ok.status == 200, ok.start
    _ack(peer, port, ok, call_id)
    sim.wait_log("call: confirmed", 5)
    phone.sleep_sim(500)
    phone.on_hook()
    bye = peer.expect(lambda m: m.method == "BYE", 5)
    peer.send(response_to(bye, 200, "OK"), bye.addr)
    phone.sleep_sim(1500)                       # past the hang-up time
    # 4. the line is alive: dial tone, OPTIONS answered
    peaks = _dial_tone(phone)
    assert peaks and all(abs(a - b) <= 3 for a, b in zip(peaks, (350, 440))), peaks
    _options_answered(peer, port)


CALLER_CASES = [
    ('"%s" <sip:2000@127.0.0.1>' % ("N" * 1900), ""),
    ("<sip:%s@127.0.0.1>" % ("9" * 1900), ""),
    ('"%s%n%x%s%n" <sip:%n%s@127.0.0.1>', ""),
    ('"\u4e2d\u6587 \U0001f600 \u00e9\u00e8" <sip:2000@127.0.0.1>', ""),
    ('"Anonymous" <sip:anonymous@anonymous.invalid>', ""),
    ('"" <sip:@127.0.0.1>', ""),
    ('"a \\"quoted\\" \\\\ name" <sip:+4930123456789012345678901234567890@127.0.0.1>', ""),
    ("<sip:2000@127.0.0.1>", "P-Asserted-Identity: garbage <<<>>>\r\n"),
    ("<sip:2000@127.0.0.1>", 'P-Asserted-Identity: "%s" <tel:%s>\r\n' % ("P" * 500, "1" * 500)),
    ("<sip:2000@127.0.0.1>", "Remote-Party-ID: <sip:\x7f@127.0.0.1>\r\n"),
]


def test_odd_caller_identities_ring_with_caller_id_and_cancel(rig):
    """From / P-Asserted-Identity fields that feed caller ID (Bell 202 after the first
    ring): overflow, format strings, non-Latin names, empty, quoting. Each call rings,
    sends its caller ID or is refused, and is cancelled; then a normal call works."""
    sim, phone, peer, port = rig
    to = ("127.0.0.1", port)
    for k, (from_value, extra) in enumerate(CALLER_CASES):
        data, call_id = invite(peer, port, extra=extra, tag="cid%d" % k)
        text = data.decode()
        start = text.index("From: ")
        text = (text[:start] + "From: %s;tag=cid%d\r\n" % (from_value, k) +
                text[text.index("\r\n", start) + 2:])
        mark = len(sim.log_text())
        peer.send(text.encode(), to)
        first = peer.expect(lambda m: m.get("call-id") == call_id and m.status >= 180, 5)
        if first.status >= 200:
            assert first.status in (400, 488), (k, first.start)
            _ack(peer, port, first, call_id, first.get("via").split(";")[1])
            _options_answered(peer, port)
            continue
        sim.wait_log(r"line: caller ID sent", 10, start=mark)
        via = first.get("via").split(";received")[0].split(";rport")[0]
        cancel = ("CANCEL sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: %s;rport\r\nMax-Forwards: 70\r\n"
                  "From: %s\r\nTo: <sip:1001@127.0.0.1:%d>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\n"
                  "Content-Length: 0\r\n\r\n") % (port, via, first.get("from"), port, call_id)
        peer.send(cancel.encode(), to)
        fin = peer.expect(lambda m: m.get("call-id") == call_id and m.status == 487, 5)
        _ack(peer, port, fin, call_id, fin.get("via").split(";")[1])
        sim.wait_log(r"call: ended cancel", 5, start=mark)
    phone.sleep_sim(5000)          # past a cadence pause: no ring may start any more
    t = phone.sim_now_us
    phone.sleep_sim(4500)
    assert not [b for b in phone.bursts if b.start_us > t], phone.bursts[-2:]
    data, call_id = invite(peer, port)
    peer.send(data, to)
    phone.wait_ringing(10)
    phone.off_hook()
    ok = peer.expect(_final_for(call_id), 5)
    assert ok.status == 200, ok.start
    _ack(peer, port, ok, call_id)
    phone.sleep_sim(300)
    phone.on_hook()
    bye = peer.expect(lambda m: m.method == "BYE", 5)
    peer.send(response_to(bye, 200, "OK"), bye.addr)
    phone.sleep_sim(1500)
    peaks = _dial_tone(phone)
    assert peaks and all(abs(a - b) <= 3 for a, b in zip(peaks, (350, 440))), peaks
