"""Call waiting on the sim, end to end: in a call with far end A (baresip 1002), a
second caller B (baresip 1003) gets 180 and the phone hears the country's
call-waiting tone, the CAS and, when the phone acknowledges it, the caller ID of B
(decoded by spandsp from what the phone heard). Hook flash answers B and puts A on
hold (re-INVITE a=sendonly), flash again swaps back, hanging up with a call on hold
rings the phone back. line.call_waiting false: B gets 486."""
import pytest

from ata import callerid_rx, peers, signals
from ata.phone import goertzel_power
from simfix import NamedBaresip

A_HZ = 600          # what far end A plays
B_HZ = 900          # what far end B plays
PHONE_HZ = 1000     # what the phone plays
CW_HZ = 440         # US call-waiting tone: 440 Hz, 300 ms every 10 s ([E180], GR-506)


@pytest.fixture
def pbx(tmp_path):
    """Kamailio with 1001 (the ATA), 1002 (A) and 1003 (B); A answers at once."""
    kam = peers.Kamailio(tmp_path / "kamailio",
                         users={"1001": "secret1", "1002": "secret2", "1003": "secret3"})
    kam.start()
    wav = tmp_path / "a.wav"
    peers.write_tone_wav(wav, seconds=300, freq_hz=A_HZ)
    # SIP trace on: the test reads the SDP that A received from its log
    a = peers.Baresip(tmp_path / "a", "1002", "secret2", kam.port, audio_wav=wav, sip_trace=True)
    try:
        a.start()
        yield kam, a
    finally:
        a.stop()
        kam.stop()


@pytest.fixture
def far_b(pbx, tmp_path):
    """The second caller: baresip 1003 named "Bob B", playing B_HZ."""
    kam, _ = pbx
    wav = tmp_path / "b.wav"
    peers.write_tone_wav(wav, seconds=300, freq_hz=B_HZ)
    b = NamedBaresip(tmp_path / "b", "1003", "secret3", kam.port, audio_wav=wav)
    b.display = "Bob B"
    b.start()
    yield b
    b.stop()


def reinvites_to(peer):
    """The SDP direction of each re-INVITE the peer received, from its SIP trace: the
    INVITEs sent to its registered contact (the first INVITE went from it, to 1001)."""
    got = []
    for block in peer.log_tail(10 ** 7).split("INVITE sip:%s-" % peer.user)[1:]:
        sdp = block.split("\n\n")[1] if "\n\n" in block else block
        dirs = [d for d in ("sendonly", "recvonly", "inactive", "sendrecv")
                if "a=" + d in sdp]
        got.append(dirs[0] if dirs else "sendrecv")
    return got


def dominant(x):
    """The strongest tone of x, Hz."""
    return signals.spectrum_peaks(x, 1)[0][0]


def in_call_with_a(pbx, ata):
    """A calls the phone, the phone answers and plays PHONE_HZ; A's audio is heard."""
    kam, a = pbx
    sim, phone = ata
    phone.play_tone(PHONE_HZ, -10)
    a.dial("sip:1001@127.0.0.1:%d" % kam.port)
    phone.wait_ringing(10)
    phone.off_hook()
    a.wait_event("CALL_ESTABLISHED", 10)
    sim.wait_log("call: confirmed", 5)
    return a, sim, phone


def listen(phone, ms, skip_ms=300):
    t = phone.sim_now_us
    phone.sleep_sim(skip_ms + ms)
    return phone.recording(t + skip_ms * 1000, t + (skip_ms + ms) * 1000)


def b_calls(pbx, b, sim):
    kam, _ = pbx
    mark = len(sim.log_text())
    b.dial("sip:1001@127.0.0.1:%d" % kam.port)
    b.wait_event("CALL_RINGING", 10)                    # the ATA's 180
    sim.wait_log(r"call: waiting call from 1003", 5, start=mark)


def tone_runs(phone, since_us, until_us, hz):
    """[(start_us, ms)] of the runs of 20 ms frames in which hz dominates, each closed
    by a frame in which it does not, before until_us."""
    runs = []
    with phone.cond:
        frames = [(t, f) for t, f in phone.heard if since_us <= t < until_us]
    start = None
    for t, f in frames:
        # one 20 ms frame: 50 Hz FFT bins would miss 425 Hz, a Goertzel does not
        x = f.astype(float)
        energy = float(x @ x)
        on = signals.dbm0(f) > -40 and goertzel_power(f, hz) / (energy * len(f) / 2) > 0.5
        if on and start is None:
            start = t
        elif not on and start is not None:
            runs.append((start, (t - start) / 1000))
            start = None
    return runs


