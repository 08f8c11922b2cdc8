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

# scan() flags
CTRL = const(1)        # a control character (not CR, LF, HT) in the head
BARE_CR = const(2)     # a CR not followed by LF inside the head
BARE_LF = const(4)     # an LF without its CR (the lenient line ending)
NON_ASCII = const(8)   # a byte >= 0x80 anywhere (then strict UTF-8 is checked)

_TOKEN = const(1)      # char-class bits in _CLASS
_HOST = const(2)


def _classes():
    t = bytearray(256)
    for c in range(48, 58):
        t[c] = _TOKEN | _HOST
    for c in range(65, 91):
        t[c] = _TOKEN | _HOST
        t[c + 32] = _TOKEN | _HOST
    for ch in b"-.!%*_+`'~":
        t[ch] |= _TOKEN
    for ch in b"-._":
        t[ch] |= _HOST
    return bytes(t)


_CLASS = _classes()


@micropython.viper
def scan(buf, n: int) -> int:
    """One pass over buf[:n] instead of a str per character: the end of the head (the
    first CRLFCRLF or, leniently, LFLF) and what the head holds. Returns
    end * 16 + flags, or -1 when the head has no end."""
    p = ptr8(buf)
    flags = 0
    end = -1
    i = 0
    while i < n:
        b = p[i]
        if b < 32:
            if b == 10:
                if i + 1 < n and p[i + 1] == 10:
                    end = i
                    break
                if i == 0 or p[i - 1] != 13:
                    flags |= BARE_LF
            elif b == 13:
                if i + 1 < n and p[i + 1] == 10:
                    if i + 3 < n and p[i + 2] == 13 and p[i + 3] == 10:
                        end = i
                        break
                elif not (i + 4 < n and p[i + 1] == 13 and p[i + 2] == 10 and p[i + 3] == 13
                          and p[i + 4] == 10):
                    # not followed by LF, and not the head's last byte (which ends its
                    # last line, as before "\n\n" above)
                    flags |= BARE_CR
            elif b != 9:
                flags |= CTRL
        elif b > 127:
            flags |= NON_ASCII
        i += 1
    if end < 0:
        return -1
    while i < n:
        if p[i] > 127:
            flags |= NON_ASCII
            break
        i += 1
    return (end << 4) | flags


@micropython.viper
def _all_in(buf, mask: int) -> int:
    p = ptr8(buf)
    t = ptr8(_CLASS)
    n = int(len(buf))
    i = 0
    while i < n:
        if t[p[i]] & mask == 0:
            return 0
        i += 1
    return 1


def is_token(b):
    return len(b) > 0 and _all_in(b, _TOKEN) == 1


# bytes.strip() tests every byte of the value against the whitespace set (O(n));
# lstrip().rstrip() stops at the first byte that is not whitespace, so it is used here.

# Header names we expect, as written -> the lower-case full name (compact forms too).
# A name not here is lower-cased and looked up again, and only then decoded.
_KNOWN = ("via", "from", "to", "call-id", "cseq", "contact", "content-length",
          "content-type", "max-forwards", "www-authenticate", "proxy-authenticate",
          "authorization", "proxy-authorization", "record-route", "route", "expires",
          "min-expires", "user-agent", "allow", "supported", "accept", "server", "require",
          "unsupported", "retry-after", "allow-events", "event", "subject", "date",
          "session-expires", "min-se", "p-asserted-identity", "remote-party-id", "privacy",
          "content-disposition", "accept-language", "accept-encoding", "alert-info",
          "call-info", "organization", "refer-to", "referred-by", "rseq", "rack",
          "content-encoding", "proxy-require", "timestamp", "warning")


def _names():
    d = {}
    for n in _KNOWN:
        d[n.encode()] = n
        d[H.canonical(n).encode()] = n
    for c, n in H.COMPACT.items():
        d[c.encode()] = n
        d[c.upper().encode()] = n
    d[b"Call-Id"] = "call-id"
    d[b"Cseq"] = "cseq"
    return d


_NAMES = _names()
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
_TRANSPORTS = {b"UDP": "UDP", b"TCP": "TCP", b"TLS": "TLS", b"SCTP": "SCTP", b"WS": "WS",
               b"WSS": "WSS"}


def header_name(name):
    """The bytes before ':' -> lower-case full name (str), or None when not a token."""
    key = _NAMES.get(name)
    if key is not None:
        return key
    name = name.rstrip(b" \t").lower()
    key = _NAMES.get(name)
    if key is not None:
        return key
    if not is_token(name):
        return None
    return H.full_name(name.decode())


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
    num, _, m = value.partition(b" ")     # value: stored stripped
    m = m.lstrip().rstrip()
    if not num.isdigit() or len(num) > 10:
        raise ValueError("bad CSeq")
    m = METHODS.get(m) or (m.decode() if is_token(m) else None)
    if m is None:
        raise ValueError("bad CSeq")
    n = int(num)
    if n >= 1 << 31:
        raise ValueError("CSeq out of range")
    return n, m


