"""The line on the sim board, driven through the console (a pty, via pytest-embedded)
while the virtual phone acts: ringing, ring trip, dial tone, pulse dialing, flash.

With --port and --phone the same tests drive a real board and its phone rig; the
line settings are then the board's own (see simfix.line_config)."""
import numpy as np
import pytest

from ata import signals

# The timer-driven tests (ring, ring trip, pulse digits, flash, hang-up) run with the
# sim's timers ideal and as each chip runs them (boards/sim/vmachine.py TIMING: soft
# callbacks late, lost when the scheduler queue is full, held during garbage
# collections; the RP2040 board's are hard). The tone tests use the ideal timers.
TIMINGS = ["ideal", "esp32", "rp2"]
chip_timings = pytest.mark.parametrize("sim_timing", TIMINGS)
# The ring's source follows the chip the sim models (boards/sim/board.json
# ring_by_timing): F/R from the RMT peripheral under esp32, as boards/esp32_ag1171
# makes it (hardware-timed; the cadence timer only starts and stops it), from a hard
# timer under rp2, from the soft timer under ideal. The ESP32's soft timer toggling
# F/R itself is distorted by late callbacks and GC pauses (seen before the RMT ring:
# 23.3-23.7 Hz for 25 Hz, 420 ms for 400): test_soft_timer_ring_... shows it.
RING_SOURCE = {"ideal": "timer", "esp32": "rmt", "rp2": "timer"}
_HALF_PERIOD_TOL_US = 100   # every F/R half period in a burst; rp2's hard IRQs: <= 50 us late
# Pulse dialling: the whole grid with ideal timers, its corners on each chip.
PULSE_GRID = ([("ideal", pps, br) for pps in (8, 10, 12) for br in (0.6, 0.67)] +
              [(t, pps, br) for t in TIMINGS[1:] for pps, br in ((8, 0.67), (12, 0.6))])

PLANS = {   # the figures the phone must measure, from the country plans
    "US": {"ring_hz": 20, "cadence": (2000, 4000), "dial": (350, 440)},
    "UK": {"ring_hz": 25, "cadence": (400, 200, 400, 2000), "dial": (350, 440)},
    "DE": {"ring_hz": 25, "cadence": (1000, 4000), "dial": (425,)},
}


def country(code, **line):
    return {"line": dict(line, country=code)}


def ring_source(dut, board_mode):
    """The ring source the sim board says it uses (a real board has its own)."""
    if board_mode:
        return None
    dut.write("status")
    return dut.expect(r'board: .*"ring": "(\w+)"', timeout=5).group(1).decode()


def ring_two_cycles(dut, phone, plan):
    """Ring two whole cadence cycles and the start of a third; the bursts heard and
    the worst F/R half period's deviation from 1/(2 ring_hz), in us. A burst's last
    edge (F/R to rest with RM's fall) ends no half period: a late cadence callback
    may cut a period short there by design."""
    cadence = plan["cadence"]
    need = len(cadence) + 1
    dut.write("ring")
    dut.expect("ring: started")
    phone.wait_for(lambda: len(phone.bursts) >= need and len(phone.bursts[need - 1].toggles) >= 2,
                   sum(cadence) * 2.5 / 1000 + 5, "ring bursts")
    dut.write("ring stop")
    dut.expect("ring: stopped")
    bursts = phone.bursts[:need]
    assert len(bursts) == need, bursts
    half_us = 1e6 / (2 * plan["ring_hz"])
    worst = 0
    for b in bursts[:-1]:
        t = [x for x in b.toggles if x < b.end_us]
        worst = max([worst] + [abs(t[i + 1] - t[i] - half_us) for i in range(len(t) - 1)])
    return bursts, worst


