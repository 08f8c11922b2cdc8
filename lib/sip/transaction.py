# SIP transactions over UDP (RFC 3261 17, RFC 6026): client and server, INVITE and
# non-INVITE, timers A-K. Stepped by tick(now_ms) from the user agent's timer task.
import time

from micropython import const

from sip.message import Message

T1 = const(500)      # ms, RTT estimate
T2 = const(4000)     # ms, cap of non-INVITE retransmission interval
T4 = const(5000)     # ms, how long the network may hold a message
PROCEEDING_MAX = const(300000)   # ms: give up an INVITE that rings this long (no final)

_CALLING = const(0)      # INVITE sent / non-INVITE "trying"
_PROCEEDING = const(1)
_COMPLETED = const(2)
_ACCEPTED = const(3)     # RFC 6026: 2xx seen (client) / sent (server)
_CONFIRMED = const(4)
_TERMINATED = const(5)


def _due(now, t):
    return t is not None and time.ticks_diff(now, t) >= 0


class ClientTx:
    """One request we sent; on_response(tx, msg) for each response passed up,
    on_timeout(tx) when timer B/F fires."""

    def __init__(self, layer, req, addr, on_response, on_timeout, timeout_ms):
        self.layer = layer
        self.req = req
        self.addr = addr
        self.data = req.encode()
        self.invite = req.method == "INVITE"
        self.key = req.branch + "|" + req.method
        self.state = _CALLING
        self.on_response = on_response
        self.on_timeout = on_timeout
        now = time.ticks_ms()
        self.interval = T1
        self.retx_at = time.ticks_add(now, T1)
        self.dead_at = time.ticks_add(now, timeout_ms or 64 * T1)
        self.end_at = None
        self.ack = None
        self.final = 0

    def send(self):
        self.layer.send(self.data, self.addr)

    def receive(self, msg):
        st = msg.status
        now = time.ticks_ms()
        if self.state in (_COMPLETED, _TERMINATED):
            if self.invite and self.ack is not None and st >= 300:
                self.layer.send(self.ack, self.addr)   # absorb: re-ACK, not passed up
            elif self.invite and st < 300 and st >= 200:
                self._up(msg)
            return
        if st < 200:
            if self.state == _CALLING:
                self.state = _PROCEEDING
                if self.invite:
                    self.retx_at = None
                    self.dead_at = time.ticks_add(now, PROCEEDING_MAX)
                else:
                    self.interval = T2
            if self.state != _ACCEPTED:
                self._up(msg)
            return
        if self.state == _ACCEPTED:
            if st < 300:
                self._up(msg)   # 2xx retransmission: the dialog re-ACKs
            return
        self.final = st
        self.retx_at = None
        self.dead_at = None
        if self.invite:
            if st < 300:
                self.state = _ACCEPTED
                self.end_at = time.ticks_add(now, 64 * T1)
            else:
                self.ack = _ack_for(self.req, msg).encode()
                self.layer.send(self.ack, self.addr)
                self.state = _COMPLETED
                self.end_at = time.ticks_add(now, 32000)   # timer D
        else:
            self.state = _COMPLETED
            self.end_at = time.ticks_add(now, T4)          # timer K
        self._up(msg)

    def _up(self, msg):
        if self.on_response:
            self.on_response(self, msg)

    def tick(self, now):
        if self.end_at is not None and _due(now, self.end_at):
            self.state = _TERMINATED
            return False
        if _due(now, self.dead_at):
            self.state = _TERMINATED
            if self.on_timeout:
                self.on_timeout(self)
            return False
        if _due(now, self.retx_at):
            self.send()
            if self.invite:
                self.interval *= 2                          # timer A
            else:
                self.interval = min(self.interval * 2, T2)  # timer E
            self.retx_at = time.ticks_add(now, self.interval)
        return True


def _ack_for(req, resp):
    """ACK for a non-2xx final response: same branch, To from the response."""
    ack = Message("ACK", req.uri)
    ack.add("via", req.get("via"))
    ack.add("max-forwards", "70")
    ack.add("from", req.get("from"))
    ack.add("to", resp.get("to"))
    ack.add("call-id", req.call_id)
    ack.add("cseq", "%d ACK" % req.cseq_num)
    for r in req.get_all("route"):
        ack.add("route", r)
    return ack


