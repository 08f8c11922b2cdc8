"""The first call: the sim ATA registers with Kamailio (digest auth), the virtual
phone dials baresip through it, audio flows both ways, and hang-ups work both ways."""
import pytest

from ata import signals
from simfix import FAR_TONE_HZ

PHONE_TONE_HZ = 1000


def call_far_end(sim, phone, far, bounce_ms=0):
    """Lift, listen for dial tone, pulse-dial 1002, wait until the call is up."""
    phone.off_hook(bounce_ms=bounce_ms)
    phone.sleep_sim(400)
    phone.dial_pulse("1002", bounce_ms=bounce_ms)
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


def test_far_end_hang_up_gives_the_phone_a_tone(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    call_far_end(sim, phone, far)
    phone.sleep_sim(500)
    far.hangup()
    sim.wait_log("call: ended", 5)
    t = phone.sim_now_us
    phone.sleep_sim(1500)
    heard = phone.recording(t + 200_000)
    peaks = sorted(f for f, rel in signals.spectrum_peaks(heard, 2) if rel > -6)
    assert peaks and all(abs(a - b) <= 3 for a, b in zip(peaks, (480, 620))), peaks
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