@chip_timings
@pytest.mark.parametrize("sim_options", [country(c) for c in PLANS], ids=list(PLANS))
def test_ring_frequency_and_cadence(dut, phone, line_config, board_mode, sim_timing):
    plan = PLANS[line_config["country"]]
    cadence = plan["cadence"]
    bursts_per_cycle = len(cadence) // 2
    source = ring_source(dut, board_mode)
    assert board_mode or source == RING_SOURCE[sim_timing], source
    bursts, worst_us = ring_two_cycles(dut, phone, plan)
    print("ring %s %s/%s: %s; half periods within %.3f ms" % (
        line_config["country"], sim_timing, source, "; ".join(
            "%.2f Hz on %.0f ms off %.0f ms" % (b.frequency_hz, b.on_ms, (n.start_us - b.end_us) / 1000)
            for b, n in zip(bursts, bursts[1:])), worst_us / 1000))
    assert worst_us <= _HALF_PERIOD_TOL_US, worst_us
    for i, b in enumerate(bursts[:-1]):
        assert abs(b.frequency_hz - plan["ring_hz"]) <= 1.0, (i, b.frequency_hz)
        want_on = cadence[2 * (i % bursts_per_cycle)]
        want_off = cadence[2 * (i % bursts_per_cycle) + 1]
        off_ms = (bursts[i + 1].start_us - b.end_us) / 1000
        assert abs(b.on_ms - want_on) <= 0.1 * want_on, ("on", i, b.on_ms, want_on)
        assert abs(off_ms - want_off) <= 0.1 * want_off, ("off", i, off_ms, want_off)


@pytest.fixture
def sim_ring():
    """The sim board's ring source forced (parametrize it): None, as board.json says."""
    return None


@pytest.fixture
def sim_config(sim_config, sim_ring, monkeypatch):
    """The sim's config; with sim_ring, ATA_SIM_RING in the sim's environment
    (boards/sim/board.py), set before the sim starts."""
    if sim_ring:
        monkeypatch.setenv("ATA_SIM_RING", sim_ring)
    return sim_config


@pytest.mark.parametrize("sim_timing,sim_ring", [("esp32", "timer")])
@pytest.mark.parametrize("sim_options", [country("UK")], ids=["UK"])
def test_soft_timer_ring_under_esp32_timing_is_distorted(dut, phone, line_config, board_mode):
    """What the RMT ring is for: with F/R toggled by the ESP32's soft timer, late
    callbacks move single edges by milliseconds (GC pauses by tens), where the RMT
    ring above keeps every half period within 0.1 ms."""
    if board_mode:
        pytest.skip("the sim's timing model and ring source")
    assert ring_source(dut, board_mode) == "timer"
    plan = PLANS["UK"]
    bursts, worst_us = ring_two_cycles(dut, phone, plan)
    print("soft-timer ring UK under esp32: %s; worst half period off by %.2f ms" % (
        "; ".join("%.2f Hz on %.0f ms" % (b.frequency_hz, b.on_ms) for b in bursts[:-1]),
        worst_us / 1000))
    assert worst_us > 10 * _HALF_PERIOD_TOL_US, worst_us


# Ring trip: after the last contact bounce, SHK must read off-hook for the debounce
# time (sampled every 2 ms), then the line's 5 ms poll releases RM. The sim's timers
# keep exact timestamps, so the bound is that sum, not a loose allowance.
_BOUNCE_MS = 5
_HOOK_SAMPLE_MS = 2       # firmware/hook.py HOOK_SAMPLE_MS
_LINE_POLL_MS = 5         # firmware/line.py _POLL_MS
_DEFAULT_DEBOUNCE_MS = 10  # firmware/config.py line.debounce_ms default
# On a chip a sample callback may also wait its scheduling lateness and a whole
# garbage collection (boards/sim/vmachine.py TIMING, esp32/rp2 soft timers).
_CHIP_DELAY_MS = {"ideal": 0, "esp32": 5 + 30, "rp2": 0}   # rp2: hard timers


