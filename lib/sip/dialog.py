# SIP dialog state (RFC 3261 12): identifiers, CSeq numbers, remote target, route set.
from sip import headers as H
from sip.message import Message


class Dialog:
    """One dialog. local/remote: the From/To header values we send in it (with tags).
    Built only from a checked route set and target (see check_route_set): next_hop()
    never raises. `peer` is the next hop's (ip, port), set by the user agent: in-dialog
    requests are accepted from there (or from a trusted address) only."""

    def __init__(self, call_id, local, local_tag, remote, remote_tag, target, routes, local_seq,
                 remote_seq=None):
        self.call_id = call_id
        self.local = local
        self.local_tag = local_tag
        self.remote = remote
        self.remote_tag = remote_tag
        self.target = target          # remote target URI (text) from Contact
        self.routes = routes          # route set, list of Route values, in order
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.hop = hop_of(routes, target)   # (host, port); raises ValueError
        self.peer = None

    @staticmethod
    def as_uac(req, resp):
        """From our INVITE and a 2xx/1xx with To tag; route set reversed (12.1.2).
        Raises ValueError for a bad Record-Route or Contact."""
        rr = check_route_set(resp)
        rr.reverse()
        return Dialog(req.call_id, req.get("from"), req.from_tag, resp.get("to"), resp.to_tag,
                      contact_uri(resp) or req.uri, rr, req.cseq_num)

    @staticmethod
    def as_uas(req, local_tag):
        """From an INVITE we answer; the route set in Record-Route order (12.1.1).
        Raises ValueError for a bad Record-Route or a missing/bad Contact."""
        rr = check_route_set(req)
        target = contact_uri(req)
        if target is None:
            raise ValueError("bad Contact")
        to = req.get("to")
        if req.to_tag is None:
            to = to + ";tag=" + local_tag
        return Dialog(req.call_id, to, local_tag, req.get("from"), req.from_tag,
                      target, rr, 0, req.cseq_num)

    def update_target(self, msg):
        """A target-refresh request/response (re-INVITE, 2xx) may move the peer: returns
        the new hop when it changed (the caller checks and sets `peer`), else None."""
        c = contact_uri(msg)
        if not c or c == self.target:
            return None
        hop = hop_of(self.routes, c)
        self.target = c
        if hop != self.hop:
            self.hop = hop
            return hop
        return None

    def request(self, method, cseq=None):
        """A new in-dialog request without Via (the caller adds it)."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        uri = self.target
        routes = self.routes
        if routes and "lr" not in H.parse_uri(H.parse_addr(routes[0])[1]).params:
            # strict router (RFC 3261 12.2.1.1): its URI becomes the Request-URI
            uri = H.parse_addr(routes[0])[1]
            routes = routes[1:] + ["<%s>" % self.target]
        msg = Message(method, uri)
        msg.add("max-forwards", "70")
        msg.add("from", self.local)
        msg.add("to", self.remote)
        msg.add("call-id", self.call_id)
        msg.add("cseq", "%d %s" % (cseq, method))
        for r in routes:
            msg.add("route", r)
        msg.cseq_num = cseq
        msg.cseq_method = method
        msg.call_id = self.call_id
        return msg

    def next_hop(self):
        """(host, port) the next in-dialog request goes to."""
        return self.hop


def _sip_uri(text):
    u = H.parse_uri(text)
    if u.scheme not in ("sip", "sips") or not u.host:
        raise ValueError("not a sip URI")
    return u


def hop_of(routes, target):
    """(host, port) of the first route, else of the target. Raises ValueError."""
    if routes:
        u = _sip_uri(H.parse_addr(routes[0])[1])
    else:
        u = _sip_uri(target)
    return u.host, u.port or 5060


def check_route_set(msg, limit=8):
    """The Record-Route values of msg, each a <sip:...> name-addr; raises ValueError
    ("bad Record-Route") otherwise or when there are more than `limit`."""
    rr = msg.get_all("record-route")
    if len(rr) > limit:
        raise ValueError("bad Record-Route")
    for v in rr:
        try:
            _, uri, _ = H.parse_addr(v)
            _sip_uri(uri)
        except ValueError:
            raise ValueError("bad Record-Route")
    return rr


def contact_uri(msg):
    """The first Contact's URI text when it is a sip/sips URI, or None."""
    cs = msg.get_all("contact")
    if not cs:
        return None
    try:
        uri = H.parse_addr(cs[0])[1]
        _sip_uri(uri)
        return uri
    except ValueError:
        return None
