# SIP grammar on raw bytes: the parser's fast paths for header names, parameters, URIs,
# name-addr and Via. Why bytes: on MicroPython every new str is looked up among all
# interned names (qstr_find_strn, linear in the ~2,000 names a firmware interns: about
# 20 k x86 instructions per string), a bytes object is not. So these work on bytes and
# decode only what the message keeps. Anything unusual (quotes, IPv6 brackets, tel:,
# a Via with spaces around '/') is handed to the str functions of sip.headers, which
# stay the reference grammar; the results and error reasons are the same either way.
import micropython
from micropython import const

from sip import headers as H
# the viper primitives (sip/bytescan.py), also used from here as S.scan, S.line, ...
from sip.bytescan import (BARE_CR, BARE_LF, CTRL, NON_ASCII, _CLASS, _all_in,  # noqa: F401
                          _cseq_num, _param_span, digits, line, same, scan)

_TOKEN = const(1)      # char-class bits in _CLASS (as in sip/bytescan.py)
_HOST = const(2)


def is_token(b):
    return len(b) > 0 and _all_in(b, _TOKEN) == 1


# bytes.strip() tests every byte of the value against the whitespace set (O(n));
# lstrip().rstrip() stops at the first byte that is not whitespace, so it is used here.

# Header names -> their index in KNOWN (lower-case full names): the ones the firmware
# reads, those every registrar and phone sends, and the compact forms. The common ones
# also as usually written, so that most lines need no lower(). A name not here is
# lower-cased, looked up again, and only then decoded. Kept short: the dict lives in the
# heap (~3 KB x64). The first CORE names are the ones message.py's parse reads itself,
# in the order of its slots: their index is the slot, so one lookup finds both.
KNOWN = ("via", "from", "to", "call-id", "cseq", "content-length", "max-forwards",
         "contact", "content-type", "www-authenticate", "proxy-authenticate",
         "record-route", "expires", "server", "user-agent", "allow", "supported",
         "authorization", "proxy-authorization", "route", "min-expires", "require",
         "retry-after", "date", "accept", "allow-events", "subject", "content-encoding",
         "event", "refer-to", "session-expires", "referred-by")
CORE = const(7)
_AS_WRITTEN = 17     # the first names of KNOWN: also in their canonical spelling


def _names():
    d = {}
    for i, n in enumerate(KNOWN):
        d[n.encode()] = i
        if i < _AS_WRITTEN:
            d[H.canonical(n).encode()] = i
    for c, n in H.COMPACT.items():
        d[c.encode()] = KNOWN.index(n)
    return d


_NAMES = _names()
NAMES = _NAMES                    # message.py's per-header fast path
_PARAMS = {b"tag": "tag", b"branch": "branch", b"rport": "rport", b"received": "received",
           b"lr": "lr", b"expires": "expires", b"transport": "transport", b"maddr": "maddr",
           b"ttl": "ttl", b"user": "user", b"q": "q", b"ob": "ob", b"alias": "alias"}
METHODS = {b"INVITE": "INVITE", b"ACK": "ACK", b"BYE": "BYE", b"CANCEL": "CANCEL",
           b"REGISTER": "REGISTER", b"OPTIONS": "OPTIONS", b"INFO": "INFO",
           b"NOTIFY": "NOTIFY", b"SUBSCRIBE": "SUBSCRIBE", b"REFER": "REFER",
           b"MESSAGE": "MESSAGE", b"UPDATE": "UPDATE", b"PRACK": "PRACK",
           b"PUBLISH": "PUBLISH"}
REASONS = {b"OK": "OK", b"Trying": "Trying", b"Ringing": "Ringing",
           b"Unauthorized": "Unauthorized", b"Session Progress": "Session Progress",
           b"Proxy Authentication Required": "Proxy Authentication Required",
           b"Busy Here": "Busy Here", b"Request Terminated": "Request Terminated",
           b"Not Found": "Not Found", b"Forbidden": "Forbidden"}
