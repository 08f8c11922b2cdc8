"""Digit maps end to end on the sim: the virtual phone dials by pulse and DTMF, the
firmware's log (its own clock) and what the phone hears show when the number went,
or that it was refused with reorder; a rewrite reaches Kamailio, which routes the
INVITE by its Request-URI to baresip.

The long timer is 20 s in these tests, so a number that goes within it went by the
map (at once or the short timer), never by the old fixed pause; the times compared
are the firmware's log stamps or the sim's clock, never the host's."""
import re

import pytest

from test_sim_call import check_cadence, record_sim, two_tones

LONG_MS = 20000


def line_opts(digit_map, short_ms=1000):
    return {"line": {"country": "US", "digit_map": digit_map, "interdigit_ms": LONG_MS,
                     "interdigit_short_ms": short_ms, "first_digit_ms": 30000}}


def stamp_ms(log, pattern):
    """The firmware's own time stamp (ms since boot) of the first log line matching."""
    m = re.search(r"\[\s*(\d+)\.(\d{3})\] " + pattern, log)
    assert m, "no %r in the log:\n%s" % (pattern, log[-3000:])
    return int(m.group(1)) * 1000 + int(m.group(2))


def sim_only(sim):
    if sim is None:
        pytest.skip("reads the firmware log of the sim")


@pytest.mark.parametrize("sim_options", [line_opts("([2-9]xxx|x.T)")], ids=["map"])
@pytest.mark.parametrize("method", ["dtmf", "pulse"])
def test_complete_number_goes_after_the_short_timer(sim, phone, method):
    sim_only(sim)
    phone.off_hook()
    phone.sleep_sim(400)
    if method == "dtmf":
        phone.dial_dtmf("2345", on_ms=70, off_ms=70, level_dbm0=-8)
    else:
        phone.dial_pulse("2345", interdigit_ms=600)
    sim.wait_log(r"line: dialled 2345", 15)
    log = sim.log_text()
    waited = stamp_ms(log, r"line: dialled 2345") - stamp_ms(log, r"line: digit 5")
    # [2-9]xxx matched whole, x.T could take more: the 1 s short timer, not the 20 s one
    assert 990 <= waited < LONG_MS, waited
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [line_opts("([2-9]xxx)", short_ms=5000)],
                         ids=["closed"])
def test_impossible_number_gets_reorder_at_once(sim, phone):
    sim_only(sim)
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_dtmf("1", on_ms=80, off_ms=80, level_dbm0=-8)
    sim.wait_log(r"line: 1 matches no rule", 5)
    # the phone hears reorder (US: 480 + 620 Hz, 250/250) from within 0.3 s of the
    # key's end by the sim's clock: no timer (short 5 s, long 20 s) ran first
    heard = record_sim(phone, 1500, skip_ms=300)
    two_tones(heard, (480, 620))
    check_cadence(heard, 250, 250, whole_runs=4)
    log = sim.log_text()
    assert stamp_ms(log, r"line: dialtone -> reorder") - stamp_ms(log, r"line: digit 1") < 1000
    assert "call: INVITE" not in log and "line: dialled" not in log, log[-2000:]
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [line_opts("auto", short_ms=5000)], ids=["US"])
def test_hash_sends_at_once(sim, phone):
    sim_only(sim)
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_dtmf("1234#", on_ms=70, off_ms=70, level_dbm0=-8)
    sim.wait_log(r"line: dialled 1234\b", 5)
    log = sim.log_text()
    # 1234 is only x.T's (the long timer, 20 s): # sent it before any timer ran
    assert stamp_ms(log, r"line: dialled 1234") - stamp_ms(log, r"line: digit 4") < 1000
    assert "line: # sends now" in log
    sim.wait_log(r"call: INVITE 1234\b", 5)
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [line_opts("(<9:10>xxS0|x.T)")], ids=["rewrite"])
def test_rewrite_reaches_the_request_uri(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_dtmf("902", on_ms=70, off_ms=70, level_dbm0=-8)
    sim.wait_log(r"line: dialled 902 -> 1002", 5)
    sim.wait_log(r"call: INVITE 1002\b", 5)
    # Kamailio looks the Request-URI's user up in its location table: only 1002
    # (baresip) is reached, so the call arriving there shows the rewritten URI
    far.wait_event("CALL_ESTABLISHED", 15)
    log = sim.log_text()
    assert stamp_ms(log, r"line: dialled 902") - stamp_ms(log, r"line: digit 2") < 1000, \
        "S0: sent at once"
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
