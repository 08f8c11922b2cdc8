# Message waiting (RFC 3842): the application/simple-message-summary body of a NOTIFY
# with Event: message-summary, e.g.
#
#   Messages-Waiting: yes
#   Message-Account: sip:1001@pbx.example
#   Voice-Message: 2/8 (0/2)
#
# parse() gives (waiting, voice) or raises ValueError with the reason (the UA answers
# 400 with it and keeps the state it had). Imported only when a NOTIFY arrives.

CONTENT_TYPE = "application/simple-message-summary"
EVENT = "message-summary"
# RFC 3842 section 5.2 message-context-class values (RFC 3458); a summary line of any
# other name is an extension header and is ignored, as the grammar allows
_CLASSES = ("voice-message", "fax-message", "pager-message", "multimedia-message",
            "text-message", "none")


def _count(text, what):
    text = text.strip()
    if not text.isdigit() or len(text) > 9:
        raise ValueError("%s: count %r is not a number" % (what, text))
    return int(text)


def _summary(name, value):
    """'n/m' or 'n/m (u/v)' -> (new, old, urgent new, urgent old)."""
    urgent = (0, 0)
    head, paren, rest = value.partition("(")
    if paren:
        rest = rest.strip()
        if not rest.endswith(")"):
            raise ValueError("%s: no ')' after the urgent counts" % name)
        u = rest[:-1].split("/")
        if len(u) != 2:
            raise ValueError("%s: urgent counts are new/old" % name)
        urgent = (_count(u[0], name), _count(u[1], name))
    n = head.split("/")
    if len(n) != 2:
        raise ValueError("%s: counts are new/old, got %r" % (name, value.strip()))
    return (_count(n[0], name), _count(n[1], name)) + urgent


def parse(body):
    """(waiting, voice) of a message-summary body: waiting True/False, voice the
    Voice-Message counts (new, old, urgent new, urgent old) or None. Raises ValueError
    (the reason) when Messages-Waiting is missing or not yes/no, or a summary line
    of a known class is not n/m [(u/v)]."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body).decode()
    waiting = None
    voice = None
    for raw in body.split("\n"):
        line = raw.strip()
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError("line without ':': %r" % line[:40])
        name = name.strip().lower()
        if name == "messages-waiting":
            v = value.strip().lower()
            if v not in ("yes", "no"):
                raise ValueError("Messages-Waiting must be yes or no, got %r" % v[:20])
            waiting = v == "yes"
        elif name in _CLASSES:
            counts = _summary(name, value)
            if name == "voice-message":
                voice = counts
    if waiting is None:
        raise ValueError("no Messages-Waiting line")
    return waiting, voice


def event_ok(value):
    """True when an Event header names the message-summary package (parameters after
    ';' such as id= are allowed; the package name is case-sensitive as tokens compare,
    RFC 6665 section 8.2.1, but PBXs differ in case: compared without it)."""
    return (value or "").split(";")[0].strip().lower() == EVENT
