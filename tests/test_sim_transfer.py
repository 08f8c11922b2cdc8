"""Hook-flash features in a call, end to end on the sim (issue 11 item 3): the phone
(playing PHONE_HZ) talks to far end A (baresip 1002, A_HZ); flash holds A and gives
recall dial tone; the phone dials B (baresip 1003, B_HZ). Then: flash back to A; a
three-way conference (each of the three hears the other two, checked by frequency in
what the phone heard and in the RTP that reached A and B); flash drops B; hanging up
transfers A to B, blind (B still ringing: REFER to B) or attended (B answered: REFER
with Replaces naming our call with B); a transfer that fails rings the phone back."""
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from ata import peers, signals
from ata.pesq_bench import ulaw_decode
from ata.phone import goertzel_power
from ata.rtpbench import read_pcap_udp
from simfix import NamedBaresip

A_HZ = 600
B_HZ = 900
PHONE_HZ = 1000
DIAL_HZ = (350, 440)          # US dial tone


def share(x, hz):
    """The part of x's energy at hz (0..1): ~0.5 each for two equal tones."""
    x = x.astype(float)
    energy = float(x @ x)
    if energy == 0:
        return 0.0
    return goertzel_power(x, hz) / (energy * len(x) / 2)


class RtpTap:
    """tcpdump on loopback for the RTP arriving at a far end's ports: what it heard,
    decoded, whatever its own recorder does across re-INVITEs (baresip 1.0's stops
    recording at a hold)."""

    def __init__(self, path, ranges):
        self.path = path
        self.ranges = ranges
        filt = " or ".join("udp portrange %d-%d" % r for r in ranges)
        self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode",
                                      "-w", str(path), filt],
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            if "listening on" in self.proc.stderr.readline():
                break

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def heard(self, rng, ms=500):
        """500 ms windows of the PCMU audio that arrived at ports lo..hi, in order."""
        lo, hi = rng
        pcm = [ulaw_decode(np.frombuffer(p[12:], np.uint8))
               for _, _, dport, p in read_pcap_udp(self.path)
               if lo <= dport <= hi and len(p) == 172 and p[1] & 0x7F == 0]
        x = np.concatenate(pcm) if pcm else np.zeros(0, np.int16)
        n = 8 * ms
        return [x[i:i + n] for i in range(0, len(x) - n + 1, n)]


@pytest.fixture
def pbx(tmp_path):
    """Kamailio with 1001 (the ATA), A = 1002 (answers at once) and B = 1003."""
    kam = peers.Kamailio(tmp_path / "kamailio",
                         users={"1001": "secret1", "1002": "secret2", "1003": "secret3"})
    kam.start()
    wav = tmp_path / "a.wav"
    peers.write_tone_wav(wav, seconds=300, freq_hz=A_HZ)
    a = peers.Baresip(tmp_path / "a", "1002", "secret2", kam.port, audio_wav=wav,
                      record_dir=tmp_path / "rec_a", sip_trace=True)
    try:
        a.start()
        yield kam, a
    finally:
        a.stop()
        kam.stop()


@pytest.fixture
def b_answermode():
    return "auto"


@pytest.fixture
def far_b(pbx, tmp_path, b_answermode):
    kam, _ = pbx
    wav = tmp_path / "b.wav"
    peers.write_tone_wav(wav, seconds=300, freq_hz=B_HZ)
    b = NamedBaresip(tmp_path / "b", "1003", "secret3", kam.port, audio_wav=wav,
                     record_dir=tmp_path / "rec_b", answermode=b_answermode, sip_trace=True)
    b.start()
    yield b
    b.stop()


def listen(phone, ms, skip_ms=300):
    t = phone.sim_now_us
    phone.sleep_sim(skip_ms + ms)
    return phone.recording(t + skip_ms * 1000, t + (skip_ms + ms) * 1000)


def talking_to_a(pbx, ata):
    """The phone dials A, A answers; the phone plays PHONE_HZ and hears A."""
    kam, a = pbx
    sim, phone = ata
    phone.play_tone(PHONE_HZ, -10)
    phone.off_hook()
    phone.sleep_sim(300)
    phone.dial_dtmf("1002#")
    a.wait_event("CALL_ESTABLISHED", 10)
    sim.wait_log("call: confirmed 200", 5)
    x = listen(phone, 600)
    assert share(x, A_HZ) > 0.8, "the phone does not hear A"
    return a, sim, phone