# the usual reason phrase of a status, compared in place (ASCII only, see same())
REASON_OF = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
             401: "Unauthorized", 407: "Proxy Authentication Required", 486: "Busy Here",
             487: "Request Terminated", 404: "Not Found", 403: "Forbidden"}
_TRANSPORTS = {b"UDP": "UDP", b"TCP": "TCP", b"TLS": "TLS", b"SCTP": "SCTP", b"WS": "WS",
               b"WSS": "WSS"}


def header_index(name):
    """The bytes before ':' -> index in KNOWN, or the lower-case full name (str) of a
    name not in KNOWN, or None when not a token."""
    i = _NAMES.get(name)
    if i is not None:
        return i
    name = name.rstrip(b" \t").lower()
    i = _NAMES.get(name)
    if i is not None:
        return i
    if not is_token(name):
        return None
    return H.full_name(name.decode())


def header_name(name):
    """The bytes before ':' -> lower-case full name (str), or None when not a token."""
    i = header_index(name)
    return KNOWN[i] if type(i) is int else i


def method(b):
    """A method token (bytes) -> str; ValueError when it is not a token."""
    m = METHODS.get(b)
    if m is None:
        if not is_token(b):
            raise ValueError("bad method")
        m = b.decode()
    return m


def parse_cseq(value):
    """Same grammar and reasons as headers.parse_cseq, on bytes."""
    v = value.lstrip().rstrip()
    sp = v.find(b" ")
    if sp < 0:
        n = _cseq_num(v, 0, len(v))
        m = b""
    else:
        n = _cseq_num(v, 0, sp)         # the number read in place: no slice, no int()
        m = v[sp + 1:]
        if m and (m[0] == 32 or m[0] == 9):
            m = m.lstrip()
    if n == -1:
        raise ValueError("bad CSeq")
    m = METHODS.get(m) or (m.decode() if is_token(m) else None)
    if m is None:
        raise ValueError("bad CSeq")
    if n == -2:
        raise ValueError("CSeq out of range")
    return n, m


def param_b(s, want):
    """The value of parameter `want` (lower-case bytes) in s as bytes, or None; every
    name is checked. Quoted values go through the str grammar (then a str comes back)."""
    return _param_in(s, 0, len(s), want)


def _param_in(s, i, j, want):
    """param_b over s[i:j], without slicing unless a quote sends it to the str grammar."""
    if s.find(b'"', i, j) >= 0:
        return H.parse_params(s[i:j].decode()).get(want.decode())
    r = _param_span(s, i, j, want)
    if r == -3:
        raise ValueError("bad parameter name")
    return s[r >> 16:r & 0xFFFF] if r >= 0 else None


def params(s, want=None):
    """headers.parse_params on bytes -> dict of str. With `want` (lower-case bytes)
    only checks every name and returns that parameter's value (str or None)."""
    if b'"' in s:
        d = H.parse_params(s.decode())
        return d.get(want.decode()) if want else d
    if want is not None:
        v = param_b(s, want)
        return v.decode() if v is not None else None
    out = {}
    for part in s.split(b";"):
        e = part.find(b"=")
        k = (part if e < 0 else part[:e]).lstrip().rstrip()
        if e < 0 and not k:
            continue                    # an empty part: ";;" or a trailing ";"
        name = _PARAMS.get(k)           # as written first: lower() makes a new object
        if name is None:
            k = k.lower()
            name = _PARAMS.get(k)
        if name is None:
            if not is_token(k):
                raise ValueError("bad parameter name")
            name = k.decode()
        out[name] = part[e + 1:].lstrip().rstrip().decode() if e >= 0 else None
    return out


def hostport(s):
    """headers.split_hostport on bytes -> (host bytes or str, port or None)."""
    s = s.lstrip().rstrip()
    if not s:
        raise ValueError("empty host")
    if s[0] == 91:                      # '[': an IPv6 reference, rare: the str grammar
        return H.split_hostport(s.decode())
    if s.count(b":") > 1:
        raise ValueError("IPv6 address without brackets")
    c = s.find(b":")
    host = s if c < 0 else s[:c]
    if _all_in(host, _HOST) == 0:
        raise ValueError("bad host")
    if not host:
        raise ValueError("empty host")
    return host, (H._port(s[c + 1:]) if c >= 0 else None)   # str or bytes alike


