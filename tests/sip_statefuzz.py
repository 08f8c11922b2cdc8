"""Stateful SIP fuzzer (CPython): plays the registrar/proxy and the far ends of calls
against a UA, following its live transactions and dialogs, and mutates what it sends.

Deterministic for a seed (what it sends depends on what the UA answered, so two runs
are alike, not identical). Every datagram sent to the UA is counted in `sent`.

Episodes:
- outgoing: the UA dials (a driver command); its INVITE gets a random sequence of
  100/18x (to-tags, SDP), 401/407 with odd challenges, 2xx (forks, bad Record-Route,
  bad Contact, bad SDP), non-2xx finals, stray responses, forged responses from a
  stranger, in-dialog requests with valid tags and odd CSeq; the line hangs up at a
  random point.
- incoming: an INVITE (SDP fields mutated), answered or not, ACKed or not, CANCELled,
  then in-dialog requests (odd CSeq, re-INVITEs with mutated SDP) and BYE.
- strays: responses to branches that never were, requests for dialogs that never were.
The UA's own requests (REGISTER, OPTIONS, BYE, CANCEL, re-INVITE) get random answers.
Between episodes the driver's clock may jump (0.6 s to 33 s), so retransmission and
time-out timers fire in the middle of all this.
"""
import random
import select
import time

from sip_raw import branch, invite

WARP_MS = 40000               # > timer B/F/H/J (32 s): every transaction can expire

_GOOD_SDP = ["v=0", "o=- {sid} {ver} IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             "m=audio {port} RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
             "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv"]

_C_LINES = ["c=IN IP4 nohost.invalid", "c=IN IP6 ::1", "c=IN IP4 999.1.1.1", "c=IN IP4 0.0.0.0",
            "c=IN IP4 224.0.0.1/127", "c=", "c=IN IP4 " + "1" * 300, "c=IN IP4 127.0.0.1 extra",
            "c=IN IP4 127.0.0.1/0/0", "c=IN IP4 %s"]
_M_LINES = ["m=audio 0 RTP/AVP 0", "m=audio 65536 RTP/AVP 0", "m=audio -1 RTP/AVP 0",
            "m=audio 99999999999999 RTP/AVP 0", "m=audio x RTP/AVP 0", "m=audio 7000/2 RTP/AVP 0",
            "m=audio 7000 RTP/AVP", "m=audio 7000 RTP/AVP 128", "m=audio 7000 RTP/AVP 18",
            "m=audio 7000 RTP/AVP " + " ".join(["0"] * 200), "m=video 7000 RTP/AVP 96",
            "m=audio 7000 RTP/SAVP 0", "m=audio 7000 RTP/AVP 0 8 101\r\nm=audio 7002 RTP/AVP 0",
            "m=audio 1 RTP/AVP 0", "m=audio 7000 RTP/AVP 00000000000000000000"]
_A_LINES = ["a=rtpmap:0 PCMU/99999999999", "a=rtpmap:abc", "a=rtpmap:101 telephone-event",
            "a=ptime:0", "a=ptime:99999999999", "a=rtcp:0", "a=rtcp:99999", "a=rtcp:abc",
            "a=fmtp:101 " + "9" * 500, "a=sendonly", "a=recvonly", "a=inactive",
            "a=sendonly\r\na=recvonly", "a=", "a=rtpmap:8 PCMU/8000", "a=rtpmap:0 G729/8000"]
_O_LINES = ["o=- 1 99999999999999999999999 IN IP4 127.0.0.1", "o=", "o=- x y IN IP4 127.0.0.1",
            "o=- 1 -5 IN IP4 h"]
_JUNK = ["x=y", "garbage", "\x01\x02", "v=1", "=", "m=", "é=ü", "z" * 1500]

