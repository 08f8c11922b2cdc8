"""The first call: the sim ATA registers with Kamailio (digest auth), the virtual
phone dials baresip through it, audio flows both ways, and hang-ups work both ways."""
import pytest

from ata import signals
from simfix import FAR_TONE_HZ

PHONE_TONE_HZ = 1000


def lift_and_dial(phone, number="1002", bounce_ms=0):
    """Lift, let dial tone start, pulse-dial the number."""
    phone.off_hook(bounce_ms=bounce_ms)
    phone.sleep_sim(400)
    phone.dial_pulse(number, bounce_ms=bounce_ms)


def call_far_end(sim, phone, far, bounce_ms=0):
    """Lift, listen for dial tone, pulse-dial 1002, wait until the call is up."""
    lift_and_dial(phone, bounce_ms=bounce_ms)
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5)


def tone_share(x, hz):
    return signals.tone_power(x, hz) if len(x) else 0.0


def test_pulse_dialled_call_audio_both_ways_and_hang_up(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    assert kam.registered("1001")
    phone.play_tone(PHONE_TONE_HZ, -10)
    call_far_end(sim, phone, far, bounce_ms=5)
    t0 = phone.sim_now_us
    phone.sleep_sim(3000)
    heard = phone.recording(t0 + 500_000, phone.sim_now_us)
    phone.on_hook(bounce_ms=5)
    far.wait_event("CALL_CLOSED", 10)
    assert tone_share(heard, FAR_TONE_HZ) > 0.8, signals.spectrum_peaks(heard, 3)
    rec = far.recordings("dec")
    assert rec, "baresip recorded nothing"
    got = signals.read_wav(rec[-1])
    got = got[len(got) // 4:]          # past the call set-up
    assert tone_share(got, PHONE_TONE_HZ) > 0.8, signals.spectrum_peaks(got, 3)


def two_tones(x, want):
    """The two strongest tones of x are exactly `want` (each within 3 Hz)."""
    got = sorted(f for f, rel in signals.spectrum_peaks(x, 2) if rel > -6)
    assert len(got) == len(want), (got, want)
    assert all(abs(g - w) <= 3 for g, w in zip(got, want)), (got, want)


def check_cadence(x, on_ms, off_ms, whole_runs, tolerance_ms=20):
    """Every whole on/off run of x lasts on_ms / off_ms; at least whole_runs of them.
    US busy (500/500) and reorder (250/250) share 480 + 620 Hz: only this tells them
    apart. 10 ms blocks and 20 ms frames: runs are measured to about 20 ms."""
    runs = signals.cadence_runs(x)
    assert len(runs) >= whole_runs, runs
    for on, ms in runs:
        want = on_ms if on else off_ms
        assert abs(ms - want) <= tolerance_ms, (runs, on_ms, off_ms)


def record_sim(phone, ms, skip_ms=0):
    t = phone.sim_now_us
    phone.sleep_sim(skip_ms + ms)
    return phone.recording(t + skip_ms * 1000, t + (skip_ms + ms) * 1000)


def test_early_collections_stay_on_and_the_loop_waits_without_a_frame(pbx, ata):
    """Once started (the console answers only then): main.py's collection threshold is
    still set, as calls back to back need it (docs/bench-heap.md, Calls back to back),
    and asyncio's I/O wait is iowait's, which allocates nothing per task switch."""
    sim, _phone = ata
    mark = len(sim.log_text())
    sim.send("py (__import__('gc').threshold(), __import__('asyncio').core.IOQueue"
             ".wait_io_event is __import__('iowait').wait_io_event)")
    m = sim.wait_log(r"\((-?\d+), (True|False)\)", 5, start=mark)
    assert int(m.group(1)) > 0, m.group(0)
    assert m.group(2) == "True", m.group(0)


def test_far_end_hang_up_plays_busy_by_cadence(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    call_far_end(sim, phone, far)
    phone.sleep_sim(500)
    far.hangup()
    sim.wait_log("call: ended", 5)
    heard = record_sim(phone, 3000, skip_ms=100)
    two_tones(heard, (480, 620))
    check_cadence(heard, 500, 500, whole_runs=4)
    phone.on_hook()


@pytest.mark.parametrize("far_answermode", ["manual"])
def test_ringback_cadence_while_the_far_end_rings(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    lift_and_dial(phone)
    far.wait_event("CALL_INCOMING", 15)
    sim.wait_log("call: ringing", 5)
    heard = record_sim(phone, 8500)          # 2 s on, 4 s off: a whole off and on
    two_tones(heard, (440, 480))
    check_cadence(heard, 2000, 4000, whole_runs=2)
    far.accept()
    far.wait_event("CALL_ESTABLISHED", 10)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)


@pytest.mark.parametrize("far_answermode", ["manual"])
def test_rejected_call_plays_busy_by_cadence(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    lift_and_dial(phone)
    far.wait_event("CALL_INCOMING", 15)
    far.hangup()                             # baresip rejects the ringing call
    m = sim.wait_log(r"call: failed (\d+)", 10)
    heard = record_sim(phone, 3000, skip_ms=100)
    two_tones(heard, (480, 620))
    check_cadence(heard, 500, 500, whole_runs=4)
    assert m.group(1) in ("486", "600"), m.group(0)
    phone.on_hook()


def test_unknown_number_plays_reorder_by_cadence(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    lift_and_dial(phone, "1999")             # nobody registered: the PBX answers 404
    sim.wait_log(r"call: failed 404", 10)
    heard = record_sim(phone, 2000, skip_ms=100)
    two_tones(heard, (480, 620))
    check_cadence(heard, 250, 250, whole_runs=5)
    phone.on_hook()


def test_incoming_call_rings_and_is_answered(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    far.dial("sip:1001@127.0.0.1:%d" % kam.port)
    phone.wait_ringing(10)
    phone.play_tone(PHONE_TONE_HZ, -10)
    phone.off_hook(bounce_ms=5)
    far.wait_event("CALL_ESTABLISHED", 10)
    t0 = phone.sim_now_us
    phone.sleep_sim(2500)
    heard = phone.recording(t0 + 500_000)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    assert tone_share(heard, FAR_TONE_HZ) > 0.8, signals.spectrum_peaks(heard, 3)


def test_touch_tone_dialled_call_and_rfc4733_in_call(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_dtmf("1002", on_ms=70, off_ms=70, level_dbm0=-8)
    m = sim.wait_log(r"line: dialled (\d+)", 10)
    assert m.group(1) == "1002"
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5)
    phone.sleep_sim(300)
    phone.dial_dtmf("5#", on_ms=100, off_ms=100, level_dbm0=-8)
    sim.wait_log("call: DTMF # -> RFC 4733", 5)
    phone.sleep_sim(500)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
    log = far.log_tail(20000)
    assert "received event: '5'" in log and "received event: '#'" in log, log[-2000:]


def test_far_end_rfc4733_digit_is_played_to_the_phone(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    call_far_end(sim, phone, far)
    phone.sleep_sim(500)
    t0 = phone.sim_now_us
    far.command("sndcode", "7")
    phone.sleep_sim(1500)
    heard = phone.recording(t0)
    frames = heard[:len(heard) // 160 * 160].reshape(-1, 160)
    has_key = [signals.tone_power(f, 852) + signals.tone_power(f, 1209) > 0.6 for f in frames]
    assert sum(has_key) >= 3, "the phone never heard DTMF 7 (852 + 1209 Hz)"
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)
