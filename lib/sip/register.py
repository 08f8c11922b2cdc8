# Registration (RFC 3261 10): digest auth, refresh before expiry, 423, back-off, recovery.
import asyncio
import time

from micropython import const

from sip import digest
from sip import headers as H

REFRESH_MARGIN_S = const(30)    # s: refresh this long before expiry (at least at half-time)
BACKOFF_FIRST_S = const(2)      # s: first wait after a failure, doubling
BACKOFF_NET_MAX_S = const(8)    # s: cap while the registrar does not answer (recovery)
BACKOFF_MAX_S = const(120)      # s: cap after rejections (403, 404, wrong password, 5xx)
UNREGISTER_WAIT_MS = const(2000)  # ms: how long stop() waits for the un-REGISTER
_MAX_AUTH = const(3)            # challenges answered per attempt (stale nonces re-answer)
MAX_EXPIRES_S = const(86400)    # s: a longer grant is taken as this (ticks_add has a range)


class Registration:
    """Keeps one binding alive. run() is the task; lost() forces a new REGISTER now."""

    def __init__(self, ua):
        self.ua = ua
        self.call_id = ua.new_call_id()
        self.tag = ua.new_tag()
        self.cseq = 0
        self.expires = ua.expires
        self.registered = False
        self.expires_at = None
        self.last_error = None
        self.failures = 0
        self.ok_count = 0
        self._wake = asyncio.Event()
        self._stopping = False

    def expires_in(self):
        if not self.registered or self.expires_at is None:
            return 0
        return max(0, time.ticks_diff(self.expires_at, time.ticks_ms()) // 1000)

    def lost(self, why):
        """The registrar stopped answering (keep-alive failed): re-register now."""
        if self.registered:
            self.ua.log("sip: registration lost: " + why)
        self.registered = False
        self.last_error = why
        self._wake.set()

    async def run(self):
        while not self._stopping:
            try:
                wait_s = await self.register_once(self.expires)
            except Exception as e:  # the task must never die with `registered` stale
                self.ua.counters["errors"] += 1
                wait_s = self._failed("error %r" % e)
            if self._stopping:
                break
            await self._sleep(wait_s)

    async def _sleep(self, seconds):
        self._wake.clear()
        try:
            await asyncio.wait_for_ms(self._wake.wait(), int(seconds * 1000))
        except asyncio.TimeoutError:
            pass

    def _request(self, expires, auth_header=None):
        ua = self.ua
        self.cseq += 1
        aor = ua.aor()
        req = ua.new_request("REGISTER", ua.registrar_uri(), "<%s>;tag=%s" % (aor, self.tag),
                             "<%s>" % aor, self.call_id, self.cseq)
        req.add("contact", "%s;expires=%d" % (ua.contact(), expires))
        req.add("expires", str(expires))
        req.add("allow", ua.ALLOW)
        if auth_header:
            req.add(auth_header[0], auth_header[1])
        return req

    async def register_once(self, expires):
        """One REGISTER (with its challenges); returns seconds until the next one."""
        ua = self.ua
        ua.refresh_trusted()    # the registrar's name is looked up again on each refresh
        auth = None
        tries = 0
        for _ in range(8):   # bounded: challenges and 423 retries
            req = self._request(expires, auth)
            resp = await ua.transact(req, ua.outbound_addr())
            if resp is None:
                return self._failed("timeout", net=True)
            st = resp.status
            if 200 <= st < 300:
                return self._ok(resp, expires)
            if st in (401, 407):
                hname = "www-authenticate" if st == 401 else "proxy-authenticate"
                try:
                    ch = digest.parse_challenge(resp.get(hname) or "")
                except ValueError as e:
                    return self._failed("bad challenge: %s" % e)
                if tries >= _MAX_AUTH or (tries and not ch["stale"]):
                    # challenged again for a fresh (not stale) nonce: credentials refused
                    return self._failed("authentication rejected (%d)" % st)
                tries += 1
                try:
                    value = ua.auth.authorization(ch, "REGISTER", req.uri)
                except ValueError as e:
                    return self._failed(str(e))
                auth = ("authorization" if st == 401 else "proxy-authorization", value)
                continue
            if st == 423:
                me = (resp.get("min-expires") or "").strip()
                if not me.isdigit() or int(me) <= expires or int(me) > 86400:
                    return self._failed("423 without usable Min-Expires")
                expires = int(me)
                self.expires = expires
                ua.log("sip: registrar wants expires >= %d" % expires)
                continue
            wait = None
            if st == 503:
                ra = (resp.get("retry-after") or "").split(";")[0].strip()
                if ra.isdigit():
                    wait = min(int(ra), BACKOFF_MAX_S)
            return self._failed("%d %s" % (st, resp.reason), wait=wait)
        return self._failed("too many challenges")

    def _ok(self, resp, asked):
        granted = asked
        mine = self.ua.contact_uri()
        for c in resp.get_all("contact"):
            try:
                _, uri, params = H.parse_addr(c)
            except ValueError:
                continue
            e = (params.get("expires") or "").strip()
            if _same_contact(uri, mine) and e.isdigit():
                granted = int(e) if len(e) < 10 else MAX_EXPIRES_S
                break
        else:
            e = (resp.get("expires") or "").strip()
            if e.isdigit():
                granted = int(e) if len(e) < 10 else MAX_EXPIRES_S
        if granted <= 0:
            granted = asked
        granted = min(granted, MAX_EXPIRES_S)
        self.registered = True
        self.failures = 0
        self.ok_count += 1
        self.last_error = None
        self.expires_at = time.ticks_add(time.ticks_ms(), granted * 1000)
        refresh = max(granted // 2, granted - REFRESH_MARGIN_S)
        if refresh < 1:
            refresh = 1
        self.ua.log("sip: registered for %d s, refresh in %d s" % (granted, refresh))
        return refresh

    def _failed(self, why, net=False, wait=None):
        self.registered = False
        self.failures += 1
        self.last_error = why
        if wait is None:
            cap = BACKOFF_NET_MAX_S if net else BACKOFF_MAX_S
            wait = min(cap, BACKOFF_FIRST_S << min(self.failures - 1, 8))
        self.ua.log("sip: register failed (%s), retry in %d s" % (why, wait))
        return wait

    async def unregister(self):
        """Remove our binding; bounded wait (answers one challenge)."""
        self._stopping = True
        self._wake.set()
        if not self.registered:
            return False
        ua = self.ua
        auth = None
        for _ in range(3):
            req = self._request(0, auth)
            resp = await ua.transact(req, ua.outbound_addr(), wait_ms=UNREGISTER_WAIT_MS)
            if resp is None:
                break
            if resp.status in (401, 407):
                try:
                    ch = digest.parse_challenge(resp.get("www-authenticate" if resp.status == 401
                                                         else "proxy-authenticate") or "")
                    auth = ("authorization" if resp.status == 401 else "proxy-authorization",
                            ua.auth.authorization(ch, "REGISTER", req.uri))
                except ValueError:
                    break
                continue
            break
        self.registered = False
        return True


def _same_contact(a, b):
    try:
        ua_ = H.parse_uri(a)
        ub = H.parse_uri(b)
    except ValueError:
        return False
    return ua_.user == ub.user and ua_.host == ub.host and (ua_.port or 5060) == (ub.port or 5060)
