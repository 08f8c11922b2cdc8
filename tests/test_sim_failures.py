"""Outgoing failures as a phone user knows them (issue 11.6), heard by the virtual
phone on the sim and checked by spectrum and cadence against the country plan:

- the far end hangs up: busy tone, then the receiver-off-hook howler (US), then
  silence until on-hook (Kamailio + baresip);
- the network refuses the call (sipp as registrar and proxy): 503 congestion,
  480 reorder, 600 busy, in the UK plan, where the three tones differ (BT SIN 350:
  "beep-bip" congestion, steady "number unobtainable", 0.375/0.375 engaged);
- the far end rings on: our own no-answer time-out cancels the call, reorder.

404 -> reorder and 486 -> busy (US) are in test_sim_call.py; every status code's
tone, and the line's tone sequence with a fake clock, in tests/mpy/test_failures.py.
The figures below are typed from the sources (docs/countries.md)."""
import pathlib

import numpy as np
import pytest

from ata import peers, signals
from ata.phone import VirtualPhone
from simfix import base_config, check_clean_log, deep_merge, start_sim

SC = pathlib.Path(__file__).resolve().parent / "sip_scenarios"
BLOCK = 800          # 100 ms windows for telling the tones apart


def labels(x, bands):
    """Per 100 ms window: the name of the band (name -> two frequencies) holding over
    80 % of its energy, 'quiet' below -60 dBm0, else '?' (e.g. across a burst's edge)."""
    out = []
    for i in range(0, len(x) - BLOCK + 1, BLOCK):
        w = x[i:i + BLOCK]
        if signals.dbm0(w) < -60:
            out.append("quiet")
            continue
        name = "?"
        for n, freqs in bands.items():
            if sum(signals.tone_power(w, f) for f in freqs) > 0.8:
                name = n
        out.append(name)
    return out


