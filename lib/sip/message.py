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


# Message._raw: the list parse() fills (its core list, reused), by slot
_R_VIA = const(0)
_R_FROM_TAG = const(1)
_R_TO_TAG = const(2)
_R_CALL_ID = const(3)
_R_BRANCH = const(4)


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

    # Defaults live in the class: parse() stores only what it finds. Every attribute
    # stored on an instance of a class with properties costs ~2.4 k x86 instructions on
    # the unix port (the store looks the name up in the class first), so the top Via,
    # the tags, the Call-ID and the branch share one stored list, _raw (see _R_*).
    method = None
    uri = None
    status = 0
    reason = ""
    body = ""
    cseq_num = 0
    cseq_method = ""
    _raw = None

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

    def _fields(self):
        r = self._raw
        if r is None:
            r = self._raw = [None, None, None, "", ""]
        return r

    # Call-ID and the tags stay bytes until first read: decoding makes a str, and each
    # new str is looked up among every interned name (~20 k instructions on the unix
    # port); a REGISTER response's handling reads none of the three.
    @property
    def call_id(self):
        r = self._raw
        if r is None:
            return ""
        v = r[_R_CALL_ID]
        if type(v) is bytes:
            v = r[_R_CALL_ID] = v.decode()
        return v

    @call_id.setter
    def call_id(self, v):
        self._fields()[_R_CALL_ID] = v

    @property
    def from_tag(self):
        r = self._raw
        if r is None:
            return None
        v = r[_R_FROM_TAG]
        if type(v) is bytes:
            v = r[_R_FROM_TAG] = v.decode()
        return v

    @from_tag.setter
    def from_tag(self, v):
        self._fields()[_R_FROM_TAG] = v

    @property
    def to_tag(self):
        r = self._raw
        if r is None:
            return None
        v = r[_R_TO_TAG]
        if type(v) is bytes:
            v = r[_R_TO_TAG] = v.decode()
        return v

    @to_tag.setter
    def to_tag(self, v):
        self._fields()[_R_TO_TAG] = v

    @property
    def branch(self):
        r = self._raw
        return "" if r is None else r[_R_BRANCH]

    @branch.setter
    def branch(self, v):
        self._fields()[_R_BRANCH] = v

    @property
    def via(self):
        """Top Via as (transport, host, port, params). Parsing checks it and takes the
        branch; the tuple is built on first use (only requests need it)."""
        r = self._raw
        if r is None:
            return None
        v = r[_R_VIA]
        if type(v) is bytes:
            v = r[_R_VIA] = S.parse_via(v)
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
        """The message as it goes on the wire. The lines are encoded one by one and
        joined once: bytes.join sizes its result first, so the message is one piece of
        its size; joining str lines, encoding them and adding the body asked a
        fragmented heap for three such pieces (an INVITE's ~0.9 KB was what failed first
        on the 32-bit sim, back to back calls at the edge of its heap)."""
        if self.method is not None:
            first = "%s %s SIP/2.0\r\n" % (self.method, self.uri)
        else:
            first = "SIP/2.0 %d %s\r\n" % (self.status, self.reason)
        body = self.body.encode() if isinstance(self.body, str) else bytes(self.body)
        parts = [first.encode()]
        for h in self.headers:
            if h[0] != "content-length":
                parts.append(("%s: %s\r\n" % (H.canonical(h[0]), _text(h))).encode())
        parts.append(("Content-Length: %d\r\n\r\n" % len(body)).encode())
        parts.append(body)
        return b"".join(parts)


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
# are found with find/split, and only what the Message keeps is decoded: the start
# line's parts, the branch, the body; Call-ID and the tags when first read. Other header
# values stay bytes in msg.headers until get() asks for them.

