# SIP message parser and writer (RFC 3261 section 7 over UDP), with size limits.
# parse() raises SipError(reason) for anything it rejects; it never raises anything else.
from micropython import const

from sip import headers as H
from sip import scan as S

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
    entries. A parsed message holds values as bytes until get()/get_all() decode them
    (in place, once); read values through get(), not the list. Parsed on arrival:
    cseq_num, cseq_method, call_id, from_tag, to_tag, branch, via (transport, host,
    port, params of the top Via).
    """

    # Defaults live in the class: each attribute stored on an instance costs ~2 k x86
    # instructions on the unix port, and parse() stores the ones it finds anyway.
    method = None
    uri = None
    status = 0
    reason = ""
    body = ""
    cseq_num = 0
    cseq_method = ""
    call_id = ""
    from_tag = None
    to_tag = None
    branch = ""
    _via = None

    def __init__(self, method=None, uri=None, status=0, reason=""):
        if method is not None:
            self.method = method
        if uri is not None:
            self.uri = uri
        if status:
            self.status = status
        if reason:
            self.reason = reason
        self.headers = []

    @property
    def via(self):
        """Top Via as (transport, host, port, params). Parsing checks it and takes the
        branch; the tuple is built on first use (only requests need it)."""
        v = self._via
        if type(v) is bytes:
            v = self._via = S.parse_via(v)
        return v

    @property
    def is_request(self):
        return self.method is not None

    def raw(self, name):
        """First value of a full lower-case name as stored: bytes until get() decoded it."""
        for h in self.headers:
            if h[0] == name:
                return h[1]
        return None

    def get(self, name):
        name = H.full_name(name)
        for h in self.headers:
            if h[0] == name:
                return _text(h)
        return None

    def get_all(self, name):
        """All values of `name`, comma lists split for list headers."""
        name = H.full_name(name)
        out = []
        split = name in H.LIST_HEADERS
        for h in self.headers:
            if h[0] == name:
                if split:
                    out.extend(H.split_commas(_text(h)))
                else:
                    out.append(_text(h))
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
        for h in self.headers:
            if h[0] != "content-length":
                parts.append("%s: %s\r\n" % (H.canonical(h[0]), _text(h)))
        body = self.body.encode() if isinstance(self.body, str) else bytes(self.body)
        parts.append("Content-Length: %d\r\n\r\n" % len(body))
        return "".join(parts).encode() + body


def _text(h):
    """A header's value as str, decoded once on first use (parse leaves bytes)."""
    v = h[1]
    if type(v) is not str:
        v = h[1] = v.decode()
    return v


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
    return not data.lstrip(b"\r\n")    # lstrip stops at the first other byte


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


# The parser works on the datagram's bytes (see sip/scan.py for why): lines and names
# are found with find/split/partition, and only what the Message keeps is decoded:
# the start line's parts, Call-ID, the tags, the top Via, the body. Other header values
# stay bytes in msg.headers until get() asks for them.

def _parse(data):
    if len(data) > MAX_MESSAGE:
        raise SipError("message too large")
    # RFC 3261 7.5: ignore CRLFs before the start line
    k = 0
    while k < len(data) and data[k] in (10, 13):
        k += 1
    if k:
        data = data[k:]
    got = S.scan(data, len(data))
    if got < 0:
        raise SipError("no end of headers")
    end = got >> 4
    flags = got & 15
    body_at = end + (4 if data[end] == 13 else 2)
    wide = flags & S.NON_ASCII
    if wide and not utf8_ok(data):
        raise SipError("not UTF-8")
    if flags & S.CTRL:
        raise SipError("control character in headers")
    if flags & S.BARE_CR:
        # a bare CR would end the line for some parsers and not for others
        raise SipError("bare CR in headers")
    if data[end - 1] == 13:
        end -= 1                      # "\r\n\n" or "\r\r\n\r\n": the last line's CR
    head = data[:end]
    if flags & S.BARE_LF:
        lines = head.split(b"\n")
        for i in range(len(lines)):
            if lines[i][-1:] == b"\r":
                lines[i] = lines[i][:-1]
    else:
        lines = head.split(b"\r\n")
    start = lines[0]
    msg = Message()
    if start[:4] == b"SIP/":
        ver, _, rest = start.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if ver != b"SIP/2.0":
            raise SipError("bad SIP version")
        if len(code) != 3 or not code.isdigit() or code[0] == 48:
            raise SipError("bad status code")
        msg.status = int(code)
        if msg.status < 100:
            raise SipError("bad status code")
        msg.reason = S.REASONS.get(reason) or reason.decode()
    else:
        parts = start.split(b" ")
        if len(parts) != 3:
            raise SipError("bad request line")
        method, uri, ver = parts
        if ver != b"SIP/2.0":
            raise SipError("bad SIP version")
        msg.method = S.method(method)
        S.check_uri(uri)
        msg.uri = uri.decode()
    _parse_core(msg, _parse_headers(msg, lines, wide))
    body = data[body_at:]
    cl = msg.raw("content-length")
    if cl is not None:
        cl = cl.lstrip().rstrip()   # stored values are stripped, but not folded ones
        if not cl.isdigit() or len(cl) > 6:
            raise SipError("bad Content-Length")
        n = int(cl)
        if n > len(body):
            raise SipError("truncated body")
        body = body[:n]
    if len(body) > MAX_BODY:
        raise SipError("body too large")
    msg.body = body.decode() if body else ""
    return msg