def on_samples(x):
    """The samples of the 10 ms blocks where the tone is on (for its spectrum)."""
    b = np.asarray(x)[:len(x) // 80 * 80].reshape(-1, 80)
    keep = [blk for blk in b if signals.dbm0(blk) > -40]
    return np.concatenate(keep) if keep else np.zeros(0)


def two_tones(x, want):
    got = sorted(f for f, rel in signals.spectrum_peaks(on_samples(x), 2) if rel > -6)
    assert len(got) == len(want) and all(abs(g - w) <= 3 for g, w in zip(got, want)), (got, want)


def check_runs(x, pattern, tolerance_ms=20, min_runs=4):
    """The whole on/off runs of x follow pattern [(on, ms), ...] (repeating, from
    wherever x starts in it), each within tolerance_ms."""
    runs = signals.cadence_runs(x)
    assert len(runs) >= min_runs, runs
    for start in range(len(pattern)):
        want = [pattern[(start + i) % len(pattern)] for i in range(len(runs))]
        if all(on == w_on and abs(ms - w_ms) <= tolerance_ms
               for (on, ms), (w_on, w_ms) in zip(runs, want)):
            return runs
    raise AssertionError("runs %r do not follow %r" % (runs, pattern))


@pytest.mark.parametrize("sim_options", [{"line": {"country": "US", "fail_tone_ms": 2000,
                                                   "howler_ms": 2000}}], ids=["US"])
def test_far_end_hang_up_busy_then_howler_then_silence(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_pulse("1002")
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5)
    phone.sleep_sim(500)
    t0 = phone.sim_now_us
    far.hangup()
    sim.wait_log("call: ended", 5)
    phone.sleep_sim(6000)
    heard = phone.recording(t0, t0 + 6_000_000).astype(np.float64)
    lab = labels(heard, {"busy": (480, 620), "howler": (1400, 2060), "far": (440, 440)})
    print("after the far end hung up, per 100 ms: %s" % " ".join(lab))
    # the order: (the far end's audio), busy with its silent gaps, howler, silence
    busy = [i for i, n in enumerate(lab) if n == "busy"]
    howl = [i for i, n in enumerate(lab) if n == "howler"]
    assert busy and howl and busy[-1] < howl[0], lab
    # ('?': a window across a burst's start or end, its energy smeared over the band)
    assert "far" not in lab[busy[0]:], lab
    # GR-506 receiver off hook follows fail_tone_ms of busy, lasts howler_ms
    assert abs((howl[0] - busy[0]) * 100 - 2000) <= 200, (busy[0], howl[0])
    assert abs((howl[-1] + 1 - howl[0]) * 100 - 2000) <= 200, howl
    after = lab[howl[-1] + 2:]               # (the window after may hold the last burst)
    assert len(after) >= 10 and set(after) == {"quiet"}, lab   # lock-out: 1 s of silence
    b = heard[busy[0] * BLOCK:howl[0] * BLOCK]
    two_tones(b, (480, 620))
    check_runs(b, [(True, 500), (False, 500)], min_runs=2)
    h = heard[(howl[0] + 1) * BLOCK:howl[-1] * BLOCK]
    two_tones(h, (1400, 2060))
    check_runs(h, [(True, 100), (False, 100)], min_runs=8)
    sim.wait_log("line: reorder -> howler", 2)
    sim.wait_log("line: howler -> lockout", 2)
    phone.on_hook()
    sim.wait_log("line: lockout -> idle", 5)


@pytest.fixture
def sipp_ata(request, tmp_path):
    """The sim ATA (UK plan) whose registrar and proxy is sipp playing
    registrar_invite_fail.xml with the test's status; yields (sim, phone, sipp)."""
    status, reason = request.param
    port = peers.free_udp_port()
    scenario = tmp_path / "registrar_invite_fail.xml"
    scenario.write_text((SC / "registrar_invite_fail.xml").read_text()
                        .replace("STATUS REASON", "%d %s" % (status, reason)))
    sipp = peers.run_sipp(scenario, None, port, tmp_path / "sipp", background=True,
                          timeout_s=60, calls=2)
    cfg = deep_merge(base_config(port), {"line": {"country": "UK", "interdigit_ms": 1500}})
    sim = start_sim(cfg, tmp_path / "sim")
    try:
        sim.wait_log("sip: registered", 15)
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        yield sim, phone, sipp
        phone.close()
    finally:
        rc = sim.stop()
        if sipp.poll() is None:
            sipp.terminate()
            sipp.wait(5)
    check_clean_log(request, sim.log_text())
    assert rc == 0, sim.log_text()[-2000:]


UK_TONES = {   # BT SIN 350, 400 Hz: congestion "beep-bip", unobtainable steady, engaged
    503: ("congestion", [(True, 400), (False, 350), (True, 225), (False, 525)]),
    480: ("reorder", None),
    600: ("busy", [(True, 375), (False, 375)]),
}


@pytest.mark.parametrize("sipp_ata", [(503, "Service Unavailable"), (480, "Temporarily Unavailable"),
                                      (600, "Busy Everywhere")],
                         ids=["503", "480", "600"], indirect=True)
def test_refused_call_gives_the_countrys_tone(sipp_ata):
    sim, phone, sipp = sipp_ata
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_pulse("1999")
    m = sim.wait_log(r"call: failed (\d+)", 10)
    code = int(m.group(1))
    tone, pattern = UK_TONES[code]
    t = phone.sim_now_us
    phone.sleep_sim(3200)
    heard = phone.recording(t + 100_000, t + 3_100_000).astype(np.float64)
    print("UK %d -> %s: %s" % (code, tone, signals.cadence_runs(heard)))
    peaks = [f for f, rel in signals.spectrum_peaks(on_samples(heard), 2) if rel > -20]
    assert len(peaks) == 1 and abs(peaks[0] - 400) <= 3, signals.spectrum_peaks(heard, 2)
    if pattern is None:        # steady: every 10 ms block on
        b = heard[:len(heard) // 80 * 80].reshape(-1, 80)
        assert all(signals.dbm0(blk) > -40 for blk in b), "a gap in a steady tone"
    else:
        check_runs(heard, pattern)
    assert abs(signals.dbm0(on_samples(heard)) - (-24)) <= 1.0, signals.dbm0(on_samples(heard))
    phone.on_hook()
    out, _ = sipp.communicate(timeout=10)
    assert sipp.returncode == 0, out[-2000:]


@pytest.mark.parametrize("far_answermode", ["manual"])
@pytest.mark.parametrize("sim_options", [{"sip": {"no_answer_s": 5}}], ids=["no_answer_5s"])
def test_no_answer_time_out_cancels_and_gives_reorder(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_pulse("1002")
    far.wait_event("CALL_INCOMING", 15)
    sim.wait_log("call: ringing", 5)
    t_ring = phone.sim_now_us
    sim.wait_log("call: no answer in 5 s, cancelled", 10)
    far.wait_event("CALL_CLOSED", 10)          # baresip saw the CANCEL
    t = phone.sim_now_us
    assert 4_500_000 <= t - t_ring <= 7_000_000, (t - t_ring)
    phone.sleep_sim(2100)
    heard = phone.recording(t + 100_000, t + 2_100_000).astype(np.float64)
    two_tones(heard, (480, 620))
    check_runs(heard, [(True, 250), (False, 250)])
    phone.on_hook()
