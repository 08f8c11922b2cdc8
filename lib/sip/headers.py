# SIP header grammar: compact names, comma lists, parameters, URIs, name-addr and Via.
# Every parser raises ValueError with a short reason on input it cannot take;
# the message layer turns that into a 400 or a counted drop.

# Compact forms (RFC 3261 7.3.3 and extensions) -> full lower-case names.
COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
    "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
    "e": "content-encoding", "o": "event", "r": "refer-to", "u": "allow-events",
    "x": "session-expires", "b": "referred-by",
}

# Canonical spelling for the headers we write.
CANONICAL = {
    "via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
    "contact": "Contact", "content-length": "Content-Length", "content-type": "Content-Type",
    "max-forwards": "Max-Forwards", "www-authenticate": "WWW-Authenticate",
    "proxy-authenticate": "Proxy-Authenticate", "authorization": "Authorization",
    "proxy-authorization": "Proxy-Authorization", "record-route": "Record-Route",
    "route": "Route", "expires": "Expires", "min-expires": "Min-Expires",
    "user-agent": "User-Agent", "allow": "Allow", "supported": "Supported",
    "accept": "Accept", "server": "Server", "require": "Require",
    "unsupported": "Unsupported", "retry-after": "Retry-After",
}

# Headers whose values may be comma-separated lists (RFC 3261 7.3.1). The
# authentication headers are not: their commas separate parameters.
LIST_HEADERS = ("via", "contact", "route", "record-route", "allow", "supported",
                "require", "proxy-require", "unsupported", "accept", "allow-events",
                "accept-encoding", "accept-language", "content-encoding")

_TOKEN_EXTRA = "-.!%*_+`'~"


def _table(extra):
    t = bytearray(256)
    for c in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + extra:
        t[c] = 1
    return bytes(t)


# Loops below walk s.encode() (ints), never s itself: on MicroPython every character
# taken from a str is a new str, looked up among all interned names (~20 k x86
# instructions each with a firmware loaded). The special characters are ASCII, and no
# byte of a multi-byte UTF-8 character is ASCII, so bytes and characters split alike.
_TOKEN_CHARS = _table(b"-.!%*_+`'~")
_HOST_CHARS = _table(b"-._")
_HEX_CHARS = bytes(1 if c in b"0123456789abcdefABCDEF:." else 0 for c in range(256))


def canonical(name):
    c = CANONICAL.get(name)
    if c:
        return c
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def is_token(s):
    if not s:
        return False
    for c in s.encode():
        if not _TOKEN_CHARS[c]:
            return False
    return True


def full_name(name):
    """Lower-case full header name for `name` as written (compact or long)."""
    n = name.lower()
    return COMPACT.get(n, n)


def _split(s, sep, angles):
    """Split s on sep outside double quotes (and outside <...> when angles); every
    part is kept as it is, empty ones included."""
    if '"' not in s and (not angles or ("<" not in s and ">" not in s)):
        return s.split(sep)             # nothing to skip over: one C call
    b = s.encode()
    sp = ord(sep)
    out = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    n = len(b)
    while i < n:
        ch = b[i]
        if quoted:
            if ch == 92:                # backslash: the next one is escaped
                i += 1
            elif ch == 34:
                quoted = False
        elif ch == 34:
            quoted = True
        elif angles and ch == 60:
            depth += 1
        elif angles and ch == 62:
            depth -= 1
        elif ch == sp and depth == 0:
            out.append(b[start:i].decode())
            start = i + 1
        i += 1
    if quoted:
        raise ValueError("unterminated quote")
    out.append(b[start:].decode())
    return out


def split_commas(value):
    """Split a comma list, keeping commas inside quotes and <...> intact."""
    return [p for p in (part.strip() for part in _split(value, ",", True)) if p]


def _split_semis(s):
    """Split on ';' outside quotes."""
    return _split(s, ";", False)


def unquote(v):
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
        if "\\" in v:
            out = []
            i = 0
            while i < len(v):
                if v[i] == "\\" and i + 1 < len(v):
                    i += 1
                out.append(v[i])
                i += 1
            v = "".join(out)
    return v


def parse_params(s):
    """';a=1;b;c="x y"' (leading ';' optional) -> {'a': '1', 'b': None, 'c': 'x y'}."""
    params = {}
    for part in _split_semis(s):
        part = part.strip()
        if not part:
            continue
        k, eq, v = part.partition("=")
        k = k.strip().lower()
        if not is_token(k):
            raise ValueError("bad parameter name")
        params[k] = unquote(v.strip()) if eq else None
    return params


def format_params(params):
    out = []
    for k, v in params.items():
        out.append(";" + k if v is None else ";%s=%s" % (k, v))
    return "".join(out)


