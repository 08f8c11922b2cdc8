"""The sim firmware's SIP clock, moved forward from the host through the console.

The SIP stack's transaction, call and registration timers read time through their
modules' `time` (lib/sip/ua.py, transaction.py, call.py, register.py, wire.py).
install() swaps it, in the running sim, for a clock that is the real one plus an
offset; warp() adds to the offset and wakes each port's SIP timer task (it sleeps,
in real time, until its soonest timer). RFC 3261's timers (B/F/H/J: 32 s on UDP)
then run out at once instead of in real time, while the event loop, the line and
the audio keep real time. tests/sip_cc_driver.py does the same on the unix port.
"""

WARP_MS = 40000    # past every RFC 3261 timer (32 s): one jump ends what they time

_CODE = (
    "import time as _t\n"
    "class _SipClock:\n"
    "    offset = 0\n"
    "    def ticks_ms(self): return _t.ticks_add(_t.ticks_ms(), self.offset)\n"
    "    def ticks_add(self, a, b): return _t.ticks_add(a, b)\n"
    "    def ticks_diff(self, a, b): return _t.ticks_diff(a, b)\n"
    "    def time(self): return _t.time()\n"
    "    def sleep_ms(self, ms): return _t.sleep_ms(ms)\n"
    "    def warp(self, ms, app):\n"
    "        self.offset += ms\n"
    "        for p in app.ports:\n"
    "            p.sip.wake_timers()\n"
    "sip_clock = _SipClock()\n"
    "import sip.ua, sip.transaction, sip.call, sip.register, sip.wire\n"
    "for _m in (sip.ua, sip.transaction, sip.call, sip.register, sip.wire):\n"
    "    _m.time = sip_clock\n")


def _py(sim, expr, timeout=10):
    """Evaluate expr at the sim's console (`py`); it must give None."""
    mark = len(sim.log_text())
    sim.send("py " + expr)
    sim.wait_log(r"\nNone\r?\n", timeout, start=mark)


def install(sim):
    _py(sim, "exec(%r)" % _CODE)


def warp(sim, ms=WARP_MS):
    _py(sim, "sip_clock.warp(%d, app)" % int(ms))