class ServerTx:
    """One request we received; respond() sends and remembers the last response."""

    def __init__(self, layer, req, addr, key):
        self.layer = layer
        self.req = req
        self.addr = addr
        self.key = key
        self.invite = req.method == "INVITE"
        self.state = _PROCEEDING
        self.last = None
        self.status = 0
        self.retx_at = None
        self.dead_at = None
        self.end_at = None
        self.interval = T1
        self.on_ack = None         # fn(tx, ack_msg): ACK for our final response
        self.on_no_ack = None      # fn(tx): timer H fired
        self.cancelled = False

    def respond(self, resp):
        if self.state in (_COMPLETED, _CONFIRMED, _TERMINATED, _ACCEPTED) and resp.status >= 200:
            return False
        self.last = resp.encode()
        self.status = resp.status
        self.layer.send(self.last, self.addr)
        if resp.status < 200:
            return True
        now = time.ticks_ms()
        if self.invite:
            # non-2xx: timers G/H (RFC 3261); 2xx: the same retransmission until the
            # dialog sees the ACK (RFC 3261 13.3.1.4), in the "accepted" state of RFC 6026
            self.state = _ACCEPTED if resp.status < 300 else _COMPLETED
            self.retx_at = time.ticks_add(now, T1)
            self.dead_at = time.ticks_add(now, 64 * T1)
        else:
            self.state = _COMPLETED
            self.end_at = time.ticks_add(now, 64 * T1)     # timer J
        return True

    def retransmitted(self):
        """The same request came again: repeat our last response (absorb)."""
        if self.last is not None:
            self.layer.send(self.last, self.addr)

    def ack_received(self, ack=None):
        if self.state in (_COMPLETED, _ACCEPTED):
            self.state = _CONFIRMED
            self.retx_at = None
            self.dead_at = None
            self.end_at = time.ticks_add(time.ticks_ms(), T4)   # timer I
            if self.on_ack:
                self.on_ack(self, ack)

    def tick(self, now):
        if self.end_at is not None and _due(now, self.end_at):
            self.state = _TERMINATED
            return False
        if _due(now, self.dead_at):                           # timer H
            self.state = _TERMINATED
            if self.on_no_ack:
                self.on_no_ack(self)
            return False
        if _due(now, self.retx_at):                           # timer G
            self.layer.send(self.last, self.addr)
            self.interval = min(self.interval * 2, T2)
            self.retx_at = time.ticks_add(now, self.interval)
        return True


def server_key(msg, method=None):
    """Match key of a request's server transaction (ACK and CANCEL look up their INVITE
    when `method` is "INVITE")."""
    method = method or ("INVITE" if msg.method == "ACK" else msg.method)
    via = msg.via
    sent_by = "%s:%s" % (via[1], via[2] or 5060)
    branch = msg.branch
    if not branch.startswith("z9hG4bK"):
        # RFC 2543 peer: fall back to the dialog identifiers
        branch = "%s/%s/%d" % (msg.call_id, msg.from_tag, msg.cseq_num)
    return branch + "|" + sent_by + "|" + method


class TxLayer:
    """All live transactions. send(data, addr) puts bytes on the wire."""

    def __init__(self, send, limit=64):
        self.send = send
        self.client = {}
        self.server = {}
        self.limit = limit

    def request(self, req, addr, on_response=None, on_timeout=None, timeout_ms=None):
        tx = ClientTx(self, req, addr, on_response, on_timeout, timeout_ms)
        self.client[tx.key] = tx
        tx.send()
        return tx

    def response(self, msg):
        """Pass a response to its client transaction; False if none matches."""
        tx = self.client.get(msg.branch + "|" + msg.cseq_method)
        if tx is None:
            return False
        tx.receive(msg)
        return True

    def find_server(self, msg, method=None):
        return self.server.get(server_key(msg, method))

    def new_server(self, msg, addr):
        """A server transaction for a new request, or None when the table is full."""
        if len(self.server) >= self.limit:
            return None
        key = server_key(msg)
        tx = ServerTx(self, msg, addr, key)
        self.server[key] = tx
        return tx

    def tick(self, now):
        for table in (self.client, self.server):
            dead = None
            for key, tx in list(table.items()):   # callbacks may add entries
                if not tx.tick(now):
                    if dead is None:
                        dead = []
                    dead.append(key)
            if dead:
                for key in dead:
                    table.pop(key, None)

    def count(self):
        return len(self.client) + len(self.server)
