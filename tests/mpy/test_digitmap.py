# Digit maps: a table of maps, dialled keys and what must happen (send now, wait
# which timer, reorder) with the number sent; bad maps refused with the reason;
# and the line controller (fake clock) dialling through a map by pulse and DTMF.
import micropython

import config
import country
import digitmap
import line
from check import eq, raises
from digitmap import REJECT, SEND, WAIT
from test_line import Rig

SHORT = 2000     # ms, the short timer the table runs with
LONG = 4000      # ms, the long timer
US = country.plan("US")["digit_map"]

# (map, dialled, action, wait ms (WAIT), number sent (None: no full match))
TABLE = [
    # the US plan: 911 at once; a full match that could grow waits the short timer;
    # what only x.T matches waits the long one; keys no rule takes: reorder
    (US, "911", SEND, 0, "911"),
    (US, "9", WAIT, LONG, "9"),
    (US, "411", WAIT, SHORT, "411"),
    (US, "212555", WAIT, LONG, "212555"),
    (US, "2125551234", WAIT, SHORT, "2125551234"),
    (US, "12125551234", WAIT, SHORT, "12125551234"),
    (US, "*72", WAIT, SHORT, "*72"),
    (US, "*7", WAIT, LONG, "*7"),
    (US, "01144", WAIT, LONG, "01144"),
    (US, "#", REJECT, 0, None),
    (US, "1*", REJECT, 0, None),
    # S0: send at once although x.T could take more keys
    ("([2-9]xxxS0|x.T)", "2345", SEND, 0, "2345"),
    ("([2-9]xxxS0|x.T)", "234", WAIT, LONG, "234"),
    # a closed plan: incomplete numbers wait, complete ones go, others are refused
    ("([2-9]xxxxxx)", "555", WAIT, LONG, None),
    ("([2-9]xxxxxx)", "5551234", SEND, 0, "5551234"),
    ("([2-9]xxxxxx)", "1", REJECT, 0, None),
    ("([2-9]xxxxxx)", "55512345", REJECT, 0, None),
    # rewrites: strip a 9 for an outside line, add a 1, turn 011 into +
    # (9 + 7 digits could still be the start of a 10-digit number: the short timer)
    ("(<9:>xxxxxxx|<:1>[2-9]xxxxxxxxx|011x.T)", "95551234", WAIT, SHORT, "5551234"),
    ("(<9:>xxxxxxx|<:1>[2-9]xxxxxxxxx|011x.T)", "15551234", REJECT, 0, None),
    ("(<9:>xxxxxxx|<:1>[2-9]xxxxxxxxx|011x.T)", "2125551234", SEND, 0, "12125551234"),
    ("(<9:>xxxxxxx|<:1>[2-9]xxxxxxxxx|011x.T)", "0114420", WAIT, LONG, "0114420"),
    ("(<011:+>x.T)", "01144207", WAIT, LONG, "+44207"),
    ("(<9:10>xxS0|x.T)", "902", SEND, 0, "1002"),
    ("(xx.<:#>)", "123", WAIT, SHORT, "123#"),
    ("(*xx<*:>xxxS0)", "*72*555", SEND, 0, "*72555"),
    # a rule's own timer, in seconds, wins over the defaults
    ("(xxxS3|xxxxT5)", "123", WAIT, 3000, "123"),
    ("(xxxS3|xxxxT5)", "1234", WAIT, 5000, "1234"),
    ("(xxS|xxxxT)", "12", WAIT, SHORT, "12"),
    ("(xxS|xxxxT)", "1234", WAIT, LONG, "1234"),
    # Grandstream's braces and x+ (one or more)
    ("{x+|*x+}", "1", WAIT, SHORT, "1"),
    ("{x+|*x+}", "*", WAIT, LONG, None),
    ("{ x+ | *x+ }", "*98", WAIT, SHORT, "*98"),
    # sets; of two fixed full matches the first listed decides; fixed beats open
    ("([135]x)", "11", SEND, 0, "11"),
    ("([135]x)", "21", REJECT, 0, None),
    ("([x*]#)", "*#", SEND, 0, "*#"),
    ("(<2:7>11|[2-9]11)", "211", SEND, 0, "711"),
    ("(x.T|<:0>911)", "911", WAIT, SHORT, "0911"),
]


