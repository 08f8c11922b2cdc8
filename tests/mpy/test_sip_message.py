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


# ---- the byte-level parser (sip/scan.py) against the str grammar (sip/headers.py)

def _outcome(fn, arg):
    try:
        return ("ok", fn(arg))
    except ValueError as e:
        return ("err", str(e))


_ADDRS = (
    "<sip:1001@192.168.1.10>;tag=8a41c0d2e9", "<sip:1001@h>", "sip:1001@h;tag=x",
    "Bob <sip:b@h:5060;transport=udp>;tag=1;other", "<sip:b@h>;TAG=Up;x=\"q;t\"",
    "\"A, \\\"b\\\"\" <sip:a@h>;tag=7", "<sip:b@h", "<>;tag=1", "<sip:a@h>;a b=1",
    "<sip:a@h>;;tag=;", "sip:a@h,b@h", "sip:a@h?x=1", "<sips:a@[2001:db8::1]:5061>;tag=6",
    "<tel:+4930123;phone-context=x>;tag=2", "<http://x>", "<sip:@h>", "<sip::pw@h>",
    "<sip:a@h:0>", "<sip:a@h:65536>", "<sip:a@h:12a>", "<sip:a@ho st>", "<sip:a@2001:db8::1>",
    "<sip:a@[::1>", "*", "<sip:a:pw@h;lr>;tag=z", "<SIP:a@H>;tag=u", "<sip:a@h;=x>",
    "<sip:a@h>;tag=\"quoted\"", "<sip:a@h>;tag=\"open", "", "x <sip:a@h> y;tag=q",
    "<sip:a@h_-.x:1>", "<sip:a@h>;tag=1;tag=2", "<sip:a@h;ma\u00e9=1>", "<sip:\u00e9@h\u00e9>",
    "\"Bob\" <sip:b@h>;tag=1", "\"Bob\"<sip:b@h>", "\"Bob\" x <sip:b@h>", "\"Bob", "\"Bob\" sip:b@h",
    "\"B<o>b\" <sip:b@h>;tag=3", "\"\" <sip:b@h>", "\"a\\\\\" <sip:b@h>;tag=4", "\"a\" \t<sip:b@h>",
)
_VIAS = (
    "SIP/2.0/UDP 192.168.1.50:5060;rport=5060;received=192.168.1.50;branch=z9hG4bK1",
    "SIP/2.0/udp h;branch=z9hG4bKx;rport", "SIP / 2.0 / UDP h:5060;branch=b",
    "SIP/2.0/TCP [2001:db8::1]:5099;branch=x", "SIP/2.0/ h;branch=x", "SIP/3.0/UDP h",
    "SIP/2.0/UDP\th:1;branch=\"q\"", "SIP/2.0/UDP h:99999", "SIP/2.0/UDP ;branch=1",
    "SIP/2.0/UDP h;a b=1", "SIP/2.0/UDP h; branch = z9 ;X-Y", "sip/2.0/wss h.example:443",
    "SIP/2.0/UDP h:5060;received=1.2.3.4;rport=5060;branch=z9hG4bK;ttl=1;maddr=1.2.3.4",
    "SIP/2.0/UDP h\u00e9", "SIP/2.0", "", "SIP/2.0/UDP h:1:2",
)


def test_fast_paths_match_str_grammar():
    from sip import scan as S
    for a in _ADDRS:
        want = _outcome(lambda v: H.parse_addr(v)[2].get("tag"), a)
        got = _outcome(S.addr_tag, a.encode())
        eq(got, want, "addr %r" % a)
    for v in _VIAS:
        eq(_outcome(S.parse_via, v.encode()), _outcome(H.parse_via, v), "via %r" % v)
    for p in (";tag=1", ";TAG=Up", "; tag = v ;x", ";tag", ";tag=", ";a;tag=1;tag=2", ";;tag=3;",
              ";=x", "; =x", ";a b=1", ";t\u00e9=1", ";tag=\u00e9", ";x=\"q;tag=9\";tag=8", ";ta=1",
              ";tagg=1", ";Tag\t=\tv\t", "", ";", "tag=5", ";x=1;=", ";x(=1"):
        for name in ("tag", "branch"):
            want = _outcome(lambda v: H.parse_params(v).get(name), p)
            eq(_outcome(lambda v: S.params(v, name.encode()), p.encode()), want, "param %r" % p)
        eq(_outcome(S.params, p.encode()), _outcome(H.parse_params, p), "params %r" % p)
    for c in ("1 INVITE", "2 REGISTER", "x INVITE", "1", "1 IN VITE", "12345678901 ACK",
              "2147483648 BYE", "2147483647 FOO-bar", "1  OPTIONS", "1 INV\u00e9"):
        eq(_outcome(S.parse_cseq, c.encode()), _outcome(H.parse_cseq, c), "cseq %r" % c)


