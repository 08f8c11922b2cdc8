"""Line settings on the sim, end to end (Kamailio + baresip 1002): line.tx_gain_db and
line.rx_gain_db measured on the audio, and line.dtmf_method for a key pressed in a
call. One sim per configuration, each checks gains and DTMF in one call:

- gains 0 dB, `inband`: baresip records the phone's 1 kHz tone at the level the phone
  sent and the phone hears baresip's tone at the level baresip sent; the key reaches
  baresip only in the audio (the firmware's DTMF detector finds it in baresip's
  recording), no RFC 4733 event, no SIP INFO;
- tx +6 dB, rx -6 dB, `info`: both levels move by 6 dB (each within 0.5 dB of the
  level sent); the key reaches baresip as SIP INFO application/dtmf-relay, no event,
  and the audio is muted once the key is detected (only the detector's first ~40 ms
  of it reach baresip, as with RFC 4733).
"""
import numpy as np
import pytest

from ata import dtmf_cmd, peers, signals
from simfix import FAR_TONE_HZ

PHONE_HZ = 1000
PHONE_DBM0 = -16.0
FAR_LEVEL = 0.3             # baresip's tone WAV: 0.3 of full scale (peers.write_tone_wav)
FAR_DBM0 = 20 * np.log10(32767 * FAR_LEVEL / signals.amplitude(0))


@pytest.fixture
def pbx(tmp_path):
    """Kamailio with 1001/1002; baresip 1002 plays FAR_TONE_HZ, records, traces SIP."""
    kam = peers.Kamailio(tmp_path / "kamailio")
    kam.start()
    wav = tmp_path / "far.wav"
    peers.write_tone_wav(wav, seconds=300, freq_hz=FAR_TONE_HZ, level=FAR_LEVEL)
    far = peers.Baresip(tmp_path / "baresip", "1002", "secret2", kam.port, audio_wav=wav,
                        record_dir=tmp_path / "rec", sip_trace=True)
    try:
        far.start()
        yield kam, far
    finally:
        far.stop()
        kam.stop()


def level_of(x, hz):
    """dBm0 of x, which must be (almost) only the tone hz."""
    assert len(x) > 4000, len(x)
    assert signals.tone_power(x, hz) > 0.9, signals.spectrum_peaks(x, 3)
    return signals.dbm0(x)


@pytest.mark.parametrize("sim_options", [
    {"line": {"dtmf_method": "inband"}},
    {"line": {"tx_gain_db": 6, "rx_gain_db": -6, "dtmf_method": "info"}},
], ids=["0dB-inband", "tx+6-rx-6-info"])
def test_gains_and_dtmf_method(pbx, ata, sim_options):
    kam, far = pbx
    sim, phone = ata
    line = sim_options["line"]
    tx_db, rx_db = line.get("tx_gain_db", 0), line.get("rx_gain_db", 0)
    method = line["dtmf_method"]

    phone.play_tone(PHONE_HZ, PHONE_DBM0)
    phone.off_hook()
    phone.sleep_sim(400)
    phone.dial_pulse("1002")
    far.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log("call: confirmed", 5)
    t0 = phone.sim_now_us
    phone.sleep_sim(2500)
    heard = phone.recording(t0 + 500_000, phone.sim_now_us)
    phone.dial_dtmf("5", on_ms=120, off_ms=120, level_dbm0=-8)
    sim.wait_log("call: DTMF 5 -> %s" % {"inband": "in-band", "info": "SIP INFO"}[method], 5)
    phone.sleep_sim(600)
    phone.on_hook()
    far.wait_event("CALL_CLOSED", 10)

    # rx: what the phone heard of baresip's tone, against the level baresip sent
    got_rx = level_of(heard, FAR_TONE_HZ)
    assert abs(got_rx - (FAR_DBM0 + rx_db)) <= 0.5, (got_rx, FAR_DBM0, rx_db)
    # tx: baresip's recording of the phone's tone (the steady part: after set-up,
    # before the key), against the level the phone sent
    rec = far.recordings("dec")
    assert rec, "baresip recorded nothing"
    got = signals.read_wav(rec[-1])
    got_tx = level_of(got[8000:20000], PHONE_HZ)          # 1.0..2.5 s into the call
    assert abs(got_tx - (PHONE_DBM0 + tx_db)) <= 0.5, (got_tx, PHONE_DBM0, tx_db)

    log = far.log_path.read_bytes().decode("utf-8", "replace")     # CRLFs kept
    assert "received event:" not in log, "an RFC 4733 event reached baresip"
    # baresip -s logs every SIP message it receives (with its CRLFs); it logs a
    # dtmf-relay INFO it understood as "call: received DTMF: '5' (duration=160)"
    infos = log.count("INFO sip:1002")
    if method == "info":
        assert infos == 1, log[-3000:]
        assert "Content-Type: application/dtmf-relay\r\n" in log, log[-3000:]
        assert "\r\n\r\nSignal=5\r\nDuration=160\r\n" in log, log[-3000:]
        assert "call: received DTMF: '5' (duration=160)" in log, log[-3000:]
    else:
        assert infos == 0 and "received DTMF" not in log, log[-3000:]
    # the key in baresip's recording, by the firmware's own detector
    off, n = dtmf_cmd.wav_data(rec[-1])
    keys = dtmf_cmd.detect_raw([(rec[-1], off, n)])[0]
    if method == "info":
        # muted from the moment the detector reports the key: only its first
        # frames (the detector's latency, as with RFC 4733) may reach the audio,
        # too short for a detector to take it as a key, or at most a short one
        assert all(d == "5" and end - start < 80 for start, end, d in keys), keys
    else:
        assert [d for _, _, d in keys] == ["5"], keys
        assert keys[0][1] - keys[0][0] >= 100, keys    # the whole 120 ms key