CHALLENGES = [
    'Digest realm="fz", nonce="{n}"',
    'Digest realm="fz", nonce="{n}", qop="auth"',
    'Digest realm="fz", nonce="{n}", qop="auth-int"',
    'Digest realm="fz", nonce="{n}", qop="auth,auth-int,tok"',
    'Digest realm="fz", nonce="{n}", stale=TRUE',
    'Digest realm="fz", nonce="{n}", algorithm=SHA-256',
    'Digest realm="fz", nonce="{n}", algorithm=MD5-sess',
    'Digest realm="fz"', 'Digest nonce="{n}"', "Digest", "", "Basic realm=\"fz\"",
    'Digest realm=fz, nonce={n}', 'Digest realm="fz", nonce="' + "n" * 1500 + '"',
    'Digest realm="f\\"z", nonce="a\\"b", opaque="' + "o" * 300 + '"',
    'Digest realm="fz", nonce="{n}", nonce="other", realm="again"',
    'Digest realm="", nonce=""', 'Digest ,,,,', 'Digest realm="fz", nonce="{n}", qop=""',
    'Digest realm="fz", nonce="{n}", opaque="x", domain="sip:a sip:b", foo=bar',
]
_CSEQS = [0, 1, 2, 3, 2 ** 31 - 1, 2 ** 31 - 2, 4294967295, 99999999999, 2 ** 31]