def test_header_names():
    from sip import scan as S
    for raw, want in ((b"Via", "via"), (b"v", "via"), (b"V", "via"), (b"vIa", "via"),
                      (b"CALL-ID", "call-id"), (b"i", "call-id"), (b"Via \t", "via"),
                      (b"X-Custom_1", "x-custom_1"), (b"l", "content-length"),
                      (b"Bad Name", None), (b"", None), (b"Via(", None), (b"N\xc3\xa9", None)):
        eq(S.header_name(raw), want, "name %r" % raw)


REG200 = (b"SIP/2.0 200 OK\r\n"
          b"via: SIP/2.0/UDP 10.0.0.5:5060;rport=5060;received=10.0.0.5;branch=z9hG4bKa\r\n"
          b"FROM: <sip:1001@10.0.0.1>;tag=f1\r\n"
          b"To: <sip:1001@10.0.0.1>;tag=t1\r\n"
          b"Call-Id: c@10.0.0.5\r\n"
          b"CSEQ: 2 REGISTER\r\n"
          b"Contact: <sip:1001@10.0.0.5:5060>;expires=300\r\n"
          b"Date: Sun, 29 Nov 2026 17:00:00 GMT\r\n"
          b"Content-Length: 0\r\n\r\n")


def test_response_case_colons_and_lazy_values():
    r = M.parse(REG200)
    eq((r.status, r.reason, r.call_id, r.from_tag, r.to_tag, r.branch),
       (200, "OK", "c@10.0.0.5", "f1", "t1", "z9hG4bKa"), "core fields")
    eq(r.via, ("UDP", "10.0.0.5", 5060, {"rport": "5060", "received": "10.0.0.5",
                                         "branch": "z9hG4bKa"}), "top via")
    eq(r.get("date"), "Sun, 29 Nov 2026 17:00:00 GMT", "value with colons kept whole")
    eq(r.get("Contact"), "<sip:1001@10.0.0.5:5060>;expires=300", "case-insensitive get")
    eq(r.get_all("m"), ["<sip:1001@10.0.0.5:5060>;expires=300"], "compact name in get_all")
    eq(r.get("X-Nothing"), None, "absent")
    eq(M.parse(r.encode()).get("date"), r.get("date"), "re-encoded")
    eq(r.body, "", "no body")


def test_multiple_via_and_folding():
    m = M.parse(REG200.replace(b"CSEQ", b"Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKb\r\nCSEQ"))
    eq(m.branch, "z9hG4bKa", "top Via is the first")
    eq(len(m.get_all("via")), 2, "both Vias")
    f = M.parse(REG200.replace(b"To: <sip:1001@10.0.0.1>", b"To:\r\n <sip:1001@10.0.0.1>\r\n\t"))
    eq(f.to_tag, "t1", "folded To parsed")
    # each continuation joins with one space, the empty first line's too (as always)
    eq(f.get("to"), " <sip:1001@10.0.0.1> ;tag=t1", "folded value joined with one space")
    eq(_reason(b"SIP/2.0 200 OK\r\n Via: x\r\n\r\n"), "folding before first header", "fold")


def test_line_endings():
    eq(M.parse(REG200[:-2] + b"\n").to_tag, "t1", "CRLF then LF ends the head")
    eq(M.parse(REG200.replace(b"\r\n", b"\n")).call_id, "c@10.0.0.5", "all bare LF")
    eq(_reason(REG200.replace(b"tag=t1\r\n", b"tag=t1\r\r\n")), "bare CR in headers", "CR CR LF")
    eq(_reason(REG200.replace(b"tag=t1", b"tag=\rt1")), "bare CR in headers", "CR inside")
    eq(M.parse(REG200[:-4] + b"\r\r\n\r\n").body, "", "CR before the blank line is the "
       "last line's")
    eq(_reason(REG200[:-2]), "no end of headers", "missing blank line")
    eq(_reason(REG200.replace(b"tag=t1", b"tag=t\x1b1")), "control character in headers",
       "ESC")


