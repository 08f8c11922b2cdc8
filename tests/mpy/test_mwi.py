# Message waiting and incoming call details (issue 11.4, 11.5): the RFC 3842
# message-summary parser, the Alert-Info -> distinctive ring mapping, the VMWI
# message bytes, the caller's private/unavailable presentation, the country data
# and config fields they use, and the line's stutter dial tone and lamp message
# stepped with a fake clock on the real AG1171 driver.
import alert
import callctl
import clip
import config
import country
import line
import mwi
from dsp import callerid
from check import eq, raises

from test_line import Rig


def test_summary_yes_with_counts():
    body = ("Messages-Waiting: yes\r\nMessage-Account: sip:1001@pbx\r\n"
            "Voice-Message: 2/8 (1/3)\r\n")
    eq(mwi.parse(body), (True, (2, 8, 1, 3)), "yes, counts with urgent")
    eq(mwi.parse(b"messages-waiting:NO\nvoice-message: 0/4\n"), (False, (0, 4, 0, 0)),
       "bytes, case-insensitive names and value, no urgent part")
    eq(mwi.parse("Messages-Waiting: yes\r\nFax-Message: 1/0\r\nX-Thing: a\r\n"),
       (True, None), "other classes and extension lines: no voice counts")


def test_summary_errors_name_the_reason():
    for body, why in [
        ("Voice-Message: 1/2\r\n", "no Messages-Waiting"),
        ("Messages-Waiting: maybe\r\n", "yes or no"),
        ("Messages-Waiting: yes\r\nVoice-Message: 1-2\r\n", "new/old"),
        ("Messages-Waiting: yes\r\nVoice-Message: x/2\r\n", "not a number"),
        ("Messages-Waiting: yes\r\nVoice-Message: 1/2 (0/1\r\n", "')'"),
        ("Messages-Waiting yes\r\n", "without ':'"),
    ]:
        try:
            mwi.parse(body)
        except ValueError as e:
            eq(why in str(e), True, "reason %r in %r" % (why, str(e)))
        else:
            raise AssertionError("accepted %r" % body)


def test_event_header():
    eq(mwi.event_ok("message-summary"), True, "plain")
    eq(mwi.event_ok("Message-Summary;id=7"), True, "parameters, case")
    eq(mwi.event_ok("presence"), False, "other package")
    eq(mwi.event_ok(None), False, "missing")


US = country.plan("US")
DE = country.plan("DE")


def test_alert_info_tokens():
    eq(alert.tokens("<http://127.0.0.1/Bellcore-dr2>"), ["bellcore-dr2"], "URI path")
    eq(alert.tokens("<http://www.notused.com>;info=alert-internal"),
       ["www.notused.com", "alert-internal"], "info parameter after a URI")
    eq(alert.tokens("info=Bellcore-dr3"), ["bellcore-dr3"], "bare info=")
    eq(alert.tokens("<urn:alert:service:normal>"), [], "a URN has no path segment")


def test_alert_info_to_cadence():
    eq(alert.cadence("<http://127.0.0.1/Bellcore-dr2>", "US", US), (800, 400, 800, 4000), "dr2")
    eq(alert.cadence("<http://x>;info=Bellcore-r3", "US", US),
       (400, 200, 400, 200, 800, 4000), "r3")
    eq(alert.cadence("<http://x>;info=alert-internal", "US", US), (800, 400, 800, 4000),
       "alert-internal is dr2")
    eq(alert.cadence("<http://x/Bellcore-dr1>", "US", US), (2000, 4000), "dr1: the normal ring")
    eq(alert.cadence("<http://x/Bellcore-dr2>", "DE", DE), (1000, 4000),
       "a country without distinctive figures rings its own cadence")
    eq(alert.cadence("<http://x/strange>", "US", US), (2000, 4000), "unknown: normal")
    m = alert.parse_map("strange:dr4, vip:300/300/300/3000")
    eq(alert.cadence("<http://x/strange>", "US", US, m), (300, 200, 1000, 200, 300, 4000),
       "ring_map names a pattern")
    eq(alert.cadence("info=VIP", "US", US, m), (300, 300, 300, 3000), "ring_map cadence in ms")


def test_ring_map_config_errors():
    for text in ("nocolon", "a:dr9", "a:100/200/300", "a:0/100"):
        raises(ValueError, alert.parse_map, text)
    e = raises(config.ConfigError, lambda: config.parse(
        '{"sip": {"server": "h", "user": "1"}, "line": {"ring_map": "x:dr7"}}'))
    eq(e.field, "line.ring_map", "field")
    cfg = config.parse('{"sip": {"server": "h", "user": "1"}}')
    eq(cfg["mwi"], {"subscribe": False, "expires": 3600, "stutter": True, "visual": True},
       "mwi defaults")


def test_vmwi_message_bytes():
    on = clip.vmwi_message(True)
    eq(on[:5], bytes((0x82, 3, 0x0B, 1, 0xFF)), "type 0x82, Visual Indicator 0xFF")
    eq(sum(on) & 0xFF, 0, "checksum")
    eq(callerid.parse(clip.vmwi_message(False)), (0x82, [(0x0B, b"\x00")]), "off")


class _Inv:
    def __init__(self, headers):
        self.h = headers

    def get(self, name):
        return self.h.get(name)


class _Call:
    def __init__(self, number, name, headers=None):
        self.caller_number = number
        self.caller_name = name
        self.invite = _Inv(headers or {})


