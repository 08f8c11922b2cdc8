# An event subscription (RFC 6665) for our own account, e.g. message-summary (RFC 3842):
# SUBSCRIBE with digest auth, refreshed before it expires, started again when the
# notifier ends it or a refresh fails. The NOTIFYs it brings are matched by the UA
# (sip/inbound.py) to this subscription by Call-ID and our From tag.
import asyncio

from micropython import const

from sip import digest

REFRESH_MARGIN_S = const(30)    # s: refresh this long before expiry (at least at half-time)
RETRY_FIRST_S = const(4)        # s: first wait after a failure, doubling ...
RETRY_MAX_S = const(300)        # ... up to this
_MAX_AUTH = const(3)


class Subscription:
    """run() is the task. `active` while the notifier holds it; `notified` counts the
    NOTIFYs it brought."""

    def __init__(self, ua, event, accept, expires=3600):
        self.ua = ua
        self.event = event
        self.accept = accept
        self.expires = expires
        self.call_id = ua.new_call_id()
        self.tag = ua.new_tag()          # our From tag: in-dialog NOTIFYs carry it as To tag
        self.remote_tag = None
        self.cseq = 0
        self.active = False
        self.failures = 0
        self.notified = 0
        self.last_error = None
        self._wake = asyncio.Event()

    def matches(self, msg):
        """A NOTIFY of this subscription (its Call-ID, our tag as its To tag)."""
        return msg.call_id == self.call_id and msg.to_tag == self.tag

    def notify(self, msg):
        """Book a NOTIFY of ours: the notifier's tag, and whether it ended (RFC 6665
        4.1.3: Subscription-State: terminated -> subscribe again after a while)."""
        self.notified += 1
        if self.remote_tag is None:
            self.remote_tag = msg.from_tag
        state = (msg.get("subscription-state") or "").split(";")[0].strip().lower()
        if state == "terminated":
            self.active = False
            self.remote_tag = None
            self.call_id = self.ua.new_call_id()   # a new subscription, a new dialog
            self.ua.log("sip: %s subscription terminated by the notifier" % self.event)
            self._wake.set()

    async def run(self):
        while True:
            while self.ua.do_register and not self.ua.registered:
                await asyncio.sleep_ms(500)    # the registrar knows us first
            try:
                wait_s = await self.subscribe_once()
            except Exception as e:  # the task keeps the subscription going whatever happened
                wait_s = self._failed("error %r" % (e,))
            self._wake.clear()
            try:
                await asyncio.wait_for_ms(self._wake.wait(), int(wait_s * 1000))
            except asyncio.TimeoutError:
                pass

    def _request(self, auth):
        ua = self.ua
        self.cseq += 1
        aor = ua.aor()
        to = "<%s>" % aor
        if self.remote_tag:
            to += ";tag=" + self.remote_tag
        req = ua.new_request("SUBSCRIBE", aor, "<%s>;tag=%s" % (aor, self.tag), to,
                             self.call_id, self.cseq)
        req.add("contact", ua.contact())
        req.add("event", self.event)
        req.add("accept", self.accept)
        req.add("expires", str(self.expires))
        req.add("allow", ua.ALLOW)
        if auth:
            req.add(auth[0], auth[1])
        return req

    async def subscribe_once(self):
        """One SUBSCRIBE (with its challenges); seconds until the next one."""
        ua = self.ua
        auth = None
        tries = 0
        for _ in range(4):
            req = self._request(auth)
            resp = await ua.transact(req, ua.outbound_addr())
            if resp is None:
                return self._failed("timeout")
            st = resp.status
            if 200 <= st < 300:
                return self._ok(resp)
            if st in (401, 407) and tries < _MAX_AUTH:
                tries += 1
                hname = "www-authenticate" if st == 401 else "proxy-authenticate"
                try:
                    ch = digest.parse_challenge(resp.get(hname) or "")
                    auth = ("authorization" if st == 401 else "proxy-authorization",
                            ua.auth.authorization(ch, "SUBSCRIBE", req.uri))
                except ValueError as e:
                    return self._failed("bad challenge: %s" % e)
                continue
            if st == 481 and self.remote_tag:
                # the notifier forgot the dialog: start a new subscription at once
                self.remote_tag = None
                self.call_id = ua.new_call_id()
                continue
            return self._failed("%d %s" % (st, resp.reason))
        return self._failed("too many challenges")

    def _ok(self, resp):
        granted = self.expires
        e = (resp.get("expires") or "").strip()
        if e.isdigit() and len(e) < 7:
            granted = int(e) or self.expires
        if self.remote_tag is None:
            self.remote_tag = resp.to_tag
        self.active = True
        self.failures = 0
        self.last_error = None
        refresh = max(granted // 2, granted - REFRESH_MARGIN_S, 1)
        self.ua.log("sip: subscribed to %s for %d s, refresh in %d s"
                    % (self.event, granted, refresh))
        return refresh

    def _failed(self, why):
        self.active = False
        self.failures += 1
        self.last_error = why
        self.remote_tag = None
        self.call_id = self.ua.new_call_id()
        wait = min(RETRY_MAX_S, RETRY_FIRST_S << min(self.failures - 1, 8))
        self.ua.log("sip: %s subscription failed (%s), retry in %d s" % (self.event, why, wait))
        return wait

    def status(self):
        return {"event": self.event, "active": self.active, "notified": self.notified,
                "last_error": self.last_error}
