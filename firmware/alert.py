# Distinctive ringing from an INVITE's Alert-Info (RFC 3261 20.4), mapped to the
# country's ring cadences. PBXs name the pattern in one of these ways:
#
#   Alert-Info: <http://127.0.0.1/Bellcore-dr2>        (Asterisk, FreePBX, Broadsoft)
#   Alert-Info: <http://www.notused.com>;info=alert-internal   (Polycom style)
#   Alert-Info: info=Bellcore-dr3                        (bare, no URI)
#
# The tokens looked at are every info= parameter value, the last path segment of each
# URI, and a bare value, all lower case. Imported only for an INVITE with Alert-Info.

# token -> pattern, the built-in map (line.ring_map entries come first):
# Bellcore-drN / Bellcore-rN / drN / rN / ringN are GR-506 pattern N; Polycom's
# alert-internal rings like dr2 (long-long), alert-external as the normal ring
_BUILTIN = (("alert-internal", "dr2"), ("alert-external", "dr1"))
PATTERNS = ("dr1", "dr2", "dr3", "dr4", "dr5")


def tokens(value):
    """The pattern names an Alert-Info header value may carry, lower case, in order."""
    out = []
    for part in (value or "").split(","):
        part = part.strip()
        if part.startswith("<"):
            uri, _, params = part[1:].partition(">")
            seg = uri.rstrip("/").rpartition("/")[2]
            if seg and ":" not in seg:
                out.append(seg.lower())
        else:
            params = ";" + part
        for p in params.split(";"):
            k, eq, v = p.strip().partition("=")
            if eq and k.strip().lower() == "info":
                out.append(v.strip().strip('"').lower())
            elif not eq and k.strip() and not part.startswith("<"):
                out.append(k.strip().lower())
    return out


def _numbered(token):
    """'bellcore-dr2', 'bellcore-r2', 'dr2', 'r2', 'ring2' -> 'dr2' (1..5), else None."""
    t = token
    if t.startswith("bellcore-"):
        t = t[9:]
    for prefix in ("dr", "ring", "r"):
        if t.startswith(prefix):
            n = t[len(prefix):]
            if len(n) == 1 and "1" <= n <= "5":
                return "dr" + n
    return None


def parse_map(text):
    """line.ring_map 'token:pattern,...' -> ((token, pattern), ...); a pattern is dr1..dr5
    or a cadence in ms 'on/off/on/off...'. Raises ValueError with the reason."""
    out = []
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        token, colon, pattern = entry.partition(":")
        token = token.strip().lower()
        pattern = pattern.strip().lower()
        if not colon or not token:
            raise ValueError("entry %r is not token:pattern" % entry)
        if pattern not in PATTERNS:
            ms = pattern.split("/")
            if len(ms) % 2 or not all(m.isdigit() and 0 < int(m) <= 10000 for m in ms):
                raise ValueError("pattern %r: dr1..dr5 or on/off pairs in ms (1..10000)"
                                 % pattern)
        out.append((token, pattern))
    return tuple(out)


def cadence(value, code, plan, ring_map=()):
    """The ring cadence (ms on, off, ...) for an Alert-Info value in country `code`
    (its plan dict `plan`): the first token the line's ring_map or the built-in names
    knows; the plan's own cadence for a pattern the country has no figures for, and
    for anything unknown."""
    for token in tokens(value):
        pattern = None
        for k, p in ring_map:
            if k == token:
                pattern = p
                break
        if pattern is None:
            pattern = _numbered(token)
        if pattern is None:
            for k, p in _BUILTIN:
                if k == token:
                    pattern = p
                    break
        if pattern is None:
            continue
        if pattern == "dr1":
            return plan["ring_cadence"]
        if pattern in PATTERNS:
            import country
            return country.field(code, pattern) or plan["ring_cadence"]
        return tuple(int(m) for m in pattern.split("/"))
    return plan["ring_cadence"]
