"""Message waiting and incoming call details end to end on the sim (issue 11.4, 11.5).

A raw SIP peer is the ATA's registrar (the one trusted source): it answers REGISTER
and sends NOTIFY (Event: message-summary, RFC 3842) and INVITE as a PBX would. The
virtual phone hears the result: the lamp message (VMWI, MDMF type 0x82 with the
Visual Indicator 0x0B) decoded by spandsp from what it heard between the line
reversal and the polarity coming back; the stutter dial tone measured by cadence; a
distinctive ring (Alert-Info Bellcore-dr2) measured from the ring voltage; the
caller ID of a withheld caller ('P', no number) and its date and time (the host
clock: the sim's clock is the host's). One sim for the whole module.

The figures are typed from the sources (GR-506 stutter 10 x 0.1/0.1 s and dr2 0.8/0.4/
0.8/4 s; docs/countries.md), not read from firmware/country.py."""
import queue
import random
import threading
import time

import pytest

from ata import callerid_rx, signals
from ata.phone import VirtualPhone
from sip_raw import RawPeer, branch, response_to
from simfix import base_config, check_clean_log, deep_merge, start_sim

VMWI = 0x82      # GR-30 / EN 300 659-3 message type: message waiting


class Registrar:
    """The raw peer as registrar: REGISTER and OPTIONS get 200 from a thread; every
    other message is queued for the test."""

    def __init__(self):
        self.peer = RawPeer()
        self.port = self.peer.port
        self.inbox = queue.Queue()
        self.registered = threading.Event()
        self.subscribed = threading.Event()
        self.subscribes = []
        self.ua = None
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            try:
                m = self.peer.recv(0.2)
            except OSError:
                return
            if m is None:
                continue
            if m.method == "SUBSCRIBE":
                self.peer.send(response_to(m, 200, "OK", "sub1", "Expires: 120\r\n"
                                           "Contact: <sip:pbx@127.0.0.1:%d>" % self.port),
                               m.addr)
                self.subscribes.append(m)
                self.subscribed.set()
            elif m.method in ("REGISTER", "OPTIONS"):
                extra = "Contact: %s;expires=3600" % m.get("contact").split(";")[0] \
                    if m.method == "REGISTER" else ""
                self.peer.send(response_to(m, 200, "OK", "reg1", extra), m.addr)
                if m.method == "REGISTER":
                    self.ua = m.addr
                    self.registered.set()
            else:
                self.inbox.put(m)

    def expect(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            try:
                m = self.inbox.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if pred(m):
                return m
            seen.append(m)
        raise TimeoutError("nothing matching from the ATA; got %r" % seen)

    def send(self, text):
        self.peer.send(text.replace("\r\n", "\n"), self.ua)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.peer.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory, request):
    reg = Registrar()
    cfg = deep_merge(base_config(reg.port), {"line": {"country": "US"},
                                             "mwi": {"subscribe": True, "expires": 120}})
    sim = start_sim(cfg, tmp_path_factory.mktemp("mwi") / "sim")
    phone = None
    try:
        assert reg.registered.wait(15), sim.log_text()[-2000:]
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        yield sim, phone, reg, cfg
    finally:
        if phone is not None:
            phone.close()
        rc = sim.stop()
        reg.close()
        check_clean_log(request, sim.log_text())
        assert rc == 0, sim.log_text()[-2000:]


def notify(reg, cfg, body, ctype="application/simple-message-summary", event="message-summary",
           dialog=None, cseq=1):
    """A NOTIFY from the registrar, unsolicited or (dialog = (Call-ID, our tag, the
    ATA's tag)) in a subscription; returns the ATA's final response."""
    call_id, from_tag, to_tag = dialog or (
        "mwi-%08x@127.0.0.1" % random.getrandbits(32), "pbx%d" % random.getrandbits(16), None)
    ua_port = cfg["sip"]["sip_port"]
    text = ("NOTIFY sip:1001@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:1001@127.0.0.1>;tag=%s\r\n"
            "To: <sip:1001@127.0.0.1>%s\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d NOTIFY\r\n"
            "Event: %s\r\n"
            "Subscription-State: active;expires=120\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n%s") % (
                ua_port, reg.port, branch(), from_tag, ";tag=" + to_tag if to_tag else "",
                call_id, cseq, event, ctype, len(body.encode()), body)
    reg.send(text)
    return reg.expect(lambda m: m.status >= 200 and m.get("call-id") == call_id)