def test_table():
    maps = {}
    for text, dialled, action, wait, number in TABLE:
        m = maps.get(text) or digitmap.DigitMap(text, SHORT, LONG)
        maps[text] = m
        what = "%s %s" % (text, dialled)
        eq(m.step(dialled), action, what + " action")
        if action == WAIT:
            eq(m.wait_ms, wait, what + " timer")
        eq(m.number(dialled) if m.rule >= 0 else None, number, what + " number")


def test_every_prefix_of_a_complete_number_can_wait():
    # a number the plan sends must never be refused part-way through dialling it
    m = digitmap.DigitMap(US, SHORT, LONG)
    for number in ("12125551234", "2125551234", "01144207946", "*72"):
        for k in range(1, len(number)):
            if m.step(number[:k]) == REJECT:
                raise AssertionError("%s refused at %s" % (number, number[:k]))


def test_every_country_plan_compiles_and_sends_its_emergency_number_at_once():
    emergency = {"US": ("911",), "UK": ("999", "112"), "DE": ("110", "112"),
                 "AU": ("000", "112"), "FR": ("15", "17", "18", "112"),
                 "IT": ("112", "113", "115", "118"), "NL": ("112",),
                 "ES": ("112", "091", "062", "080"), "SE": ("112",),
                 "NO": ("110", "112", "113"), "NZ": ("111",), "JP": ("110", "119")}
    for code in country.CODES:
        plan = country.plan(code)
        if code not in emergency:
            raise AssertionError("country %s: no emergency numbers in this test" % code)
        if "digit_map" not in plan:
            raise AssertionError("country %s has no digit_map" % code)
        m = digitmap.DigitMap(plan["digit_map"], SHORT, LONG)
        for n in emergency.get(code, ()):
            eq(m.step(n), SEND, code + " " + n)
        # behind a PBX: an extension and a star code still go, after the long timer
        # (the US plan knows *XX vertical service codes: those after the short one)
        for n, timer in (("1234", LONG), ("*97", SHORT if code == "US" else LONG)):
            eq(m.step(n), WAIT, code + " " + n)
            eq(m.wait_ms, timer, code + " " + n + " timer")


BAD = [
    ("911", "inside ( )"),
    ("(911|)", "rule 2"),
    ("(911|)", "matches nothing"),
    ("(xT1x)", "ends a rule"),
    ("([2-9xx)", "without ]"),
    ("(.x)", "must follow"),
    ("(x..)", "must follow"),
    ("(<9xxx)", "<old:new>"),
    ("(<x:1>xx)", "old is keys"),
    ("(<1:a>xx)", "new is keys"),
    ("(a)", "unexpected 'a'"),
    ("(*74(x|xx))", "nested"),
    ("([])", "empty"),
    ("([9-2])", "bad range"),
    ("(" + "x" * 30 + ")", "more than 29"),
    ("(" + "|".join(["1"] * 33) + ")", "more than 32 rules"),
]


def test_bad_maps_refused_with_the_reason():
    for text, words in BAD:
        e = raises(ValueError, digitmap.DigitMap, text)
        if words not in str(e):
            raise AssertionError("%r: %r not in %r" % (text, words, str(e)))


def test_config_names_the_field_and_reason():
    base = '{"sip": {"server": "h", "user": "1001"}, "line": %s}'
    e = raises(config.ConfigError, config.parse, base % '{"digit_map": "(xx|[2-9xx)"}')
    eq(e.field, "line.digit_map", "field")
    if "rule 2" not in str(e) or "without ]" not in str(e):
        raise AssertionError(str(e))
    e = raises(config.ConfigError, config.parse, base % '{"digit_map": 5}')
    eq(e.field, "line.digit_map", "type")
    e = raises(config.ConfigError, config.parse,
               base % '{"interdigit_ms": 3000, "interdigit_short_ms": 3500}')
    eq(e.field, "line.interdigit_short_ms", "short timer above the long one")
    c = config.parse(base % '{"digit_map": "([2-9]xxxS0|x.T)"}')
    eq(c["line"]["digit_map"], "([2-9]xxxS0|x.T)", "kept")
    c = config.parse(base % '{}')
    eq((c["line"]["digit_map"], c["line"]["interdigit_short_ms"]), ("auto", 2000), "defaults")
    c = config.parse(base % '{"interdigit_ms": 1500}')
    eq(c["line"]["interdigit_short_ms"], 1500, "the default short timer within a short long one")


