"""Two FXS ports on the sim board (issue 12.5): each port has its own SIP account
(1001 and 1004 at Kamailio), line and virtual phone. Line 1 calls line 2 through
Kamailio; then both lines are in calls with baresip at the same time (1002 calls
line 1, line 2 calls 1003). Every direction of every call is checked by the
frequency of the tone its sender plays; a caller for line 1 never rings line 2."""
import json

import pytest

from ata import peers, signals
from ata.phone import VirtualPhone
from simfix import base_config, check_clean_log, deep_merge, start_sim

PHONE1_HZ = 1000     # what each party plays: all different, none a harmonic of another
PHONE2_HZ = 1300
A_HZ = 500           # baresip 1002
B_HZ = 700           # baresip 1003
USERS = {"1001": "secret1", "1002": "secret2", "1003": "secret3", "1004": "secret4"}


@pytest.fixture
def peers2(tmp_path):
    """Kamailio with the two ports' accounts (1001, 1004) and two baresips: A (1002)
    and B (1003), each playing its own tone and answering at once."""
    kam = peers.Kamailio(tmp_path / "kamailio", users=USERS)
    started = []
    try:
        kam.start()
        for user, hz in (("1002", A_HZ), ("1003", B_HZ)):
            wav = tmp_path / ("%s.wav" % user)
            peers.write_tone_wav(wav, seconds=120, freq_hz=hz)
            b = peers.Baresip(tmp_path / user, user, USERS[user], kam.port, audio_wav=wav,
                              record_dir=tmp_path / ("rec" + user))
            started.append(b)
            b.start()
        yield kam, started[0], started[1]
    finally:
        for b in started:
            b.stop()
        kam.stop()


@pytest.fixture
def two_port_ata(request, peers2, tmp_path):
    """The sim with two ports registered as 1001 and 1004, a phone on each line."""
    kam = peers2[0]
    cfg = deep_merge(base_config(kam.port), {"line": {"interdigit_ms": 1500}})
    cfg["ports"] = [{}, {"sip": {"user": "1004", "password": USERS["1004"],
                                 "sip_port": peers.free_udp_port()},
                         "sim": {"phone_port": peers.free_tcp_port()}}]
    sim = start_sim(cfg, tmp_path / "sim")
    phones = []
    try:
        sim.wait_log(r"\[2\] ready: SIP 1004@", 5)
        sim.wait_log(r"\.\d\d\d\] sip: registered", 15)     # port 1's line: no prefix
        sim.wait_log(r"\[2\] sip: registered", 15)
        for port in (cfg["sim"]["phone_port"], cfg["ports"][1]["sim"]["phone_port"]):
            phones.append(VirtualPhone("127.0.0.1", port).connect())
        yield sim, phones[0], phones[1]
    finally:
        for ph in phones:
            ph.close()
        rc = sim.stop()
    check_clean_log(request, sim.log_text())
    assert rc == 0, sim.log_text()[-2000:]


def both_heard(phone1, phone2, ms=2000, skip_ms=300):
    """What each phone hears over the same ms of sim time (after skip_ms): the two
    lines share the sim's clock."""
    t0 = max(phone1.sim_now_us, phone2.sim_now_us) + skip_ms * 1000
    t1 = t0 + ms * 1000
    for ph in (phone1, phone2):
        ph.wait_for(lambda: ph.sim_now_us >= t1, ms / 1000 * 5 + 5, "sim time")
    return phone1.recording(t0, t1), phone2.recording(t0, t1)


def check_tone(x, hz, who):
    assert len(x), "%s heard nothing" % who
    share = signals.tone_power(x, hz)
    assert share > 0.8, "%s: %.2f of the power at %d Hz; peaks %r" % (
        who, share, hz, signals.spectrum_peaks(x, 3))


