# SIP transactions over UDP (RFC 3261 17, RFC 6026): client and server, INVITE and
# non-INVITE, timers A-K. Stepped by tick(now_ms) from the user agent's timer task,
# which sleeps until next_ms() says the soonest timer is due.
import time

from micropython import const

from sip.message import Message

T1 = const(500)      # ms, RTT estimate
T2 = const(4000)     # ms, cap of non-INVITE retransmission interval
T4 = const(5000)     # ms, how long the network may hold a message
PROCEEDING_MAX = const(300000)   # ms: give up an INVITE that rings this long (no final)
MAX_CLIENT_TX = const(32)        # requests we sent and still track (more: refused)
MAX_SERVER_TX = const(64)        # requests we received and still track (more: 503)
MAX_PENDING = const(8)           # final INVITE responses retransmitted until their ACK

_CALLING = const(0)      # INVITE sent / non-INVITE "trying"
_PROCEEDING = const(1)
_COMPLETED = const(2)
_ACCEPTED = const(3)     # RFC 6026: 2xx seen (client) / sent (server)
_CONFIRMED = const(4)
_TERMINATED = const(5)


def _due(now, t):
    return t is not None and time.ticks_diff(now, t) >= 0


def soonest(now, best, t):
    """The smaller of best (ms, or None) and the ms from now until t (None: no timer)."""
    if t is None:
        return best
    ms = time.ticks_diff(t, now)
    return ms if best is None or ms < best else best


