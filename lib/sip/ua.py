# SIP user agent over UDP: socket, receive loop, request filter, dispatch, timers.
import asyncio
import socket
import time

from micropython import const

from sip import headers as H
from sip import message as M
from sip.digest import DigestAuth
from sip.inbound import Inbound
from sip.register import Registration
from sip.transaction import TxLayer
from sip.wire import (RateBucket, cidr_match, is_ip_literal, parse_acl_entry, peer_of, rand_hex,
                      receive, stamp_via)

RECV_BYTES = const(8193)        # most bytes read per datagram: one more than M.MAX_MESSAGE, so
                                # an oversize datagram is seen as such and dropped
_NO_ROOM_MS = const(20)         # ms: the pause after a datagram the heap had no room for
RATE_REQ_PER_S = const(50)      # accepted requests per second (token bucket) ...
RATE_REQ_BURST = const(100)     # ... with this burst
RATE_INVITE_PER_S = const(5)    # new INVITEs per second, burst 10: beyond -> 503
RATE_REPLY_PER_S = const(5)     # 403/400 answers to strangers per second (no amplifier)
KEEPALIVE_TIMEOUT_MS = const(6000)  # ms: an OPTIONS keep-alive without answer = registrar lost
MAX_CALLS = const(4)            # calls alive at once (others get 486); also the dialog cap
RING_TIMEOUT_S = const(180)     # s: an incoming call nobody answers gets 480 after this

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 415: "Unsupported Media Type", 420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 483: "Too Many Hops", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event",
    491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 503: "Service Unavailable",
    603: "Decline",
}
_COUNTERS = ("rx", "tx", "keepalive_rx", "malformed", "dropped", "rejected", "rate_limited",
             "stray", "errors", "retransmits", "calls_in", "calls_out", "oversize", "forged",
             "no_dialog", "tx_full", "ring_timeouts")


