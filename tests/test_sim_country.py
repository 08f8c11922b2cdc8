"""Country plans end to end on the sim, a representative subset heard by the virtual
phone: the ring at the extremes of ring frequency (France 50 Hz, Japan 16 Hz), a
cadenced dial tone (Italy), DTMF caller ID before the first ring (Netherlands,
decoded by spandsp), and a call-progress tone of a 425 Hz plan in a call (Sweden's
asymmetric congestion cadence). Every tone of every plan is checked by spectrum and
cadence on MicroPython's output in test_country_tones.py; US, UK and DE rings, dial
tones and caller ID in test_sim_line.py and test_sim_callerid.py.

The figures below are typed from the sources (docs/countries.md), not read from
firmware/country.py, so a wrong plan fails here."""
import pytest

from ata import callerid_rx, signals

RING = {   # ring Hz, cadence ms
    "FR": (50, (1500, 3500)),   # France: 50 Hz (unconfirmed), 1.5 s on 3.5 s off (E.180)
    "JP": (16, (1000, 2000)),   # Japan: 16 Hz, 1 s on 2 s off (NTT)
}


def country(code, **line):
    return {"line": dict(line, country=code)}


@pytest.mark.parametrize("sim_options", [country(c) for c in RING], ids=list(RING))
def test_ring_frequency_and_cadence(dut, phone, line_config):
    ring_hz, cadence = RING[line_config["country"]]
    need = len(cadence) + 1                # two whole cycles and the start of a third
    dut.write("ring")
    dut.expect("ring: started")
    phone.wait_for(lambda: len(phone.bursts) >= need and len(phone.bursts[need - 1].toggles) >= 2,
                   sum(cadence) * 2.5 / 1000 + 5, "ring bursts")
    dut.write("ring stop")
    dut.expect("ring: stopped")
    bursts = phone.bursts[:need]
    print("ring %s: %s" % (line_config["country"], "; ".join(
        "%.2f Hz on %.0f ms off %.0f ms" % (b.frequency_hz, b.on_ms, (n.start_us - b.end_us) / 1000)
        for b, n in zip(bursts, bursts[1:]))))
    for i, b in enumerate(bursts[:-1]):
        assert abs(b.frequency_hz - ring_hz) <= 1.0, (i, b.frequency_hz)
        want_on, want_off = cadence[2 * (i % (len(cadence) // 2)):][:2]
        off_ms = (bursts[i + 1].start_us - b.end_us) / 1000
        assert abs(b.on_ms - want_on) <= 0.1 * want_on, ("on", i, b.on_ms, want_on)
        assert abs(off_ms - want_off) <= 0.1 * want_off, ("off", i, off_ms, want_off)


def check_runs(runs, want, tolerance_ms=20):
    """The whole on/off runs heard start with the want list (repeating), each within
    tolerance_ms (10 ms blocks, 20 ms frames)."""
    assert len(runs) >= len(want), (runs, want)
    for (on, ms), (want_on, want_ms) in zip(runs, want):
        assert on == want_on and abs(ms - want_ms) <= tolerance_ms, (runs, want)


@pytest.mark.parametrize("sim_options", [country("IT")], ids=["IT"])
def test_cadenced_dial_tone(phone):
    # Italy's dial tone: 425 Hz, 0.2 s on 0.2 off 0.6 on 1.0 off (E.180 Suppl. 2)
    phone.sleep_sim(100)
    t_off = phone.off_hook(bounce_ms=5)
    phone.sleep_sim(4500)
    t_tone = phone.first_sound_after(t_off)
    assert t_tone is not None and t_tone - t_off <= 200_000, (t_tone, t_off)
    heard = phone.recording(t_tone, t_tone + 4_000_000)
    runs = signals.cadence_runs(heard)      # whole runs: the first burst is cut off
    print("dial tone IT: %s" % runs)
    check_runs(runs, [(False, 200), (True, 600), (False, 1000), (True, 200), (False, 200),
                      (True, 600)])
    burst = heard[400 * 8:1000 * 8]          # the 600 ms burst, from 0.2 + 0.2 s
    peaks = [f for f, rel in signals.spectrum_peaks(burst, 2) if rel > -20]
    assert len(peaks) == 1 and abs(peaks[0] - 425) <= 3, signals.spectrum_peaks(burst, 2)
    assert abs(signals.dbm0(burst) - (-13)) <= 1.0, signals.dbm0(burst)
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [country("NL")], ids=["NL-dtmf"])
def test_dtmf_caller_id_before_the_first_ring_after_line_reversal(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    far.dial("sip:1001@127.0.0.1:%d" % kam.port)
    phone.wait_for(lambda: phone.bursts and len(phone.bursts[0].toggles) >= 2, 15, "first ring")
    ring = phone.bursts[0].start_us
    reversals = [t for t, pin, level in phone.pin_log if pin == "F" and level == 0 and t < ring]
    assert reversals, "no line reversal before the first ring"
    heard = phone.recording(reversals[0], ring)
    msgs = callerid_rx.decode(heard, callerid_rx.DTMF)
    assert msgs == [b"A1002C"], msgs
    # EN 300 659-1: data >= 200 ms after the reversal; first ring 200-500 ms after it
    loud = [t for t, f in phone.heard if reversals[0] <= t < ring and abs(f.astype(int)).max() > 1000]
    assert loud and loud[0] - reversals[0] >= 200_000, (loud[:1], reversals[0])
    assert 200_000 <= ring - (loud[-1] + 20_000) <= 500_000, (ring, loud[-1])
    phone.off_hook()
    far.wait_event("CALL_ESTABLISHED", 10)
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [country("SE")], ids=["SE"])
def test_unknown_number_plays_the_country_congestion_tone(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_pulse("1999")                 # nobody registered: the PBX answers 404
    sim.wait_log(r"call: failed 404", 10)
    t = phone.sim_now_us
    phone.sleep_sim(4100)                    # four cycles: two whole ones after any partial
    heard = phone.recording(t + 100_000, t + 4_100_000)
    # Sweden's congestion tone: 425 Hz, 0.25 s on 0.75 s off
    runs = signals.cadence_runs(heard)
    print("congestion SE: %s" % runs)
    first = 0 if runs[0][0] else 1
    check_runs(runs[first:], [(True, 250), (False, 750)] * 2)
    peaks = [f for f, rel in signals.spectrum_peaks(heard, 2) if rel > -20]
    assert len(peaks) == 1 and abs(peaks[0] - 425) <= 3, signals.spectrum_peaks(heard, 2)
    phone.on_hook()
