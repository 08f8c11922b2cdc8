# One call (INVITE dialog): outgoing and incoming, early media, CANCEL, BYE, re-INVITE hold.
import time

from sip import digest
from sip import headers as H
from sip import sdp as S
from sip.dialog import Dialog
from sip.indialog import InDialog, sdp_ok as _sdp_ok
from sip.message import Message
from sip.refer import Refer
from sip.transaction import soonest

_MAX_AUTH = 2        # challenges answered per INVITE
_MAX_FORKS = 4       # extra 2xx (forks) per INVITE answered with ACK + BYE; more are ignored


class Call(InDialog, Refer):
    """See docs/sip.md. state: incoming, calling, ringing, early, confirmed, ended.
    Hold/resume and the requests inside the dialog are in sip/indialog.py, transfer
    (REFER) in sip/refer.py."""

    def __init__(self, ua, incoming):
        self.ua = ua
        self.incoming = incoming
        self.state = "incoming" if incoming else "calling"
        self.remote_sdp = None
        self.local_sdp = None
        self.on_state = None
        self.on_offer = None
        self.on_info = None        # fn(call, content_type, body): INFO (e.g. dtmf-relay)
        self.caller_name = ""      # incoming: display name (P-Asserted-Identity, else From)
        self.caller_number = None  # incoming: user part (P-Asserted-Identity, else From)
        self.dialog = None
        self.call_id = None
        self.local_tag = ua.new_tag()
        self.remote_uri = None     # the other party (From of an incoming, To of an outgoing)
        self.remote_display = ""
        self.end_reason = None
        self.status_code = 0
        self.held = False
        self.invite = None         # our INVITE (outgoing) or theirs (incoming)
        self.client_tx = None
        self.server_tx = None
        self.addr = None           # where the initial INVITE went / came from
        self._auth_tries = 0
        self._cancel_wanted = False
        self._cancel_sent = None   # the INVITE client transaction we sent CANCEL for
        self._provisional = False
        self._ack = None           # (bytes, addr) of our last 2xx ACK, for re-ACKs
        self._reinvite = None      # our pending re-INVITE client transaction
        self._reinvite_req = None
        self._reinvite_stx = None  # their re-INVITE answered with 2xx, waiting for ACK
        self._sdp_ver = 1
        self._ring_until = None    # ticks_ms: an incoming call not answered by then gets 480
        self._forks = 0

    # ---- creation
    @staticmethod
    def outgoing(ua, target, sdp_text):
        c = Call(ua, False)
        c.call_id = ua.new_call_id()
        c.remote_uri = ua.target_uri(target)
        c.local_sdp = sdp_text
        u = H.parse_uri(c.remote_uri)
        if ua.proxy or ua.accept_from != "any" or not target.startswith("sip"):
            c.addr = ua.outbound_addr()
        else:
            c.addr = (u.host, u.port or 5060)
        ua.counters["calls_out"] += 1
        ua.add_call(c)
        c._send_invite(None, 1)
        return c

    @staticmethod
    def incoming(ua, req, addr, stx):
        c = Call(ua, True)
        c.call_id = req.call_id
        c.invite = req
        c.addr = addr
        c.server_tx = stx
        c.remote_display, c.remote_uri, _ = H.parse_addr(req.get("from"))  # parser checked it
        # caller ID: a PBX's asserted identity wins over From (RFC 3325, Remote-Party-ID)
        for name in ("p-asserted-identity", "remote-party-id"):
            v = req.get(name)
            if v:
                try:
                    d, u, _ = H.parse_addr(H.split_commas(v)[0])
                    c.caller_name, c.caller_number = d, H.parse_uri(u).user
                    break
                except (ValueError, IndexError):
                    continue
        else:
            c.caller_name = c.remote_display
            try:
                c.caller_number = H.parse_uri(c.remote_uri).user
            except ValueError:
                c.caller_number = None
        if req.body:
            try:
                offer = S.parse(req.body)
            except ValueError as e:
                c._final(488, "Bad SDP: " + str(e)[:40])
                return None
            if S.answer(offer, "0.0.0.0", 1) is None:
                c._final(488)
                return None
            c.remote_sdp = req.body
        try:
            c.dialog = c._dialog_for(Dialog.as_uas, req, c.local_tag)
        except ValueError as e:
            c.dialog = None
            c._final(400, str(e))
            return None
        ua.counters["calls_in"] += 1
        c._respond(100)
        live = [x for x in ua.calls.values() if x.state != "ended"]
        if ua.busy or len(live) >= ua.max_calls:
            c._final(486)
            return None
        if ua.on_incoming is None:
            c._final(480)
            return None
        ua.add_call(c)
        c._ring_until = time.ticks_add(time.ticks_ms(), ua.ring_timeout_ms)
        stx.on_no_ack = c._no_ack
        stx.on_ack = c._acked
        try:
            ua.on_incoming(c)
        except Exception as e:  # the app's bug must not leave the caller hanging
            ua.log("sip: on_incoming raised %r" % e)
            if c.state == "incoming":
                c._final(500)
        return c

    # ---- helpers
    def _dialog_for(self, make, *args):
        """A checked Dialog (make: Dialog.as_uac / as_uas) with its peer resolved without
        DNS, or raises ValueError with the reason."""
        d = make(*args)
        d.peer = self.ua.hop_peer(d.hop)
        if d.peer is None:
            raise ValueError("bad Record-Route" if d.routes else "bad Contact")
        return d

    def next_ms(self, now, best):
        """ms until this call's timer (tick), or best if sooner."""
        return soonest(now, best, self._ring_until)

    def tick(self, now):
        """The user agent's timer: ends an incoming call nobody answers."""
        if self._ring_until is not None and time.ticks_diff(now, self._ring_until) >= 0:
            self._ring_until = None
            if self.incoming and self.state in ("incoming", "ringing", "early"):
                self.ua.counters["ring_timeouts"] += 1
                self.ua.log("sip: nobody answered %s, 480" % self.call_id)
                self.status_code = 480
                self._respond(480)
                self._set("ended", "ring-timeout")

    def _set(self, state, detail=None):
        if self.state == "ended" and state != "ended":
            return
        if (state in ("ended", "failed") and self.incoming and self.server_tx is not None and
                self.server_tx.status < 200):
            # ended before any final answer (e.g. a BYE in the early dialog): the INVITE
            # gets its 487 now, or its server transaction would wait for one
            self._respond(487)
        self.state = "ended" if state == "failed" else state
        if state in ("ended", "failed"):
            self.end_reason = detail
            self._abandon_invite()
            if self.client_tx is not None and self._ack is not None:
                # answered and ACKed: the INVITE's transaction lingers 64*T1 for 2xx
                # retransmissions, re-ACKs them itself from now on, and does not hold
                # this call (and its dialog) so long. A 2xx never ACKed (its handling
                # failed) still goes to the call, which ACKs it and ends it with BYE.
                self.client_tx.release(self._ack)
            self.ua.remove_call(self)
        cb = self.on_state
        if cb:
            try:
                cb(self, state, detail)
            except Exception as e:  # app errors are logged, SIP state stays consistent
                self.ua.log("sip: on_state raised %r" % e)

    def _with_version(self, text):
        if text is None:
            return None
        if text != self.local_sdp:
            self._sdp_ver += 1
        self.local_sdp = text
        return S.set_version(text, self._sdp_ver)

    def _respond(self, status, body=None, reason=None):
        ua = self.ua
        r = ua.make_response(self.invite, self.addr, status, reason, self.local_tag)
        if status > 100:
            r.add("contact", ua.contact())
        if status >= 200 and status < 300:
            r.add("allow", ua.ALLOW)
        if body:
            r.add("content-type", "application/sdp")
            r.body = body
        self.server_tx.respond(r)

    def _final(self, status, reason=None):
        self._respond(status, reason=reason)
        if self.state != "ended":
            self._set("ended", "rejected")

    def _send_in_dialog(self, method, body=None, on_response=None, extra=None,
                        ctype="application/sdp"):
        """(request, client transaction or None). `extra`: headers added before sending."""
        req = self.dialog.request(method)
        self.ua.add_via(req)
        req.add("user-agent", self.ua.user_agent)
        if method == "INVITE":
            req.add("contact", self.ua.contact())
            req.add("allow", self.ua.ALLOW)
        if extra:
            for k, v in extra:
                req.add(k, v)
        if body:
            req.add("content-type", ctype)
            req.body = body
        return req, self.ua.send_request(req, self.dialog.next_hop(), on_response,
                                         self._in_dialog_timeout if method == "INVITE" else None)

    # ---- outgoing INVITE
    def _send_invite(self, auth, cseq):
        ua = self.ua
        req = ua.new_request("INVITE", self.remote_uri,
                             "<%s>;tag=%s" % (ua.aor(), self.local_tag),
                             "<%s>" % self.remote_uri, self.call_id, cseq)
        req.add("contact", ua.contact())
        req.add("allow", ua.ALLOW)
        if auth:
            req.add(auth[0], auth[1])
        req.add("content-type", "application/sdp")
        req.body = S.set_version(self.local_sdp, self._sdp_ver) if self.local_sdp else ""
        self.invite = req
        self._provisional = False
        self.client_tx = ua.send_request(req, self.addr, self._on_invite_response,
                                         self._on_invite_timeout)
        if self.client_tx is None:
            self.status_code = 503
            self._set("failed", 503)

    def _on_invite_timeout(self, tx):
        if tx is self.client_tx and self.state != "ended":
            if self._cancel_wanted:
                self._set("ended", "cancel")      # the far end never answered our CANCEL
            else:
                self._set("failed", 408)

    def _on_invite_response(self, tx, msg):
        st = msg.status
        if tx is not self.client_tx:
            if 200 <= st < 300:
                self.stray_2xx(msg)
            return
        if st < 200:
            self._provisional = True          # any provisional, 100 too (RFC 3261 9.1)
            if self._cancel_wanted:
                self._send_cancel()
                return
            if st == 100:
                return
            if msg.to_tag and self.dialog is None:
                try:
                    self.dialog = self._dialog_for(Dialog.as_uac, self.invite, msg)
                except ValueError as e:   # an early dialog we cannot route: wait for the 2xx
                    self.ua.log("sip: %d ignored for the dialog: %s" % (st, e))
            if msg.body and _sdp_ok(msg.body):
                self.remote_sdp = msg.body
            self._set("early" if (st == 183 or msg.body) else "ringing", st)
            return
        if st < 300:
            self._on_invite_2xx(msg)
            return
        if st in (401, 407) and self._auth_tries < _MAX_AUTH and not self._cancel_wanted:
            h = "www-authenticate" if st == 401 else "proxy-authenticate"
            try:
                ch = digest.parse_challenge(msg.get(h) or "")
                if self._auth_tries and not ch["stale"]:
                    raise ValueError("credentials refused")
                value = self.ua.auth.authorization(ch, "INVITE", self.remote_uri)
            except ValueError as e:
                self.ua.log("sip: INVITE auth: %s" % e)
                self._set("failed", st)
                return
            self._auth_tries += 1
            self._send_invite(("authorization" if st == 401 else "proxy-authorization", value),
                              self.invite.cseq_num + 1)
            return
        self.status_code = st
        if st == 487 and self._cancel_wanted:
            self._set("ended", "cancel")
        else:
            self._set("failed", st)

    def _on_invite_2xx(self, msg):
        if self.state == "confirmed" and self.dialog and msg.to_tag == self.dialog.remote_tag:
            self._reack()
            return
        if self.state == "ended" and self._ack is not None:
            self._reack()
            return
        first = self.state != "confirmed" and self.state != "ended"
        try:
            d = self._dialog_for(Dialog.as_uac, self.invite, msg)
        except ValueError as e:
            # a 2xx we cannot even ACK (route set or Contact unusable): give the call up
            self.ua.log("sip: 2xx unusable: %s" % e)
            if first:
                self.status_code = 502
                self._set("failed", 502)
            return
        if not first:
            # a second 2xx from another fork: accept it and end that leg at once
            if self._forks >= _MAX_FORKS:
                return
            self._forks += 1
            d2, ack = self.dialog, self._ack
            self.dialog = d
            self._ack_2xx(msg)
            self._send_in_dialog("BYE")
            self.dialog, self._ack = d2, ack
            return
        self.dialog = d
        self._ack_2xx(msg)
        if msg.body:
            if not _sdp_ok(msg.body):
                # an answer we cannot use (bad address or port): end the call cleanly
                self._send_in_dialog("BYE")
                self.status_code = 488
                self._set("failed", 488)
                return
            self.remote_sdp = msg.body
        if self._cancel_wanted:
            # CANCEL crossed the 2xx: the call was answered after all; end it with BYE
            self._send_in_dialog("BYE")
            self._set("ended", "cancel")
            return
        self._set("confirmed", 200)

    def _ack_2xx(self, msg, req=None):
        req = req or self.invite
        ack = self.dialog.request("ACK", cseq=req.cseq_num)
        self.ua.add_via(ack)
        if req.get("proxy-authorization"):
            ack.add("proxy-authorization", req.get("proxy-authorization"))
        addr = self.dialog.next_hop()
        data = ack.encode()
        self._ack = (data, addr)
        self.ua._send(data, addr)

    def _reack(self):
        if self._ack:
            self.ua._send(self._ack[0], self._ack[1])

    def stray_2xx(self, msg):
        """2xx retransmission after the INVITE transaction is gone: ACK it again."""
        if self._ack is not None:
            self._reack()

    def _abandon_invite(self):
        """An outgoing call ended (a BYE in the early dialog, an unusable answer...) while
        its INVITE has no final response: CANCEL it now, or when its first provisional
        arrives (RFC 3261 9.1), so neither the far end nor our transaction rings on for
        minutes after the call is gone."""
        tx = self.client_tx
        if self.incoming or tx is None or tx.final or not tx.invite:
            return
        self._cancel_wanted = True
        if self._provisional:
            self._send_cancel()
        else:
            tx.cancel_sent()        # no CANCEL may go yet; the 64*T1 bound starts now

    def _send_cancel(self):
        if self._cancel_sent is self.client_tx:
            return                            # one CANCEL per INVITE transaction
        self._cancel_sent = self.client_tx
        inv = self.invite
        req = Message("CANCEL", inv.uri)
        req.add("via", inv.get("via"))
        req.add("max-forwards", "70")
        req.add("from", inv.get("from"))
        req.add("to", inv.get("to"))
        req.add("call-id", inv.call_id)
        req.add("cseq", "%d CANCEL" % inv.cseq_num)
        for r in inv.get_all("route"):
            req.add("route", r)
        req.add("user-agent", self.ua.user_agent)
        req.branch = inv.branch
        req.call_id = inv.call_id
        req.cseq_num = inv.cseq_num
        req.cseq_method = "CANCEL"
        self.ua.send_request(req, self.addr)
        if self.client_tx is not None:
            self.client_tx.cancel_sent()

    # ---- incoming INVITE, app side
    def ringing(self):
        if self.incoming and self.state == "incoming":
            self._respond(180)
            self._set("ringing", 180)

    def answer(self, sdp_text):
        if not self.incoming or self.state not in ("incoming", "ringing", "early"):
            return False
        self._respond(200, self._with_version(sdp_text))
        self._set("confirmed", 200)
        return True

    def reject(self, code=486):
        if self.incoming and self.state in ("incoming", "ringing", "early"):
            self.status_code = code
            self._final(code)

    def _acked(self, stx, ack):
        if ack is not None and ack.body and _sdp_ok(ack.body):
            self.remote_sdp = ack.body   # our offer was in the 2xx: the answer is in the ACK

    def _no_ack(self, stx):
        if self.state == "confirmed":
            self.ua.log("sip: no ACK for our 2xx, ending the call")
            self._send_in_dialog("BYE")
            self._set("ended", "no-ack")

    def cancelled(self):
        """The caller sent CANCEL before we answered."""
        if self.state in ("incoming", "ringing", "early"):
            self._respond(487)
            self._set("ended", "cancel")

    # ---- both directions
    def info_dtmf(self, key, duration_ms=160):
        """Send key (0-9 * # A-D) as SIP INFO application/dtmf-relay, the de-facto
        format (Cisco, Asterisk, baresip). True when sent (a confirmed dialog)."""
        if self.state != "confirmed" or self.dialog is None:
            return False
        _, tx = self._send_in_dialog("INFO", "Signal=%s\r\nDuration=%d\r\n" % (
            key, duration_ms), None, None, "application/dtmf-relay")
        return tx is not None

    def hangup(self):
        st = self.state
        if st == "ended":
            return
        if self.incoming and st in ("incoming", "ringing", "early"):
            self.reject(603 if st == "incoming" else 486)
            return
        if not self.incoming and st in ("calling", "ringing", "early"):
            self._cancel_wanted = True
            if self._provisional:
                self._send_cancel()
            # without a provisional yet, CANCEL is sent when one arrives (RFC 3261 9.1)
            return
        if self.dialog is not None:
            self._send_in_dialog("BYE")
        self._set("ended", "local")