def hold_and_dial_b(sim, phone, a, mark):
    phone.flash(500)
    sim.wait_log(r"call: flash: .*1002.* on hold, recall dial tone", 5, start=mark)
    x = listen(phone, 400, skip_ms=700)     # after the 3 recall bursts: steady dial tone
    assert share(x, DIAL_HZ[0]) > 0.3 and share(x, DIAL_HZ[1]) > 0.3, "no recall dial tone"
    assert share(x, A_HZ) < 0.01, "A is heard while on hold"
    phone.dial_dtmf("1003#")
    phone.play_tone(PHONE_HZ, -10)   # the user talks on after dialling


def talking_to_b(sim, phone, a, far_b, mark):
    """A held, B dialled and answered (B in auto answer)."""
    hold_and_dial_b(sim, phone, a, mark)
    far_b.wait_event("CALL_ESTABLISHED", 10)
    sim.wait_log(r"call: confirmed 200", 5, start=mark)


def invite_directions(peer):
    """The SDP direction of each INVITE the peer received (from its SIP trace)."""
    got = []
    for block in peer.log_tail(10 ** 7).split("INVITE sip:%s-" % peer.user)[1:]:
        sdp = block.split("\n\n")[1] if "\n\n" in block else block
        dirs = [d for d in ("sendonly", "recvonly", "inactive", "sendrecv") if "a=" + d in sdp]
        got.append(dirs[0] if dirs else "sendrecv")
    return got


@pytest.fixture
def tap(pbx, far_b, tmp_path):
    t = RtpTap(tmp_path / "rtp.pcap", [pbx[1].rtp_range, far_b.rtp_range])
    yield t
    t.stop()


def test_hold_back_conference_and_drop(pbx, far_b, tap, ata):
    a, sim, phone = talking_to_a(pbx, ata)
    # flash: A held (re-INVITE a=sendonly), recall dial tone; flash again: back to A
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash: .*1002.* on hold, recall dial tone", 5, start=mark)
    sim.wait_log(r"call: other call confirmed hold", 5, start=mark)
    x = listen(phone, 400, skip_ms=700)
    assert share(x, DIAL_HZ[0]) > 0.3 and share(x, DIAL_HZ[1]) > 0.3, "no recall dial tone"
    phone.flash(500)
    sim.wait_log(r"call: flash: back to .*1002", 5, start=mark)
    sim.wait_log(r"call: confirmed resume", 5, start=mark)
    assert share(listen(phone, 600), A_HZ) > 0.8
    # the INVITEs A received: the call itself, then hold and resume
    assert invite_directions(a) == ["sendrecv", "sendonly", "sendrecv"], invite_directions(a)

    # flash, dial B (answers at once): the phone hears B only, A is held
    mark = len(sim.log_text())
    talking_to_b(sim, phone, a, far_b, mark)
    x = listen(phone, 600)
    assert share(x, B_HZ) > 0.8 and share(x, A_HZ) < 0.01, (share(x, B_HZ), share(x, A_HZ))

    # flash: three-way conference; the phone hears A and B
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash: three-way conference", 5, start=mark)
    sim.wait_log(r"call: other call confirmed resume", 5, start=mark)
    x = listen(phone, 1000)
    assert share(x, A_HZ) > 0.25 and share(x, B_HZ) > 0.25, (share(x, A_HZ), share(x, B_HZ))
    assert share(x, PHONE_HZ) < 0.01, "the phone hears itself"
    phone.sleep_sim(1000)           # time for A and B to record the mix

    # flash: B dropped (BYE), the phone and A talk on
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash: .*1003.* dropped from the conference", 5, start=mark)
    far_b.wait_event("CALL_CLOSED", 10)
    x = listen(phone, 600)
    assert share(x, A_HZ) > 0.8 and share(x, B_HZ) < 0.01, (share(x, A_HZ), share(x, B_HZ))
    phone.on_hook()
    a.wait_event("CALL_CLOSED", 10)

    # each far end heard the other two in the conference, and never itself
    tap.stop()
    a_wins = tap.heard(a.rtp_range)
    b_wins = tap.heard(far_b.rtp_range)
    assert any(share(w, PHONE_HZ) > 0.25 and share(w, B_HZ) > 0.25 for w in a_wins), \
        "A never heard the phone and B together"
    assert any(share(w, PHONE_HZ) > 0.25 and share(w, A_HZ) > 0.25 for w in b_wins), \
        "B never heard the phone and A together"
    assert max(share(w, A_HZ) for w in a_wins) < 0.05, "A hears itself"
    assert max(share(w, B_HZ) for w in b_wins) < 0.05, "B hears itself"