class Fuzzer:
    def __init__(self, seed, proc, peer, stranger, ua_port):
        self.rng = random.Random(seed)
        self.proc = proc
        self.peer = peer              # the UA's registrar/proxy (trusted)
        self.stranger = stranger      # anyone else on the network
        self.ua = ("127.0.0.1", ua_port)
        self.ua_port = ua_port
        self.sent = 0
        self.seen = {}                # what the UA sent: start line kind -> count
        self.invites = []             # the UA's INVITEs (outgoing calls), newest last
        self.n = 0
        self.polite = False           # True: the UA's requests get plain 200s (settling)
        self.rx = []                  # what the UA sent in this episode
        self._serving = False

    # ---- plumbing
    def send(self, data, via_stranger=False):
        sock = (self.stranger if via_stranger else self.peer).sock
        sock.sendto(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"),
                    self.ua)
        self.sent += 1
        if not self._serving:
            self.pump(0.002)

    def pump(self, wait=0.0):
        """Take everything the UA sent (within `wait` s of silence); answer its requests."""
        got = []
        for s in (self.peer, self.stranger):
            s.sock.setblocking(False)
        while True:
            r, _, _ = select.select([self.peer.sock, self.stranger.sock], [], [], wait)
            if not r:
                break
            for sock in r:
                try:
                    data, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    continue
                m = _Msg(data, addr)
                got.append(m)
                self.rx.append(m)
                if sock is self.peer.sock:
                    self._serving = True
                    try:
                        self._service(m)
                    finally:
                        self._serving = False
            wait = 0.0
        return got

    def wait_for(self, pred, timeout=2.0, since=None):
        """The first message from the UA matching pred: among those received since index
        `since` of self.rx (None: from now on), else waiting up to `timeout` s."""
        import time
        if since is not None:
            for m in self.rx[since:]:
                if pred(m):
                    return m
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in self.pump(0.02):
                if pred(m):
                    return m
        return None

    def _service(self, m):
        key = m.method or str(m.status)
        self.seen[key] = self.seen.get(key, 0) + 1
        rng = self.rng
        if m.method == "INVITE" and m.tag("to") is None:
            self.invites.append(m)
            if self.polite:
                self.reply(m, 486, "settle")
            return
        if self.polite and m.method and m.method != "ACK":
            self.reply(m, 200, extra="Expires: 3600" if m.method == "REGISTER" else "")
            return
        if m.method in ("REGISTER", "OPTIONS"):
            if m.method == "REGISTER" and rng.random() < 0.2:
                self.reply(m, rng.choice((401, 407)), extra=self._challenge_hdr(
                    "WWW-Authenticate" if rng.random() < 0.5 else "Proxy-Authenticate"))
            else:
                self.reply(m, 200, extra="Expires: %s" % rng.choice(
                    ["3600", "3600", "99999999999", "0", "-1", "abc", "1"]))
        elif m.method in ("BYE", "CANCEL"):
            self.reply(m, rng.choice((200, 200, 200, 481, 500, 408)))
        elif m.method == "INVITE":                        # our re-INVITE answered
            code = rng.choice((200, 200, 491, 401, 407, 488, 500, 408, 481))
            if code in (401, 407):
                self.reply(m, code, extra=self._challenge_hdr(
                    "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"))
            elif code == 200:
                self.reply(m, 200, body=self.sdp(), extra="Contact: <sip:far@127.0.0.1:%d>"
                           % self.peer.port)
            else:
                self.reply(m, code)
        elif m.method in ("INFO", "NOTIFY", "UPDATE", "PRACK"):
            self.reply(m, 200)

    # ---- building blocks
    def sdp(self, mutate=0.0):
        rng = self.rng
        lines = [ln.format(sid=rng.randrange(1, 10 ** 6), ver=rng.randrange(1, 100),
                           port=rng.randrange(2000, 60000, 2)) for ln in _GOOD_SDP]
        if rng.random() < mutate:
            for _ in range(rng.randint(1, 3)):
                kind = rng.randrange(6)
                if kind == 0:
                    c = rng.choice(_C_LINES)
                    lines[3] = c % "127.0.0.1" if "%s" in c else c
                elif kind == 1:
                    lines[5] = rng.choice(_M_LINES)
                elif kind == 2:
                    lines.insert(rng.randrange(5, len(lines) + 1), rng.choice(_A_LINES))
                elif kind == 3:
                    lines[1] = rng.choice(_O_LINES)
                elif kind == 4:
                    lines.insert(rng.randrange(len(lines) + 1), rng.choice(_JUNK))
                elif len(lines) > 2:
                    del lines[rng.randrange(len(lines))]
        sep = "\n" if rng.random() < 0.05 else "\r\n"
        return sep.join(lines) + (sep if rng.random() < 0.95 else "")

    def _challenge_hdr(self, name):
        ch = self.rng.choice(CHALLENGES).replace("{n}", "%x" % self.rng.getrandbits(48))
        return "%s: %s" % (name, ch)

    def route_hdr(self):
        rng = self.rng
        good = "<sip:127.0.0.1:%d;lr>" % self.peer.port
        v = rng.choice([good, good, "<sip:nohost.invalid;lr>", "garbage", "<http://x>",
                        "<sip:[::1]:5060;lr>", "<sip:127.0.0.1:%d>" % self.peer.port,
                        ", ".join([good] * 20), "<sip:;lr>", "<sip:127.0.0.1:0;lr>", ""])
        return "Record-Route: %s" % v

    def contact_hdr(self):
        rng = self.rng
        good = "<sip:far@127.0.0.1:%d>" % self.peer.port
        return "Contact: %s" % rng.choice([good, good, good, "*", "<tel:+1>", "<sip:far@nohost.invalid>",
                                           "<sip:far@[::1]>", "garbage", "", good + ", " + good,
                                           "<sip:far@127.0.0.1:%d>" % self.stranger.port])

    def reply(self, req, status, to_tag=None, extra="", body="", stranger=False):
        lines = ["SIP/2.0 %d %s" % (status, "Fuzz")]
        for v in req.all("via"):
            lines.append("Via: " + v)
        lines.append("From: " + (req.get("from") or ""))
        to = req.get("to") or ""
        if to_tag and ";tag=" not in to:
            to += ";tag=" + to_tag
        lines.append("To: " + to)
        lines.append("Call-ID: " + (req.get("call-id") or ""))
        lines.append("CSeq: " + (req.get("cseq") or ""))
        if extra:
            lines.extend(x for x in extra.split("\r\n") if x)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode("utf-8", "surrogateescape")))
        self.send("\r\n".join(lines) + "\r\n\r\n" + body, via_stranger=stranger)

    def request(self, method, call_id, from_tag, to_tag, cseq, extra="", body="",
                stranger=False, cseq_method=None, branch=None):
        src = self.stranger if stranger else self.peer
        lines = ["%s sip:1001@127.0.0.1:%d SIP/2.0" % (method, self.ua_port),
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (
                     src.port, branch or "z9hG4bK%x" % self.rng.getrandbits(40)),
                 "Max-Forwards: 70",
                 "From: <sip:2000@127.0.0.1:%d>;tag=%s" % (self.peer.port, from_tag),
                 "To: <sip:1001@127.0.0.1:%d>%s" % (self.ua_port,
                                                   ";tag=" + to_tag if to_tag else ""),
                 "Call-ID: " + call_id,
                 "CSeq: %s %s" % (cseq, cseq_method or method)]
        if extra:
            lines.extend(x for x in extra.split("\r\n") if x)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode("utf-8", "surrogateescape")))
        self.send("\r\n".join(lines) + "\r\n\r\n" + body, via_stranger=stranger)

    def odd_cseq(self, last):
        rng = self.rng
        return rng.choice(_CSEQS + [last, last - 1, last + 1, last + 1000, max(0, last - 5)])

    # ---- episodes
    def ep_outgoing(self):
        rng = self.rng
        self.invites = []
        mark = len(self.rx)
        r = self.proc.cmd("dial", number=str(rng.randrange(1000, 1999)))
        if r.get("error"):
            self.proc.cmd("hangup")
            return
        if self.wait_for(lambda m: m.method == "INVITE" and m.tag("to") is None, 0.2,
                         since=mark) is None and not self.invites:
            self.proc.cmd("hangup")
            return
        tags = ["ft%d" % i for i in range(3)]
        confirmed = False
        cseq_far = rng.randrange(1, 100)
        for _ in range(rng.randint(2, 12)):
            self.pump(0.003)
            inv = self.invites[-1] if self.invites else None
            if inv is None:
                break
            step = rng.randrange(12)
            tag = rng.choice(tags)
            if step == 0:
                self.reply(inv, 100)
            elif step == 1:
                body = self.sdp(0.5) if rng.random() < 0.5 else ""
                self.reply(inv, rng.choice((180, 183, 181, 199)), tag,
                           extra="\r\n".join(x for x in (self.contact_hdr(), self.route_hdr()
                                                          if rng.random() < 0.3 else "") if x),
                           body=body)
            elif step == 2:
                code = rng.choice((401, 407))
                self.reply(inv, code, tag, extra=self._challenge_hdr(
                    "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"))
                self.pump(0.01)
            elif step in (3, 4):
                extra = [self.contact_hdr()]
                if rng.random() < 0.4:
                    extra.append(self.route_hdr())
                self.reply(inv, 200, tag, extra="\r\n".join(x for x in extra if x),
                           body=self.sdp(0.4))
                confirmed = True
            elif step == 5:
                self.reply(inv, rng.choice((302, 404, 480, 486, 487, 488, 500, 503, 603, 699)),
                           tag)
            elif step == 6:                              # a stray: no such branch
                fake = _Msg(inv.raw.replace(b"branch=z9hG4bK", b"branch=z9hG4bKx"), inv.addr)
                self.reply(fake, rng.choice((180, 200, 486)), tag, body=self.sdp(0.3))
            elif step == 7:                              # forged, from a stranger
                self.reply(inv, 200, "forged", extra="Contact: <sip:evil@127.0.0.1:%d>"
                           % self.stranger.port, body=self.sdp(), stranger=True)
            elif step in (8, 9):                         # in-dialog, valid tags, odd CSeq
                method = rng.choice(("BYE", "INFO", "INVITE", "OPTIONS", "NOTIFY", "UPDATE",
                                     "PRACK", "MESSAGE"))
                cseq_far = self.odd_cseq(cseq_far)
                body = self.sdp(0.5) if method == "INVITE" else ""
                extra = self.contact_hdr() if method == "INVITE" else ""
                self.request(method, inv.get("call-id"), tag, inv.tag("from"), cseq_far,
                             extra=extra, body=body, stranger=rng.random() < 0.15)
            elif step == 10:
                self.proc.cmd("hangup")
                self.pump(0.01)
            else:
                self.pump(0.02)
        if confirmed and rng.random() < 0.5:
            inv = self.invites[-1]
            self.request("BYE", inv.get("call-id"), rng.choice(tags), inv.tag("from"),
                         cseq_far + 1)
        self.proc.cmd("hangup")
        self.pump(0.01)

    def ep_incoming(self):
        rng = self.rng
        self.n += 1
        call_id = "fzin-%d-%x" % (self.n, rng.getrandbits(32))
        ftag = "fi%x" % rng.getrandbits(20)
        br = "z9hG4bKi%x" % rng.getrandbits(40)
        extra = [self.contact_hdr()]
        if rng.random() < 0.3:
            extra.append(self.route_hdr())
        body = self.sdp(0.35)
        mark = len(self.rx)
        self.request("INVITE", call_id, ftag, None, 1, extra="\r\n".join(x for x in extra if x),
                     body=body, branch=br)
        resp = self.wait_for(lambda m: m.status >= 180 and m.get("call-id") == call_id, 0.2,
                             since=mark)
        our = resp.tag("to") if resp is not None else None
        cseq = 1
        for _ in range(rng.randint(1, 8)):
            step = rng.randrange(9)
            if step == 0:
                self.proc.cmd("answer")
                self.pump(0.01)
            elif step == 1 and our:                      # ACK (maybe for nothing)
                self.request("ACK", call_id, ftag, our, 1, body=self.sdp(0.3)
                             if rng.random() < 0.2 else "")
            elif step == 2:                              # retransmission / CANCEL
                if rng.random() < 0.5:
                    self.request("INVITE", call_id, ftag, None, 1, extra=extra[0], body=body,
                                 branch=br)
                else:
                    self.request("CANCEL", call_id, ftag, None, 1, branch=br)
            elif step in (3, 4, 5) and our:
                method = rng.choice(("INVITE", "INFO", "BYE", "OPTIONS", "UPDATE", "REFER"))
                cseq = self.odd_cseq(cseq)
                self.request(method, call_id, ftag, our, cseq,
                             extra=self.contact_hdr() if method == "INVITE" else "",
                             body=self.sdp(0.5) if method == "INVITE" else "",
                             stranger=rng.random() < 0.15)
            elif step == 6:
                self.proc.cmd("hangup")
            elif step == 7:                              # wrong tags on a live Call-ID
                self.request(rng.choice(("BYE", "INFO")), call_id, "nottheirs", our or "x",
                             cseq + 1)
            else:
                self.pump(0.02)
        if our and rng.random() < 0.6:
            self.request("BYE", call_id, ftag, our, cseq + 1)
        self.proc.cmd("hangup")
        self.pump(0.01)

    def ep_strays(self):
        rng = self.rng
        for _ in range(rng.randint(3, 10)):
            kind = rng.randrange(3)
            cid = "stray-%x" % rng.getrandbits(32)
            if kind == 0:
                fake = _Msg(("INVITE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch="
                             "z9hG4bK%x\r\nFrom: <sip:1001@127.0.0.1>;tag=zz\r\nTo: <sip:x@h>\r\n"
                             "Call-ID: %s\r\nCSeq: 1 %s\r\n\r\n" % (
                                 self.ua_port, rng.getrandbits(40), cid,
                                 rng.choice(("INVITE", "BYE", "REGISTER", "OPTIONS")))).encode(),
                            self.ua)
                self.reply(fake, rng.choice((100, 180, 200, 401, 407, 486)), "t",
                           extra=self._challenge_hdr("WWW-Authenticate"), body=self.sdp(0.3))
            elif kind == 1:
                self.request(rng.choice(("BYE", "INFO", "INVITE", "ACK")), cid, "a", "b",
                             rng.choice(_CSEQS[:5]))
            else:
                self.request("OPTIONS", cid, "o", None, 1)

    def run(self, count):
        """Episodes until `count` more datagrams went to the UA."""
        target = self.sent + count
        while self.sent < target:
            self.rx = []
            r = self.rng.random()
            if r < 0.45:
                self.ep_outgoing()
            elif r < 0.9:
                self.ep_incoming()
            else:
                self.ep_strays()
            if self.rng.random() < 0.3:
                # timers fire mid-flight: retransmissions, B/F/H/J, ring time-out
                self.proc.cmd("warp", ms=self.rng.choice((600, 2000, 5000, 33000)))
                self.pump(0.01)