def test_content_length():
    inv = INVITE.replace(b"l: 4", b"l: 6")
    eq(M.parse(inv).body, "v=0\r\nE", "body cut at a longer Content-Length")
    eq(_reason(INVITE.replace(b"l: 4", b"l: 40")), "truncated body", "longer than sent")
    eq(_reason(INVITE.replace(b"l: 4", b"l: 1234567")), "bad Content-Length", "7 digits")
    eq(_reason(INVITE.replace(b"l: 4", b"l: 4 4")), "bad Content-Length", "two numbers")
    eq(M.parse(INVITE.replace(b"l: 4\r\n", b"")).body, "v=0\r\nEXTRA", "absent: all")


def test_names_and_values():
    eq(_reason(REG200.replace(b"Date:", b"Da te:")), "bad header line", "space in name")
    eq(_reason(REG200.replace(b"Date:", b"Date")), "bad header line", "no colon")
    eq(_reason(REG200.replace(b"2 REGISTER", b"2 REG\xc3\xa9")), "bad CSeq", "non-token")
    eq(_reason(REG200.replace(b"c@10.0.0.5", b"c 1")), "bad Call-ID", "space in Call-ID")
    eq(_reason(b"INVITE sip:a@h SIP/2.0 x\r\n\r\n"), "bad request line", "4 parts")
    eq(_reason(b"INV(TE sip:a@h SIP/2.0\r\n\r\n"), "bad method", "method")
    eq(_reason(b"INVITE http://h SIP/2.0\r\n\r\n"), "unsupported URI scheme", "ruri")
    eq(_reason(b"SIP/2.0 099 Odd\r\n\r\n"), "bad status code", "status")
    u = M.parse(REG200.replace(b"200 OK", b"200 Gr\xc3\xbc\xc3\x9fe"))
    eq(u.reason, "Gr\u00fc\u00dfe", "UTF-8 reason")


def test_str_grammar_on_encoded_bytes():
    # headers.py walks s.encode(): quotes, escapes, <...> and non-ASCII split as characters
    eq(H.split_commas('"a,\\"b" <sip:x@h>, "\u00e9,\u00e8" <sip:y@h;p=1,2>,<sip:z@h>'),
       ['"a,\\"b" <sip:x@h>', '"\u00e9,\u00e8" <sip:y@h;p=1,2>', '<sip:z@h>'], "commas")
    eq(H.parse_params(';a="x;\u00e9";b'), {"a": "x;\u00e9", "b": None}, "quoted ;")
    raises(ValueError, H.split_commas, 'a, "b')
    eq((H.is_token("INVITE"), H.is_token("\u00e9"), H.is_token("a b"), H.is_token("")),
       (True, False, False, False), "tokens")
    eq(H.parse_addr('"\u00c9 \\"x\\"" <sip:a@h>;tag=1'), ('\u00c9 "x"', "sip:a@h", {"tag": "1"}),
       "display name with escapes and non-ASCII")
    raises(ValueError, H.split_hostport, "h\u00e9st")
    raises(ValueError, H.split_hostport, "[2001:db8::g]")


# ---- the one-pass header loop, the status line read in place, the lazy fields

def test_core_headers_first_wins_and_folding_updates_them():
    two = REG200.replace(b"CSEQ: 2 REGISTER\r\n", b"CSEQ: 2 REGISTER\r\nCall-ID: other\r\n"
                         b"cseq: 9 BYE\r\nfrom: <sip:x@h>;tag=late\r\n")
    m = M.parse(two)
    eq((m.call_id, m.cseq_num, m.cseq_method, m.from_tag), ("c@10.0.0.5", 2, "REGISTER", "f1"),
       "the first of a repeated core header is the one read")
    eq(m.get_all("call-id"), ["c@10.0.0.5", "other"], "both kept in headers")
    # a folded From whose tag comes on the continuation line
    f = M.parse(REG200.replace(b"FROM: <sip:1001@10.0.0.1>;tag=f1",
                               b"FROM: <sip:1001@10.0.0.1>\r\n\t;tag=f2"))
    eq(f.from_tag, "f2", "tag from the continuation")
    # a folded Call-ID continuation joins with a space: refused as before
    eq(_reason(REG200.replace(b"Call-Id: c@10.0.0.5", b"Call-Id: c@10.0.0.5\r\n x")),
       "bad Call-ID", "folded Call-ID")
    # folding a second (not the first) Via leaves the top one alone
    v2 = REG200.replace(b"CSEQ", b"Via: SIP/2.0/UDP 10.0.0.9\r\n ;branch=z9hG4bKb\r\nCSEQ")
    m = M.parse(v2)
    eq(m.branch, "z9hG4bKa", "top branch")
    eq(m.get_all("via")[1], "SIP/2.0/UDP 10.0.0.9 ;branch=z9hG4bKb", "second Via folded")
    # a quote brought in by a folded line sends every Via to the str grammar
    eq(_reason(REG200.replace(b"branch=z9hG4bKa", b"branch=z9hG4bKa\r\n ;x=\"open")),
       "bad Via: unterminated quote", "folded quote in the top Via")
    q = M.parse(REG200.replace(b"branch=z9hG4bKa", b"branch=z9hG4bKa;x=\"a,b\""))
    eq((q.branch, q.via[3]["x"]), ("z9hG4bKa", "a,b"), "quoted comma in the top Via")