def test_caller_presentation():
    eq(callctl.caller(_Call("1002", "Bob")), ("1002", "Bob", False), "plain")
    eq(callctl.caller(_Call("anonymous", "Anonymous")), (None, None, True), "anonymous")
    eq(callctl.caller(_Call("1002", "Bob", {"privacy": "id"})), ("1002", "Bob", True),
       "Privacy: id")
    eq(callctl.caller(_Call("1002", "", {"privacy": "none"})), ("1002", None, False),
       "Privacy: none")
    eq(callctl.caller(_Call("unavailable", "Unavailable")), (None, None, False),
       "unavailable: no number, not private ('O')")
    msg = clip.message(None, None, False)
    params = dict(callerid.parse(msg)[1])
    eq(params[callerid.P_NUMBER_ABSENT], b"O", "unavailable -> O")


def test_country_stutter_and_distinctive_data():
    eq(US["stutter"], (10, 100, 100), "US stutter")
    eq(country.plan("FR")["stutter"], (6, 100, 100), "FR stutter [AST]")
    eq("stutter" in DE, False, "DE: the US fallback")
    eq(country.field("US", "dr3"), (400, 200, 400, 200, 800, 4000), "US dr3")
    eq(country.field("DE", "dr2"), None, "DE: none")
    eq("dr2" in US, False, "not kept in the plan dict")


def _stutter_rig(code):
    r = Rig(code)
    r.line.vmwi_on = False        # the lamp has its own tests below
    r.line.message_waiting(True)
    r.run(100, 1)
    return r


def test_stutter_then_steady_dial_tone():
    r = _stutter_rig("US")
    f1, f2, level, _ = US["dial"]
    eq(r.tones.spec, (f1, f2, level, (100, 100)), "bursts of dial tone")
    eq(r.line.tone_name, "stutter", "stutter")
    r.run(2100, 1)
    eq(r.tones.spec, US["dial"], "steady after 10 bursts")
    r.run(1000, 0)
    r.line.message_waiting(False)
    r.run(100, 1)
    eq(r.tones.spec, US["dial"], "box empty: plain dial tone")
    r2 = _stutter_rig("DE")
    eq(r2.tones.spec, (425, 0, -13, (100, 100)), "DE: the US pattern on its dial tone")


class _Media:
    """Caller-ID sender double: records what the line asked to send."""
    def __init__(self):
        self.sent = []
        self.active = False

    def caller_id(self, prepare):
        prepare(self)

    def send_fsk(self, msg, modem, *a):
        self.sent.append(msg)

    def send_cas(self):
        self.sent.append("cas")

    def caller_id_active(self):
        return False

    def caller_id_stop(self):
        pass


def test_lamp_message_on_hook_with_line_reversal():
    r = Rig("US")
    m = _Media()
    r.line.clip.media = m
    r.run(20, 0)
    r.line.message_waiting(True)
    r.run(20, 0)
    eq(r.fr(), 0, "line reversed before the data")
    r.run(1000, 0)
    eq(m.sent, [clip.vmwi_message(True)], "VMWI on sent (no alert tone in Bell 202)")
    eq(r.fr(), 1, "polarity back")
    eq(r.line.vmwi_shown, True, "lamp on")
    r.run(1000, 0)
    eq(len(m.sent), 1, "sent once")
    r.line.message_waiting(False)
    r.run(1000, 0)
    eq(m.sent[-1], clip.vmwi_message(False), "off when the box empties")
    eq(r.line.state, line.IDLE, "no ringing, still idle")


def test_lamp_message_etsi_has_the_alert():
    r = Rig("DE")
    m = _Media()
    r.line.clip.media = m
    r.line.message_waiting(True)
    r.run(1000, 0)
    eq(m.sent, ["cas", clip.vmwi_message(True)], "DT-AS alert, then the message")


class _Ua:
    """What sip.subscribe.Subscription needs of the UA, without a socket."""
    do_register = True
    registered = True

    def __init__(self):
        self.logs = []
        self.n = 0

    def new_call_id(self):
        self.n += 1
        return "cid%d" % self.n

    def new_tag(self):
        return "mytag"

    def log(self, text):
        self.logs.append(text)


class _Resp:
    def __init__(self, expires, to_tag="theirs"):
        self.h = {"expires": expires}
        self.to_tag = to_tag

    def get(self, name):
        return self.h.get(name)


def test_subscription_refreshes_before_expiry_and_restarts_when_terminated():
    from sip.subscribe import Subscription
    sub = Subscription(_Ua(), "message-summary", "application/simple-message-summary", 3600)
    eq(sub._ok(_Resp("3600")), 3570, "refresh 30 s before a long expiry")
    eq(sub._ok(_Resp("40")), 20, "at half-time for a short one")
    eq(sub.remote_tag, "theirs", "the notifier's tag from the 2xx")
    eq(sub.active, True, "active")

    class _Notify:
        call_id = sub.call_id
        to_tag = "mytag"
        from_tag = "theirs"

        def __init__(self, state):
            self.state = state

        def get(self, name):
            return self.state if name == "subscription-state" else None

    eq(sub.matches(_Notify("active")), True, "its Call-ID and our tag")
    old = sub.call_id
    sub.notify(_Notify("terminated;reason=timeout"))
    eq((sub.active, sub.remote_tag, sub.call_id != old), (False, None, True),
       "terminated: a new subscription (new Call-ID) is started")
    eq(sub._wake.is_set(), True, "at once")
    eq(sub._failed("503 Service Unavailable"), 4, "back-off after a failure")
    eq(sub._failed("503 Service Unavailable"), 8, "doubling")
