# Country plans (firmware/country.py): every plan complete and safe for the SLIC, its
# values as the sources give them (a table typed from the sources, not from the
# plans), its digit map sending complete national numbers after the short timer,
# the config accepting every country; and DTMF caller ID (firmware/clip.py) before
# the first ring after a line reversal, stepped with a fake clock.
import clip
import config
import country
import digitmap
from dsp import tone
from check import eq, raises

SHORT = 2000
LONG = 4000
WAIT = digitmap.WAIT

# (code, field, value) as the sources give them (country.py cites each)
SOURCES = [
    ("US", "ringback", (440, 480, -19, (2000, 4000))),
    ("UK", "congestion", (400, 0, -24, (400, 350, 225, 525))),
    ("FR", "ring_hz", 50), ("FR", "ring_cadence", (1500, 3500)),
    ("FR", "dial", (440, 0, -13, None)), ("FR", "waiting", (440, 0, -20, (300, 10000))),
    ("IT", "dial", (425, 0, -13, (200, 200, 600, 1000))),
    ("IT", "waiting", (425, 0, -20, (400, 100, 250, 100, 150, 14000))),
    ("NL", "cid", "dtmf"), ("NL", "waiting", (425, 0, -20, (500, 9500))),
    ("ES", "ring_cadence", (1500, 3000)), ("ES", "busy", (425, 0, -24, (200, 200))),
    ("ES", "congestion", (425, 0, -24, (200, 200, 200, 200, 200, 600))),
    ("SE", "cid", "dtmf"), ("SE", "ring_cadence", (1000, 5000)),
    ("SE", "congestion", (425, 0, -24, (250, 750))),
    ("NO", "waiting", (425, 0, -20, (200, 600, 200, 10000))),
    ("NZ", "ringback", (400, 450, -19, (400, 200, 400, 2000))), ("NZ", "dial", (400, 0, -13, None)),
    ("JP", "ring_hz", 16), ("JP", "ring_cadence", (1000, 2000)),
    ("JP", "busy", (400, 0, -24, (500, 500))),
]

# (code, dialled, action, timer) through the country's own digit map
NUMBERS = [
    ("FR", "0142685300", WAIT, SHORT), ("FR", "3949", WAIT, SHORT),
    ("FR", "0033", WAIT, LONG),
    ("IT", "3471234567", WAIT, SHORT), ("IT", "800123456", WAIT, SHORT),
    ("IT", "0612345678", WAIT, LONG),
    ("NL", "0201234567", WAIT, SHORT), ("NL", "0800123", WAIT, LONG),
    ("ES", "912345678", WAIT, SHORT), ("ES", "612345678", WAIT, SHORT),
    ("ES", "91234567", WAIT, LONG),
    ("SE", "0701234567", WAIT, SHORT), ("SE", "1177", WAIT, SHORT), ("SE", "081234567", WAIT, LONG),
    ("NO", "22123456", WAIT, SHORT), ("NO", "2212345", WAIT, LONG),
    ("NZ", "093031234", WAIT, SHORT), ("NZ", "0800123456", WAIT, SHORT),
    ("NZ", "0211234567", WAIT, LONG),
    ("JP", "0312345678", WAIT, SHORT), ("JP", "09012345678", WAIT, SHORT),
    ("JP", "0901234567", WAIT, LONG), ("JP", "010", WAIT, LONG),
]


def test_every_plan_complete_and_safe_for_the_slic():
    eq(len(country.CODES) >= 12, True, "at least 12 countries")
    for code in country.CODES:
        p = country.plan(code)
        for key in ("ring_hz", "ring_cadence", "cid", "digit_map") + country.TONES:
            if key not in p:
                raise AssertionError("%s has no %s" % (code, key))
        # the AG1171 driver's limits: 10..60 Hz, on/off pairs, <= 8 steps, duty <= 33 %
        if not 10 <= p["ring_hz"] <= 60:
            raise AssertionError("%s ring %r Hz" % (code, p["ring_hz"]))
        cad = p["ring_cadence"]
        eq(len(cad) % 2 == 0 and 2 <= len(cad) <= 8, True, code + " ring cadence steps")
        on = sum(cad[i] for i in range(0, len(cad), 2))
        if on * 1000 > 334 * sum(cad):
            raise AssertionError("%s ring duty %d/%d" % (code, on, sum(cad)))
        if p["cid"] not in clip.MODES:
            raise AssertionError("%s caller ID %r not in %r" % (code, p["cid"], clip.MODES))
        for name in country.TONES + country.OPTIONAL_TONES:
            if name not in p:
                continue
            f1, f2, level, cadence = p[name]
            if not (0 < f1 < 4000 and 0 <= f2 < 4000 and level <= 0):
                raise AssertionError("%s %s %r" % (code, name, p[name]))
            tone.preset(f1, f2, level, cadence)          # raises on a bad cadence
        digitmap.DigitMap(p["digit_map"], SHORT, LONG)   # raises on a bad map


