# SIP dialog state (RFC 3261 12): identifiers, CSeq numbers, remote target, route set.
from sip import headers as H
from sip.message import Message


class Dialog:
    """One dialog. local/remote: the From/To header values we send in it (with tags)."""

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

    @staticmethod
    def as_uac(req, resp):
        """From our INVITE and a 2xx/1xx with To tag; route set reversed (12.1.2)."""
        rr = resp.get_all("record-route")
        rr.reverse()
        return Dialog(req.call_id, req.get("from"), req.from_tag, resp.get("to"), resp.to_tag,
                      contact_uri(resp) or req.uri, rr, req.cseq_num)

    @staticmethod
    def as_uas(req, local_tag):
        """From an INVITE we answer; the route set in Record-Route order (12.1.1)."""
        to = req.get("to")
        if req.to_tag is None:
            to = to + ";tag=" + local_tag
        return Dialog(req.call_id, to, local_tag, req.get("from"), req.from_tag,
                      contact_uri(req), req.get_all("record-route"), 0, req.cseq_num)

    def update_target(self, msg):
        """A target-refresh request/response (re-INVITE, 2xx) may move the peer."""
        c = contact_uri(msg)
        if c:
            self.target = c

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
        if self.routes:
            u = H.parse_uri(H.parse_addr(self.routes[0])[1])
        else:
            u = H.parse_uri(self.target)
        return u.host, u.port or 5060


def contact_uri(msg):
    """The first Contact's URI text, or None."""
    cs = msg.get_all("contact")
    if not cs:
        return None
    try:
        return H.parse_addr(cs[0])[1]
    except ValueError:
        return None
