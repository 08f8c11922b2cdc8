# Inbound SIP for the UserAgent: datagram -> source filter -> parser -> requests
# (dispatch, the source rules for dialogs, 500 on a handler error) and responses (matched
# to our transactions, only from where the request went). A mixin: sip.ua.UserAgent is
# the class; this file only keeps ua.py a readable size.
from sip import headers as H
from sip import message as M
from sip.wire import bad_request_response


class Inbound:
    def handle(self, data, addr):
        """One datagram from addr=(ip, port). Never raises for bad input."""
        self.counters["rx"] += 1
        if len(data) > M.MAX_MESSAGE:
            self.counters["oversize"] += 1
            return
        if M.is_keepalive(data):
            self.counters["keepalive_rx"] += 1
            return
        if not self._known_source(addr):
            # scanners end here, unparsed
            self.counters["rejected"] += 1
            self._reject(data, addr)
            return
        try:
            msg = M.parse(data)
        except M.SipError as e:
            self.counters["malformed"] += 1
            self._bad_request(data, addr, e.reason)
            return
        if msg.is_request:
            self._request(msg, addr)
        else:
            self._response(msg, addr)

    def _bad_request(self, data, addr, reason):
        """400 for a broken request from our registrar when its Via etc. survive."""
        if not self.trusted(addr) or data[:4] == b"SIP/" or not self._reply_bucket.allow():
            return
        self.log("sip: malformed from %s:%d: %s" % (addr[0], addr[1], reason))
        if data[:3] == b"ACK":
            return
        data400 = bad_request_response(data, reason)
        if data400:
            self._send(data400, addr)

    def _reject(self, data, addr, msg=None):
        """A request from a stranger: silence, or a rate-limited 403 (reject: "403")."""
        if self.reject_mode != "403" or data[:4] == b"SIP/" or data[:3] == b"ACK":
            return
        if not self._reply_bucket.allow():
            return
        if msg is None:
            try:
                msg = M.parse(data)
            except M.SipError:
                return
        if msg.is_request and msg.method != "ACK":
            self.reply(msg, addr, 403)

    def _response(self, msg, addr):
        got = self.tx.response(msg, addr, self.trusted)
        if got:
            return
        if got is None:
            self.counters["forged"] += 1     # matches a branch, wrong source
            return
        if msg.cseq_method == "INVITE" and 200 <= msg.status < 300:
            # a 2xx retransmission after its transaction ended: the call re-ACKs it
            for call in self.calls.values():
                if call.call_id == msg.call_id and call.local_tag == msg.from_tag:
                    if call.dialog is not None and (call.dialog.peer == addr or
                                                    self.trusted(addr)):
                        call.stray_2xx(msg)
                        return
        self.counters["stray"] += 1

    def _find_call(self, msg):
        return self.calls.get((msg.call_id, msg.to_tag)) if msg.to_tag else None

    def _request(self, msg, addr):
        call = self._find_call(msg)
        if not self.trusted(addr) and (call is None or call.dialog is None or
                                       call.dialog.peer != addr):
            # in-dialog requests only from the trusted set or the dialog's next hop;
            # the rest only from the trusted set
            self.counters["rejected"] += 1
            self._reject(b"", addr, msg)
            return
        if not self._req_bucket.allow():
            self.counters["rate_limited"] += 1
            return
        try:
            self._dispatch(msg, addr, call)
        except Exception as e:  # a handler bug: answer 500, free the transaction
            self.counters["errors"] += 1
            self.log("sip: error handling %s: %r" % (msg.method, e))
            self._fail(msg, addr)

    def _fail(self, msg, addr):
        if msg.method == "ACK":
            return
        stx = self.tx.find_server(msg)
        for c in list(self.calls.values()):
            if c.server_tx is stx and stx is not None and c.state != "ended":
                c.state = "ended"
                c.end_reason = "error"
                self.remove_call(c)
        try:
            if stx is not None:
                # answered: its timers free it (J, or H/I after the ACK)
                if stx.status < 200:
                    stx.respond(self.make_response(msg, addr, 500, to_tag=self.new_tag()))
                if not stx.invite:
                    self.tx.remove(stx)   # a retransmission is simply handled again
            else:
                self.reply(msg, addr, 500)
        except Exception as e:  # nothing more can be done for this request
            self.log("sip: cannot answer 500: %r" % e)
            if stx is not None:
                self.tx.remove(stx)

    def _dispatch(self, msg, addr, call):
        stx = self.tx.find_server(msg)
        if stx is not None:
            if msg.method == "ACK":
                stx.ack_received(msg)
            else:
                self.counters["retransmits"] += 1
                stx.retransmitted()
            return
        method = msg.method
        if method == "ACK":
            if call is not None:
                call.on_ack(msg)
            else:
                self.counters["stray"] += 1
            return
        mf = msg.get("max-forwards")
        if mf is not None and int(mf) == 0 and method != "OPTIONS":
            self.reply(msg, addr, 483)
            return
        if method == "CANCEL":
            self._cancel(msg, addr)
            return
        if msg.get("require") and method not in ("CANCEL",):
            self.reply(msg, addr, 420, extra=[("unsupported", msg.get("require"))])
            return
        if call is not None and call.dialog is not None:
            stx = self.tx.new_server(msg, addr)
            if stx is None:
                self.counters["tx_full"] += 1
                self.reply(msg, addr, 503)
                return
            call.on_request(msg, addr, stx)
            return
        if msg.to_tag:
            if method == "NOTIFY":
                for sub in self.subscriptions:
                    if sub.matches(msg):
                        sub.notify(msg)
                        self._notify(msg, addr)
                        return
            if method == "OPTIONS":
                self._options(msg, addr)
            else:
                self.counters["no_dialog"] += 1
                self.reply(msg, addr, 481)
            return
        if method == "OPTIONS":
            self._options(msg, addr)
        elif method == "INVITE":
            self._invite(msg, addr)
        elif method in ("BYE", "INFO"):
            self.reply(msg, addr, 481)
        elif method == "NOTIFY":
            self._notify(msg, addr)       # unsolicited, e.g. message waiting from a PBX
        else:
            self.reply(msg, addr, 405, extra=[("allow", self.ALLOW)])

    def _notify(self, msg, addr):
        """A NOTIFY from a trusted source (unsolicited, or of one of our subscriptions):
        the app's on_notify(msg) gives (status, reason), e.g. 400 and why for a body it
        cannot read, 489 for an event it does not know; without one, 200."""
        status, reason = 200, None
        if self.on_notify is not None:
            status, reason = self.on_notify(msg)
        extra = None
        if status == 415:
            extra = [("accept", self.notify_accept)]
        self.reply(msg, addr, status, reason, extra=extra)

    def _for_us(self, msg):
        """Out-of-dialog requests must name our user (R-URI, else To)."""
        try:
            ru = H.parse_uri(msg.uri).user
            if ru is not None:
                return ru == self.user
            if self.accept_from == "any":
                return True
            return H.parse_uri(H.parse_addr(msg.get("to"))[1]).user == self.user
        except ValueError:
            return False

    def _options(self, msg, addr):
        self.reply(msg, addr, 200, extra=[("allow", self.ALLOW), ("accept", "application/sdp"),
                                          ("contact", self.contact())])

    def _invite(self, msg, addr):
        from sip.call import Call
        if not self._for_us(msg):
            self.counters["rejected"] += 1
            self.reply(msg, addr, 404)
            return
        if not self._inv_bucket.allow():
            self.counters["rate_limited"] += 1
            self.reply(msg, addr, 503, extra=[("retry-after", "5")])
            return
        live = [x for x in self.calls.values() if x.state != "ended"]
        if len(live) >= self.max_calls:
            self.reply(msg, addr, 486)
            return
        stx = self.tx.new_server(msg, addr)
        if stx is None:
            self.counters["tx_full"] += 1
            self.reply(msg, addr, 503, extra=[("retry-after", "5")])
            return
        Call.incoming(self, msg, addr, stx)

    def _cancel(self, msg, addr):
        inv = self.tx.find_server(msg, "INVITE")
        if inv is None:
            self.reply(msg, addr, 481)
            return
        call = None
        for c in self.calls.values():
            if c.server_tx is inv:
                call = c
                break
        # the 200 for CANCEL carries the To tag of the INVITE's responses
        self.reply(msg, addr, 200, to_tag=call.local_tag if call else None)
        if call is not None:
            call.cancelled()