def _chars(b, wide):
    """Length in characters (the limits count characters, as they always did)."""
    return len(b.decode()) if wide else len(b)


def _parse_headers(msg, lines, wide):
    """Fills msg.headers; True when a Via value holds a quote (then every Via goes
    through the str grammar, which rejects an unterminated quote in any of them)."""
    hdrs = msg.headers
    odd_via = False
    for i in range(1, len(lines)):
        line = lines[i]
        if not line:
            continue
        if line[0] in (32, 9):
            # folded continuation (RFC 3261 7.3.1): joins the previous header
            if not hdrs:
                raise SipError("folding before first header")
            v = hdrs[-1][1] + b" " + line.lstrip().rstrip()
            hdrs[-1][1] = v
            if _chars(v, wide) > MAX_LINE:
                raise SipError("header too long")
            if hdrs[-1][0] == "via" and b'"' in v:
                odd_via = True
            continue
        if len(line) > MAX_LINE and _chars(line, wide) > MAX_LINE:
            raise SipError("header too long")
        c = line.find(b":")
        key = S.header_name(line[:c]) if c >= 0 else None
        if key is None:
            raise SipError("bad header line")
        if len(hdrs) >= MAX_HEADERS:
            raise SipError("too many headers")
        value = line[c + 1:].lstrip().rstrip()
        if key == "via" and b'"' in value:
            odd_via = True
        hdrs.append([key, value])
    return odd_via


def _parse_core(msg, odd_via):
    for name in _MANDATORY:
        if msg.raw(name) is None:
            raise SipError("missing " + H.canonical(name))
    try:
        msg.cseq_num, msg.cseq_method = S.parse_cseq(msg.raw("cseq"))
    except ValueError:
        raise SipError("bad CSeq")
    if msg.method is not None and msg.cseq_method != msg.method:
        raise SipError("CSeq method mismatch")
    cid = msg.raw("call-id").lstrip().rstrip()
    if not cid or b" " in cid:
        raise SipError("bad Call-ID")
    msg.call_id = cid.decode()
    ftag = _addr_tag(msg, "from")
    ttag = _addr_tag(msg, "to")
    try:
        top = msg.raw("via")
        if top and not odd_via and b"," not in top:
            msg.branch = S.parse_via(top, b"branch") or ""
            msg._via = top
        else:
            # a comma list or quotes: the str grammar splits it
            vias = msg.get_all("via")
            if not vias:
                raise SipError("missing Via")
            msg._via = H.parse_via(vias[0])
            msg.branch = msg._via[3].get("branch") or ""
    except ValueError as e:
        raise SipError("bad Via: " + str(e))
    msg.from_tag = ftag
    msg.to_tag = ttag
    mf = msg.raw("max-forwards")
    if mf is not None:
        mf = mf.lstrip().rstrip()
    if mf is not None and (not mf.isdigit() or len(mf) > 3):
        raise SipError("bad Max-Forwards")


def _addr_tag(msg, name):
    try:
        return S.addr_tag(msg.raw(name))
    except ValueError as e:
        raise SipError("bad %s: %s" % (H.canonical(name), e))