def test_values_as_the_sources_give_them():
    for code, field, want in SOURCES:
        eq(country.plan(code)[field], want, code + " " + field)


def test_complete_national_numbers_go_after_the_short_timer():
    for code, number, action, timer in NUMBERS:
        m = digitmap.DigitMap(country.plan(code)["digit_map"], SHORT, LONG)
        eq(m.step(number), action, code + " " + number)
        eq(m.wait_ms, timer, code + " " + number + " timer")


def test_unknown_country_refused_and_every_plan_accepted_by_the_config():
    e = raises(KeyError, country.plan, "XX")
    if "have US, UK" not in str(e):
        raise AssertionError(str(e))
    for code in country.CODES:
        c = config.parse('{"sip": {"server": "h", "user": "1001"}, "line": {"country": "%s"}}'
                         % code)
        eq(c["line"]["country"], code, "config country")
    c = config.parse('{"sip": {"server": "h", "user": "1001"}, "line": {"caller_id": "dtmf"}}')
    eq(c["line"]["caller_id"], "dtmf", "caller_id dtmf")


def test_bad_plan_string_refused():
    raises(ValueError, country.parse, "ring=25;dial=425,0")        # no level
    raises(ValueError, country.parse, "ring=25;dial=425,0,-13,100")  # half a pair


def test_dtmf_caller_id_strings():
    eq(clip.dtmf_message("+31 20 123-4567"), "A31201234567C", "digits only")
    eq(clip.dtmf_message("1002", private=True), "B10C", "withheld")
    eq(clip.dtmf_message(None), "B00C", "unavailable")
    eq(clip.dtmf_message("anonymous"), "B00C", "no digits")


class _Slic:
    def __init__(self):
        self.log = []
        self.bursts = 0

    def forward(self, on):
        self.log.append("forward" if on else "reversed")


class _Tx:
    def __init__(self):
        self.sent = None

    def send_dtmf(self, digits, on_ms, off_ms):
        self.sent = (digits, on_ms, off_ms)


class _Media:
    def __init__(self):
        self.tx = _Tx()
        self.active = False

    def caller_id(self, prepare):
        prepare(self.tx)
        self.active = True

    def caller_id_active(self):
        return self.active

    def caller_id_stop(self):
        self.active = False


def test_dtmf_caller_id_before_the_first_ring_after_a_line_reversal():
    slic, media = _Slic(), _Media()
    c = clip.Clip(slic, media, "dtmf", log=lambda m: None)
    eq(c.before_ring, True, "before the ring")
    eq(c.start("1002", "Ann", 0), True, "started")
    eq(slic.log, ["reversed"], "line reversal first")
    eq(c.poll(clip.REVERSAL_TO_DTMF_MS - 1), False, "too early")
    eq(media.tx.sent, None, "nothing before 200 ms")
    c.poll(clip.REVERSAL_TO_DTMF_MS)
    eq(media.tx.sent, ("A1002C", 70, 70), "A<number>C, 70 ms keys")
    eq(c.poll(2000), False, "still sending")
    media.active = False                       # the last key went out at 2000 ms
    eq(c.poll(2005), False, "gap before the ring")
    eq(c.poll(2005 + clip.FSK_TO_RING_MS - 10), False, "gap before the ring")
    eq(c.poll(2005 + clip.FSK_TO_RING_MS), True, "ring now")
    eq(slic.log, ["reversed", "forward"], "polarity back before the ring")