def check_recorded(peer, hz):
    """The baresip's recording of what it received holds the tone hz."""
    rec = peer.recordings("dec")
    assert rec, "baresip %s recorded nothing" % peer.user
    got = signals.read_wav(rec[-1])
    check_tone(got[len(got) // 3:], hz, "baresip %s" % peer.user)


def rang(phone, since_us):
    return [b for b in phone.bursts if b.end_us is None or b.end_us > since_us]


def test_line_1_calls_line_2_through_the_pbx(peers2, two_port_ata):
    kam, _, _ = peers2
    sim, phone1, phone2 = two_port_ata
    assert kam.registered("1001") and kam.registered("1004")
    status = sim.log_text()
    # the console's status shows both ports (port 1's under the names it always had)
    sim.send("status")
    sip2 = json.loads(sim.wait_log(r"sip2: (\{[^\n]*\})", 5, start=len(status)).group(1))
    sip1 = json.loads(sim.wait_log(r"\nsip: (\{[^\n]*\})", 5, start=len(status)).group(1))
    assert sip1["registered"] and sip2["registered"], (sip1, sip2)
    board = json.loads(sim.wait_log(r"board: (\{[^\n]*\})", 5, start=len(status)).group(1))
    assert board["ports"] == 2 and board["phones"][0][1] is True, board
    phone2.play_tone(PHONE2_HZ, -10)
    phone1.off_hook()
    phone1.sleep_sim(400)
    phone1.dial_dtmf("1004", on_ms=70, off_ms=70, level_dbm0=-8)
    phone1.play_tone(PHONE1_HZ, -10)           # after the keys (they replace the source)
    phone2.wait_ringing(15)
    assert not phone1.bursts, "the caller's own phone rang: %r" % phone1.bursts
    mark = len(sim.log_text())
    phone2.off_hook()
    sim.wait_log(r"(?m)^\[[ \d.]+\] call: confirmed", 10, start=mark)
    # each phone hears the other's tone: the audio of both lines, both ways
    x1, x2 = both_heard(phone1, phone2)
    check_tone(x1, PHONE2_HZ, "phone 1")
    check_tone(x2, PHONE1_HZ, "phone 2")
    phone1.on_hook()
    sim.wait_log(r"\[2\] call: ended", 10, start=mark)
    phone2.on_hook()
    assert "[2] call: incoming from 1001" in sim.log_text()[len(status):], \
        sim.log_text()[-3000:]


def test_both_lines_in_calls_at_once_and_a_call_for_line_1_never_rings_line_2(
        peers2, two_port_ata):
    kam, a, b = peers2
    sim, phone1, phone2 = two_port_ata
    phone1.play_tone(PHONE1_HZ, -10)
    t0 = phone2.sim_now_us
    a.dial("sip:1001@127.0.0.1:%d" % kam.port)     # A calls line 1 ...
    phone1.wait_ringing(10)
    phone1.sleep_sim(1500)                         # ... which rings on (line 2 must not)
    assert phone1.ringing, "phone 1 stopped ringing"
    assert not rang(phone2, t0), "a call for line 1 rang phone 2: %r" % phone2.bursts
    phone1.off_hook()
    a.wait_event("CALL_ESTABLISHED", 10)
    phone2.off_hook()                              # line 2 calls B meanwhile
    phone2.sleep_sim(400)
    phone2.dial_dtmf("1003", on_ms=70, off_ms=70, level_dbm0=-8)
    phone2.play_tone(PHONE2_HZ, -10)
    b.wait_event("CALL_ESTABLISHED", 15)
    sim.wait_log(r"\[2\] call: confirmed", 5)
    # both calls up at once: each phone hears its own far end, never the other's
    x1, x2 = both_heard(phone1, phone2)
    check_tone(x1, A_HZ, "phone 1 (talking to A)")
    check_tone(x2, B_HZ, "phone 2 (talking to B)")
    phone1.on_hook()
    phone2.on_hook()
    a.wait_event("CALL_CLOSED", 10)
    b.wait_event("CALL_CLOSED", 10)
    check_recorded(a, PHONE1_HZ)
    check_recorded(b, PHONE2_HZ)
    assert not phone2.bursts, "phone 2 rang at some point: %r" % phone2.bursts