def params(s, want=None):
    """headers.parse_params on bytes. With `want` (a str name) only that value is
    decoded (every name is still checked); returns the dict, or the wanted value."""
    if b'"' in s:
        d = H.parse_params(s.decode())
        return d.get(want) if want else d
    out = {}
    got = None
    for part in s.split(b";"):
        part = part.lstrip().rstrip()
        if not part:
            continue
        k, eq, v = part.partition(b"=")
        k = k.lstrip().rstrip().lower()
        name = _PARAMS.get(k)
        if name is None:
            if not is_token(k):
                raise ValueError("bad parameter name")
            name = k.decode()
        if want is None:
            out[name] = v.lstrip().rstrip().decode() if eq else None
        elif name == want:
            got = v.lstrip().rstrip().decode() if eq else None
    return out if want is None else got


def _port(p):
    if not p or not p.isdigit() or len(p) > 5:
        raise ValueError("bad port")
    v = int(p)
    if v < 1 or v > 65535:
        raise ValueError("bad port")
    return v


def hostport(s):
    """headers.split_hostport on bytes -> (host bytes or str, port or None)."""
    s = s.lstrip().rstrip()
    if not s:
        raise ValueError("empty host")
    if s[0] == 91:                      # '[': an IPv6 reference, rare: the str grammar
        return H.split_hostport(s.decode())
    if s.count(b":") > 1:
        raise ValueError("IPv6 address without brackets")
    host, colon, port = s.partition(b":")
    if _all_in(host, _HOST) == 0:
        raise ValueError("bad host")
    if not host:
        raise ValueError("empty host")
    return host, (_port(port) if colon else None)


def check_uri(s):
    """Validates like headers.parse_uri (same reasons); keeps nothing."""
    s = s.lstrip().rstrip()
    scheme, colon, rest = s.partition(b":")
    scheme = scheme.lower()
    if not colon or scheme not in (b"sip", b"sips", b"tel"):
        raise ValueError("unsupported URI scheme")
    if scheme == b"tel" or b"[" in rest or b'"' in rest:
        H.parse_uri(s.decode())
        return
    rest = rest.partition(b"?")[0]
    at = rest.rfind(b"@")
    if at >= 0:
        if at == 0 or rest[0] == 58:    # "" or ":pw" before '@'
            raise ValueError("empty user in URI")
        rest = rest[at + 1:]
    semi = rest.find(b";")
    hostport(rest if semi < 0 else rest[:semi])
    if semi >= 0:
        params(rest[semi:])


def addr_tag(value):
    """Validates a name-addr/addr-spec like headers.parse_addr; returns its tag (str)
    or None. value: a stored (stripped) header value."""
    v = value
    if v[:1] == b'"':
        return H.parse_addr(v.decode())[2].get("tag")
    lt = v.find(b"<")
    if lt >= 0:
        gt = v.find(b">", lt)
        if gt < 0:
            raise ValueError("missing '>'")
        uri = v[lt + 1:gt].lstrip().rstrip()
        tag = params(v[gt + 1:], "tag")
    else:
        semi = v.find(b";")
        uri = v if semi < 0 else v[:semi]
        tag = params(v[semi:], "tag") if semi >= 0 else None
        if b"," in uri or b"?" in uri:
            raise ValueError("addr-spec with reserved characters")
    if not uri:
        raise ValueError("empty URI")
    if uri != b"*":
        check_uri(uri)
    return tag


def _first_space(v):
    i = v.find(b" ")
    j = v.find(b"\t")
    if i < 0 or 0 <= j < i:
        i = j
    return len(v) if i < 0 else i


def parse_via(value):
    """headers.parse_via on bytes -> (transport, host, port, params), all str.
    value: a stored (stripped) header value."""
    v = value
    sp = _first_space(v)
    parts = v[:sp].split(b"/")
    if len(parts) != 3 or parts[0].upper() != b"SIP" or parts[1] != b"2.0":
        return H.parse_via(v.decode())     # "SIP / 2.0 / UDP" and other oddities
    t = parts[2].upper()
    transport = _TRANSPORTS.get(t) or t.decode()
    sentby = v[sp:].lstrip().rstrip()
    semi = sentby.find(b";")
    host, port = hostport(sentby if semi < 0 else sentby[:semi])
    p = params(sentby[semi:]) if semi >= 0 else {}
    if not transport:
        raise ValueError("bad Via transport")
    return transport, (host if isinstance(host, str) else host.decode()), port, p
