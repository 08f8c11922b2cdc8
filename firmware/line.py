# Line controller: the state of one FXS line. Turns hook events into off-hook,
# digits, flash and hang-up for call control; rings the phone; plays the
# call-progress tones of the country plan. A state machine stepped by poll(now_ms).
# Event-driven: the task sleeps until the hook switch moves (a pin interrupt's edge,
# or an event from the 2 ms sampler, sets the port's flag) or the next deadline (the
# detector's debounce, hang-up and digit gap; the line's own timers).
import time

import digitmap
import hook
from clip import Clip
from country import STUTTER

IDLE = "idle"            # on-hook, quiet
RINGING = "ringing"      # on-hook, ringing
DIALTONE = "dialtone"    # off-hook, dial tone, nothing dialled yet
DIALING = "dialing"      # off-hook, collecting digits
CALL = "call"            # off-hook, handed to call control (ringback, talking ...)
REORDER = "reorder"      # off-hook, the attempt or call failed: busy/reorder/congestion
HOWLER = "howler"        # off-hook still after that: receiver-off-hook tone (if the plan has one)
LOCKOUT = "lockout"      # off-hook too long after a tone: silence until hang-up

_FALLBACK = {"reorder": "congestion"}   # a plan without its own reorder tone
_ANY_NUMBER = "(*x.T|x.T)"   # digit map of a country plan without one: the old fixed pause
_POLL_MS = 5             # poll period while caller ID or the lamp message is under way
_IDLE_MS = 1000          # the longest sleep: nothing due (a request wakes the task)
_RECALL_BURSTS = 3       # recall dial tone: 3 bursts of dial tone, then steady (GR-506)

# Pulses -> digit. Most of the world: n pulses = n (10 = 0); New Zealand: 10 - n;
# Sweden: n - 1.
_PULSE_MAPS = {
    "normal": "?1234567890",
    "nz": "?9876543210",
    "se": "?0123456789",
}