class UserAgent(Inbound):
    """One SIP account on one UDP port. See docs/sip.md for the API. What arrives is
    handled in sip/inbound.py."""

    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY"

    def __init__(self, cfg, on_incoming=None, log=None):
        self.server = cfg["server"]
        self.port = int(cfg.get("port", 5060))
        self.user = cfg["user"]
        self.auth_id = cfg.get("auth_id") or self.user
        self.domain = cfg.get("domain") or self.server
        self.local_ip = cfg.get("local_ip") or "127.0.0.1"
        self.sip_port = int(cfg.get("sip_port", 5060))
        self.expires = int(cfg.get("expires", 300))
        self.keepalive_s = int(cfg.get("keepalive_s", 30))
        self.keepalive = cfg.get("keepalive", "options")   # "options" | "crlf" | "none"
        self.user_agent = cfg.get("user_agent", "micropython-ata")
        self.reject_mode = cfg.get("reject", "drop")         # strangers: "drop" | "403"
        self.max_calls = int(cfg.get("max_calls", MAX_CALLS))
        self.ring_timeout_ms = int(cfg.get("ring_timeout_s", RING_TIMEOUT_S)) * 1000
        proxy = cfg.get("outbound_proxy")
        self.proxy = None
        if proxy:
            h, p = H.split_hostport(proxy.replace("sip:", ""))
            self.proxy = (h, p or 5060)
        # "registrar": only the registrar's and proxy's IP:port; "any"; or a list of
        # "ip" (any port), "ip:port" or "ip/len" (CIDR) entries trusted in addition
        self.accept_from = cfg.get("accept_from", "registrar")
        self._acl = []             # [(host, port or None, prefix length or None)]
        if isinstance(self.accept_from, (list, tuple)):
            self._acl = [parse_acl_entry(e) for e in self.accept_from]
        elif self.accept_from not in ("registrar", "any"):
            raise ValueError("accept_from: registrar, any or a list")
        self.do_register = cfg.get("register", True)
        rate = int(cfg.get("rate_limit", RATE_REQ_PER_S))
        self.auth = DigestAuth(self.auth_id, cfg.get("password", ""))
        self.on_incoming = on_incoming
        self._log = log
        self.busy = False          # set by the app: new INVITEs get 486 without asking
        self.on_notify = None      # fn(msg) -> (status, reason): NOTIFY (e.g. message waiting)
        self.notify_accept = "application/simple-message-summary"   # Accept: of a 415
        self.subscriptions = []    # sip.subscribe.Subscription, added by subscribe()
        self.counters = {k: 0 for k in _COUNTERS}
        self.calls = {}            # (call_id, local_tag) -> Call
        self.sock = None
        self.tx = TxLayer(self._send, self.resolve, self._tx_error)
        # Set by every datagram sent or received: the only moments a SIP timer starts
        # or moves (see _timer_loop).
        self._timers_moved = asyncio.Event()
        self.reg = Registration(self)
        self.last_error = None
        self._tasks = []
        self._addr_cache = {}
        self._trusted = set()
        self._nets = []
        self._req_bucket = RateBucket(rate, max(rate * 2, RATE_REQ_BURST))
        self._inv_bucket = RateBucket(RATE_INVITE_PER_S, 2 * RATE_INVITE_PER_S)
        self._reply_bucket = RateBucket(RATE_REPLY_PER_S, 2 * RATE_REPLY_PER_S)
        self.running = False

    # ---- identities and addresses
    def log(self, text):
        if self._log:
            try:
                self._log(text)
            except Exception:  # a broken logger must not break SIP
                pass

    def new_tag(self):
        return rand_hex(5)

    def new_call_id(self):
        return "%s@%s" % (rand_hex(8), self.local_ip)

    def new_branch(self):
        return "z9hG4bK" + rand_hex(8)

    def _domain_host(self):
        if self.domain == self.server and self.port != 5060:
            return "%s:%d" % (H.format_host(self.server), self.port)
        return H.format_host(self.domain)

    def aor(self):
        return "sip:%s@%s" % (self.user, self._domain_host())

    def registrar_uri(self):
        return "sip:" + self._domain_host()

    def contact_uri(self):
        return "sip:%s@%s:%d" % (self.user, H.format_host(self.local_ip), self.sip_port)

    def contact(self):
        return "<%s>" % self.contact_uri()

    def outbound_addr(self):
        return self.proxy or (self.server, self.port)

    def _sockaddr(self, addr):
        sa = self._addr_cache.get(addr)
        if sa is None:
            if len(self._addr_cache) > 32:
                self._addr_cache.clear()
            sa = socket.getaddrinfo(addr[0], addr[1], 0, socket.SOCK_DGRAM)[0][-1]
            self._addr_cache[addr] = sa
        return sa

    def _resolve_ip(self, host):
        try:
            return peer_of(self._sockaddr((host, 5060)))[0]
        except (OSError, IndexError):
            return host

    def resolve(self, addr):
        """(host, port) -> (ip, port) as recvfrom reports it; raises OSError."""
        if is_ip_literal(addr[0]):
            return addr[0], addr[1]
        return peer_of(self._sockaddr(addr))

    def hop_peer(self, hop):
        """(ip, port) of an in-dialog next hop, or None when it would need a DNS look-up
        of a name that is not one we were configured with (no DNS for what the far end
        names)."""
        host = hop[0]
        if is_ip_literal(host):
            if (":" in host) != (":" in self.local_ip):
                return None       # the other address family than our socket's
            return host, hop[1]
        if host in (self.server, self.domain) or (self.proxy and host == self.proxy[0]):
            try:
                return self.resolve(hop)
            except (OSError, IndexError, ValueError):
                return None
        return None

    def refresh_trusted(self):
        """Trusted sources from the config; names (the registrar's above all) are looked up
        again each time (called at start and before each REGISTER)."""
        for key in list(self._addr_cache):
            if not is_ip_literal(key[0]):
                del self._addr_cache[key]
        t = {(self._resolve_ip(self.server), self.port)}
        if self.proxy:
            t.add((self._resolve_ip(self.proxy[0]), self.proxy[1]))
        nets = []
        for h, p, bits in self._acl:
            if bits is None:
                t.add((self._resolve_ip(h), p))
            else:
                nets.append((h, bits))
        self._trusted = t
        self._nets = nets

    def _tx_error(self, text):
        self.counters["errors"] += 1
        self.log("sip: " + text)

    # ---- life cycle
    async def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        except (OSError, AttributeError):
            pass
        s.bind(socket.getaddrinfo(self.local_ip, self.sip_port)[0][-1])
        s.setblocking(False)
        self.sock = s
        # trusted sources: (ip, port) pairs, port None = any port of that IP, and networks
        self.refresh_trusted()
        self.running = True
        # spawn(name, coroutine function): the firmware passes its supervisor's, which
        # restarts a loop that raised; alone, plain tasks
        spawn = getattr(self, "spawn", None) or (lambda _name, run: asyncio.create_task(run()))
        self._tasks = [spawn("sip_rx", self._rx_loop), spawn("sip_timers", self._timer_loop)]
        if self.do_register:
            self._tasks.append(spawn("registration", self.reg.run))
            self._tasks.append(spawn("keepalive", self._keepalive_loop))
        for sub in self.subscriptions:
            self._tasks.append(spawn("subscribe_" + sub.event, sub.run))
        self.log("sip: listening on %s:%d as %s" % (self.local_ip, self.sip_port, self.aor()))

    async def stop(self):
        for c in list(self.calls.values()):
            c.hangup()
        try:
            await self.reg.unregister()
        except Exception as e:  # stopping must always finish
            self.log("sip: un-register failed: %r" % e)
        self.running = False
        for t in self._tasks:
            t.cancel()
        await asyncio.sleep_ms(0)
        self._tasks = []
        if self.sock:
            self.sock.close()
            self.sock = None

    def trusted(self, addr):
        t = self._trusted
        if self.accept_from == "any" or addr in t or (addr[0], None) in t:
            return True
        for net, bits in self._nets:
            if cidr_match(addr[0], net, bits):
                return True
        return False

    def _known_source(self, addr):
        """Before parsing: a trusted address, a dialog's next hop, or where one of our
        requests went. Everything else is dropped unparsed."""
        if self.trusted(addr):
            return True
        for c in self.calls.values():
            d = c.dialog
            if d is not None and d.peer == addr:
                return True
        return addr in self.tx.peers()

    @property
    def registered(self):
        return self.reg.registered

    def status(self):
        return {"registered": self.reg.registered, "expires_in": self.reg.expires_in(),
                "last_error": self.reg.last_error or self.last_error,
                "registrations": self.reg.ok_count, "calls": len(self.calls),
                "dialogs": sum(1 for c in self.calls.values() if c.dialog is not None),
                "transactions": self.tx.count(), "client_tx": len(self.tx.client),
                "server_tx": len(self.tx.server), "pending": self.tx.pending(),
                "counters": dict(self.counters)}

    # ---- sending
    def _send(self, data, addr):
        if self.sock is None:
            return
        self._timers_moved.set()
        try:
            self.sock.sendto(data, self._sockaddr(addr))
            self.counters["tx"] += 1
        except OSError as e:
            self.counters["errors"] += 1
            self.last_error = "send %s:%s: %s" % (addr[0], addr[1], e)

    def new_request(self, method, uri, from_, to, call_id, cseq):
        req = M.Message(method, uri)
        self.add_via(req)
        req.add("max-forwards", "70")
        req.add("from", from_)
        req.add("to", to)
        req.add("call-id", call_id)
        req.add("cseq", "%d %s" % (cseq, method))
        req.add("user-agent", self.user_agent)
        req.call_id = call_id
        req.cseq_num = cseq
        req.cseq_method = method
        try:
            req.from_tag = H.parse_addr(from_)[2].get("tag")
        except ValueError:
            pass
        return req

    def add_via(self, req, branch=None):
        req.branch = branch or self.new_branch()
        via = "SIP/2.0/UDP %s:%d;branch=%s;rport" % (H.format_host(self.local_ip), self.sip_port,
                                                     req.branch)
        req.headers.insert(0, ["via", via])

    def send_request(self, req, addr, on_response=None, on_timeout=None, timeout_ms=None):
        """The client transaction, or None (table full, destination unresolvable)."""
        tx = self.tx.request(req, addr, on_response, on_timeout, timeout_ms)
        if tx is None:
            self.counters["tx_full"] += 1
        return tx

    async def transact(self, req, addr, wait_ms=None, timeout_ms=None):
        """Send a non-INVITE request; await its final response (None on time-out)."""
        ev = asyncio.Event()
        box = [None]

        def done(tx, msg):
            if msg.status >= 200:
                box[0] = msg
                ev.set()

        def timeout(tx):
            ev.set()

        if self.send_request(req, addr, done, timeout, timeout_ms) is None:
            return None
        if wait_ms:
            try:
                await asyncio.wait_for_ms(ev.wait(), wait_ms)
            except asyncio.TimeoutError:
                return None
        else:
            await ev.wait()
        return box[0]

    def make_response(self, req, addr, status, reason=None, to_tag=None):
        r = M.Message(status=status, reason=reason or REASONS.get(status, "Unknown"))
        first = True
        for v in req.get_all("via"):
            if first:
                v = stamp_via(v, req.via, addr)
                first = False
            r.add("via", v)
        if req.method == "INVITE" and 100 < status < 300:
            for rr in req.get_all("record-route"):
                r.add("record-route", rr)
        r.add("from", req.get("from"))
        to = req.get("to")
        if to_tag and req.to_tag is None and status > 100:
            to = to + ";tag=" + to_tag
        r.add("to", to)
        r.add("call-id", req.call_id)
        r.add("cseq", "%d %s" % (req.cseq_num, req.cseq_method))
        r.add("server", self.user_agent)
        return r

    def reply(self, req, addr, status, reason=None, stx=None, to_tag=None, extra=None):
        """Answer a request (through its server transaction when given)."""
        r = self.make_response(req, addr, status, reason, to_tag or (self.new_tag() if status > 100
                                                                      else None))
        if extra:
            for k, v in extra:
                r.add(k, v)
        if stx is not None:
            stx.respond(r)
        else:
            self._send(r.encode(), addr)
        return r

    # ---- tasks
    async def _rx_loop(self):
        from asyncio import core
        sock = self.sock
        while self.running:
            yield core._io_queue.queue_read(sock)
            while self.running:   # one datagram, then let the other tasks run
                try:
                    data, raw = receive(sock, RECV_BYTES)
                except OSError:
                    break
                except MemoryError:
                    # no room in the heap to read it: dropped (or, if even that failed,
                    # left for after a pause)
                    self.counters["dropped"] += 1
                    self.log("sip: a datagram dropped: no room in the heap to read it")
                    await asyncio.sleep_ms(_NO_ROOM_MS)
                    continue
                try:
                    self.handle(data, peer_of(raw))
                except Exception as e:  # never let one datagram stop the loop
                    self.counters["errors"] += 1
                    self.log("sip: error handling datagram: %r" % e)
                data = raw = None
                self._timers_moved.set()
                await asyncio.sleep_ms(0)

    async def _timer_loop(self):
        # Sleeps until the soonest timer (a transaction's, a ringing call's) is due, or
        # until a datagram went out or came in (timers start and move only then): no
        # wake-ups while nothing is pending (idle between REGISTERs, a settled call).
        moved = self._timers_moved
        while self.running:
            moved.clear()
            ms = self.timers_ms(time.ticks_ms())
            if ms is None:
                await moved.wait()
            else:
                try:   # (at least 1 ms: a timer that stayed due must not spin the loop)
                    await asyncio.wait_for_ms(moved.wait(), max(ms, 1))
                except asyncio.TimeoutError:
                    pass
            now = time.ticks_ms()
            try:
                self.tx.tick(now)
            except Exception as e:  # keep the timers running whatever a callback did
                self.counters["errors"] += 1
                self.log("sip: timer error: %r" % e)
            if not self.calls:
                continue
            for c in list(self.calls.values()):
                try:
                    c.tick(now)
                except Exception as e:  # a call whose timer raises is ended, once
                    self.counters["errors"] += 1
                    self.log("sip: call timer error: %r" % e)
                    self.remove_call(c)

    def wake_timers(self):
        """Make the timer task look again now (a test that moves the clock does)."""
        self._timers_moved.set()

    def timers_ms(self, now):
        """ms until the soonest SIP timer is due (<= 0: now), None when none runs."""
        best = self.tx.next_ms(now)
        for c in self.calls.values():
            best = c.next_ms(now, best)
        return best

    async def _keepalive_loop(self):
        if self.keepalive_s <= 0 or self.keepalive == "none":
            return
        while self.running:
            await asyncio.sleep_ms(self.keepalive_s * 1000)
            if not self.reg.registered:
                continue
            addr = self.outbound_addr()
            if self.keepalive == "crlf":
                self._send(b"\r\n\r\n", addr)
                continue
            req = self.new_request("OPTIONS", self.registrar_uri(), "<%s>;tag=%s" % (
                self.aor(), self.new_tag()), "<%s>" % self.registrar_uri(), self.new_call_id(), 1)
            try:
                resp = await self.transact(req, addr, timeout_ms=KEEPALIVE_TIMEOUT_MS)
            except Exception as e:  # a keep-alive problem must not end the loop
                self.log("sip: keep-alive error %r" % e)
                continue
            if resp is None:
                self.reg.lost("keep-alive timeout")

    # ---- subscriptions
    def subscribe(self, event, accept, expires=3600):
        """Subscribe to an event package for our own account (RFC 6665), kept up by a
        task of its own; returns the Subscription. Call before start()."""
        from sip.subscribe import Subscription
        sub = Subscription(self, event, accept, expires)
        self.subscriptions.append(sub)
        return sub

    # ---- calls
    def invite(self, target, sdp_text):
        from sip.call import Call
        return Call.outgoing(self, target, sdp_text)

    def target_uri(self, target):
        if target.startswith("sip:") or target.startswith("sips:"):
            return target
        return "sip:%s@%s" % (target, self._domain_host())

    def add_call(self, call):
        self.calls[(call.call_id, call.local_tag)] = call

    def remove_call(self, call):
        self.calls.pop((call.call_id, call.local_tag), None)