# The headers parse itself reads, by their slot in the `core` list _parse_headers fills
# (the first of each, as raw() would find it).
_VIA = const(0)
_FROM = const(1)
_TO = const(2)
_CALL_ID = const(3)
_CSEQ = const(4)
_CLEN = const(5)
_MAXF = const(6)
_NCORE = const(7)                 # == sip.scan.CORE
_OTHER = const(99)                # a name not in sip.scan.KNOWN
# (sip.scan.KNOWN starts with these names, in this order: a name's index is its slot)


def _parse(data):
    if len(data) > MAX_MESSAGE:
        raise SipError("message too large")
    # RFC 3261 7.5: ignore CRLFs before the start line
    if data and data[0] in (10, 13):
        k = 0
        while k < len(data) and data[k] in (10, 13):
            k += 1
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
    head = data                       # the head is data[:hend]: no copy of it
    hend = end
    if flags & S.BARE_LF:
        # the lenient line ending: rebuilt with CRLF, so that one loop reads both
        lines = data[:end].split(b"\n")
        for i in range(len(lines)):
            if lines[i][-1:] == b"\r":
                lines[i] = lines[i][:-1]
        head = b"\r\n".join(lines)
        hend = len(head)
    e = head.find(b"\r\n", 0, hend)
    if e < 0:
        e = hend
    # no __init__ call: parse sets what it finds, the class holds the defaults
    msg = object.__new__(Message)
    if head.startswith(b"SIP/"):
        # "SIP/2.0 200 Reason": version, three digits, then the reason (may be empty);
        # read in place, a slice only for an unusual reason phrase
        if e < 8 or head[7] != 32 or not head.startswith(b"SIP/2.0"):
            if e == 7 and head.startswith(b"SIP/2.0"):
                raise SipError("bad status code")      # "SIP/2.0" alone: no code
            raise SipError("bad SIP version")
        status = S.digits(head, 8, 11) if e >= 11 else -1
        if status < 100 or (e > 11 and head[11] != 32):
            raise SipError("bad status code")          # also "099": a leading 0
        msg.status = status
        reason = S.REASON_OF.get(status)
        if reason is None or not S.same(head, 12, e, reason):
            reason = head[12:e] if e > 12 else b""
            reason = S.REASONS.get(reason) or reason.decode()
        msg.reason = reason
    else:
        parts = head[:e].split(b" ")
        if len(parts) != 3:
            raise SipError("bad request line")
        method, uri, ver = parts
        if ver != b"SIP/2.0":
            raise SipError("bad SIP version")
        msg.method = S.method(method)
        S.check_uri(uri)
        msg.uri = uri.decode()
    hdrs = []
    msg.headers = hdrs
    core = [None, None, None, None, None, None, None]
    odd_via = _parse_headers(hdrs, core, head, e + 2, hend, wide)
    # the core headers (inline: a call costs ~1 k instructions)
    if (core[_VIA] is None or core[_FROM] is None or core[_TO] is None
            or core[_CALL_ID] is None or core[_CSEQ] is None):
        for i in range(len(_MANDATORY)):        # the slots 0-4 are _MANDATORY's names
            if core[i] is None:
                raise SipError("missing " + H.canonical(_MANDATORY[i]))
    try:
        num, method = S.parse_cseq(core[_CSEQ])
    except ValueError:
        raise SipError("bad CSeq")
    if msg.method is not None and method != msg.method:
        raise SipError("CSeq method mismatch")
    msg.cseq_num = num
    msg.cseq_method = method
    cid = core[_CALL_ID].lstrip().rstrip()
    if not cid or b" " in cid:
        raise SipError("bad Call-ID")
    name = "From"
    try:
        ftag = S.addr_tag_b(core[_FROM])
        name = "To"
        ttag = S.addr_tag_b(core[_TO])
    except ValueError as e:
        raise SipError("bad %s: %s" % (name, e))
    try:
        top = core[_VIA]
        if top and not odd_via and b"," not in top:
            branch = S.parse_via(top, b"branch") or ""
        else:
            # a comma list or quotes: the str grammar splits it
            vias = msg.get_all("via")
            if not vias:
                raise SipError("missing Via")
            top = H.parse_via(vias[0])
            branch = top[3].get("branch") or ""
    except ValueError as e:
        raise SipError("bad Via: " + str(e))
    mf = core[_MAXF]
    if mf is not None:
        mf = mf.lstrip().rstrip()
        if not mf.isdigit() or len(mf) > 3:
            raise SipError("bad Max-Forwards")
    # core becomes the message's _raw (the _R_* slots); _CLEN and _MAXF ride along
    core[_R_VIA] = top
    core[_R_FROM_TAG] = ftag
    core[_R_TO_TAG] = ttag
    core[_R_CALL_ID] = cid
    core[_R_BRANCH] = branch
    msg._raw = core
    cl = core[_CLEN]
    n = len(data) - body_at
    if cl is not None:
        cl = cl.lstrip().rstrip()   # stored values are stripped, but not folded ones
        if not cl.isdigit() or len(cl) > 6:
            raise SipError("bad Content-Length")
        cl = int(cl)
        if cl > n:
            raise SipError("truncated body")
        n = cl
    if n > MAX_BODY:
        raise SipError("body too large")
    if n:
        msg.body = data[body_at:body_at + n].decode()
    return msg


