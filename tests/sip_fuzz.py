"""Generator of malformed and mutated SIP datagrams for the robustness test (CPython).

Deterministic for a seed: valid templates aimed at the UA (requests of every method,
responses to transactions it never sent) with 1-3 random mutations each, plus a fixed
set of hand-written edge cases.
"""
import random

_METHODS = ["INVITE", "OPTIONS", "BYE", "CANCEL", "ACK", "NOTIFY", "INFO", "REGISTER",
            "MESSAGE", "SUBSCRIBE", "UPDATE", "PRACK", "REFER"]
_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 7200 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
_BAD_URIS = ["sip:", "sip:@", "sip:[::1", "sip:a@b:0", "sip:a@b:70000", "http://x", "sip:a@b c",
             "sip:a@b;;;", "sip:" + "a" * 3000 + "@b", "sip:a@[zz::1]", "<sip:a@b>", "*"]
_BAD_VALUES = ["", " ", "\t", "x" * 3000, "99999999999999999999", "-1", "0", ";;;", ",,,",
               "\"unterminated", "<sip:a@b", "a@b>", "\x00", "\xff\xfe", "%00", "SIP/2.0/UDP",
               "SIP/2.0/UDP [::1", "SIP/2.0/UDP h:99999;branch=", "1 INVITE 2", "4294967296 INVITE"]


def template(rng, ua_port, src_port, user="1001"):
    method = rng.choice(_METHODS + ["RESPONSE"] * 3)
    call_id = "fz-%08x" % rng.getrandbits(32)
    branch = "z9hG4bK%08x" % rng.getrandbits(32)
    to_tag = ";tag=t%04x" % rng.getrandbits(16) if rng.random() < 0.4 else ""
    body = _SDP if method in ("INVITE", "UPDATE") or rng.random() < 0.1 else ""
    if method == "RESPONSE":
        code, reason = rng.choice([(100, "Trying"), (180, "Ringing"), (200, "OK"), (401, "Unauthorized"),
                                   (407, "Proxy Authentication Required"), (486, "Busy Here"),
                                   (503, "Service Unavailable")])
        cmeth = rng.choice(["INVITE", "REGISTER", "OPTIONS", "BYE"])
        start = "SIP/2.0 %d %s" % (code, reason)
        cseq = "%d %s" % (rng.randint(1, 5), cmeth)
        extra = ['WWW-Authenticate: Digest realm="x", nonce="%x"' % rng.getrandbits(32)] \
            if code == 401 else []
    else:
        start = "%s sip:%s@127.0.0.1:%d SIP/2.0" % (method, user, ua_port)
        cseq = "%d %s" % (rng.randint(1, 5), method)
        extra = ["Contact: <sip:fz@127.0.0.1:%d>" % src_port, "Max-Forwards: 70"]
    lines = [start,
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (src_port, branch),
             "From: \"Fuzz\" <sip:fz@127.0.0.1:%d>;tag=f%04x" % (src_port, rng.getrandbits(16)),
             "To: <sip:%s@127.0.0.1:%d>%s" % (user, ua_port, to_tag),
             "Call-ID: " + call_id, "CSeq: " + cseq] + extra
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return lines, body


def mutate(rng, lines, body):
    lines = list(lines)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(14)
        i = rng.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[rng.randrange(1, len(lines))]                   # drop a header
        elif op == 1:
            lines.insert(rng.randrange(1, len(lines) + 1), lines[i])  # duplicate
        elif op == 2 and i > 0:
            name = lines[i].partition(":")[0]
            lines[i] = name + ": " + rng.choice(_BAD_VALUES)          # garbage value
        elif op == 3:
            parts = lines[0].split(" ")
            parts[rng.randrange(len(parts))] = rng.choice(_BAD_URIS + ["SIP/3.0", "", "INV ITE"])
            lines[0] = " ".join(parts)                                # bad start line
        elif op == 4 and i > 0:
            lines[i] = lines[i].replace(":", "", 1)                   # no colon
        elif op == 5 and i > 0:
            lines[i] = lines[i].upper() if rng.random() < 0.5 else lines[i].lower()
        elif op == 6:
            lines.insert(rng.randrange(1, len(lines) + 1), " folded continuation")
        elif op == 7:
            body = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(200)))
        elif op == 8:
            body = body.replace("m=audio 7200", rng.choice(["m=audio x", "m=audio 0", "m=video 1",
                                                            "m=audio 1 RTP/AVP a"]))
        elif op == 9:
            lines = [ln for ln in lines if not ln.lower().startswith("content-length")]
            lines.append("Content-Length: %s" % rng.choice(["99999", "-5", "abc", "3", "1e3"]))
        elif op == 10 and i > 0:
            name, _, val = lines[i].partition(":")
            if name in ("Via", "To", "From", "Contact", "Call-ID"):
                lines[i] = name + ": " + val + ", " + rng.choice(_BAD_URIS)
        elif op == 11:
            lines[i] = lines[i] + "".join(chr(rng.randrange(0, 32)) for _ in range(3))
        elif op == 12:
            compact = {"Via": "v", "From": "f", "To": "t", "Call-ID": "i", "Contact": "m",
                       "Content-Length": "l", "Content-Type": "c"}
            name, _, val = lines[i].partition(":")
            if name in compact:
                lines[i] = compact[name] + ":" + val
        else:
            lines[i] = lines[i] + ";" + rng.choice(["lr", "rport", "tag", "branch=", "=x", "a=\"b"])
    sep = rng.choice(["\r\n"] * 8 + ["\n", "\r"])
    data = (sep.join(lines) + sep + sep + body).encode("utf-8", "surrogateescape")
    r = rng.random()
    if r < 0.08:
        data = data[:rng.randrange(len(data))]                        # truncated
    elif r < 0.16:
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)             # bit rot
        data = bytes(b)
    return data


FIXED = [b"", b"\r\n\r\n", b"\r\n", b"\x00" * 64, b"SIP/2.0 200 OK\r\n\r\n", b"INVITE\r\n\r\n",
         b"x" * 9000, b"\xff" * 100, b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\n" * 50 + b"\r\n",
         b"OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n",
         b"OPTIONS sip:1001@[::1]:5060 SIP/2.0\r\nv: SIP/2.0/UDP [::1]:5060;branch=z9hG4bKv6\r\n"
         b"f: <sip:a@[::1]>;tag=1\r\nt: <sip:1001@[::1]>\r\ni: v6\r\nCSeq: 1 OPTIONS\r\n\r\n"]


def messages(seed, count, ua_port, src_port):
    rng = random.Random(seed)
    out = list(FIXED)
    while len(out) < count:
        lines, body = template(rng, ua_port, src_port)
        out.append(mutate(rng, lines, body))
    return out