def lamp_message(phone, since_us):
    """The VMWI message the phone heard in the next line reversal after since_us: waits
    for the polarity to come back, then decodes the audio in between."""
    def reversal():
        rev = [t for t, pin, lvl in phone.pin_log if pin == "F" and lvl == 0 and t > since_us]
        back = [t for t, pin, lvl in phone.pin_log
                if pin == "F" and lvl == 1 and rev and t > rev[0]]
        return (rev[0], back[0]) if back else None
    phone.wait_for(lambda: reversal() is not None, 15, "line reversal and back")
    t0, t1 = reversal()
    heard = phone.recording(t0, t1)
    msgs = callerid_rx.decode(heard, callerid_rx.BELL202)
    assert msgs, "no FSK decoded in the reversal (%d ms)" % ((t1 - t0) // 1000)
    assert msgs[0][0] == VMWI, msgs
    return callerid_rx.vmwi(msgs[0])


def off_hook_runs(phone, record_ms):
    """Lift the handset; (on/off runs of what is heard for record_ms, the recording)."""
    t_off = phone.off_hook()
    phone.sleep_sim(record_ms + 100)
    heard = phone.recording(t_off, t_off + record_ms * 1000)
    return signals.cadence_runs(heard), heard


def hang_up(phone):
    phone.on_hook()
    phone.sleep_sim(1000)          # past the hang-up time (900 ms): the line is idle


def test_message_waiting_stutter_and_lamp(rig):
    sim, phone, reg, cfg = rig
    t = phone.sim_now_us
    r = notify(reg, cfg, "Messages-Waiting: yes\r\nMessage-Account: sip:1001@127.0.0.1\r\n"
                         "Voice-Message: 2/8 (1/0)\r\n")
    assert r.status == 200, r.start
    assert lamp_message(phone, t) is True

    # a body that is no message summary: 400 with the reason, the state stays "yes"
    r = notify(reg, cfg, "Messages-Waiting: perhaps\r\n")
    assert r.status == 400 and "Messages-Waiting" in r.start, r.start
    r = notify(reg, cfg, "Messages-Waiting: yes\r\n", event="presence")
    assert r.status == 489, r.start

    # stutter dial tone: 10 bursts of 0.1 s on 0.1 s off, then steady (GR-506)
    runs, heard = off_hook_runs(phone, 3200)
    print("stutter runs: %s" % runs)
    assert len(runs) == 20, runs        # the 21st run, steady tone, lasts to the end
    for i, (on, ms) in enumerate(runs):
        assert on == (i % 2 == 0) and abs(ms - 100) <= 20, (i, runs)
    steady = heard[-8000:]
    peaks = sorted(f for f, rel in signals.spectrum_peaks(steady, 2) if rel > -10)
    assert len(peaks) == 2 and abs(peaks[0] - 350) <= 5 and abs(peaks[1] - 440) <= 5, peaks
    hang_up(phone)

    # the box empties: the lamp goes off, the dial tone is steady again
    t = phone.sim_now_us
    r = notify(reg, cfg, "Messages-Waiting: no\r\nVoice-Message: 0/10\r\n")
    assert r.status == 200, r.start
    assert lamp_message(phone, t) is False
    runs, heard = off_hook_runs(phone, 1500)
    assert runs == [] and signals.dbm0(heard[-4000:]) > -20, runs   # one unbroken tone
    hang_up(phone)


def test_distinctive_ring_and_private_caller_with_date(rig):
    sim, phone, reg, cfg = rig
    ua_port = cfg["sip"]["sip_port"]
    call_id = "dr-%08x@127.0.0.1" % random.getrandbits(32)
    br = branch()
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    head = ("INVITE sip:1001@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=anon1\r\n"
            "To: <sip:1001@127.0.0.1:%d>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: 1 INVITE\r\n"
            "Contact: <sip:pbx@127.0.0.1:%d>\r\n"
            "Privacy: id\r\n"
            "Alert-Info: <http://127.0.0.1/Bellcore-dr2>\r\n") % (
                ua_port, reg.port, br, ua_port, call_id, reg.port)
    minutes = {time.strftime("%m%d%H%M")}
    first = len(phone.bursts)
    reg.send(head + "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
             % (len(sdp), sdp))
    reg.expect(lambda m: m.status == 180 and m.get("call-id") == call_id)

    # dr2: 0.8 s on, 0.4 s off, 0.8 s on, then 4 s off; caller ID in that long silence
    phone.wait_for(lambda: len(phone.bursts) >= first + 2 and
                   phone.bursts[first + 1].end_us is not None, 10, "two ring bursts")
    b0, b1 = phone.bursts[first], phone.bursts[first + 1]
    phone.sleep_sim(1800)
    minutes.add(time.strftime("%m%d%H%M"))
    print("dr2: on %.0f off %.0f on %.0f ms" % (b0.on_ms, (b1.start_us - b0.end_us) / 1000,
                                                 b1.on_ms))
    assert abs(b0.on_ms - 800) <= 50 and abs(b1.on_ms - 800) <= 50, (b0, b1)
    assert abs((b1.start_us - b0.end_us) / 1000 - 400) <= 50, (b0, b1)
    assert len(phone.bursts) == first + 2, "a third burst within 1.8 s: not dr2's 4 s off"
    assert abs(b0.frequency_hz - 20) <= 1, b0.frequency_hz

    heard = phone.recording(b1.end_us, b1.end_us + 1_800_000)
    msgs = callerid_rx.decode(heard, callerid_rx.BELL202)
    assert msgs and msgs[0][0] == 0x80, msgs
    f = callerid_rx.fields(msgs[0])
    assert f.get(callerid_rx.P_NUMBER_ABSENT) == b"P" and callerid_rx.P_NUMBER not in f, f
    assert f.get(callerid_rx.P_NAME_ABSENT) == b"P" and callerid_rx.P_NAME not in f, f
    assert f.get(callerid_rx.P_DATETIME, b"").decode() in minutes, (f, minutes)

    # the caller gives up: CANCEL, 200 and 487 (ACKed), the ringing stops
    reg.send(("CANCEL sip:1001@127.0.0.1:%d SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
              "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=anon1\r\n"
              "To: <sip:1001@127.0.0.1:%d>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\n"
              "Content-Length: 0\r\n\r\n") % (ua_port, reg.port, br, ua_port, call_id))
    r487 = reg.expect(lambda m: m.status == 487 and m.get("call-id") == call_id)
    reg.send(("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"
              "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=anon1\r\n"
              "To: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
             % (ua_port, reg.port, br, r487.get("to"), call_id))
    phone.wait_for(lambda: not phone.ringing and phone.bursts[-1].end_us is not None, 5,
                   "ringing stopped")


def test_subscription_notify_sets_the_lamp(rig):
    """mwi.subscribe: the ATA subscribed to message-summary for its account after it
    registered; the NOTIFYs of that subscription (its Call-ID, the ATA's tag) set the
    lamp; one with a To tag of no subscription is refused (481)."""
    sim, phone, reg, cfg = rig
    assert reg.subscribed.wait(10), sim.log_text()[-2000:]
    sub = reg.subscribes[0]
    assert sub.get("event") == "message-summary", sub.get("event")
    assert "application/simple-message-summary" in sub.get("accept"), sub.get("accept")
    assert sub.get("expires") == "120" and sub.tag("to") is None, sub.headers
    dialog = (sub.get("call-id"), "sub1", sub.tag("from"))
    t = phone.sim_now_us
    r = notify(reg, cfg, "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n", dialog=dialog)
    assert r.status == 200, r.start
    assert lamp_message(phone, t) is True
    r = notify(reg, cfg, "Messages-Waiting: no\r\n", dialog=(dialog[0], "sub1", "nosuchtag"),
               cseq=2)
    assert r.status == 481, r.start
    t = phone.sim_now_us
    r = notify(reg, cfg, "Messages-Waiting: no\r\n", dialog=dialog, cseq=3)
    assert r.status == 200, r.start
    assert lamp_message(phone, t) is False