class Line:
    def __init__(self, port, plan, lcfg, media, on_event, log=print):
        self.slic = port.slic
        self.timer = port.hook_timer
        self.hard_timers = port.hard_timers
        self.hook_pin = port.hook_pin       # edges from its irq(); None: sample with timer
        self.hard_pin_irq = port.hard_pin_irq
        self.ticks = port.ticks_ms or time.ticks_ms   # the clock edges are stamped with
        self.flag = port.new_flag() if port.new_flag is not None else None
        self._det_due = None                 # the detector's next deadline (self.ticks)
        self.plan = plan
        self.media = media
        media.on_dtmf = self.dtmf
        self.on_event = on_event
        self.log = log
        self.det = (hook.HookDetector if self.hook_pin is None else hook.EdgeDetector)(
            debounce_ms=lcfg["debounce_ms"], flash_min_ms=lcfg["flash_min_ms"],
            flash_max_ms=lcfg["flash_max_ms"], hangup_ms=lcfg["hangup_ms"],
            digit_gap_ms=lcfg["digit_gap_ms"])
        self.interdigit_ms = lcfg["interdigit_ms"]
        # the digit map decides when a number is complete (compiled once, here);
        # "auto" is the country's plan, which ends in x.T: anything else still goes
        # after the long timer, as before digit maps
        text = lcfg.get("digit_map", "auto")
        self.digit_map = digitmap.DigitMap(
            plan.get("digit_map", _ANY_NUMBER) if text == "auto" else text,
            lcfg.get("interdigit_short_ms", 2000), self.interdigit_ms)
        self.first_digit_ms = lcfg["first_digit_ms"]
        self.fail_tone_ms = lcfg.get("fail_tone_ms", 30000)   # busy/reorder, then howler
        self.howler_ms = lcfg.get("howler_ms", 60000)         # howler, then lock-out
        self.pulse_map = _PULSE_MAPS[lcfg["pulse_map"]]
        mode = lcfg.get("caller_id", "auto")
        mode = plan.get("cid") if mode == "auto" else (None if mode == "off" else mode)
        self.clip = Clip(self.slic, media, mode, log)
        # message waiting: stutter dial tone (the plan's bursts of its dial tone, else
        # the US pattern) and the visual indicator sent to the on-hook phone
        # (config section "mwi": call control sets these two)
        self.stutter_on = True
        self.vmwi_on = True
        self.mwi = None          # messages waiting: True/False, None = not told yet
        self.vmwi_shown = None   # what the phone's lamp was last told (None: nothing)
        self.stutter_until = None
        self.ring_cadence = plan["ring_cadence"]
        self._vmwi_sending = None
        self.state = IDLE
        self.digits = ""
        self.deadline = None
        self.tone_name = None
        self.clock = time.ticks_ms   # the line's clock
        self.now = self.clock()      # read at each poll and each request
        self.counts = {"off_hook": 0, "digits": 0, "flash": 0, "ring_trips": 0}

    # -- running ------------------------------------------------------------------
    def start(self):
        self._reset_det(1 if self.slic.off_hook() else 0)
        pin = self.hook_pin
        if pin is None:
            self.timer.init(period=hook.HOOK_SAMPLE_MS, callback=self._sample,
                            hard=self.hard_timers)
        elif self.hard_pin_irq:
            pin.irq(handler=self._edge, trigger=pin.IRQ_RISING | pin.IRQ_FALLING, hard=True)
        else:   # the ESP32 port's Pin.irq takes no `hard`: its handlers are scheduled
            pin.irq(handler=self._edge, trigger=pin.IRQ_RISING | pin.IRQ_FALLING)

    def _reset_det(self, level):
        if self.hook_pin is None:
            self.det.reset(level)
        else:
            self.det.reset(level, self.ticks())
        self._det_due = None

    def _sample(self, _t):
        """The 2 ms sampler (a timer callback): wakes the task only for an event."""
        det = self.det
        head = det._head
        det.sample(self.slic.shk())
        if det._head != head and self.flag is not None:
            self.flag.set()

    def _edge(self, _pin):
        """SHK moved (the pin interrupt; hard on some ports: no allocation): its level
        and the time, for the task."""
        self.det.edge(self.slic.shk(), self.ticks())
        if self.flag is not None:
            self.flag.set()

    def _wake(self):
        """A request changed what the task waits for: it looks again now."""
        if self.flag is not None:
            self.flag.set()

    def _request(self):
        """A request from another task: the time now (the task may have slept long)."""
        self.now = self.clock()

    async def run(self):
        import asyncio
        flag = self.flag
        while True:
            now = self.clock()
            self.poll(now)
            ms = self.wait_ms(now)
            if flag is None:          # nothing sets a flag: look every _POLL_MS
                await asyncio.sleep_ms(min(ms, _POLL_MS))
                continue
            try:
                await asyncio.wait_for_ms(flag.wait(), ms)
            except asyncio.TimeoutError:
                pass

    def wait_ms(self, now):
        """How long the task may sleep after poll(now) unless the flag wakes it: until
        the detector's next deadline, the line's timer or the stutter's end; _POLL_MS
        while caller ID or the lamp message is under way; else _IDLE_MS."""
        ms = _POLL_MS if self.clip.busy else _IDLE_MS
        if self.deadline is not None:
            ms = min(ms, time.ticks_diff(self.deadline, now))
        if self.stutter_until is not None:
            ms = min(ms, time.ticks_diff(self.stutter_until, now))
        if self._det_due is not None:
            ms = min(ms, time.ticks_diff(self._det_due, self.ticks()))
        return max(1, ms)

    def poll(self, now):
        self.now = now
        if self.hook_pin is not None:
            det = self.det
            t = self.ticks()
            det.poll(t)               # the edges queued so far
            level = self.slic.shk()
            if level != det.raw:      # an interrupt lost (scheduler queue full) or on its way
                det.level(level, t)
            self._det_due = det.poll(t)
        while True:
            ev = self.det.pop()
            if ev is None:
                break
            self._hook_event(ev[0], ev[1], now)
        if self.state == RINGING and self.clip.poll(now):
            self._ring_now()              # caller ID went before the first ring
        elif self.state == IDLE:
            self._idle_poll(now)
        if self.stutter_until is not None and time.ticks_diff(now, self.stutter_until) >= 0:
            self.stutter_until = None
            if self.tone_name in ("stutter", "recall"):
                self.play("dial")         # the bursts are over: steady dial tone
        if self.deadline is not None and time.ticks_diff(now, self.deadline) >= 0:
            self.deadline = None
            self._timeout(now)

    def _idle_poll(self, now):
        """On-hook and quiet: send the message-waiting indicator when the phone's lamp
        differs from the box, one message at a time."""
        clip = self.clip
        if clip.busy:
            if clip.vmwi and clip.poll(now):
                self.vmwi_shown = self._vmwi_sending
            return
        if self.vmwi_on and self.mwi is not None and self.mwi != self.vmwi_shown:
            if clip.start_vmwi(self.mwi, now):
                self._vmwi_sending = self.mwi
            else:
                self.vmwi_shown = self.mwi    # no such message on this line: nothing to do

    # -- requests from call control -------------------------------------------------
    def message_waiting(self, waiting):
        """The voice mailbox has messages (True) or is empty (False): stutter dial tone
        at the next off-hook, and the phone's lamp set when the line is next idle."""
        if waiting != self.mwi:
            self.log("line: messages waiting: %s" % ("yes" if waiting else "no"))
        self.mwi = waiting
        self._wake()

    def ring(self, number=None, name=None, private=False, cadence=None):
        """Ring with the country cadence (or a distinctive one), presenting caller ID
        when there is a caller."""
        if self.state != IDLE:
            return False
        self._request()
        if self.clip.busy:
            self.clip.stop()              # a lamp message cut short: sent again later
        self.ring_cadence = cadence or self.plan["ring_cadence"]
        clip = (number is not None or name is not None or private) and \
            self.clip.start(number, name, self.now, private, len(self.ring_cadence) // 2)
        if not (clip and self.clip.before_ring):
            self._ring_now()
        self._enter(RINGING)
        self._wake()                      # caller ID: polled while it goes
        return True

    def _ring_now(self):
        self.slic.ring_start(self.plan["ring_hz"], self.ring_cadence)

    def stop_ring(self):
        if self.state == RINGING:
            self.clip.stop()
            self.slic.ring_stop()
            self._enter(IDLE)

    def recover(self):
        """After a crash elsewhere (the call is already ended): ring and caller ID off,
        then the state the hook switch is in now: dial tone off-hook, idle on-hook."""
        self._request()
        self.clip.stop()
        self.slic.ring_stop()
        self.digits = ""
        off = self.slic.off_hook()
        self._reset_det(1 if off else 0)
        if off:
            self.play("dial")
            self._enter(DIALTONE, self.first_digit_ms)
        else:
            self.play(None)
            self._enter(IDLE)
        self.log("line: recovered, %s" % self.state)

    def play(self, name):
        """Play a call-progress tone of the country plan (None: silence); "reorder"
        is the congestion tone in a plan that has no reorder tone of its own;
        "stutter" is bursts of the dial tone, then the dial tone (poll switches);
        "recall" is the recall dial tone after a hook flash: three such bursts, then
        the dial tone (GR-506; no plan here has a recall tone of its own)."""
        self._request()
        self.tone_name = name
        self.stutter_until = None
        spec = None
        if name in ("stutter", "recall"):
            bursts, on, off = self.plan.get("stutter") or STUTTER
            if name == "recall":
                bursts = _RECALL_BURSTS
            f1, f2, level, _ = self.plan["dial"]
            spec = (f1, f2, level, (on, off))
            # switch to the dial tone half-way through the burst after the last: the
            # switch lands inside a burst, so the heard off-times stay exact whatever
            # the poll and frame phases are
            self.stutter_until = time.ticks_add(self.now, bursts * (on + off) + on // 2)
            self._wake()
        elif name:
            spec = self.plan.get(name) or self.plan[_FALLBACK.get(name, name)]
        self.media.play_tone(spec)

    def recall(self):
        """A hook flash put the call on hold: recall dial tone, and a new number is
        collected through the digit map as after an off-hook."""
        self._request()
        self.digits = ""
        self.play("recall")
        self._enter(DIALTONE, self.first_digit_ms)

    def connected(self):
        self._request()
        self.play(None)
        self._enter(CALL)

    def failed(self, tone="congestion"):
        """The attempt or the call ended from the far side: `tone` (busy, reorder,
        congestion) for fail_tone_ms, then the plan's howler for howler_ms, then
        silence (lock-out) until the phone is hung up."""
        self._request()
        if self.state in (IDLE, RINGING):
            self.stop_ring()
            return
        self.play(tone)
        self._enter(REORDER, self.fail_tone_ms)

    def await_answer(self, timeout_ms):
        """An outgoing call rings at the far end: if it is not answered (connected())
        within timeout_ms, call control is told "no_answer"."""
        self._request()
        if self.state == CALL and self.deadline is None:   # a second 180 restarts nothing
            self.deadline = time.ticks_add(self.now, timeout_ms)
            self._wake()

    def dtmf(self, ch, down):
        """A touch-tone key heard by the media pipeline: down at its start, up at its
        end. Dialling uses the start (prompt); a call is told both (RFC 4733)."""
        self._request()
        if self.state in (DIALTONE, DIALING):
            if down:
                self._digit(ch, self.now)
        elif self.state == CALL:
            self.on_event("dtmf_down" if down else "dtmf_up", ch)

    def dtmf_digit(self, ch):
        self.dtmf(ch, True)

    # -- internals ------------------------------------------------------------------
    def _enter(self, state, timeout_ms=None, now=None):
        if state != self.state:
            self.log("line: %s -> %s" % (self.state, state))
        self.state = state
        self.media.listen_dtmf(state in (DIALTONE, DIALING, CALL))
        if timeout_ms is None:
            self.deadline = None
        else:
            self.deadline = time.ticks_add(self.now if now is None else now, timeout_ms)
            self._wake()

    def _hook_event(self, code, value, now):
        if code == hook.EV_OFF_HOOK:
            self.counts["off_hook"] += 1
            if self.state == RINGING:
                self.slic.ring_stop()       # ring trip: RM released at once
                self.clip.stop()
                self.counts["ring_trips"] += 1
                self.log("line: ring trip")
                self._enter(CALL, now=now)
                self.on_event("answer", None)
            else:
                if self.clip.busy:
                    self.clip.stop()      # lamp message cut short: sent again on-hook
                self.digits = ""
                self.now = now
                self.play("stutter" if self.mwi and self.stutter_on else "dial")
                self._enter(DIALTONE, self.first_digit_ms, now)
                self.on_event("off_hook", None)
        elif code == hook.EV_HANG_UP:
            if self.state == RINGING:
                return
            self.play(None)
            self._enter(IDLE, now=now)
            self.on_event("hang_up", None)
        elif code == hook.EV_PULSE:
            if self.state in (DIALTONE, DIALING):
                if self.tone_name:
                    self.play(None)          # first pulse silences dial tone
                # a digit is being dialled: the inter-digit time runs from its end
                # (only later than what the task waits for: called from poll)
                self.deadline = time.ticks_add(now, self.interdigit_ms)
        elif code == hook.EV_DIGIT:
            if self.state in (DIALTONE, DIALING):
                self._digit(self.pulse_map[value] if value < len(self.pulse_map) else "?", now)
        elif code == hook.EV_FLASH:
            self.counts["flash"] += 1
            self.log("line: flash")
            self.on_event("flash", None)

    def _digit(self, ch, now):
        """Every dialled key, pulse or touch-tone, goes through the digit map."""
        self.counts["digits"] += 1
        if self.tone_name:
            self.play(None)
        dm = self.digit_map
        digits = self.digits + ch
        action = dm.step(digits)
        if ch == "#" and action == digitmap.REJECT and self.digits:
            # a '#' that no rule takes means "send now": what was dialled goes at
            # once if a rule matches it whole; an incomplete number is refused
            self.log("line: # sends now")
            if dm.step(self.digits) != digitmap.REJECT and dm.rule >= 0:
                self._complete(now)
            else:
                self._reject(now)
            return
        self.digits = digits
        self.log("line: digit %s" % ch)
        self.on_event("digit", ch)
        if action == digitmap.SEND:
            self._complete(now)
        elif action == digitmap.REJECT:
            self._reject(now)
        else:
            # the short timer after a full match, the long one while only part is
            # dialled; the rule's own S/T timer when it has one
            self._enter(DIALING, dm.wait_ms, now)

    def _complete(self, now):
        """Send the number (its full match's rewrites applied) to call control."""
        dialled = self.digits
        self.digits = ""
        dm = self.digit_map
        dm.step(dialled)              # the full match for exactly these digits
        number = dm.number(dialled) if dm.rule >= 0 else dialled
        self._enter(CALL, now=now)
        if number != dialled:
            self.log("line: dialled %s -> %s" % (dialled, number))
        else:
            self.log("line: dialled %s" % number)
        self.on_event("number", number)

    def _reject(self, now):
        """No rule of the digit map can match: reorder at once, nothing is sent."""
        self.log("line: %s matches no rule of the digit map" % self.digits)
        self.digits = ""
        self.failed("reorder")

    def _timeout(self, now):
        if self.state == DIALING:
            # the timer ran out: a full match is sent, a partial one is refused
            self.digit_map.step(self.digits)
            if self.digit_map.rule >= 0:
                self._complete(now)
            else:
                self._reject(now)
        elif self.state == DIALTONE:
            self.failed("congestion")    # nothing dialled: reorder
        elif self.state == REORDER and self.howler_ms and "howler" in self.plan:
            self.log("line: off hook after the %s tone: howler" % self.tone_name)
            self.play("howler")
            self._enter(HOWLER, self.howler_ms, now)
        elif self.state in (REORDER, HOWLER):
            self.play(None)
            self._enter(LOCKOUT, now=now)
        elif self.state == CALL:
            self.on_event("no_answer", None)

    def status(self):
        return {"state": self.state, "digits": self.digits, "tone": self.tone_name,
                "hook": "off" if self.det.off_hook else "on", "ringing": self.slic.ringing,
                "mwi": self.mwi, "vmwi": self.vmwi_shown, "counts": self.counts}
