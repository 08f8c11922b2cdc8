# SIP message parser and writer (RFC 3261 section 7 over UDP), with size limits.
# parse() raises SipError(reason) for anything it rejects; it never raises anything else.
from micropython import const

from sip import headers as H

MAX_MESSAGE = const(8192)      # bytes: larger datagrams are dropped
MAX_HEADERS = const(80)        # header fields per message
MAX_LINE = const(2048)         # bytes in one (unfolded) header field
MAX_BODY = const(4096)         # bytes of body (SDP is < 1 kB)

_MANDATORY = ("via", "from", "to", "call-id", "cseq")


class SipError(Exception):
    """A message we refuse; .reason is short text usable in a 400 reason phrase."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Message:
    """A request (method, uri) or a response (status, reason) with ordered headers.

    headers: list of [lower-case full name, value]; repeated headers stay separate
    entries. Parsed on arrival: cseq_num, cseq_method, call_id, from_tag, to_tag,
    branch, via (transport, host, port, params of the top Via).
    """

    def __init__(self, method=None, uri=None, status=0, reason=""):
        self.method = method
        self.uri = uri
        self.status = status
        self.reason = reason
        self.headers = []
        self.body = ""
        self.cseq_num = 0
        self.cseq_method = ""
        self.call_id = ""
        self.from_tag = None
        self.to_tag = None
        self.branch = ""
        self.via = None

    @property
    def is_request(self):
        return self.method is not None

    def get(self, name):
        name = H.full_name(name)
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def get_all(self, name):
        """All values of `name`, comma lists split for list headers."""
        name = H.full_name(name)
        out = []
        split = name in H.LIST_HEADERS
        for k, v in self.headers:
            if k == name:
                if split:
                    out.extend(H.split_commas(v))
                else:
                    out.append(v)
        return out

    def add(self, name, value):
        self.headers.append([H.full_name(name), str(value)])

    def set(self, name, value):
        self.remove(name)
        self.add(name, value)

    def remove(self, name):
        name = H.full_name(name)
        self.headers = [h for h in self.headers if h[0] != name]

    def encode(self):
        if self.method is not None:
            first = "%s %s SIP/2.0\r\n" % (self.method, self.uri)
        else:
            first = "SIP/2.0 %d %s\r\n" % (self.status, self.reason)
        parts = [first]
        for k, v in self.headers:
            if k != "content-length":
                parts.append("%s: %s\r\n" % (H.canonical(k), v))
        body = self.body.encode() if isinstance(self.body, str) else bytes(self.body)
        parts.append("Content-Length: %d\r\n\r\n" % len(body))
        return "".join(parts).encode() + body


def _find_head_end(data):
    """(end of head, start of body); accepts CRLFCRLF and, leniently, LFLF."""
    i = data.find(b"\r\n\r\n")
    j = data.find(b"\n\n")
    if i >= 0 and (j < 0 or i < j):
        return i, i + 4
    if j >= 0:
        return j, j + 2
    return -1, -1


def utf8_ok(data):
    """Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points beyond
    U+10FFFF. The unix port's decode() takes overlong forms ("\xc0\xaf" -> "/"), so
    bytes are checked before they are decoded."""
    if not data or max(data) < 0x80:
        return True
    n = len(data)
    i = 0
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            k, lo, hi = 1, 0x80, 0xBF
        elif 0xE0 <= b <= 0xEF:
            k = 2
            lo, hi = (0xA0, 0xBF) if b == 0xE0 else ((0x80, 0x9F) if b == 0xED else (0x80, 0xBF))
        elif 0xF0 <= b <= 0xF4:
            k = 3
            lo, hi = (0x90, 0xBF) if b == 0xF0 else ((0x80, 0x8F) if b == 0xF4 else (0x80, 0xBF))
        else:
            return False
        if i + k >= n:
            return False                  # truncated sequence
        c = data[i + 1]
        if c < lo or c > hi:
            return False
        for j in range(i + 2, i + k + 1):
            if data[j] & 0xC0 != 0x80:
                return False
        i += k + 1
    return True


def is_keepalive(data):
    """A CRLF keep-alive (RFC 5626) or empty datagram."""
    return not data.strip(b"\r\n")


def parse(data):
    """bytes -> Message. Raises SipError(reason)."""
    try:
        return _parse(data)
    except SipError:
        raise
    except UnicodeError:
        raise SipError("not UTF-8")
    except ValueError as e:
        raise SipError(str(e) or "bad header")
    except Exception as e:  # UnicodeError and anything unforeseen: still a clean reject
        raise SipError("unparsable (%s)" % type(e).__name__)


def _parse(data):
    if len(data) > MAX_MESSAGE:
        raise SipError("message too large")
    # RFC 3261 7.5: ignore CRLFs before the start line
    k = 0
    while k < len(data) and data[k] in (10, 13):
        k += 1
    if k:
        data = data[k:]
    end, body_at = _find_head_end(data)
    if end < 0:
        raise SipError("no end of headers")
    if not utf8_ok(data):
        raise SipError("not UTF-8")
    head = data[:end].decode()
    for ch in head:
        if ch < " " and ch not in "\r\n\t":
            raise SipError("control character in headers")
    lines = head.split("\n")
    for i in range(len(lines)):
        line = lines[i]
        if line[-1:] == "\r":
            line = line[:-1]
        if "\r" in line:
            # a bare CR would end the line for some parsers and not for others
            raise SipError("bare CR in headers")
        lines[i] = line
    start = lines[0]
    msg = Message()
    if start.startswith("SIP/"):
        ver, _, rest = start.partition(" ")
        code, _, reason = rest.partition(" ")
        if ver != "SIP/2.0":
            raise SipError("bad SIP version")
        if len(code) != 3 or not code.isdigit() or code[0] == "0":
            raise SipError("bad status code")
        msg.status = int(code)
        if msg.status < 100:
            raise SipError("bad status code")
        msg.reason = reason
    else:
        parts = start.split(" ")
        if len(parts) != 3:
            raise SipError("bad request line")
        method, uri, ver = parts
        if ver != "SIP/2.0":
            raise SipError("bad SIP version")
        if not H.is_token(method):
            raise SipError("bad method")
        H.parse_uri(uri)
        msg.method = method
        msg.uri = uri
    _parse_headers(msg, lines)
    _parse_core(msg)
    body = data[body_at:]
    cl = msg.get("content-length")
    if cl is not None:
        cl = cl.strip()
        if not cl.isdigit() or len(cl) > 6:
            raise SipError("bad Content-Length")
        n = int(cl)
        if n > len(body):
            raise SipError("truncated body")
        body = body[:n]
    if len(body) > MAX_BODY:
        raise SipError("body too large")
    msg.body = body.decode()
    return msg


def _parse_headers(msg, lines):
    hdrs = msg.headers
    for i in range(1, len(lines)):
        line = lines[i]
        if not line:
            continue
        if line[0] in " \t":
            # folded continuation (RFC 3261 7.3.1): joins the previous header
            if not hdrs:
                raise SipError("folding before first header")
            hdrs[-1][1] = hdrs[-1][1] + " " + line.strip()
            if len(hdrs[-1][1]) > MAX_LINE:
                raise SipError("header too long")
            continue
        if len(line) > MAX_LINE:
            raise SipError("header too long")
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not H.is_token(name):
            raise SipError("bad header line")
        if len(hdrs) >= MAX_HEADERS:
            raise SipError("too many headers")
        hdrs.append([H.full_name(name), value.strip()])


def _parse_core(msg):
    for name in _MANDATORY:
        if msg.get(name) is None:
            raise SipError("missing " + H.canonical(name))
    try:
        msg.cseq_num, msg.cseq_method = H.parse_cseq(msg.get("cseq"))
    except ValueError:
        raise SipError("bad CSeq")
    if msg.method is not None and msg.cseq_method != msg.method:
        raise SipError("CSeq method mismatch")
    msg.call_id = msg.get("call-id").strip()
    if not msg.call_id or " " in msg.call_id:
        raise SipError("bad Call-ID")
    fp = _addr_params(msg, "from")
    tp = _addr_params(msg, "to")
    try:
        vias = msg.get_all("via")
        if not vias:
            raise SipError("missing Via")
        msg.via = H.parse_via(vias[0])
    except ValueError as e:
        raise SipError("bad Via: " + str(e))
    msg.from_tag = fp.get("tag")
    msg.to_tag = tp.get("tag")
    msg.branch = msg.via[3].get("branch") or ""
    mf = msg.get("max-forwards")
    if mf is not None and (not mf.strip().isdigit() or len(mf.strip()) > 3):
        raise SipError("bad Max-Forwards")


def _addr_params(msg, name):
    try:
        return H.parse_addr(msg.get(name))[2]
    except ValueError as e:
        raise SipError("bad %s: %s" % (H.canonical(name), e))
