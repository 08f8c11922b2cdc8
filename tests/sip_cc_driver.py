# MicroPython driver for the stateful SIP fuzz test: the firmware's call control
# (firmware/callctl.py, with its UserAgent and real RTP sockets) on a real UDP socket,
# with a model line in place of the SLIC and a media stub in place of I2S.
# argv[1]: firmware config (JSON, as config.json; validated by firmware/config.py).
# stdin: one JSON command a line: status | heap | dial NUMBER | answer | hangup | warp MS |
#        txs | sizes | stop.  stdout: {"ev": "ready"|"reply"|"line"|"log", ...}
# "warp" moves the SIP stack's clock forward (its transaction, call and registration
# timers read time through the module attribute `time`), so timers run to expiry
# without waiting for them; the asyncio loop and the sockets keep real time.
import asyncio
import gc
import json
import sys
import time

import config
from callctl import CallControl

CFG = config.validate(json.loads(sys.argv[1]))
VERBOSE = "-v" in sys.argv
# --no-rate-limit: the request buckets (50/s, INVITEs 5/s) opened wide, so a fuzz run is
# not mostly dropped unread; the limits themselves are tested by test_sip_robustness.py
NO_RATE_LIMIT = "--no-rate-limit" in sys.argv


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")


def log(text):
    # errors always reach the test; the rest only with -v
    if VERBOSE or "error" in text or "raised" in text or "Traceback" in text:
        out({"ev": "log", "text": text})


class WarpClock:
    """The `time` module as the SIP stack sees it: ticks_ms() ahead by `offset`."""

    def __init__(self):
        self.offset = 0

    def ticks_ms(self):
        return time.ticks_add(time.ticks_ms(), self.offset)

    def ticks_add(self, a, b):
        return time.ticks_add(a, b)

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def time(self):
        return time.time()


class ModelLine:
    """What callctl needs of firmware/line.py, with the states a phone would see."""

    def __init__(self):
        self.state = "idle"
        self.tone = None
        self.rings = 0

    def _ev(self, what, value=None):
        out({"ev": "line", "what": what, "value": value, "state": self.state})

    plan = {"ring_cadence": (2000, 4000)}   # what callctl reads for Alert-Info

    def ring(self, number=None, name=None, private=False, cadence=None):
        if self.state != "idle":
            return False
        self.state = "ringing"
        self.rings += 1
        self._ev("ring", number)
        return True

    def stop_ring(self):
        if self.state == "ringing":
            self.state = "idle"
        self._ev("stop_ring")

    def play(self, name):
        self.tone = name
        self._ev("play", name)

    def connected(self):
        self.state = "connected"
        self.tone = None
        self._ev("connected")

    def failed(self, tone="congestion"):
        if self.state != "idle":
            self.state = "tone"
            self.tone = tone
        self._ev("failed", tone)

    def message_waiting(self, waiting):
        self._ev("message_waiting", waiting)

    def await_answer(self, timeout_ms):
        # the line's own no-answer timer (firmware/line.py): recorded, never fired here
        self._ev("await_answer", timeout_ms)


class StubMedia:
    """What callctl uses of firmware/media.py, without audio."""

    def __init__(self):
        self.rtp = None
        self.sending = False
        self.mute_tx = False
        self.gains = (0, 0)

    def set_gains(self, rx_db, tx_db):
        self.gains = (rx_db, tx_db)

    def start_call(self, rtp, pt, plc=None):
        self.rtp = rtp
        self.sending = True

    def stop_call(self):
        self.rtp = None
        self.sending = False


def warp_clock():
    import sip.call
    import sip.register
    import sip.transaction
    import sip.ua
    import sip.wire
    clock = WarpClock()
    for mod in (sip.ua, sip.transaction, sip.call, sip.register, sip.wire):
        mod.time = clock
    return clock


def command(cc, line, clock, cmd):
    c = cmd.get("cmd")
    if c == "status":
        st = cc.ua.status()
        st["line"] = line.state
        st["rings"] = line.rings
        st["cc_call"] = None if cc.call is None else cc.call.state
        st["rtp_open"] = cc.rtp is not None
        return st
    if c == "heap":
        gc.collect()
        return {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
    if c == "dial":
        if line.state != "idle":
            return {"error": "line busy"}
        line.state = "dialling"
        cc.line_event("number", cmd["number"])
        return {"ok": True}
    if c == "answer":
        if line.state != "ringing":
            return {"error": "not ringing"}
        line.state = "answering"
        cc.line_event("answer", None)
        return {"ok": True, "state": line.state}
    if c == "hangup":
        cc.line_event("hang_up", None)
        line.state = "idle"
        line.tone = None
        return {"ok": True}
    if c == "sizes":
        # what the SIP stack holds (for diagnosing heap figures)
        import asyncio.core as core
        ua = cc.ua
        return {"addr_cache": len(ua._addr_cache), "calls": len(ua.calls),
                "client": len(ua.tx.client), "server": len(ua.tx.server),
                "nonce": len(ua.auth.nonce or ""), "io_map": len(core._io_queue.map),
                "tasks": len(core._task_queue.heap) if hasattr(core._task_queue, "heap")
                else -1, "last_error": len(ua.last_error or ""),
                "reg_error": len(ua.reg.last_error or "")}
    if c == "txs":
        # every transaction still held, with its timers relative to the SIP clock (for a
        # test to say what did not end)
        now = clock.ticks_ms()

        def rel(t):
            return None if t is None else clock.ticks_diff(t, now)
        held = []
        for kind, table in (("client", cc.ua.tx.client), ("server", cc.ua.tx.server)):
            for key, tx in table.items():
                held.append({"kind": kind, "key": key, "state": tx.state,
                             "end_in": rel(tx.end_at), "dead_in": rel(tx.dead_at),
                             "retx_in": rel(tx.retx_at),
                             "final": getattr(tx, "final", getattr(tx, "status", None))})
        return {"txs": held}
    if c == "warp":
        clock.offset += int(cmd["ms"])
        cc.ua.wake_timers()        # the UA sleeps until its soonest timer, in real time
        return {"offset": clock.offset}
    return {"error": "unknown command"}


async def main():
    clock = warp_clock()
    cc = CallControl(CFG, CFG["network"]["ip"], log)
    line = ModelLine()
    cc.attach(line, StubMedia())
    if NO_RATE_LIMIT:
        from sip.wire import RateBucket
        cc.ua._req_bucket = RateBucket(1000000, 1000000)
        cc.ua._inv_bucket = RateBucket(1000000, 1000000)
    await cc.start()
    out({"ev": "ready"})
    reader = asyncio.StreamReader(sys.stdin)
    while True:
        raw = await reader.readline()
        if not raw:
            break
        try:
            cmd = json.loads(raw)
        except ValueError:
            out({"ev": "reply", "error": "bad json"})
            continue
        if cmd.get("cmd") == "stop":
            await cc.stop()
            out({"ev": "reply", "id": cmd.get("id"), "stopped": True})
            break
        try:
            res = command(cc, line, clock, cmd)
        except Exception as e:  # report to the test instead of dying
            sys.print_exception(e)
            res = {"error": repr(e)}
        res["ev"] = "reply"
        res["id"] = cmd.get("id")
        out(res)


asyncio.run(main())
