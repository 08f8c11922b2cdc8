# Outgoing failures as a phone user knows them (issue 11.6): which tone each SIP
# ending gives (callctl.failure_tone), and the line's sequence after a failure: the
# tone for fail_tone_ms, the country's howler for howler_ms, then silence until
# on-hook; the "reorder" tone falling back to congestion; the no-answer timer.
import callctl
import config
import country
import line
from check import eq
from test_line import Rig

# (state, SIP status or end detail, tone)
TABLE = [
    ("ended", "remote", "busy"),     # the far end hung up (BYE)
    ("failed", 486, "busy"), ("failed", 600, "busy"),
    ("failed", 404, "reorder"), ("failed", 484, "reorder"), ("failed", 410, "reorder"),
    ("failed", 480, "reorder"), ("failed", 408, "reorder"), ("failed", 603, "reorder"),
    ("failed", 403, "reorder"), ("failed", 488, "reorder"),
    ("failed", 503, "congestion"), ("failed", 500, "congestion"), ("failed", 502, "congestion"),
    ("failed", 504, "congestion"),
]


def cfg(**line_fields):
    text = ", ".join('"%s": %s' % (k, v) for k, v in line_fields.items())
    return config.parse('{"sip": {"server": "h", "user": "1001"}, "line": {%s}}' % text)["line"]


def in_call(code="US", lcfg=None):
    """A rig off-hook with an emergency number sent at once: the line is in CALL."""
    r = Rig(code, lcfg)
    r.run(100, 1)
    num = {"US": "911", "DE": "110", "UK": "999"}[code]
    for k in num:
        r.line.dtmf_digit(k)
    eq(r.line.state, line.CALL, "in a call")
    return r


def test_each_ending_gives_its_tone():
    for state, code, want in TABLE:
        eq(callctl.failure_tone(state, code), want, "%s %s" % (state, code))


def test_busy_then_howler_then_silence_until_on_hook():
    r = in_call("US", cfg(fail_tone_ms=3000, howler_ms=5000))
    us = country.plan("US")
    r.line.failed("busy")
    eq((r.line.state, r.tones.spec), (line.REORDER, us["busy"]), "busy tone")
    r.run(2990, 1)
    eq(r.tones.spec, us["busy"], "busy for fail_tone_ms")
    r.run(20, 1)
    eq((r.line.state, r.tones.spec), (line.HOWLER, us["howler"]), "then the howler")
    r.run(4980, 1)
    eq(r.line.state, line.HOWLER, "howler for howler_ms")
    r.run(20, 1)
    eq((r.line.state, r.tones.spec), (line.LOCKOUT, None), "then lock-out, silent")
    r.run(60000, 1)
    eq((r.line.state, r.tones.spec), (line.LOCKOUT, None), "silent until on-hook")
    r.line.dtmf_digit("5")
    eq(r.line.digits, "", "no dialling in lock-out")
    r.run(1000, 0)
    eq(r.line.state, line.IDLE, "on-hook ends it")


def test_a_plan_without_howler_or_howler_off_goes_silent_after_the_tone():
    r = in_call("DE", cfg(fail_tone_ms=2000))
    r.line.failed("busy")
    eq(r.tones.spec, country.plan("DE")["busy"], "busy")
    r.run(2010, 1)
    eq((r.line.state, r.tones.spec), (line.LOCKOUT, None), "no howler in DE: silence")
    r = in_call("US", cfg(fail_tone_ms=2000, howler_ms=0))
    r.line.failed("busy")
    r.run(2010, 1)
    eq((r.line.state, r.tones.spec), (line.LOCKOUT, None), "howler_ms 0: silence")


def test_reorder_is_the_countrys_own_or_its_congestion_tone():
    for code, want in (("US", "congestion"), ("DE", "congestion"), ("UK", "reorder")):
        r = in_call(code)
        r.line.failed("reorder")
        eq(r.tones.spec, country.plan(code)[want], code + " reorder")
    eq(country.plan("UK")["reorder"], (400, 0, -24, None), "UK number unobtainable")


def test_no_answer_timer():
    r = in_call("US")
    r.line.play("ringback")
    r.line.await_answer(5000)
    r.run(2000, 1)
    r.line.await_answer(5000)          # a second 180: the timer is not restarted
    r.run(2980, 1)
    eq(r.events[-1][0], "number", "nothing before the time-out")
    r.run(20, 1)
    eq(r.events[-1], ("no_answer", None), "no answer")
    r = in_call("US")
    r.line.await_answer(5000)
    r.line.connected()                 # answered: no time-out any more
    r.run(6000, 1)
    eq(r.events[-1][0], "number", "answered in time")