def split_hostport(s):
    """'host', 'host:port', '[v6]', '[v6]:port' -> (host, port or None)."""
    s = s.strip()
    if not s:
        raise ValueError("empty host")
    if s[0] == "[":
        end = s.find("]")
        if end < 0:
            raise ValueError("bad IPv6 reference")
        host = s[1:end]
        rest = s[end + 1:]
        if host.count(":") < 2:
            raise ValueError("bad IPv6 address")
        for c in host.encode():
            if not _HEX_CHARS[c]:
                raise ValueError("bad IPv6 address")
        if not rest:
            return host, None
        if rest[0] != ":":
            raise ValueError("bad host:port")
        return host, _port(rest[1:])
    if s.count(":") > 1:
        raise ValueError("IPv6 address without brackets")
    host, colon, port = s.partition(":")
    for c in host.encode():
        if not _HOST_CHARS[c]:
            raise ValueError("bad host")
    if not host:
        raise ValueError("empty host")
    return host, (_port(port) if colon else None)


def _port(p):
    if not p or not p.isdigit() or len(p) > 5:
        raise ValueError("bad port")
    v = int(p)
    if v < 1 or v > 65535:
        raise ValueError("bad port")
    return v


def format_host(host):
    return "[%s]" % host if ":" in host else host


class Uri:
    """sip:/sips:/tel: URI: scheme, user, host, port, params (dict), headers (str)."""
    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers")

    def __init__(self, scheme="sip", user=None, host="", port=None, params=None):
        self.scheme = scheme
        self.user = user
        self.password = None
        self.host = host
        self.port = port
        self.params = params if params is not None else {}
        self.headers = ""

    def __str__(self):
        s = self.scheme + ":"
        if self.user is not None:
            s += self.user
            if self.password is not None:
                s += ":" + self.password
            s += "@"
        s += format_host(self.host)
        if self.port:
            s += ":%d" % self.port
        s += format_params(self.params)
        if self.headers:
            s += "?" + self.headers
        return s


def parse_uri(s):
    s = s.strip()
    scheme, colon, rest = s.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips", "tel"):
        raise ValueError("unsupported URI scheme")
    u = Uri(scheme)
    rest, q, u.headers = rest.partition("?")
    if scheme == "tel":
        parts = _split_semis(rest)
        u.user = parts[0]
        u.host = ""
        u.params = parse_params(";".join(parts[1:]))
        return u
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        rest = rest[at + 1:]
        user, c, pw = userinfo.partition(":")
        if not user:
            raise ValueError("empty user in URI")
        u.user = user
        if c:
            u.password = pw
    semi = rest.find(";")
    hostport = rest if semi < 0 else rest[:semi]
    u.host, u.port = split_hostport(hostport)
    if semi >= 0:
        u.params = parse_params(rest[semi:])
    return u


def parse_addr(value):
    """name-addr / addr-spec with header params -> (display, uri_text, params)."""
    v = value.strip()
    display = ""
    lt = -1
    if v.startswith('"'):
        b = v.encode()
        i = 1
        while i < len(b):
            if b[i] == 92:              # backslash
                i += 2
                continue
            if b[i] == 34:              # the closing quote
                break
            i += 1
        else:
            raise ValueError("unterminated display name")
        display = unquote(b[:i + 1].decode())
        v = b[i + 1:].decode().lstrip()
        if not v.startswith("<"):
            raise ValueError("display name without <URI>")
        lt = 0
    else:
        lt = v.find("<")
        if lt > 0:
            display = v[:lt].strip()
    if lt >= 0:
        gt = v.find(">", lt)
        if gt < 0:
            raise ValueError("missing '>'")
        uri = v[lt + 1:gt].strip()
        params = parse_params(v[gt + 1:])
    else:
        # addr-spec: parameters after the URI belong to the header (RFC 3261 20.10)
        semi = v.find(";")
        uri = v if semi < 0 else v[:semi]
        params = parse_params(v[semi:]) if semi >= 0 else {}
        if "," in uri or "?" in uri:
            raise ValueError("addr-spec with reserved characters")
    if not uri:
        raise ValueError("empty URI")
    if uri != "*":
        parse_uri(uri)   # validates; callers parse again when they need fields
    return display, uri, params


def parse_via(value):
    """'SIP/2.0/UDP host:port;branch=..' -> (transport, host, port, params)."""
    v = value.strip()
    sp = 0
    while sp < len(v) and not v[sp].isspace():
        sp += 1
    proto = v[:sp].replace(" ", "")
    parts = proto.split("/")
    if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0":
        # tolerate "SIP / 2.0 / UDP" with spaces (RFC 3261 allows LWS around '/')
        compact = v.replace(" ", "").replace("\t", "")
        if not compact.upper().startswith("SIP/2.0/"):
            raise ValueError("bad Via protocol")
        rest = compact[8:]
        i = 0
        while i < len(rest) and rest[i].isalpha():
            i += 1
        transport = rest[:i].upper()
        sentby = rest[i:]
    else:
        transport = parts[2].upper()
        sentby = v[sp:].strip()
    semi = sentby.find(";")
    hostport = sentby if semi < 0 else sentby[:semi]
    host, port = split_hostport(hostport)
    params = parse_params(sentby[semi:]) if semi >= 0 else {}
    if not transport:
        raise ValueError("bad Via transport")
    return transport, host, port, params


def parse_cseq(value):
    num, _, method = value.strip().partition(" ")
    method = method.strip()
    if not num.isdigit() or len(num) > 10 or not is_token(method):
        raise ValueError("bad CSeq")
    n = int(num)
    if n >= 1 << 31:
        raise ValueError("CSeq out of range")
    return n, method