def _chars(b, wide):
    """Length in characters (the limits count characters, as they always did)."""
    return len(b.decode()) if wide else len(b)


def _parse_headers(hdrs, core, head, pos, n, wide):
    """Fills hdrs with [name, value bytes] from the header lines of head[:n] (CRLF
    between them) from pos on, and core with the first value of each core name (the
    first CORE of sip.scan.KNOWN); True when a Via value holds a quote (then every Via
    goes through the str grammar, which rejects an unterminated quote in any of them).
    One scan per line (S.line): no list of lines, one slice for the name and one for
    the value."""
    odd_via = False
    names = S.NAMES
    known = S.KNOWN
    line = S.line
    count = 0
    last = -1                         # core slot the previous header filled, or -1
    while pos < n:
        r = line(head, pos, n)
        e = r >> 15
        c = r & 0x7FFF
        if e == pos:                  # an empty line (only after a lenient "\n\r\n")
            pos += 2
            continue
        b = head[pos]
        if b == 32 or b == 9:
            # folded continuation (RFC 3261 7.3.1): joins the previous header
            if not hdrs:
                raise SipError("folding before first header")
            h = hdrs[-1]
            v = h[1] + b" " + head[pos:e].lstrip().rstrip()
            h[1] = v
            if last >= 0:
                core[last] = v
            if _chars(v, wide) > MAX_LINE:
                raise SipError("header too long")
            if h[0] == "via" and b'"' in v:
                odd_via = True
            pos = e + 2
            continue
        if e - pos > MAX_LINE and _chars(head[pos:e], wide) > MAX_LINE:
            raise SipError("header too long")
        if c == e:
            raise SipError("bad header line")          # no ':'
        name = head[pos:c]
        # the names we know, as usually written, in one lookup; others the long way
        i = names.get(name)
        if i is None:
            i = S.header_index(name)
            if i is None:
                raise SipError("bad header line")
            if type(i) is str:
                key = i
                i = _OTHER
            else:
                key = known[i]
        else:
            key = known[i]
        if count >= MAX_HEADERS:
            raise SipError("too many headers")
        count += 1
        # "Name: value": one space is the usual separator; lstrip() only for more
        c += 1
        if c < e and head[c] == 32:
            c += 1
        value = head[c:e]
        if value and (value[0] == 32 or value[0] == 9):
            value = value.lstrip()
        value = value.rstrip()          # the same object when nothing trails
        last = -1
        if i < _NCORE:
            if i == _VIA and b'"' in value:
                odd_via = True
            if core[i] is None:
                core[i] = value
                last = i
        hdrs.append([key, value])
        pos = e + 2
    return odd_via


