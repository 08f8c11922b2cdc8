"""A raw UDP SIP peer for tests: sends exact bytes, receives and splits messages (CPython)."""
import random
import socket
import time


class Msg:
    def __init__(self, data, addr):
        self.raw = data
        self.addr = addr
        text = data.decode(errors="replace")
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers.append((k.strip().lower(), v.strip()))
        parts = self.start.split(" ", 2)
        self.status = int(parts[1]) if self.start.startswith("SIP/2.0") else 0
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
        return v[i + 5:].split(";")[0] if i >= 0 else None

    def __repr__(self):
        return "<%s>" % self.start


class RawPeer:
    def __init__(self, ip="127.0.0.1", port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.ip, self.port = self.sock.getsockname()

    def send(self, text, dest):
        data = text if isinstance(text, bytes) else text.replace("\n", "\r\n").encode()
        self.sock.sendto(data, dest)

    def recv(self, timeout=2.0):
        self.sock.settimeout(timeout)
        try:
            data, addr = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        return Msg(data, addr)

    def expect(self, pred, timeout=3.0):
        """Receive until pred(msg); returns it (raises on time-out). Others are kept."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m is None:
                break
            if pred(m):
                return m
            seen.append(m)
        raise TimeoutError("nothing matching; got %r" % seen)

    def drain(self, timeout=0.3):
        out = []
        while True:
            m = self.recv(timeout)
            if m is None:
                return out
            out.append(m)

    def close(self):
        self.sock.close()


def branch():
    return "z9hG4bK%08x" % random.getrandbits(32)


def invite(peer, ua_port, user="1001", call_id=None, extra="", sdp=None, br=None, tag="rt1"):
    call_id = call_id or "raw-%08x" % random.getrandbits(32)
    sdp = sdp if sdp is not None else (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n")
    text = ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:2000@%s:%d>;tag=%s\r\n"
            "To: <sip:%s@127.0.0.1:%d>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: 1 INVITE\r\n"
            "Contact: <sip:2000@%s:%d>\r\n"
            "%s"
            "Content-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s") % (
                user, ua_port, peer.ip, peer.port, br or branch(), peer.ip, peer.port, tag,
                user, ua_port, call_id, peer.ip, peer.port, extra, len(sdp.encode()), sdp)
    return text.encode(), call_id


def response_to(req, status, reason, to_tag=None, extra="", body=""):
    """A response to a received request (headers copied as RFC 3261 8.2.6 says)."""
    lines = ["SIP/2.0 %d %s" % (status, reason)]
    for v in req.all("via"):
        lines.append("Via: " + v)
    for v in req.all("record-route"):
        lines.append("Record-Route: " + v)
    lines.append("From: " + req.get("from"))
    to = req.get("to")
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    lines.append("To: " + to)
    lines.append("Call-ID: " + req.get("call-id"))
    lines.append("CSeq: " + req.get("cseq"))
    if extra:
        lines.append(extra.rstrip("\r\n"))
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body.encode()))
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