def test_call_waiting_caller_id_flash_swaps_and_ring_back(pbx, far_b, ata):
    a, sim, phone = in_call_with_a(pbx, ata)
    assert dominant(listen(phone, 600)) == pytest.approx(A_HZ, abs=5)
    phone.cas_ack = "D"                 # a CIDCW phone (Bell 202 plan: ACK 'D')
    t_b = phone.sim_now_us
    b_calls(pbx, far_b, sim)

    # (a) the call-waiting tone, the CAS, the ACK and B's caller ID
    sim.wait_log(r"call: waiting caller ID sent", 5)
    phone.wait_for(lambda: phone.cas_heard, 5, "CAS")
    phone.sleep_sim(1200)               # the FSK: 80 marks + the message, < 1 s
    cas_t = phone.cas_heard[0]
    # up to the frame after the CAS's first: the CAS may follow the tone's last burst
    # within the same frame, and only a frame without the tone ends that burst's run
    runs = tone_runs(phone, t_b, cas_t + 20_001, CW_HZ)
    assert len(runs) == 1 and abs(runs[0][1] - 300) <= 20, runs      # one 300 ms burst
    assert phone.acks_sent and phone.acks_sent[0] > cas_t
    msgs = callerid_rx.decode(phone.recording(phone.acks_sent[0]), callerid_rx.BELL202)
    assert msgs, "no caller ID decoded after the ACK"
    assert callerid_rx.display(msgs[0]) == ("1003", "Bob B"), msgs
    assert dominant(listen(phone, 600, skip_ms=0)) == pytest.approx(A_HZ, abs=5)

    # (b) flash: B is answered, A on hold (re-INVITE with a=sendonly), the phone hears B
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash: talking to 1003", 5, start=mark)
    far_b.wait_event("CALL_ESTABLISHED", 10)
    sim.wait_log(r"call: other call confirmed hold", 5, start=mark)
    assert dominant(listen(phone, 800)) == pytest.approx(B_HZ, abs=5)
    assert reinvites_to(a) == ["sendonly"], "A's re-INVITEs: %r" % reinvites_to(a)

    # (c) flash again: back to A, B on hold
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash: talking to 1002", 5, start=mark)
    sim.wait_log(r"call: confirmed resume", 5, start=mark)
    assert dominant(listen(phone, 800)) == pytest.approx(A_HZ, abs=5)
    assert reinvites_to(a) == ["sendonly", "sendrecv"], reinvites_to(a)

    # (d) hang up with B on hold: A's call ends, the phone rings, off-hook: B is back
    mark = len(sim.log_text())
    phone.on_hook()
    a.wait_event("CALL_CLOSED", 10)
    sim.wait_log(r"call: hung up with a call on hold: ringing back", 5, start=mark)
    phone.wait_ringing(10)
    phone.off_hook()
    sim.wait_log(r"call: confirmed resume", 5, start=mark)
    assert dominant(listen(phone, 800)) == pytest.approx(B_HZ, abs=5)
    phone.on_hook()
    far_b.wait_event("CALL_CLOSED", 10)


def test_no_ack_no_caller_id_cancel_and_held_party_hangs_up(pbx, far_b, ata):
    a, sim, phone = in_call_with_a(pbx, ata)
    phone.cas_ack = None                # a phone without CIDCW: it never answers the CAS
    b_calls(pbx, far_b, sim)
    sim.wait_log(r"call: no CAS acknowledgement: no caller ID", 5)
    phone.wait_for(lambda: phone.cas_heard, 5, "CAS")
    cas_t = phone.cas_heard[0]
    phone.sleep_sim(1200)
    assert callerid_rx.decode(phone.recording(cas_t), callerid_rx.BELL202) == []
    assert not phone.acks_sent
    assert dominant(listen(phone, 600, skip_ms=0)) == pytest.approx(A_HZ, abs=5)

    # B gives up before any flash (CANCEL): the alert stops, the call with A goes on
    mark = len(sim.log_text())
    far_b.hangup()
    sim.wait_log(r"call: other call ended cancel", 5, start=mark)
    far_b.wait_event("CALL_CLOSED", 10)
    assert dominant(listen(phone, 600)) == pytest.approx(A_HZ, abs=5)

    # B again, flash to B (A on hold), then A (the held party) hangs up: B goes on
    b_calls(pbx, far_b, sim)
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash: talking to 1003", 5, start=mark)
    far_b.wait_event("CALL_ESTABLISHED", 10)
    a.hangup()
    sim.wait_log(r"call: other call ended", 5, start=mark)
    assert dominant(listen(phone, 600)) == pytest.approx(B_HZ, abs=5)
    rings = len(phone.bursts)
    phone.on_hook()
    far_b.wait_event("CALL_CLOSED", 10)
    phone.sleep_sim(1500)
    assert len(phone.bursts) == rings, "rung back with no call left"


@pytest.mark.parametrize("sim_options", [{"line": {"call_waiting": False}}], ids=["off"])
def test_call_waiting_off_second_caller_gets_486(pbx, far_b, ata):
    a, sim, phone = in_call_with_a(pbx, ata)
    kam, _ = pbx
    far_b.dial("sip:1001@127.0.0.1:%d" % kam.port)
    closed = far_b.wait_event("CALL_CLOSED", 10)
    assert "486" in closed.get("param", ""), closed
    assert not phone.cas_heard
    assert dominant(listen(phone, 600)) == pytest.approx(A_HZ, abs=5)
    phone.on_hook()
    a.wait_event("CALL_CLOSED", 10)


@pytest.mark.parametrize("sim_options", [{"line": {"country": "DE"}}], ids=["DE-v23"])
def test_etsi_plan_tone_and_v23_caller_id_after_an_a_ack(pbx, far_b, ata):
    """DE: 425 Hz 200 on, 200 off, 200 on ([E180]), then the CAS, the phone's 'A' and
    the caller ID in V.23 (EN 300 659-2)."""
    a, sim, phone = in_call_with_a(pbx, ata)
    phone.cas_ack = "A"
    t_b = phone.sim_now_us
    b_calls(pbx, far_b, sim)
    sim.wait_log(r"call: waiting caller ID sent", 5)
    phone.sleep_sim(1200)
    cas_t = phone.cas_heard[0]
    runs = tone_runs(phone, t_b, cas_t + 20_001, 425)     # as above
    assert len(runs) == 2 and all(abs(ms - 200) <= 20 for _, ms in runs), runs
    assert abs((runs[1][0] - runs[0][0]) / 1000 - 400) <= 20, runs
    msgs = callerid_rx.decode(phone.recording(phone.acks_sent[0]), callerid_rx.V23)
    assert msgs and callerid_rx.display(msgs[0]) == ("1003", "Bob B"), msgs
    far_b.hangup()
    far_b.wait_event("CALL_CLOSED", 10)
    phone.on_hook()
    a.wait_event("CALL_CLOSED", 10)