def test_step_allocates_nothing():
    # per key the line asks step(): the compiled map is walked with small ints only
    m = digitmap.DigitMap(US, SHORT, LONG)
    got = [0, 0]
    m.step("12125551234")
    micropython.heap_lock()
    try:
        got[0] = m.step("12125551234")
        got[1] = m.step("1*")
    finally:
        micropython.heap_unlock()
    eq(got, [WAIT, REJECT], "actions under heap_lock")


# -- the line controller dialling through a map (fake clock) ----------------------
def rig(digit_map, short=1000, long=4000, code="US"):
    lcfg = config.parse('{"sip": {"server": "h", "user": "1001"}, "line": '
                        '{"interdigit_ms": %d, "interdigit_short_ms": %d, "digit_map": "%s", '
                        '"first_digit_ms": 20000}}' % (long, short, digit_map))["line"]
    return Rig(code, lcfg)


def numbers(r):
    return [v for k, v in r.events if k == "number"]


def test_line_short_timer_after_a_full_match_long_while_partial():
    r = rig("([2-9]xxx|x.T)")
    r.run(100, 1)
    for d in "234":
        r.line.dtmf_digit(d)
    r.run(3900, 1)
    eq(numbers(r), [], "partial: nothing before the long timer")
    r.line.dtmf_digit("5")
    r.run(900, 1)
    eq(numbers(r), [], "full match: nothing before the short timer")
    r.run(200, 1)
    eq(numbers(r), ["2345"], "sent after the short timer")
    eq(r.line.state, line.CALL, "handed to call control")


def test_line_impossible_number_reorder_at_once():
    r = rig("([2-9]xxxxxx)")
    r.run(100, 1)
    r.line.dtmf_digit("1")
    eq(r.line.state, line.REORDER, "reorder at once")
    eq(r.tones.spec, country.plan("US")["congestion"], "reorder tone")
    eq(numbers(r), [], "nothing sent")


def test_line_incomplete_number_refused_when_the_long_timer_ends():
    r = rig("([2-9]xxxxxx)")
    r.run(100, 1)
    for d in "555":
        r.line.dtmf_digit(d)
    r.run(3900, 1)
    eq(r.line.state, line.DIALING, "still waiting")
    r.run(200, 1)
    eq(r.line.state, line.REORDER, "refused after the long timer")
    eq(numbers(r), [], "nothing sent")


def test_line_hash_sends_now_and_refuses_an_incomplete_number():
    r = rig("([2-9]xxxxxx|x.T)")
    r.run(100, 1)
    for d in "55#":
        r.line.dtmf_digit(d)
    eq(numbers(r), ["55"], "# sends at once")
    r = rig("([2-9]xxxxxx)")
    r.run(100, 1)
    for d in "55#":
        r.line.dtmf_digit(d)
    eq((numbers(r), r.line.state), ([], line.REORDER), "# on an incomplete number")


def test_line_hash_a_rule_takes_is_a_key():
    r = rig("(*xx#S0|x.T)")
    r.run(100, 1)
    for d in "*72#":
        r.line.dtmf_digit(d)
    eq(numbers(r), ["*72#"], "# is part of the number")


def test_line_pulse_digits_go_through_the_map_with_rewrite():
    r = rig("(<9:10>xxS0|x.T)", long=8000)
    r.run(100, 1)
    for n in (9, 10, 2):
        r.pulses(n)
        r.run(700, 1)     # past the digit gap: the digit is taken, the next starts
    eq(numbers(r), ["1002"], "902 rewritten and sent at once after the last digit")
