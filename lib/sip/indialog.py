# The established dialog of a Call: hold/resume (our re-INVITE, with its challenges),
# requests from the peer (BYE, re-INVITE, INFO...), target refresh and ACK. A mixin:
# sip.call.Call is the class; this file only keeps call.py a readable size.
import asyncio

from sip import digest
from sip import headers as H
from sip import sdp as S
from sip.dialog import hop_of

_MAX_AUTH = 2        # challenges answered per re-INVITE


def sdp_ok(text):
    """True when `text` is SDP we can use (sip.sdp.parse accepts it)."""
    try:
        S.parse(text)
        return True
    except ValueError:
        return False


class InDialog:
    def hold(self):
        return self._reoffer("sendonly", True)

    def resume(self):
        return self._reoffer("sendrecv", False)

    def _reoffer(self, direction, held):
        if self.state != "confirmed" or self._reinvite is not None or not self.local_sdp:
            return False
        self.held = held
        body = self._with_version(S.with_direction(self.local_sdp, direction))
        self._auth_tries = 0
        self._reinvite_req, self._reinvite = self._send_in_dialog("INVITE", body,
                                                                  self._on_reinvite_response)
        return True

    def _on_reinvite_response(self, tx, msg):
        st = msg.status
        if st < 200:
            return
        req = self._reinvite_req
        if st < 300:
            if msg.to_tag != self.dialog.remote_tag:
                return                      # not from this dialog's far end
            self._ack_2xx(msg, req)
            try:
                self._refresh_target(msg)
            except ValueError as e:     # the dialog stays where it was
                self.ua.log("sip: re-INVITE 2xx: %s ignored" % e)
            if msg.body and sdp_ok(msg.body):
                self.remote_sdp = msg.body
            self._reinvite = None
            self._set("confirmed", "hold" if self.held else "resume")
            return
        if st in (401, 407) and self._auth_tries < _MAX_AUTH:
            h = "www-authenticate" if st == 401 else "proxy-authenticate"
            try:
                ch = digest.parse_challenge(msg.get(h) or "")
                value = self.ua.auth.authorization(ch, "INVITE", req.uri)
            except ValueError:
                value = None
            if value:
                self._auth_tries += 1
                # the credentials go in before the request is encoded and sent
                self._reinvite_req, self._reinvite = self._send_in_dialog(
                    "INVITE", req.body, self._on_reinvite_response,
                    [("authorization" if st == 401 else "proxy-authorization", value)])
                return
        self._reinvite = None
        if st == 491:
            asyncio.create_task(self._retry_reoffer())
            return
        if st in (408, 481):
            self._send_in_dialog("BYE")
            self._set("ended", st)
            return
        self.held = not self.held
        self._set("confirmed", "reinvite-failed %d" % st)

    async def _retry_reoffer(self):
        await asyncio.sleep_ms(2500)   # RFC 3261 14.1: 2.1-4 s for the dialog owner
        self._reoffer("sendonly" if self.held else "sendrecv", self.held)

    def _in_dialog_timeout(self, tx):
        if tx is self._reinvite and self.state == "confirmed":
            self._reinvite = None
            self._send_in_dialog("BYE")
            self._set("ended", "timeout")

    # ---- in-dialog requests from the peer
    def on_request(self, msg, addr, stx):
        ua = self.ua
        d = self.dialog
        m = msg.method
        if d is None or msg.from_tag != d.remote_tag or self.state == "ended":
            # our tag, but no dialog with this far end (e.g. a BYE overtaking a lost 200)
            ua.counters["no_dialog"] += 1
            ua.reply(msg, addr, 481, stx=stx)
            return
        if d.remote_seq is not None and msg.cseq_num < d.remote_seq:
            # RFC 3261 12.2.2: lower than the last request's CSeq is out of order
            ua.reply(msg, addr, 500, "CSeq out of order", stx)
            return
        d.remote_seq = msg.cseq_num
        if m == "BYE":
            ua.reply(msg, addr, 200, stx=stx)
            self._set("ended", "bye")
        elif m == "INVITE":
            self._on_reinvite(msg, addr, stx)
        elif m == "NOTIFY" and (msg.get("event") or "").strip().lower()[:5] == "refer":
            self._on_refer_notify(msg, addr, stx)      # how our transfer goes (sip/refer)
        elif m in ("INFO", "OPTIONS", "NOTIFY"):
            ua.reply(msg, addr, 200, stx=stx)
            if m == "INFO" and self.on_info is not None:
                try:
                    self.on_info(self, msg.get("content-type") or "", msg.body)
                except Exception as e:  # app errors never break the dialog
                    ua.log("sip: on_info raised %r" % e)
        else:
            ua.reply(msg, addr, 405, stx=stx, extra=[("allow", ua.ALLOW)])

    def _on_reinvite(self, msg, addr, stx):
        ua = self.ua
        if self._reinvite is not None:
            ua.reply(msg, addr, 491, stx=stx)
            return
        if self.state != "confirmed":
            ua.reply(msg, addr, 500, "Not yet", stx=stx)
            return
        if self._target_error(msg):
            ua.reply(msg, addr, 400, "bad Contact", stx=stx)
            return
        local = None
        if msg.body:
            try:
                offer = S.parse(msg.body)
            except ValueError:
                ua.reply(msg, addr, 488, stx=stx)
                return
            if self.on_offer is not None:
                try:
                    local = self.on_offer(self, msg.body)
                except Exception as e:  # an app error answers 500, the call goes on
                    ua.log("sip: on_offer raised %r" % e)
                    ua.reply(msg, addr, 500, stx=stx)
                    return
            else:
                local = self._default_answer(offer)
            if local is None:
                ua.reply(msg, addr, 488, stx=stx)
                return
            self.remote_sdp = msg.body
        else:
            local = self.local_sdp   # offer-less re-INVITE: our offer goes in the 200
        try:
            self._refresh_target(msg)
        except ValueError as e:
            ua.reply(msg, addr, 400, str(e), stx=stx)
            return
        r = ua.make_response(msg, addr, 200, None, self.local_tag)
        r.add("contact", ua.contact())
        r.add("allow", ua.ALLOW)
        r.add("content-type", "application/sdp")
        r.body = self._with_version(local)
        stx.on_ack = self._acked
        stx.on_no_ack = self._no_ack
        stx.respond(r)
        self._set("confirmed", "remote-offer")

    def _target_error(self, msg):
        """True when msg's Contact would move the dialog somewhere we cannot route."""
        c = msg.get_all("contact")
        if not c:
            return False
        try:
            hop = hop_of(self.dialog.routes, H.parse_addr(c[0])[1])
        except ValueError:
            return True
        return self.ua.hop_peer(hop) is None

    def _refresh_target(self, msg):
        """Target refresh from msg's Contact, only to an address we can route to without
        DNS; raises ValueError (the dialog unchanged) otherwise."""
        if self._target_error(msg):
            raise ValueError("bad Contact")
        d = self.dialog
        old = (d.target, d.hop, d.peer)
        hop = d.update_target(msg)
        if hop is not None:
            peer = self.ua.hop_peer(hop)
            if peer is None:
                d.target, d.hop, d.peer = old
                raise ValueError("bad Contact")
            d.peer = peer

    def _default_answer(self, offer):
        """Without on_offer: keep our media, mirror the peer's direction."""
        if self.local_sdp is None:
            return None
        d = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}.get(
            offer.direction, "sendrecv")
        return S.with_direction(self.local_sdp, d)

    def on_ack(self, msg):
        """ACK for a 2xx of ours (its own transaction): stop retransmitting the 2xx."""
        for stx in (self.server_tx, self._reinvite_stx):
            if stx is not None:
                stx.ack_received(msg)
        for stx in list(self.ua.tx.server.values()):
            if stx.invite and stx.req.call_id == self.call_id and stx.req.cseq_num == msg.cseq_num:
                stx.ack_received(msg)