@micropython.viper
def _trim(buf, i: int, j: int) -> int:
    """buf[i:j] without the spaces and tabs at its ends, as a span i << 15 | j."""
    p = ptr8(buf)
    while i < j and (p[i] == 32 or p[i] == 9):
        i += 1
    while j > i and (p[j - 1] == 32 or p[j - 1] == 9):
        j -= 1
    return (i << 15) | j


@micropython.viper
def _hostport(buf, i: int, j: int) -> int:
    """hostport() on buf[i:j] in one pass, keeping nothing: 0 when valid, else the
    index of its reason in _HP_ERR (2: a '[', for the str grammar)."""
    p = ptr8(buf)
    t = ptr8(_CLASS)
    while i < j and (p[i] == 32 or p[i] == 9):
        i += 1
    while j > i and (p[j - 1] == 32 or p[j - 1] == 9):
        j -= 1
    if i == j:
        return 1
    if p[i] == 91:                      # '['
        return 2
    c = -1
    k = i
    while k < j:
        if p[k] == 58:                  # ':'
            if c >= 0:
                return 3
            c = k
        k += 1
    he = j if c < 0 else c
    k = i
    while k < he:
        if t[p[k]] & 2 == 0:            # _HOST
            return 4
        k += 1
    if he == i:
        return 1
    if c >= 0:
        k = c + 1
        if j - k < 1 or j - k > 5:
            return 5
        n = 0
        while k < j:
            d = p[k] - 48
            if d < 0 or d > 9:
                return 5
            n = n * 10 + d
            k += 1
        if n < 1 or n > 65535:
            return 5
    return 0


_HP_ERR = (None, "empty host", None, "IPv6 address without brackets", "bad host", "bad port")


def _hostport_fail(s, i, j, r):
    """What _hostport() found: the reason, or the str grammar for an IPv6 reference."""
    if r == 2:
        H.split_hostport(s[i:j].lstrip().rstrip().decode())
        return
    raise ValueError(_HP_ERR[r])


def check_uri_in(s, i, j):
    """check_uri over s[i:j]: sip: and sips: URIs are checked in place, anything else
    (other spellings of the scheme, tel:, IPv6, quotes) as a slice by check_uri."""
    r = _trim(s, i, j)
    i = r >> 15
    j = r & 0x7FFF
    if s.startswith(b"sip:", i):
        c = i + 4
    elif s.startswith(b"sips:", i):
        c = i + 5
    else:
        c = j + 1
    if c > j or s.find(b"[", c, j) >= 0 or s.find(b'"', c, j) >= 0:
        check_uri(s[i:j])
        return
    q = s.find(b"?", c, j)
    e = j if q < 0 else q
    at = s.rfind(b"@", c, e)
    if at >= 0:
        if at == c or s[c] == 58:       # "" or ":pw" before '@'
            raise ValueError("empty user in URI")
        c = at + 1
    semi = s.find(b";", c, e)
    j = e if semi < 0 else semi
    r = _hostport(s, c, j)
    if r:
        _hostport_fail(s, c, j, r)
    if semi >= 0:
        _param_in(s, semi, e, b"")      # names checked, nothing kept


def check_uri(s):
    """Validates like headers.parse_uri (same reasons); keeps nothing."""
    s = s.lstrip().rstrip()
    c = s.find(b":")
    scheme = s[:c] if c > 0 else b""
    if scheme != b"sip" and scheme != b"sips":
        scheme = scheme.lower()
        if scheme not in (b"sip", b"sips", b"tel"):
            raise ValueError("unsupported URI scheme")
    rest = s[c + 1:]
    if scheme == b"tel" or b"[" in rest or b'"' in rest:
        H.parse_uri(s.decode())
        return
    q = rest.find(b"?")
    if q >= 0:
        rest = rest[:q]
    at = rest.rfind(b"@")
    if at >= 0:
        if at == 0 or rest[0] == 58:    # "" or ":pw" before '@'
            raise ValueError("empty user in URI")
        rest = rest[at + 1:]
    semi = rest.find(b";")
    hostport(rest if semi < 0 else rest[:semi])
    if semi >= 0:
        params(rest[semi:], b"")        # names checked, nothing kept