@chip_timings
def test_off_hook_while_ringing_releases_ring_within_debounce_and_poll(dut, phone, line_config,
                                                                    sim_timing):
    dut.write("ring")
    dut.expect("ring: started")
    phone.wait_ringing(5)
    phone.sleep_sim(PLANS[line_config["country"]]["cadence"][0] // 2)   # mid-burst
    t_off = phone.off_hook(bounce_ms=_BOUNCE_MS)
    phone.sleep_sim(7000)                  # longer than a whole cadence: no burst may follow
    burst = [b for b in phone.bursts if b.start_us <= t_off][-1]
    debounce = line_config.get("debounce_ms", _DEFAULT_DEBOUNCE_MS)
    bound_ms = (_BOUNCE_MS + debounce + 2 * _HOOK_SAMPLE_MS + _LINE_POLL_MS +
                _CHIP_DELAY_MS[sim_timing])
    print("ring trip: RM released %.1f ms after off-hook (bound %d ms)"
          % ((burst.end_us - t_off) / 1000, bound_ms))
    assert burst.end_us is not None and 0 <= burst.end_us - t_off <= bound_ms * 1000, (burst, t_off)
    assert not [b for b in phone.bursts if b.start_us > t_off], phone.bursts
    dut.expect("line: ring trip")


@pytest.mark.parametrize("sim_options", [country(c) for c in PLANS], ids=list(PLANS))
def test_dial_tone_prompt_and_right_frequencies(phone, line_config):
    plan = PLANS[line_config["country"]]
    phone.sleep_sim(100)
    t_off = phone.off_hook(bounce_ms=5)
    phone.sleep_sim(1300)
    t_tone = phone.first_sound_after(t_off)
    assert t_tone is not None and t_tone - t_off <= 200_000, (t_tone, t_off)
    heard = phone.recording(t_tone + 100_000, t_tone + 1_100_000)
    peaks = signals.spectrum_peaks(heard, len(plan["dial"]))
    print("dial tone %s: after %.1f ms, %s, %.2f dBm0" % (
        line_config["country"], (t_tone - t_off) / 1000,
        " + ".join("%.1f Hz" % f for f, _ in peaks), signals.dbm0(heard)))
    got = sorted(f for f, rel in peaks if rel > -6)
    assert len(got) == len(plan["dial"]), peaks
    for f, want in zip(got, plan["dial"]):
        assert abs(f - want) <= 3, (got, plan["dial"])
    # -13 dBm0 per component (dual tones sum to -10 dBm0)
    want_level = -13 + 10 * np.log10(len(plan["dial"]))
    assert abs(signals.dbm0(heard) - want_level) <= 1.0, signals.dbm0(heard)


@pytest.mark.parametrize("sim_options", [country("US", interdigit_ms=20000)], ids=["US"])
@pytest.mark.parametrize("sim_timing,pps,break_ratio", PULSE_GRID)
def test_pulse_dialing_every_digit(dut, phone, line_config, pps, break_ratio):
    phone.off_hook(bounce_ms=5)
    dut.expect("dialtone")
    phone.dial_pulse("1234567890", pps=pps, break_ratio=break_ratio, bounce_ms=5,
                     interdigit_ms=400)
    for d in "1234567890":
        dut.expect("line: digit %s" % d, timeout=5)
    phone.on_hook(bounce_ms=5)
    dut.expect("-> idle", timeout=5)


@chip_timings
@pytest.mark.parametrize("ms", [120, 500, 850])
def test_short_on_hook_is_a_flash(dut, phone, ms):
    phone.off_hook(bounce_ms=5)
    dut.expect("dialtone")
    phone.flash(ms, bounce_ms=5)
    dut.expect("line: flash", timeout=5)
    phone.sleep_sim(300)
    dut.write("status")
    dut.expect('line: .*"hook": "off"', timeout=5)


@chip_timings
def test_long_on_hook_is_a_hang_up(dut, phone):
    phone.off_hook(bounce_ms=5)
    dut.expect("dialtone")
    phone.on_hook(bounce_ms=5)
    phone.sleep_sim(1100)                  # past the 900 ms hang-up time
    before = dut.expect(r"(?s)(.*)dialtone -> idle", timeout=5).group(1)
    assert b"line: flash" not in before, before
    phone.off_hook(bounce_ms=5)
    dut.expect("idle -> dialtone", timeout=5)


@pytest.mark.parametrize("sim_options", [country("US", first_digit_ms=3000)], ids=["US"])
def test_nothing_dialled_times_out_to_reorder(phone, line_config):
    t_off = phone.off_hook()
    phone.sleep_sim(4500)
    late = phone.recording(t_off + 3_300_000, t_off + 4_300_000)
    peaks = sorted(f for f, rel in signals.spectrum_peaks(late, 2) if rel > -6)
    assert len(peaks) == 2 and abs(peaks[0] - 480) <= 3 and abs(peaks[1] - 620) <= 3, peaks
    # reorder is cadenced 250/250 at -24 dBm0 per tone (-21 together): loud, then quiet
    frames = late[:len(late) // 400 * 400].reshape(-1, 400)   # 50 ms blocks
    levels = [signals.dbm0(f) for f in frames]
    assert max(levels) > -22.5 and min(levels) < -50, levels
