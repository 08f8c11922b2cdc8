"""Caller ID on incoming calls: the ATA presents the caller (from the INVITE's From)
the way the country does it, and an independent decoder (spandsp's adsi_rx) reads
what the phone heard: Bell 202 after the first ring (US), ETSI V.23 after the first
ring (DE), BT SIN 227 before the first ring after a line reversal (UK)."""
import pytest

from ata import callerid_rx

NAME = "Zoë Ångström"
SHOWN = "Zoe Angstrom"      # what a display can show: accents mapped to ASCII


def call_in(pbx, ata):
    kam, far = pbx
    sim, phone = ata
    far.dial("sip:1001@127.0.0.1:%d" % kam.port)
    return far, sim, phone


@pytest.mark.parametrize("far_display", [NAME])
@pytest.mark.parametrize("sim_options, standard", [
    ({"line": {"country": "US"}}, callerid_rx.BELL202),
    ({"line": {"country": "DE"}}, callerid_rx.V23),
], ids=["US-bell202", "DE-v23"])
def test_caller_id_between_first_and_second_ring(pbx, ata, standard, far_display):
    far, sim, phone = call_in(pbx, ata)
    phone.wait_for(lambda: len(phone.bursts) >= 2 and len(phone.bursts[1].toggles) >= 2, 15,
                   "second ring")
    first, second = phone.bursts[0], phone.bursts[1]
    heard = phone.recording(first.end_us, second.start_us)
    msgs = callerid_rx.decode(heard, standard)
    assert msgs, "no caller ID decoded between the rings"
    number, name = callerid_rx.display(msgs[0])
    assert (number, name) == ("1002", SHOWN), msgs
    # GR-30 timing: data starts >= 500 ms after the first ring and ends before the second
    loud = [t for t, f in phone.heard if first.end_us <= t < second.start_us
            and abs(f.astype(int)).max() > 1000]
    assert loud and loud[0] - first.end_us >= 480_000, (loud[:1], first.end_us)
    assert second.start_us - (loud[-1] + 20_000) >= 200_000
    phone.off_hook()
    far.wait_event("CALL_ESTABLISHED", 10)
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [{"line": {"country": "UK"}}], ids=["UK-sin227"])
def test_uk_caller_id_before_the_first_ring_after_line_reversal(pbx, ata):
    far, sim, phone = call_in(pbx, ata)
    phone.wait_for(lambda: phone.bursts and len(phone.bursts[0].toggles) >= 2, 15, "first ring")
    ring = phone.bursts[0].start_us
    reversals = [t for t, pin, level in phone.pin_log if pin == "F" and level == 0 and t < ring]
    assert reversals, "no line reversal before the first ring"
    heard = phone.recording(reversals[0], ring)
    msgs = callerid_rx.decode(heard, callerid_rx.V23)
    assert msgs and callerid_rx.display(msgs[0])[0] == "1002", msgs
    phone.off_hook()
    far.wait_event("CALL_ESTABLISHED", 10)
    phone.on_hook()


@pytest.mark.parametrize("sim_options", [{"line": {"country": "US", "caller_id": "off"}}],
                         ids=["off"])
def test_caller_id_off_sends_nothing(pbx, ata):
    far, sim, phone = call_in(pbx, ata)
    phone.wait_for(lambda: len(phone.bursts) >= 2 and len(phone.bursts[1].toggles) >= 2, 15,
                   "second ring")
    heard = phone.recording(phone.bursts[0].end_us, phone.bursts[1].start_us)
    assert abs(heard.astype(int)).max() < 50
    phone.off_hook()
    far.wait_event("CALL_ESTABLISHED", 10)
    phone.on_hook()
