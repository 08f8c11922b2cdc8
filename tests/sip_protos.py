"""INVITE test cases in the style of PROTOS c07-sip (CPython).

One valid INVITE with SDP, every field of it (request line, each header's parts, each
SDP field) replaced in turn by each mutation of the PROTOS classes: overflow, format
strings, empty, integer boundaries and huge numbers, bad UTF-8 encodings, control
bytes, SIP/SDP special characters. One case = one field x one mutation; the rest of
the message stays valid and Content-Length is right (unless it is the field).
"""

# field name -> valid value
FIELDS = {
    "method": "INVITE",
    "ruri_user": "1001",
    "ruri_host": "127.0.0.1",
    "ruri_port": "{ua_port}",
    "version": "SIP/2.0",
    "via_proto": "SIP/2.0/UDP",
    "via_host": "127.0.0.1",
    "via_port": "{src_port}",
    "via_branch": "z9hG4bK{n}",
    "via_param": "rport",
    "from_display": "\"Caller\"",
    "from_user": "2000",
    "from_host": "127.0.0.1",
    "from_tag": "pt{n}",
    "to_display": "",
    "to_user": "1001",
    "to_host": "127.0.0.1",
    "call_id": "protos-{n}@127.0.0.1",
    "cseq_num": "1",
    "cseq_method": "INVITE",
    "contact_user": "2000",
    "contact_host": "127.0.0.1",
    "contact_port": "{src_port}",
    "contact_param": "transport=udp",
    "max_forwards": "70",
    "expires": "120",
    "user_agent": "protos-style",
    "subject": "test",
    "content_type": "application/sdp",
    "content_length": None,              # computed
    "sdp_v": "0",
    "sdp_o_user": "-",
    "sdp_o_sess": "1{n}",
    "sdp_o_ver": "1",
    "sdp_o_net": "IN",
    "sdp_o_addrtype": "IP4",
    "sdp_o_addr": "127.0.0.1",
    "sdp_s": "-",
    "sdp_c_net": "IN",
    "sdp_c_addrtype": "IP4",
    "sdp_c_addr": "127.0.0.1",
    "sdp_t": "0 0",
    "sdp_m_media": "audio",
    "sdp_m_port": "7000",
    "sdp_m_proto": "RTP/AVP",
    "sdp_m_fmt": "0 101",
    "sdp_a_rtpmap": "0 PCMU/8000",
    "sdp_a_dir": "sendrecv",
}

HEAD = ("{method} sip:{ruri_user}@{ruri_host}:{ruri_port} {version}\r\n"
        "Via: {via_proto} {via_host}:{via_port};branch={via_branch};{via_param}\r\n"
        "From: {from_display} <sip:{from_user}@{from_host}>;tag={from_tag}\r\n"
        "To: {to_display} <sip:{to_user}@{to_host}>\r\n"
        "Call-ID: {call_id}\r\n"
        "CSeq: {cseq_num} {cseq_method}\r\n"
        "Contact: <sip:{contact_user}@{contact_host}:{contact_port};{contact_param}>\r\n"
        "Max-Forwards: {max_forwards}\r\n"
        "Expires: {expires}\r\n"
        "User-Agent: {user_agent}\r\n"
        "Subject: {subject}\r\n"
        "Content-Type: {content_type}\r\n"
        "Content-Length: {content_length}\r\n\r\n")
BODY = ("v={sdp_v}\r\n"
        "o={sdp_o_user} {sdp_o_sess} {sdp_o_ver} {sdp_o_net} {sdp_o_addrtype} {sdp_o_addr}\r\n"
        "s={sdp_s}\r\n"
        "c={sdp_c_net} {sdp_c_addrtype} {sdp_c_addr}\r\n"
        "t={sdp_t}\r\n"
        "m={sdp_m_media} {sdp_m_port} {sdp_m_proto} {sdp_m_fmt}\r\n"
        "a=rtpmap:{sdp_a_rtpmap}\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a={sdp_a_dir}\r\n")

# PROTOS test-group classes, as bytes
MUTATIONS = {
    "overflow": [b"a" * n for n in (64, 256, 1024, 2047, 2049, 4096, 8200)] +
                [b"%" * 512, b"@" * 512, b"." * 1024, b"1" * 2000],
    "format": [b"%s%s%s%s%s%s%s%s", b"%n%n%n%n%n%n", b"%x" * 64, b"%99999999999s",
               b"%.1024d", b"%@", b"{0}{1}{100}"],
    "empty": [b"", b" ", b"\t"],
    "integer": [b"0", b"-1", b"2147483647", b"2147483648", b"4294967295", b"4294967296",
                b"18446744073709551616", b"9" * 100, b"1e99", b"0x7fffffff", b"-2147483649",
                b"00000000000000000001"],
    "encoding": [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80",
                 b"\xe2\x82", "\u00e9\u4e2d".encode(), b"%00%0d%0a", b"\xef\xbb\xbf"],
    "control": [b"\x00", b"a\x00b", b"\x1b[2J", b"\r", b"\n", b"a\rb", b"a\nb", b"\x7f",
                b"\x01\x02\x03", b"\x08" * 16],
    "special": [b"\"", b"<", b">", b";", b",", b":", b"@", b"\\", b"[", b"]", b"[::1",
                b"<sip:a@b>", b"sip:", b"*", b"a;b=c;d", b"a, b, c", b"\"\\\"", b"?&=",
                b"sip:x@y>;tag=z"],
}


def cases(ua_port, src_port):
    """[(field, class, index, datagram)] for every field and mutation."""
    out = []
    n = 0
    for field in FIELDS:
        for klass, values in MUTATIONS.items():
            for i, value in enumerate(values):
                n += 1
                out.append((field, klass, i, build(ua_port, src_port, n, field, value)))
    return out


def build(ua_port, src_port, n, field=None, value=None):
    vals = {}
    for k, v in FIELDS.items():
        if v is not None:
            vals[k] = v.format(ua_port=ua_port, src_port=src_port, n=n).encode()
    if field is not None and field != "content_length":
        vals[field] = value
    body = _fill(BODY, vals)
    vals["content_length"] = str(len(body)).encode()
    if field == "content_length":
        vals["content_length"] = value
    return _fill(HEAD, vals) + body


def _fill(template, vals):
    out = b""
    rest = template
    while True:
        i = rest.find("{")
        if i < 0:
            return out + rest.encode()
        j = rest.index("}", i)
        out += rest[:i].encode() + vals[rest[i + 1:j]]
        rest = rest[j + 1:]