def test_compact_and_mixed_case_names():
    from sip import scan as S
    # message.py's core slots are the indexes of these names
    eq(S.KNOWN[:S.CORE], ("via", "from", "to", "call-id", "cseq", "content-length",
                          "max-forwards"), "core names first, in slot order")
    m = M.parse(b"SIP/2.0 180 Ringing\r\nV: SIP/2.0/UDP h;branch=z9hG4bKq\r\nF: <sip:a@h>;tag=1\r\n"
                b"T: <sip:b@h>;tag=2\r\nI: cid\r\ncSeQ: 5 INVITE\r\nL: 0\r\nM: <sip:b@h:5>\r\n"
                b"x-ODD_Name \t: v\r\nSUPPORTED: 100rel\r\nk: timer\r\n\r\n")
    eq((m.status, m.reason, m.branch, m.from_tag, m.to_tag, m.call_id, m.cseq_num),
       (180, "Ringing", "z9hG4bKq", "1", "2", "cid", 5), "upper-case compact forms")
    eq(m.get("contact"), "<sip:b@h:5>", "M is Contact")
    eq(m.get("X-Odd_name"), "v", "unknown name: lower-cased, space before ':' dropped")
    eq(m.get_all("supported"), ["100rel", "timer"], "long and compact form together")
    eq([h[0] for h in m.headers][:6], ["via", "from", "to", "call-id", "cseq", "content-length"],
       "headers list holds full lower-case names in order")


def test_values_and_whitespace():
    m = M.parse(REG200.replace(b"Call-Id: c@10.0.0.5", b"Call-Id:c@10.0.0.5")
                .replace(b"CSEQ: 2", b"CSEQ:  \t 2").replace(b"Date: Sun", b"Date:\tSun"))
    eq((m.call_id, m.cseq_num), ("c@10.0.0.5", 2), "no space, several spaces and a tab")
    eq(m.get("date")[:4], "Sun,", "tab after ':'")
    e = M.parse(REG200.replace(b"Date: Sun, 29 Nov 2026 17:00:00 GMT", b"Date:"))
    eq(e.get("date"), "", "empty value")
    t = M.parse(REG200.replace(b"Call-Id: c@10.0.0.5", b"Call-Id: c@10.0.0.5 \t"))
    eq(t.call_id, "c@10.0.0.5", "trailing whitespace dropped")
    eq(M.parse(REG200.replace(b"CSEQ: 2 REGISTER", b"CSEQ: 2 \tREGISTER")).cseq_method,
       "REGISTER", "tab and space before the method")


def test_status_line_in_place():
    def status(line):
        return M.parse(REG200.replace(b"SIP/2.0 200 OK", line, 1))
    eq(status(b"SIP/2.0 200 OKAY").reason, "OKAY", "not the usual phrase")
    eq(status(b"SIP/2.0 200 Ok").reason, "Ok", "case kept")
    eq(status(b"SIP/2.0 200").reason, "", "no reason")
    eq(status(b"SIP/2.0 200 ").reason, "", "empty reason")
    eq(status(b"SIP/2.0 401 OK").reason, "OK", "a phrase of another status")
    eq(status(b"SIP/2.0 699 Whatever it is").status, 699, "status 699")
    eq(status(b"SIP/2.0 486 Busy Here").reason, "Busy Here", "usual phrase with a space")
    for bad, why in ((b"SIP/2.0", "bad status code"), (b"SIP/2.0 20", "bad status code"),
                     (b"SIP/2.0 2000 OK", "bad status code"), (b"SIP/2.0 20x OK", "bad status code"),
                     (b"SIP/2.0  200 OK", "bad status code"), (b"SIP/2.0 099 OK", "bad status code"),
                     (b"SIP/2.0 000 OK", "bad status code"), (b"SIP/2.00 200 OK", "bad SIP version"),
                     (b"SIP/3.0 200 OK", "bad SIP version"), (b"SIP/ 200 OK", "bad SIP version"),
                     (b"SIP/2.", "bad SIP version")):
        eq(_reason(REG200.replace(b"SIP/2.0 200 OK", bad, 1)), why, "status line %r" % bad)


