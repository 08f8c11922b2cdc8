# SDP offer/answer for one audio stream (RFC 4566 / RFC 3264): PCMU, PCMA, telephone-event.

_STATIC = {0: ("PCMU", 8000), 8: ("PCMA", 8000), 3: ("GSM", 8000), 4: ("G723", 8000),
           9: ("G722", 8000), 18: ("G729", 8000), 13: ("CN", 8000)}
_STATIC_PT = {"PCMU": 0, "PCMA": 8}
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSE = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
            "inactive": "inactive"}


class Sdp:
    """The parts of a session description that a G.711 phone needs."""

    def __init__(self):
        self.ip = None
        self.port = 0
        self.payloads = []
        self.rtpmap = {}
        self.direction = "sendrecv"
        self.ptime = 20
        self.dtmf_pt = None
        self.session_id = ""
        self.version = 0

    def codec(self, pt):
        return self.rtpmap.get(pt, (None, 0))[0]


_MAX_PAYLOADS = 32


def _ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return None
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or int(p) > 255:
            return None
    return text


def _ipline(ip):
    return ("IP6 " if ":" in ip else "IP4 ") + ip


def offer(ip, port, session_id, codecs=("PCMU", "PCMA"), dtmf_pt=101, direction="sendrecv",
          version=1):
    """SDP text offering `codecs` (by name) plus telephone-event on `dtmf_pt`."""
    pts = [_STATIC_PT[c.upper()] for c in codecs if c.upper() in _STATIC_PT]
    if dtmf_pt is not None:
        pts.append(dtmf_pt)
    lines = ["v=0", "o=- %s %d IN %s" % (session_id, version, _ipline(ip)), "s=-",
             "c=IN " + _ipline(ip), "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(str(p) for p in pts))]
    for pt in pts:
        if pt == dtmf_pt:
            lines.append("a=rtpmap:%d telephone-event/8000" % pt)
            lines.append("a=fmtp:%d 0-15" % pt)
        else:
            lines.append("a=rtpmap:%d %s/%d" % (pt, _STATIC[pt][0], _STATIC[pt][1]))
    lines.append("a=ptime:20")
    lines.append("a=" + direction)
    return "\r\n".join(lines) + "\r\n"


def parse(text):
    """SDP text -> Sdp (first audio stream). Raises ValueError with a reason."""
    s = Sdp()
    sess_dir = None
    media_dir = None
    in_audio = False
    seen_audio = False
    sess_ip = None
    media_ip = None
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if len(line) < 2 or line[1] != "=":
            if line.strip():
                raise ValueError("bad SDP line")
            continue
        t, v = line[0], line[2:]
        if t == "m":
            if seen_audio:
                in_audio = False
                continue
            f = v.split()
            if len(f) < 4:
                raise ValueError("bad m= line")
            if f[0] != "audio":
                in_audio = False
                continue
            port = f[1].split("/")[0]
            if not port.isdigit() or len(port) > 5 or int(port) > 65535:
                raise ValueError("bad media port")
            s.port = int(port)
            if len(f) > 3 + _MAX_PAYLOADS:
                raise ValueError("too many payload types")
            for p in f[3:]:
                if not p.isdigit() or len(p) > 3 or int(p) > 127:
                    raise ValueError("bad payload type")
            s.payloads = [int(p) for p in f[3:]]
            in_audio = True
            seen_audio = True
        elif t == "o":
            f = v.split()
            if len(f) >= 3:
                s.session_id = f[1]
                s.version = int(f[2]) if f[2].isdigit() and len(f[2]) < 20 else 0
        elif t == "c":
            f = v.split()
            if len(f) < 3 or f[0] != "IN" or f[1] != "IP4":
                raise ValueError("c= must be IN IP4")
            ip = f[2].split("/")[0]
            if _ipv4(ip) is None:
                # a host name would need DNS on the event loop: refused
                raise ValueError("c= must be a numeric IPv4 address")
            if seen_audio:
                if in_audio:
                    media_ip = ip
            else:
                sess_ip = ip
        elif t == "a" and (in_audio or not seen_audio):
            name, _, val = v.partition(":")
            if name in _DIRECTIONS:
                if in_audio:
                    media_dir = name
                else:
                    sess_dir = name
            elif name == "rtpmap" and in_audio:
                pt, _, enc = val.partition(" ")
                parts = enc.split("/")
                if (pt.isdigit() and len(pt) <= 3 and len(parts) >= 2 and parts[1].isdigit()
                        and len(parts[1]) <= 6):
                    s.rtpmap[int(pt)] = (parts[0], int(parts[1]))
            elif name == "ptime" and val.strip().isdigit() and len(val.strip()) <= 3:
                s.ptime = int(val.strip())
    if not seen_audio:
        raise ValueError("no audio stream")
    s.ip = media_ip or sess_ip
    if s.ip is None:
        raise ValueError("no connection address")
    for pt in s.payloads:
        if pt not in s.rtpmap and pt in _STATIC:
            s.rtpmap[pt] = _STATIC[pt]
        name = s.rtpmap.get(pt, ("", 0))[0]
        if name.lower() == "telephone-event" and s.dtmf_pt is None:
            s.dtmf_pt = pt
    s.direction = media_dir or sess_dir or "sendrecv"
    return s


def answer(offer_sdp, ip, port, codecs=("PCMU", "PCMA"), direction=None, session_id=None,
           version=1):
    """Answer an offer (Sdp object): (text, pt, dtmf_pt), or None when no codec matches."""
    if offer_sdp.port == 0:
        return None
    want = [c.upper() for c in codecs]
    pt = None
    for p in offer_sdp.payloads:
        name = offer_sdp.codec(p)
        if name and name.upper() in want and offer_sdp.rtpmap[p][1] == 8000:
            pt = p
            break
    if pt is None:
        return None
    dtmf = offer_sdp.dtmf_pt
    mine = direction or "sendrecv"
    theirs = _REVERSE.get(offer_sdp.direction, "sendrecv")
    d = _combine(mine, theirs)
    pts = [pt] + ([dtmf] if dtmf is not None else [])
    name = offer_sdp.rtpmap[pt][0]
    lines = ["v=0", "o=- %s %d IN %s" % (session_id or _sid(), version, _ipline(ip)), "s=-",
             "c=IN " + _ipline(ip), "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(str(p) for p in pts)),
             "a=rtpmap:%d %s/8000" % (pt, name)]
    if dtmf is not None:
        lines.append("a=rtpmap:%d telephone-event/8000" % dtmf)
        lines.append("a=fmtp:%d 0-15" % dtmf)
    lines.append("a=ptime:20")
    lines.append("a=" + d)
    return "\r\n".join(lines) + "\r\n", pt, dtmf


def _combine(a, b):
    """Intersection of two directions (what both allow)."""
    send = a in ("sendrecv", "sendonly") and b in ("sendrecv", "sendonly")
    recv = a in ("sendrecv", "recvonly") and b in ("sendrecv", "recvonly")
    if send and recv:
        return "sendrecv"
    if send:
        return "sendonly"
    if recv:
        return "recvonly"
    return "inactive"


def _sid():
    import time
    return str(int(time.time()) & 0x3FFFFFFF)


def with_direction(text, direction):
    """The same SDP with its direction attribute(s) replaced by `direction`."""
    out = []
    added = False
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line:
            continue
        if line[:2] == "a=" and line[2:] in _DIRECTIONS:
            if not added:
                out.append("a=" + direction)
                added = True
            continue
        out.append(line)
    if not added:
        out.append("a=" + direction)
    return "\r\n".join(out) + "\r\n"


def set_version(text, version):
    """The same SDP with the o= session version set to `version`."""
    out = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line:
            continue
        if line[:2] == "o=":
            f = line[2:].split(" ")
            if len(f) >= 6:
                f[2] = str(version)
                line = "o=" + " ".join(f)
        out.append(line)
    return "\r\n".join(out) + "\r\n"
