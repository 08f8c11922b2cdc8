# SIP message parser/writer: compact forms, folding, lists, quoting, IPv6, rejects.
from check import eq, raises

from sip import headers as H
from sip import message as M

INVITE = (b"INVITE sip:1001@127.0.0.1:5070 SIP/2.0\r\n"
          b"v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport\r\n"
          b"VIA: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKdef, SIP/2.0/UDP [2001:db8::1]:5099;branch=z9hG4bKx\r\n"
          b"f: \"Bob, the \\\"builder\\\"\" <sip:1002@127.0.0.1>;tag=1928\r\n"
          b"t: <sip:1001@127.0.0.1>\r\n"
          b"i: a84b4c76e66710@pc33\r\n"
          b"CSeq: 314159 INVITE\r\n"
          b"m: <sip:1002@127.0.0.1:5062>\r\n"
          b"Subject: a long\r\n"
          b"   folded subject\r\n"
          b"Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
          b"record-route: <sip:10.0.0.9;lr>\r\n"
          b"c: application/sdp\r\n"
          b"l: 4\r\n\r\nv=0\r\nEXTRA")


def test_compact_folded_repeated():
    m = M.parse(INVITE)
    eq(m.method, "INVITE", "method")
    eq(m.call_id, "a84b4c76e66710@pc33", "call-id")
    eq(m.cseq_num, 314159, "cseq")
    eq(m.from_tag, "1928", "from tag")
    eq(m.to_tag, None, "to tag")
    eq(m.branch, "z9hG4bKabc", "branch")
    eq(len(m.get_all("via")), 3, "vias split from the comma list")
    eq(H.parse_via(m.get_all("via")[2])[1], "2001:db8::1", "IPv6 via host")
    eq(m.get("subject"), "a long folded subject", "folded")
    eq(m.get_all("Record-Route"), ["<sip:127.0.0.1:5060;lr>", "<sip:10.0.0.9;lr>"], "rr")
    eq(m.body, "v=0\r", "body cut at Content-Length")
    eq(H.parse_addr(m.get("from"))[0], 'Bob, the "builder"', "quoted display with comma")


def test_roundtrip():
    m = M.parse(INVITE)
    m2 = M.parse(m.encode())
    eq(m2.get_all("via"), m.get_all("via"), "via")
    eq(m2.body, m.body, "body")
    eq(b"Call-ID: a84b4c76e66710@pc33\r\n" in m.encode(), True, "canonical names")


def test_response():
    r = M.parse(b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;"
                b"rport=5070;received=127.0.0.1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n"
                b"Call-ID: x\r\nCSeq: 2 REGISTER\r\nWWW-Authenticate: Digest realm=\"b\", nonce=\"n,1\"\r\n"
                b"Content-Length: 0\r\n\r\n")
    eq(r.status, 401, "status")
    eq(r.reason, "Unauthorized", "reason")
    eq(r.to_tag, "2", "to tag")
    eq(len(r.get_all("www-authenticate")), 1, "auth header not split")


def test_uri():
    u = H.parse_uri("sip:alice:pw@[2001:db8::5]:5080;transport=udp;lr?subject=x")
    eq((u.user, u.password, u.host, u.port), ("alice", "pw", "2001:db8::5", 5080), "uri")
    eq(u.params, {"transport": "udp", "lr": None}, "params")
    eq(str(H.parse_uri("sip:1001@127.0.0.1:5060")), "sip:1001@127.0.0.1:5060", "str")
    raises(ValueError, H.parse_uri, "http://x")
    raises(ValueError, H.parse_uri, "sip:a@host:99999")
    raises(ValueError, H.parse_uri, "sip:a@2001:db8::1")


def _reason(data):
    e = raises(M.SipError, M.parse, data)
    return e.reason


BASE = (b"OPTIONS sip:1001@h SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bK1\r\n"
        b"From: <sip:x@h>;tag=1\r\nTo: <sip:1001@h>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
        b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def test_base_ok():
    eq(M.parse(BASE).method, "OPTIONS", "base parses")
    eq(M.parse(b"\r\n\r\n" + BASE).method, "OPTIONS", "leading CRLF")
    eq(M.parse(BASE.replace(b"\r\n", b"\n")).method, "OPTIONS", "bare LF tolerated")


def test_rejects():
    eq(_reason(BASE.replace(b"Call-ID: c1\r\n", b"")), "missing Call-ID", "no call-id")
    eq(_reason(BASE.replace(b"1 OPTIONS", b"1 INVITE")), "CSeq method mismatch", "cseq")
    eq(_reason(BASE.replace(b"1 OPTIONS", b"x OPTIONS")), "bad CSeq", "cseq num")
    eq(_reason(BASE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1)), "bad SIP version", "ver")
    eq(_reason(BASE.replace(b"Content-Length: 0", b"Content-Length: 50")), "truncated body", "cl")
    eq(_reason(BASE.replace(b"Content-Length: 0", b"Content-Length: -1")), "bad Content-Length", "cl")
    eq(_reason(BASE[:60]), "no end of headers", "cut")
    eq(_reason(BASE.replace(b"From: <sip:x@h>", b"From: <sip:x@h")), "bad From: missing '>'", "from")
    eq(_reason(BASE.replace(b"h:5060", b"[::1:5060")), "bad Via: bad IPv6 reference", "via")
    eq(_reason(b"\xff\xfe" + BASE), "not UTF-8", "binary")
    eq(_reason(BASE.replace(b"Max-Forwards: 70", b"Max-Forwards: 7a")), "bad Max-Forwards", "mf")
    eq(_reason(BASE.replace(b"OPTIONS sip", b"OPT IONS sip")), "bad request line", "line")
    eq(_reason(BASE.replace(b"c1", b"c\x001")), "control character in headers", "nul")
    eq(_reason(BASE + b"x" * 9000), "message too large", "size")
    many = BASE.replace(b"Max-Forwards", b"X-A: 1\r\n" * 90 + b"Max-Forwards")
    eq(_reason(many), "too many headers", "count")


def test_keepalive():
    eq(M.is_keepalive(b"\r\n\r\n"), True, "crlf")
    eq(M.is_keepalive(BASE), False, "not")


def test_strict_utf8():
    from sip.message import utf8_ok
    for good in (b"", b"plain", "\u00e9\u4e2d\U0001f600".encode(), b"\xef\xbb\xbf",
                 b"\xed\x9f\xbf", b"\xf4\x8f\xbf\xbf"):
        if not utf8_ok(good):
            raise AssertionError("refused %r" % good)
    for bad in (b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\x80", b"a\xe2\x82",
                b"\xe2\x28\xa1", b"\xc3"):
        if utf8_ok(bad):
            raise AssertionError("accepted %r" % bad)
    req = (b"OPTIONS sip:1001@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
           b"From: <sip:a\xc0\xaf@h>;tag=1\r\nTo: <sip:1001@h>\r\nCall-ID: u\r\n"
           b"CSeq: 1 OPTIONS\r\n\r\n")
    try:
        M.parse(req)
    except M.SipError as e:
        if e.reason != "not UTF-8":
            raise AssertionError(e.reason)
    else:
        raise AssertionError("overlong UTF-8 accepted")