def settle(proc, fz, warps=3):
    """Hang up, run the timers to expiry; returns the quiet status. At most `warps` clock
    jumps of WARP_MS: enough for every RFC 3261 timer and one chained after another (no
    ACK -> BYE -> its time-out), not for the 300 s safety net that frees a transaction
    nobody ever answered, so a leak shows."""
    fz.polite = True
    proc.cmd("hangup")
    try:
        for i in range(warps + 1):
            for _ in range(10):
                fz.pump(0.05)
                st = proc.status()
                if (st["client_tx"] == 0 and st["server_tx"] == 0 and st["calls"] == 0 and
                        st["dialogs"] == 0 and st["line"] == "idle" and not st["rtp_open"]):
                    return st
            if i < warps:
                proc.cmd("warp", ms=WARP_MS)
                proc.cmd("hangup")
        raise AssertionError("state not back at zero: %r; held: %r" % (st, proc.cmd("txs")))
    finally:
        fz.polite = False


def alive(proc, fz, peer):
    """A clean call rings the line and is answered and hung up; OPTIONS; a dialled call."""
    fz.polite = True
    try:
        port = proc.port
        data, call_id = invite(peer, port)
        peer.sock.sendto(data, ("127.0.0.1", port))
        fz.wait_for(lambda m: m.status == 180 and m.get("call-id") == call_id, 3)
        st = proc.status()
        assert st["line"] == "ringing", st
        assert proc.cmd("answer").get("ok")
        ok = fz.wait_for(lambda m: m.status == 200 and m.get("call-id") == call_id, 3)
        assert ok is not None, "answered call: no 200"
        ack = ("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
               "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (
                   port, peer.port, branch(), ok.get("from"), ok.get("to"), call_id)
        peer.sock.sendto(ack.encode(), ("127.0.0.1", port))
        proc.cmd("hangup")
        bye = fz.wait_for(lambda m: m.method == "BYE" and m.get("call-id") == call_id, 3)
        assert bye is not None, "hang-up: no BYE"
        opt = ("OPTIONS sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
               "From: <sip:pbx@127.0.0.1>;tag=o\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: alive-%s\r\n"
               "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % (port, peer.port, branch(), branch())
        peer.sock.sendto(opt.encode(), ("127.0.0.1", port))
        assert fz.wait_for(lambda m: m.status == 200 and "OPTIONS" in (m.get("cseq") or ""), 3)
        assert proc.cmd("dial", number="1002").get("ok")
        assert fz.wait_for(lambda m: m.method == "INVITE" and m.tag("to") is None, 3), "no INVITE"
        proc.cmd("hangup")
    finally:
        fz.polite = False


class _Msg:
    def __init__(self, data, addr):
        self.raw = data
        self.addr = addr
        text = data.decode("utf-8", "replace")
        head = text.split("\r\n\r\n", 1)[0]
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers.append((k.strip().lower(), v.strip()))
        parts = self.start.split(" ", 2)
        self.status = int(parts[1]) if self.start.startswith("SIP/2.0 ") and \
            parts[1].isdigit() else 0
        self.method = None if self.status else parts[0]

    def get(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k == name]

    def tag(self, name):
        v = self.get(name) or ""
        i = v.find(";tag=")
        return v[i + 5:].split(";")[0].split(">")[0] if i >= 0 else None