def test_line_endings_and_limits():
    lf = REG200.replace(b"\r\n", b"\n")
    eq(M.parse(lf.replace(b"tag=t1\n", b"tag=t1\n\r\n")).to_tag, "t1", "LF, then an empty CRLF line")
    eq(M.parse(lf.replace(b"To: <sip:1001@10.0.0.1>", b"To:\n <sip:1001@10.0.0.1>")).to_tag, "t1",
       "folding with bare LF")
    eq(_reason(REG200.replace(b"Call-Id", b"Call\r-Id")), "bare CR in headers", "CR in a name")
    eq(_reason(REG200.replace(b"\r\nCSEQ", b"\rCSEQ")), "bare CR in headers", "CR as a line end")
    eq(_reason(REG200.replace(b"Date:", b":")), "bad header line", "empty name")
    # MAX_LINE counts the whole line, name included
    fill = b"X-F: " + b"a" * (M.MAX_LINE - 5) + b"\r\n"
    eq(M.parse(REG200.replace(b"Date:", fill + b"Date:")).get("x-f")[-1:], "a", "MAX_LINE long")
    long = b"X-F: " + b"a" * (M.MAX_LINE - 4) + b"\r\n"
    eq(_reason(REG200.replace(b"Date:", long + b"Date:")), "header too long", "MAX_LINE + 1")
    eq(_reason(REG200.replace(b"Date: Sun", b"Date: Sun\r\n " + b"b" * M.MAX_LINE)),
       "header too long", "too long once folded")
    # MAX_HEADERS: REG200 has 8; exactly the limit parses, one more does not
    ok = REG200.replace(b"Date:", b"X-A: 1\r\n" * (M.MAX_HEADERS - 8) + b"Date:")
    eq(len(M.parse(ok).headers), M.MAX_HEADERS, "MAX_HEADERS headers")
    eq(_reason(ok.replace(b"Date:", b"X-A: 1\r\nDate:")), "too many headers", "one more")
    body = b"b" * M.MAX_BODY
    big = REG200.replace(b"Content-Length: 0", b"Content-Length: %d" % len(body)) + body
    eq(len(M.parse(big).body), M.MAX_BODY, "MAX_BODY body")
    eq(_reason(big.replace(b"Content-Length: %d" % len(body),
                           b"Content-Length: %d" % (len(body) + 1)) + b"b"),
       "body too large", "MAX_BODY + 1")


def test_utf8_in_values():
    u = M.parse(REG200.replace(b"Date: Sun", b"Date: S\xc3\xbcn").replace(b"tag=t1", b"tag=t\xc3\xa91"))
    eq((u.get("date")[:3], u.to_tag), ("S\u00fcn", "t\u00e91"), "UTF-8 value and tag decoded")
    eq(_reason(REG200.replace(b"tag=t1", b"tag=t\xc0\xaf")), "not UTF-8", "overlong form in a tag")
    # MAX_LINE counts characters: 2-byte characters up to the limit parse
    wide = b"X-U: " + b"\xc3\xa9" * (M.MAX_LINE - 5) + b"\r\n"
    eq(len(M.parse(REG200.replace(b"Date:", wide + b"Date:")).get("x-u")), M.MAX_LINE - 5,
       "MAX_LINE in characters")


def test_lazy_fields_and_setters():
    r = M.parse(REG200)
    eq(type(r._raw[1]), bytes, "from tag not decoded by parse")
    eq(r.from_tag, "f1", "decoded on read")
    eq(type(r._raw[1]), str, "and kept decoded")
    r.to_tag = "new"
    r.call_id = "c2"
    r.branch = "z9hG4bKz"
    eq((r.to_tag, r.call_id, r.branch, r.from_tag), ("new", "c2", "z9hG4bKz", "f1"), "set on parsed")
    b = M.Message("OPTIONS", "sip:a@h")
    eq((b.call_id, b.from_tag, b.to_tag, b.branch, b.via), ("", None, None, "", None),
       "defaults of a built message")
    b.from_tag = "x"
    eq((b.from_tag, b.to_tag, b.call_id), ("x", None, ""), "one set, the others default")
    n = M.parse(REG200.replace(b"FROM: <sip:1001@10.0.0.1>;tag=f1", b"FROM: <sip:1001@10.0.0.1>"))
    eq(n.from_tag, None, "no tag")
