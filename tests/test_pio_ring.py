"""The rp2_ag1171 ring program in a PIO emulator, for every country plan: the F/R
frequency (every half period inside a burst) and every cadence on and off period,
measured on the emulated pins at the SM clock the board sets (125 MHz system clock,
MicroPython's 1/256 divider), each within 1 % of the plan; F/R at rest in every
pause. Two cadence cycles per plan. A wrong half-period count in the program or a
wrong clock is caught by the same checks."""
import functools
import sys

import pytest

import pio_emu
from conftest import ROOT

sys.path.insert(0, str(ROOT / "firmware"))
import country  # noqa: E402
from slic import pio_ring  # noqa: E402

TOL = 0.01


@functools.lru_cache(maxsize=None)
def _measure(ring_hz, cadence, program=None, clock_hz=None):
    """Figures of two cadence cycles (plus the next burst's start). Plans with the same
    frequency and cadence give the same PIO input, so they are emulated once."""
    freq = pio_ring.real_freq(pio_emu.SYS_HZ, pio_ring.sm_freq(clock_hz or ring_hz))
    words = pio_ring.cadence_words(ring_hz, cadence)
    seconds = 2 * sum(cadence) / 1000 + 0.1
    changes, steps = pio_emu.ring_trace(words, seconds, freq, program)
    return pio_emu.ring_figures(changes), freq, steps


def _violations(ring_hz, cadence, figures):
    halves, ons, offs, stray = figures
    bad = []
    for h in halves:
        if abs(1 / (2 * h) - ring_hz) > TOL * ring_hz:
            bad.append("half period %.3f ms = %.2f Hz" % (h * 1e3, 1 / (2 * h)))
    pairs = len(cadence) // 2
    if len(ons) < 2 * pairs or len(offs) < 2 * pairs:
        bad.append("only %d bursts and %d pauses in two cycles" % (len(ons), len(offs)))
    for i, t in enumerate(ons):
        want = cadence[2 * (i % pairs)] / 1000
        if abs(t - want) > TOL * want:
            bad.append("burst %d: %.1f ms, plan %d" % (i, t * 1e3, want * 1e3))
    for i, t in enumerate(offs):
        want = cadence[2 * (i % pairs) + 1] / 1000
        if abs(t - want) > TOL * want:
            bad.append("pause %d: %.1f ms, plan %d" % (i, t * 1e3, want * 1e3))
    if stray:
        bad.append("F/R off rest during a pause at %s" % stray[:3])
    return bad


@pytest.mark.parametrize("code", country.CODES)
def test_ring_frequency_and_cadence_per_country(code, capsys):
    p = country.plan(code)
    hz, cadence = p["ring_hz"], tuple(p["ring_cadence"])
    figures, freq, steps = _measure(hz, cadence)
    halves, ons, offs, _ = figures
    assert _violations(hz, cadence, figures) == []
    assert len(halves) > 20
    fr_hz = len(halves) / (2 * sum(halves))
    pairs = len(cadence) // 2
    with capsys.disabled():
        print("\npio ring %s: plan %d Hz %s ms | SM %.3f Hz | F/R %.4f Hz (%+.3f %%), halves %d"
              % (code, hz, "/".join(map(str, cadence)), freq, fr_hz, 100 * (fr_hz / hz - 1),
                 len(halves)))
        for i in range(2 * pairs):
            on, off = ons[i], offs[i]
            print("    step pair %d: on %.2f ms (plan %d, %+.3f %%), off %.2f ms (plan %d, %+.3f %%)"
                  % (i, on * 1e3, cadence[2 * (i % pairs)],
                     100 * (on * 1e3 / cadence[2 * (i % pairs)] - 1), off * 1e3,
                     cadence[2 * (i % pairs) + 1],
                     100 * (off * 1e3 / cadence[2 * (i % pairs) + 1] - 1)))


def test_continuous_ring_stays_on():
    freq = pio_ring.real_freq(pio_emu.SYS_HZ, pio_ring.sm_freq(25))
    changes, _ = pio_emu.ring_trace(pio_ring.cadence_words(25, None), 0.5, freq)
    halves, ons, offs, stray = pio_emu.ring_figures(changes)
    assert [c for c in changes if c[1] == pio_emu.RM] == [(changes[0][0], pio_emu.RM, 1)]
    assert len(halves) == 24 and all(abs(1 / (2 * h) - 25) < 0.25 for h in halves)
    assert not ons and not offs and not stray


def test_a_wrong_half_period_is_caught():
    """The same checks fail for a program counting 15 instead of 16 in its half-period
    loop (set x, 14), and for the right program clocked for 24 Hz instead of 25."""
    words, wrap_target, wrap, sideset = pio_emu.programs().ring
    half_loop = 0xF02F                    # set x, 15 side 1
    assert words.count(half_loop) == 1
    wrong = tuple(w - 1 if w == half_loop else w for w in words)
    hz, cadence = 25, (1000, 4000)
    bad = _violations(hz, cadence, _measure(hz, cadence, (wrong, wrap_target, wrap, sideset))[0])
    assert any("half period" in b for b in bad), bad
    bad = _violations(hz, cadence, _measure(hz, cadence, clock_hz=24)[0])
    assert any("half period" in b for b in bad) and any("burst" in b for b in bad), bad
    assert _violations(hz, cadence, _measure(hz, cadence)[0]) == []


def test_cadences_the_pio_cannot_loop_are_refused():
    with pytest.raises(ValueError):
        pio_ring.cadence_words(25, (400, 200, 400, 200, 400, 2000))   # 6 steps: no ring wrap
    with pytest.raises(ValueError):
        pio_ring.cadence_words(25, (5, 4000))                       # under half a period
    with pytest.raises(ValueError):
        pio_ring.real_freq(pio_emu.SYS_HZ, 1000)                    # divider over 65536
