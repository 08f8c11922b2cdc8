# The call-waiting alert (firmware/cidcw.py) stepped with a fake clock: the waiting
# tone's first burst, the CAS, the wait for the phone's ACK, the FSK only after an
# ACK, then the tone's cadence; what the earpiece gets per 20 ms frame.
from array import array

import cidcw
import country
from dsp.callerid import CallerIdTx
from dsp.tone import ToneGen
from check import eq

N = 160


class Media:
    """The media pipeline's earpiece choice: caller ID, else tone, else the far end."""
    def __init__(self):
        self.tone = ToneGen()
        self.cid = None
        self.sent = []           # what caller_id() was asked to do: "cas" / "fsk"

    def caller_id(self, prepare):
        if self.cid is None:
            self.cid = CallerIdTx()
        prepare(self.cid)
        # send_cas() is one step (the tone), send_fsk() two (lead gap, FSK)
        self.sent.append("cas" if len(self.cid._steps) == 1 else "fsk")

    def caller_id_active(self):
        return self.cid is not None and self.cid.active

    def caller_id_stop(self):
        if self.cid is not None:
            self.cid.stop()

    def frame(self, buf):
        if self.caller_id_active():
            self.cid.fill(buf, N)
            return "cid"
        if self.tone.active:
            self.tone.fill(buf, N)
            # the alert's mute is a silent tone: the far end is not heard either
            return "tone" if max(abs(x) for x in buf) > 100 else "mute"
        return "far"


def run(alert, media, ms, t, ack_at=None, key="D"):
    """Step 5 ms polls, a frame every 20 ms, from t for ms; [(t, source)] per frame."""
    buf = array("h", bytes(2 * N))
    out = []
    end = t + ms
    while t < end:
        if ack_at is not None and t == ack_at:
            eq(alert.ack(key, t), key in "AD", "ack %s" % key)
        alert.poll(t)
        if t % 20 == 0:
            out.append((t, media.frame(buf)))
        t += 5
    return out


def spans(frames, kind):
    """(first, last) frame time with this source."""
    ts = [t for t, k in frames if k == kind]
    return (ts[0], ts[-1]) if ts else None


def make(msg=b"\x80\x03\x02\x011\x00", code="US", mode="bell202"):
    media = Media()
    a = cidcw.WaitAlert(media, country.plan(code)["waiting"], mode, msg, log=lambda s: None)
    a.start(0)
    return a, media


def test_burst_then_cas_then_ack_window():
    a, media = make()
    frames = run(a, media, 440, 0)           # up to the ACK window only
    eq(spans(frames, "tone")[0], 0, "first burst starts at once")
    # 300 ms burst: frames 0..280 tone
    eq(spans(frames, "tone")[1], 280, "first burst ends after 300 ms")
    eq(media.sent, ["cas"], "CAS after the burst")
    eq(spans(frames, "cid"), (320, 380), "CAS 80 ms, %d ms after the burst" %
       cidcw.SAS_TO_CAS_MS)
    eq(spans(frames, "mute"), (300, 420), "far end muted around it")
    eq(a.phase, cidcw.ACK_WAIT, "waiting for the ACK")


def test_fsk_only_after_an_ack():
    a, media = make()
    run(a, media, 440, 0)
    eq(a.phase, cidcw.ACK_WAIT, "ACK window open")
    frames = run(a, media, 2000, 440, ack_at=450)
    eq(media.sent, ["cas", "fsk"], "FSK after the ACK")
    eq(a.acked, True)
    first_fsk = spans(frames, "cid")[0]
    eq(first_fsk >= 450 + cidcw.ACK_TO_FSK_MS, True, "FSK %d ms after the ACK" % first_fsk)
    # the far end stays muted (a silent tone) between the CAS and the data's end
    eq([k for t, k in frames if t < first_fsk and k == "far"], [], "far end muted")
    eq(a.phase, cidcw.CADENCE, "then the cadence")
    eq(frames[-1][1], "far", "the call audio is back")


def test_no_ack_no_fsk():
    a, media = make()
    frames = run(a, media, 3000, 0)
    eq(media.sent, ["cas"], "no FSK without an ACK")
    eq(a.phase, cidcw.CADENCE)
    eq(spans(frames, "cid") is not None, True, "the CAS was heard")
    back = [t for t, k in frames if k == "far"][0]
    eq(back >= 300 + cidcw.SAS_TO_CAS_MS + 80 + cidcw.ACK_LISTEN_MS, True,
       "muted through the ACK window (%d)" % back)


def test_wrong_key_is_no_ack():
    a, media = make()
    run(a, media, 440, 0)
    frames = run(a, media, 500, 440, ack_at=450, key="5")
    eq(media.sent, ["cas"])


def test_cadence_repeats_every_period():
    a, media = make()
    frames = run(a, media, 21000, 0)
    tone = [t for t, k in frames if k == "tone"]
    second = [t for t in tone if 9000 < t < 11000]
    third = [t for t in tone if 19000 < t < 21000]
    eq((second[0], second[-1]), (10000, 10280), "second burst")
    eq((third[0], third[-1]), (20000, 20280), "third burst")


def test_german_double_burst_then_alert():
    a, media = make(code="DE", mode="v23")
    frames = run(a, media, 700, 0)
    tone = [t for t, k in frames if k == "tone"]
    eq((tone[0], tone[-1]), (0, 580), "200 on 200 off 200 on")
    eq(spans(frames, "far"), (200, 380), "the call between the bursts")
    eq([t for t in tone if 200 <= t < 400], [], "the gap between the bursts")
    eq(media.sent, ["cas"])


def test_no_message_tone_only():
    a, media = make(msg=None)
    frames = run(a, media, 1000, 0)
    eq(media.sent, [], "no CAS without data to send")
    eq(frames[-1][1], "far")


def test_stop_silences():
    a, media = make()
    run(a, media, 340, 0)
    a.stop()
    eq(a.active, False)
    eq(media.tone.active or media.caller_id_active(), False)
    eq(a.ack("D", 400), False, "no ACK after stop")


def test_late_ack_is_swallowed_but_sends_nothing():
    a, media = make()
    close = 400 + cidcw.ACK_LISTEN_MS
    run(a, media, close + 5, 0)
    eq(a.phase, cidcw.CADENCE, "the window closed")
    eq(a.ack("D", close + 20), True, "a late ACK is not sent to the far end")
    eq(a.ack("5", close + 20), False, "other keys are")
    run(a, media, 2000, close + 5)
    eq(media.sent, ["cas"], "no FSK after a late ACK")