class ClientTx:
    """One request we sent; on_response(tx, msg) for each response passed up,
    on_timeout(tx) when timer B/F fires.

    After its final response a transaction lingers (timers D, K, RFC 6026's 64*T1) only
    to absorb retransmissions, and then keeps only what it answers them with: the
    request (parsed and encoded) goes, and so do the callbacks unless the final was an
    INVITE's 2xx (whose retransmissions go up until the call releases it). A call made
    right after another runs beside the last one's lingering transactions, so what
    they keep is heap the next call needs."""

    def __init__(self, layer, req, addr, peer, on_response, on_timeout, timeout_ms):
        self.layer = layer
        self.req = req
        self.addr = addr
        self.peer = peer           # (ip, port) the request went to: responses only from there
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
        self.reack = None          # (bytes, addr): 2xx retransmissions' ACK once released
        self.final = 0
        self.cancelled = False     # CANCEL sent (or wanted): ends by 64*T1 whatever comes

    def send(self):
        self.layer.send(self.data, self.addr)

    def next_ms(self, now, best):
        """ms until this transaction's next timer (see tick), or best if sooner."""
        best = soonest(now, best, self.end_at)
        best = soonest(now, best, self.dead_at)
        return soonest(now, best, self.retx_at)

    def cancel_sent(self):
        """CANCEL went out for this INVITE: without a final response within 64*T1 the
        transaction ends (RFC 3261 9.1), whatever the far end does."""
        if self.invite and self.state in (_CALLING, _PROCEEDING) and not self.cancelled:
            self.cancelled = True
            self.dead_at = time.ticks_add(time.ticks_ms(), 64 * T1)

    def receive(self, msg):
        st = msg.status
        now = time.ticks_ms()
        if self.state in (_COMPLETED, _TERMINATED):
            # absorb: re-ACK a non-2xx final, not passed up. A 2xx on a branch already
            # answered >= 300 is dropped: a proxy sends one final response per branch.
            if self.invite and self.ack is not None and st >= 300:
                self.layer.send(self.ack, self.addr)
            return
        if st < 200:
            if self.state == _CALLING:
                self.state = _PROCEEDING
                if self.invite:
                    self.retx_at = None
                    if not self.cancelled:     # a provisional never lifts the CANCEL bound
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
        self.req = self.data = None        # no retransmission of the request from here
        try:
            self._up(msg, True)
        finally:
            if self.state == _COMPLETED:   # nothing more is passed up (see above)
                self.on_response = self.on_timeout = None

    def release(self, reack=None):
        """The user agent is done with this INVITE (its call ended after the final
        response): 2xx retransmissions are answered with `reack` (bytes, addr), the ACK
        the call last sent, and no longer reach the call, which can go."""
        if self.final:
            self.on_response = self.on_timeout = None
            self.reack = reack

    def _up(self, msg, final=False):
        if self.on_response:
            try:
                self.on_response(self, msg)
            except Exception:
                # The user agent could not act on its final response (no heap for the
                # challenged INVITE's retry, say): the request is given up as if never
                # answered, so its call fails at once instead of waiting for ever.
                if final and self.on_timeout:
                    self.on_timeout(self)
                raise
        elif self.reack is not None and 200 <= msg.status < 300:
            self.layer.send(self.reack[0], self.reack[1])

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
        # never answered (a handler that gave up): freed after this, so the table drains
        self.created = time.ticks_ms()
        self.give_up_at = time.ticks_add(self.created, PROCEEDING_MAX if self.invite
                                         else 64 * T1)

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
            self.req = None    # only `last` answers its retransmissions (ClientTx's note)
        return True

    def next_ms(self, now, best):
        """ms until this transaction's next timer (see tick), or best if sooner."""
        best = soonest(now, best, self.end_at)
        if self.state == _PROCEEDING:
            best = soonest(now, best, self.give_up_at)
        best = soonest(now, best, self.dead_at)
        return soonest(now, best, self.retx_at)

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
            cb = self.on_ack
            self.on_ack = self.on_no_ack = None    # the call need not outlive timer I here
            if cb:
                cb(self, ack)

    def tick(self, now):
        if self.end_at is not None and _due(now, self.end_at):
            self.state = _TERMINATED
            return False
        if self.state == _PROCEEDING and _due(now, self.give_up_at):
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
    """All live transactions. send(data, addr) puts bytes on the wire; resolve(addr)
    gives the (ip, port) it goes to (raises OSError); on_error(text) reports a callback
    that raised (the transaction is dropped, the timers go on)."""

    def __init__(self, send, resolve=None, on_error=None, limit=MAX_SERVER_TX,
                 client_limit=MAX_CLIENT_TX, pending_limit=MAX_PENDING):
        self.send = send
        self.resolve = resolve
        self.on_error = on_error
        self.client = {}
        self.server = {}
        self.limit = limit
        self.client_limit = client_limit
        self.pending_limit = pending_limit

    def request(self, req, addr, on_response=None, on_timeout=None, timeout_ms=None):
        """A new client transaction (sent at once), or None when the table is full or
        the destination cannot be resolved."""
        if len(self.client) >= self.client_limit:
            return None
        peer = addr
        if self.resolve is not None:
            try:
                peer = self.resolve(addr)
            except (OSError, IndexError, ValueError):
                return None
        tx = ClientTx(self, req, addr, peer, on_response, on_timeout, timeout_ms)
        self.client[tx.key] = tx
        tx.send()
        return tx

    def response(self, msg, src=None, trusted=None):
        """Pass a response to its client transaction. Returns False if none matches,
        None if one matches but `src` is neither where the request went nor trusted
        (a forgery: dropped), True when passed on."""
        tx = self.client.get(msg.branch + "|" + msg.cseq_method)
        if tx is None:
            return False
        if src is not None and src != tx.peer and not (trusted and trusted(src)):
            return None
        tx.receive(msg)
        return True

    def peers(self):
        """Where our live client transactions went (responses may come from there)."""
        return [tx.peer for tx in self.client.values()]

    def pending(self):
        """INVITE server transactions retransmitting a final response (no ACK yet)."""
        n = 0
        for tx in self.server.values():
            if tx.invite and tx.state in (_COMPLETED, _ACCEPTED):
                n += 1
        return n

    def find_server(self, msg, method=None):
        return self.server.get(server_key(msg, method))

    def _evict(self, invite_only):
        """Make room: forget the oldest transaction that only repeats a failure answer
        (a completed non-INVITE, or an INVITE answered >= 300 or already ACKed). Its
        loss costs nothing but an answer computed again. False when there is none."""
        old = None
        for tx in self.server.values():
            if invite_only:
                ok = tx.invite and tx.state == _COMPLETED     # a >= 300 not yet ACKed
            else:
                ok = tx.state in (_COMPLETED, _CONFIRMED)
            if ok and (old is None or time.ticks_diff(tx.created, old.created) < 0):
                old = tx
        if old is None:
            return False
        self.server.pop(old.key, None)
        old.state = _TERMINATED
        return True

    def new_server(self, msg, addr):
        """A server transaction for a new request, or None when the table is full (or,
        for an INVITE, when MAX_PENDING final responses still wait for their ACK) and
        nothing can be evicted (every entry a request in progress or an accepted call)."""
        if len(self.server) >= self.limit and not self._evict(False):
            return None
        if (msg.method == "INVITE" and self.pending() >= self.pending_limit and
                not self._evict(True)):
            return None
        key = server_key(msg)
        tx = ServerTx(self, msg, addr, key)
        self.server[key] = tx
        return tx

    def next_ms(self, now):
        """ms until the soonest timer of any transaction (<= 0: due), None for none."""
        best = None
        for tx in self.client.values():
            best = tx.next_ms(now, best)
        for tx in self.server.values():
            best = tx.next_ms(now, best)
        return best

    def tick(self, now):
        # An empty table costs a test (no tuple, no list made).
        if self.client:
            self._tick(self.client, now)
        if self.server:
            self._tick(self.server, now)

    def _tick(self, table, now):
        dead = None
        for key, tx in list(table.items()):   # callbacks may add entries
            try:
                alive = tx.tick(now)
            except Exception as e:  # a raising callback ends its transaction, once
                tx.state = _TERMINATED
                alive = False
                if self.on_error is not None:
                    self.on_error("timer of %s: %r" % (key, e))
            if not alive:
                if dead is None:
                    dead = []
                dead.append(key)
        if dead:
            for key in dead:
                if table.get(key) is not None and table[key].state == _TERMINATED:
                    table.pop(key, None)

    def remove(self, tx):
        """Forget a transaction now (a handler failed and answered for it)."""
        for table in (self.client, self.server):
            if table.get(tx.key) is tx:
                table.pop(tx.key)
                tx.state = _TERMINATED

    def count(self):
        return len(self.client) + len(self.server)