def b_hears_a(tap, far_b, phone):
    """A's audio reaches B (they talk after the transfer): waits up to 15 s of sim."""
    for _ in range(30):
        if any(share(w, A_HZ) > 0.8 for w in tap.heard(far_b.rtp_range)[-4:]):
            return True
        phone.sleep_sim(500)
    return False


@pytest.mark.parametrize("b_answermode", ["manual"])
def test_blind_transfer_while_b_rings(pbx, far_b, tap, ata):
    a, sim, phone = talking_to_a(pbx, ata)
    mark = len(sim.log_text())
    hold_and_dial_b(sim, phone, a, mark)
    far_b.wait_event("CALL_INCOMING", 10)
    sim.wait_log(r"call: ringing 180", 5, start=mark)
    phone.on_hook()                 # hang up while B rings: blind transfer
    sim.wait_log(r"call: blind transfer of .*1002.* to sip:1003@", 5, start=mark)
    far_b.wait_event("CALL_CLOSED", 10)             # our CANCEL
    incoming = far_b.wait_event("CALL_INCOMING", 10)   # A's own INVITE now
    assert "1002" in str(incoming), incoming
    far_b.accept()
    far_b.wait_event("CALL_ESTABLISHED", 10)
    sim.wait_log(r"call: transferred", 10, start=mark)
    a.wait_event("CALL_CLOSED", 10)                 # its call with us is over
    assert b_hears_a(tap, far_b, phone), "B never heard A after the transfer"
    assert not phone.ringing and not phone.bursts, "the phone rang after a good transfer"
    refer = re.findall(r"Refer-To: *(\S+)", a.log_tail(10 ** 7))
    assert refer and refer[0].startswith("<sip:1003@") and "Replaces" not in refer[0], refer


def test_attended_transfer_after_talking_to_b(pbx, far_b, tap, ata):
    a, sim, phone = talking_to_a(pbx, ata)
    mark = len(sim.log_text())
    talking_to_b(sim, phone, a, far_b, mark)
    assert share(listen(phone, 600), B_HZ) > 0.8
    phone.on_hook()                 # hang up after talking to B: attended transfer
    sim.wait_log(r"call: attended transfer of .*1002.* to sip:1003@", 5, start=mark)
    sim.wait_log(r"call: transferred", 15, start=mark)
    # A's REFER named our dialog with B, as B itself knows it (B's SIP trace)
    refer = re.findall(r"Refer-To: *(\S+)", a.log_tail(10 ** 7))
    assert refer and "?Replaces=" in refer[0], refer
    from urllib.parse import unquote
    rep = unquote(refer[0].split("?Replaces=")[1].rstrip(">"))
    call_id, to_tag, from_tag = re.match(r"([^;]+);to-tag=([^;]+);from-tag=(.+)$", rep).groups()
    b_log = far_b.log_tail(10 ** 7)
    first_invite = b_log[b_log.index("INVITE sip:1003"):]
    assert "Call-ID: %s" % call_id in first_invite
    assert re.search(r"From: .*tag=%s" % re.escape(from_tag), first_invite)
    assert re.search(r"To: .*tag=%s" % re.escape(to_tag), b_log)
    assert b_hears_a(tap, far_b, phone), "B never heard A after the transfer"
    a.wait_event("CALL_CLOSED", 10)


@pytest.mark.parametrize("b_answermode", ["manual"])
def test_failed_transfer_rings_the_phone_back(pbx, far_b, ata):
    """A blind transfer that B refuses: the transferee (A) reports the failure in its
    NOTIFY, the phone rings, off-hook: A is back."""
    a, sim, phone = talking_to_a(pbx, ata)
    mark = len(sim.log_text())
    hold_and_dial_b(sim, phone, a, mark)
    far_b.wait_event("CALL_INCOMING", 10)
    phone.on_hook()
    sim.wait_log(r"call: blind transfer of", 5, start=mark)
    far_b.wait_event("CALL_CLOSED", 10)                # our CANCEL
    far_b.wait_event("CALL_INCOMING", 10)              # A's INVITE: B refuses it
    far_b.hangup()
    sim.wait_log(r"call: transfer failed: ringing back", 15, start=mark)
    phone.wait_ringing(10)
    phone.off_hook()
    sim.wait_log(r"call: confirmed resume", 5, start=mark)
    assert share(listen(phone, 600), A_HZ) > 0.8
    phone.on_hook()
    a.wait_event("CALL_CLOSED", 10)