def addr_tag(value):
    """Validates a name-addr/addr-spec like headers.parse_addr; returns its tag (str)
    or None."""
    t = addr_tag_b(value)
    return t.decode() if type(t) is bytes else t


def addr_tag_b(value):
    """addr_tag, the tag left as bytes (a str when the str grammar took over): the
    parser decodes a tag only when something reads it. Works on spans of value."""
    v = value.lstrip().rstrip()
    n = len(v)
    if v.startswith(b'"'):
        if v.find(b"\\") >= 0:          # escapes in the display name: the str grammar
            return H.parse_addr(v.decode())[2].get("tag")
        q = v.find(b'"', 1)
        if q < 0:
            raise ValueError("unterminated display name")
        lt = v.find(b"<", q)
        if lt < 0 or v[q + 1:lt].lstrip():
            raise ValueError("display name without <URI>")
    else:
        lt = v.find(b"<")
    if lt >= 0:
        gt = v.find(b">", lt)
        if gt < 0:
            raise ValueError("missing '>'")
        r = _trim(v, lt + 1, gt)
        us = r >> 15
        ue = r & 0x7FFF
        tag = _param_in(v, gt + 1, n, b"tag")
    else:
        semi = v.find(b";")
        us = 0
        ue = n if semi < 0 else semi      # not trimmed: "* ;tag=1" is not "*"
        tag = _param_in(v, semi, n, b"tag") if semi >= 0 else None
        if v.find(b",", 0, ue) >= 0 or v.find(b"?", 0, ue) >= 0:
            raise ValueError("addr-spec with reserved characters")
    if us == ue:
        raise ValueError("empty URI")
    if ue - us != 1 or v[us] != 42:       # "*"
        check_uri_in(v, us, ue)
    return tag


def _first_space(v):
    i = v.find(b" ")
    j = v.find(b"\t")
    if i < 0 or 0 <= j < i:
        i = j
    return len(v) if i < 0 else i


def parse_via(value, want=None):
    """headers.parse_via on bytes -> (transport, host, port, params), all str; with
    `want` (a parameter name, lower-case bytes) it only validates and returns that
    parameter's value."""
    v = value.lstrip().rstrip()
    sp = v.find(b" ")
    if sp < 0 or v.find(b"\t", 0, sp) >= 0:
        sp = _first_space(v)
    if want is not None and sp > 8 and v.startswith(b"SIP/2.0/") and v.find(b"/", 8, sp) < 0:
        # the usual form, checked in place: sent-by, then the parameters
        semi = v.find(b";", sp)
        j = len(v) if semi < 0 else semi
        r = _hostport(v, sp, j)
        if r:
            _hostport_fail(v, sp, j, r)
        if semi < 0:
            return None
        p = _param_in(v, semi, len(v), want)
        return p.decode() if type(p) is bytes else p
    parts = v[:sp].split(b"/")
    if len(parts) != 3 or parts[0].upper() != b"SIP" or parts[1] != b"2.0":
        via = H.parse_via(v.decode())      # "SIP / 2.0 / UDP" and other oddities
        return via[3].get(want.decode()) if want else via
    t = parts[2]
    sentby = v[sp:].lstrip().rstrip()
    semi = sentby.find(b";")
    host, port = hostport(sentby if semi < 0 else sentby[:semi])
    p = params(sentby[semi:], want) if semi >= 0 else ({} if want is None else None)
    if not t:
        raise ValueError("bad Via transport")
    if want:
        return p
    t = t.upper()
    return (_TRANSPORTS.get(t) or t.decode(), host if isinstance(host, str) else host.decode(),
            port, p)
