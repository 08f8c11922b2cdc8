# Call transfer from our side of a dialog, as the transferor (RFC 3515 REFER): the far
# end (the transferee) is asked to call a target; it tells us how that call goes in
# NOTIFYs of the implicit "refer" subscription, each body a message/sipfrag status
# line (RFC 3420). An attended transfer puts Replaces (RFC 3891) in the Refer-To URI,
# so the target swaps our consultation call for the transferee's new one. A mixin of
# sip.call.Call, beside sip.indialog.
from sip import digest

_MAX_AUTH = 1        # challenges answered per REFER
# characters that may not stand as themselves in a URI header value (RFC 3261 25.1
# hnv-unreserved leaves these out): a Call-ID often holds '@'
_ESCAPE = "%;=@?&<>\" "


def uri_escape(text):
    """`text` with the characters a URI header value cannot hold as %XX."""
    out = []
    for ch in text:
        out.append("%%%02X" % ord(ch) if ch in _ESCAPE or ord(ch) < 33 else ch)
    return "".join(out)


def replaces(call_id, target_tag, our_tag):
    """The Replaces value (RFC 3891 6.1) naming our dialog with the target, as the
    target sees it: its own tag is the to-tag, ours the from-tag."""
    return "%s;to-tag=%s;from-tag=%s" % (call_id, target_tag, our_tag)


def refer_to(target_uri, replaces_value=None):
    """The Refer-To header value: the target, with Replaces as a URI header."""
    if replaces_value is None:
        return "<%s>" % target_uri
    return "<%s?Replaces=%s>" % (target_uri, uri_escape(replaces_value))


def sipfrag_status(body):
    """The status code of a message/sipfrag body's status line ("SIP/2.0 200 OK");
    ValueError for anything else."""
    line = (body or "").lstrip().split("\n", 1)[0].strip()
    parts = line.split(" ", 2)
    if len(parts) < 2 or parts[0].upper() != "SIP/2.0" or not parts[1].isdigit() or \
            len(parts[1]) != 3 or not 100 <= int(parts[1]) <= 699:
        raise ValueError("not a SIP status line: %r" % line[:40])
    return int(parts[1])


class Refer:
    on_refer = None      # fn(call, code, final): the transfer's progress, see refer()
    refer_code = None    # the last code reported (None: no transfer asked)
    _refer_req = None    # our REFER in flight (its client transaction not ended)
    _refer_tx = None
    _refer_auth = 0
    _refer_done = True

    def refer(self, target_uri, replaces_value=None, on_result=None):
        """Ask the far end to call target_uri (with Replaces for an attended transfer).
        on_result(call, code, final) is told: 202 (accepted: NOTIFYs follow), each
        sipfrag status the transferee reports (final from 200 on), or our REFER's own
        failure (a 4xx-6xx answer, 408 when unanswered), always final. False when the
        dialog cannot carry a REFER now (not confirmed, one already under way)."""
        if self.state != "confirmed" or self.dialog is None or not self._refer_done:
            return False
        self.on_refer = on_result
        self.refer_code = None
        self._refer_done = False
        self._refer_auth = 0
        self._refer_headers = [("refer-to", refer_to(target_uri, replaces_value)),
                               ("referred-by", "<%s>" % self.ua.aor())]
        self._send_refer(None)
        return True

    def _send_refer(self, auth):
        extra = list(self._refer_headers)
        if auth is not None:
            extra.append(auth)
        self._refer_req, self._refer_tx = self._send_in_dialog(
            "REFER", None, self._on_refer_response, extra)
        if self._refer_tx is None:
            self._refer_result(503, True)      # the transaction table is full
        else:
            self._refer_tx.on_timeout = self._on_refer_timeout

    def _on_refer_timeout(self, tx):
        if tx is self._refer_tx and not self._refer_done:
            self._refer_result(408, True)

    def _on_refer_response(self, tx, msg):
        st = msg.status
        if tx is not self._refer_tx or st < 200 or self._refer_done:
            return
        if st < 300:
            self._refer_result(st, False)      # accepted: the NOTIFYs tell the rest
            return
        if st in (401, 407) and self._refer_auth < _MAX_AUTH:
            h = "www-authenticate" if st == 401 else "proxy-authenticate"
            try:
                ch = digest.parse_challenge(msg.get(h) or "")
                value = self.ua.auth.authorization(ch, "REFER", self._refer_req.uri)
            except ValueError:
                value = None
            if value:
                self._refer_auth += 1
                self._send_refer(("authorization" if st == 401 else "proxy-authorization",
                                  value))
                return
        self._refer_result(st, True)

    def _on_refer_notify(self, msg, addr, stx):
        """A NOTIFY of the refer subscription: 200 and the sipfrag's status to the app;
        481 when we asked for no transfer; 400 for a body that is no status line."""
        ua = self.ua
        if self.on_refer is None or self._refer_done:
            ua.reply(msg, addr, 481, stx=stx)
            return
        try:
            code = sipfrag_status(msg.body)
        except ValueError as e:
            ua.reply(msg, addr, 400, "Bad sipfrag", stx=stx)
            ua.log("sip: refer NOTIFY: %s" % e)
            return
        ua.reply(msg, addr, 200, stx=stx)
        ended = (msg.get("subscription-state") or "").strip().lower().startswith("terminated")
        self._refer_result(code, code >= 200 or ended)

    def _refer_result(self, code, final):
        self.refer_code = code
        if final:
            self._refer_done = True
        cb = self.on_refer
        if cb is not None:
            try:
                cb(self, code, final)
            except Exception as e:  # the app's error never breaks the dialog
                self.ua.log("sip: on_refer raised %r" % e)