@pytest.mark.parametrize("sim_options", [{"line": {"transfer": False, "three_way": False}}],
                         ids=["switched-off"])
def test_transfer_and_three_way_switched_off(pbx, far_b, ata):
    """line.three_way false: flash with B answered ends B and resumes A; line.transfer
    false: hanging up then ends B and the phone rings for A, the held call."""
    a, sim, phone = talking_to_a(pbx, ata)
    mark = len(sim.log_text())
    talking_to_b(sim, phone, a, far_b, mark)
    phone.flash(500)
    sim.wait_log(r"call: flash: back to .*1002", 5, start=mark)
    far_b.wait_event("CALL_CLOSED", 10)
    assert share(listen(phone, 600), A_HZ) > 0.8
    assert "three-way conference" not in sim.log_text()[mark:]

    mark = len(sim.log_text())
    talking_to_b(sim, phone, a, far_b, mark)
    phone.on_hook()
    far_b.wait_event("CALL_CLOSED", 10)
    sim.wait_log(r"call: hung up with a call on hold: ringing back", 5, start=mark)
    phone.wait_ringing(10)
    phone.off_hook()
    sim.wait_log(r"call: confirmed resume", 5, start=mark)
    assert share(listen(phone, 600), A_HZ) > 0.8
    assert "transfer" not in sim.log_text()[mark:]
    phone.on_hook()
    a.wait_event("CALL_CLOSED", 10)


@pytest.mark.crashes_expected
def test_a_task_crash_in_a_conference_ends_both_calls_and_the_line_recovers(
        pbx, far_b, ata):
    """The supervisor's safe state in a three-way conference: both far ends get BYE,
    the conference leg leaves the media, and the next call is an ordinary one."""
    a, sim, phone = talking_to_a(pbx, ata)
    mark = len(sim.log_text())
    talking_to_b(sim, phone, a, far_b, mark)
    phone.flash(500)
    sim.wait_log(r"call: flash: three-way conference", 5, start=mark)
    sim.wait_log(r"call: other call confirmed resume", 5, start=mark)
    mark = len(sim.log_text())
    sim.send("fault line")
    sim.wait_log(r"supervisor: line made safe after line crashed", 5, start=mark)
    a.wait_event("CALL_CLOSED", 10)
    far_b.wait_event("CALL_CLOSED", 10)
    sim.wait_log(r"supervisor: line restarted", 5, start=mark)
    x = listen(phone, 400)
    assert share(x, DIAL_HZ[0]) + share(x, DIAL_HZ[1]) > 0.5, "no dial tone after the crash"
    # a flash now is no conference's (nothing left behind): it is ignored, no crash
    mark = len(sim.log_text())
    phone.flash(500)
    sim.wait_log(r"call: flash ignored", 5, start=mark)
    # a new call to B, and a flash now holds it
    phone.on_hook()
    phone.sleep_sim(1500)
    mark = len(sim.log_text())
    phone.off_hook()
    phone.sleep_sim(300)
    phone.dial_dtmf("1003#")
    phone.play_tone(PHONE_HZ, -10)
    far_b.wait_event("CALL_ESTABLISHED", 10)
    sim.wait_log(r"call: confirmed 200", 5, start=mark)
    assert share(listen(phone, 600), B_HZ) > 0.8
    phone.flash(500)
    sim.wait_log(r"call: flash: .*1003.* on hold, recall dial tone", 5, start=mark)
    phone.on_hook()
    sim.wait_log(r"ringing back", 5, start=mark)
    phone.off_hook()
    sim.wait_log(r"call: confirmed resume", 5, start=mark)
    assert share(listen(phone, 600), B_HZ) > 0.8
    phone.on_hook()
    far_b.wait_event("CALL_CLOSED", 10)
    assert sim.log_text().count(" crashed") == 2, "more crashes than the one injected"
