# Boot shim of `ata bench --only cost` (runs on MicroPython, not CPython): runs the
# sim firmware's main.py unchanged, with
# - frame-exact callgrind windows: the host arms a window from the console
#   (`py __import__("costhook").arm("call", 150)`); at the start of the next codec
#   frame (Media._rx_done, the 20 ms I2S callback) this shim calls math.erfc
#   (callgrind --zero-before=mp_math_erfc: counters zeroed) and 150 frames later
#   math.lgamma (--dump-before=mp_math_lgamma: the window's instructions written to
#   a file). The firmware never calls either.
# - with --profile, a small profiler: every task step, the media frame and its DSP
#   and RTP calls, the hook sampler, timed with ticks_us (exclusive of nested timed
#   calls), plus the time the asyncio loop spends blocked in poll. Under callgrind
#   time is close to instructions; the host turns the shares into instructions.
#
#   micropython cost_boot.py [--profile] MAIN.py ARGS...
import math
import sys
import time

_ticks = time.ticks_us
_diff = time.ticks_diff


class Hook:
    """The window state machine and the profiler's tables (sys.modules["costhook"])."""

    def __init__(self):
        self.pending = None      # (name, frames) armed by the host
        self.name = None         # window under way
        self.left = 0
        self.frames = 0
        self.profile = False
        self.clear()

    def clear(self):
        self.parts = {}          # part -> exclusive us
        self.part_steps = {}     # part -> task steps (each one a pass of the asyncio loop)
        self.blocked = 0         # us blocked in the asyncio poller
        self.steps = 0           # task steps
        self.longest = 0         # us of the longest task step
        self.longest_task = ""
        self.t0 = _ticks()

    def arm(self, name, frames):
        self.pending = (name, frames)
        return "armed"

    def frame(self):
        """Called at the start of every codec frame (Media._rx_done). Its frame must
        fit in 11 words: a larger one is put on the heap at every call, and that
        allocation (and, once the heap has collected, its search for room) would be
        counted as the firmware's. The report and the start are apart for that."""
        if self.name is not None:
            self.left -= 1
            if self.left <= 0:
                math.lgamma(1.0)          # callgrind dumps here
                self._report()
        if self.pending is not None and self.name is None:
            self._start()

    def _report(self):
        wall = _diff(_ticks(), self.t0)
        name = self.name
        self.name = None
        print("costhook: done %s frames %d wall_us %d blocked_us %d steps %d "
              "longest_us %d longest_task %s parts %s part_steps %s" % (
                  name, self.frames, wall, self.blocked, self.steps, self.longest,
                  self.longest_task, sorted(self.parts.items()),
                  sorted(self.part_steps.items())))

    def _start(self):
        self.name, self.frames = self.pending
        self.left = self.frames
        self.pending = None
        self.clear()
        math.erfc(0.0)                    # callgrind zeroes here


hook = Hook()
sys.modules["costhook"] = hook

# -- profiler ------------------------------------------------------------------------
_stack = [0]        # per open timed call: microseconds of nested timed calls in it


def _add(part, us):
    p = hook.parts
    p[part] = p.get(part, 0) + us


def timed(part, fn):
    """fn wrapped: its exclusive time goes to `part`."""
    def call(*args):
        _stack.append(0)
        t = _ticks()
        try:
            return fn(*args)
        finally:
            us = _diff(_ticks(), t)
            inner = _stack.pop()
            _add(part, us - inner)
            _stack[-1] += us
    return call


class Step:
    """A task's coroutine, timed at each step (asyncio calls send/throw only)."""

    def __init__(self, coro, part):
        self.coro = coro
        self.part = part

    def _run(self, how, arg):
        _stack.append(0)
        t = _ticks()
        try:
            return how(arg)
        finally:
            us = _diff(_ticks(), t)
            inner = _stack.pop()
            _add(self.part, us - inner)
            if hook.name is not None:
                hook.steps += 1
                ps = hook.part_steps
                ps[self.part] = ps.get(self.part, 0) + 1
                if us > hook.longest:
                    hook.longest = us
                    hook.longest_task = self.part

    def send(self, v):
        return self._run(self.coro.send, v)

    def throw(self, e):
        return self._run(self.coro.throw, e)

    def close(self):
        return self.coro.close()


class Poller:
    """The asyncio loop's poller; time blocked in ipoll is time the firmware idles."""

    def __init__(self, real):
        self.real = real

    def register(self, *a):
        return self.real.register(*a)

    def modify(self, *a):
        return self.real.modify(*a)

    def unregister(self, *a):
        return self.real.unregister(*a)

    def ipoll(self, *a):
        t = _ticks()
        r = self.real.ipoll(*a)
        hook.blocked += _diff(_ticks(), t)
        return r

    def poll(self, *a):
        t = _ticks()
        r = self.real.poll(*a)
        hook.blocked += _diff(_ticks(), t)
        return r


# Task names: the supervisor's (sip_rx, line, media, ...) and the sim's own tasks.
_PART_OF_TASK = {"media": "media", "line": "line/hook", "sip_rx": "SIP",
                 "sip_timers": "SIP", "registration": "SIP", "keepalive": "SIP",
                 "_run": "sim board", "_flush": "sim board", "_serve": "sim board"}
_naming = [None]


def _install_profiler():
    import asyncio
    import asyncio.core as core
    import supervisor
    from media import Media
    import media
    from line import Line
    from rtp.session import RtpSession
    from dsp.dtmf import DtmfDetector
    from dsp.tone import ToneGen
    from rtp.plc import Concealer

    real_create = core.create_task

    def create_task(coro):
        name = _naming[0]
        if name is None:
            r = repr(coro)                      # "<generator object '_run' at ...>"
            name = r.split("'")[1] if "'" in r else "?"
        return real_create(Step(coro, _PART_OF_TASK.get(name, "other tasks")))
    core.create_task = create_task
    asyncio.create_task = create_task

    real_spawn = supervisor.Supervisor.spawn

    def spawn(self, name, run):
        _naming[0] = name
        try:
            return real_spawn(self, name, run)
        finally:
            _naming[0] = None
    supervisor.Supervisor.spawn = spawn

    core._io_queue.poller = Poller(core._io_queue.poller)

    Media.frame = timed("media", Media.frame)
    Media._rx_done = timed("media", Media._rx_done)
    Media._tx_done = timed("media", Media._tx_done)
    for table in (media._ENCODERS, media._DECODERS):
        for pt in table:
            table[pt] = timed("DSP", table[pt])
    DtmfDetector.process = timed("DSP", DtmfDetector.process)
    ToneGen.fill = timed("DSP", ToneGen.fill)
    Concealer.good = timed("DSP", Concealer.good)
    Concealer.conceal = timed("DSP", Concealer.conceal)
    for m in ("send", "receive", "pull", "rtcp_tick"):
        setattr(RtpSession, m, timed("RTP", getattr(RtpSession, m)))
    Line._sample = timed("line/hook", Line._sample)
    # The sim's I2S (Python: a view per buffer, the codec's bookkeeping) is the sim
    # board's, though the codec callbacks call it: a board's readinto()/write() are C
    # calls that queue a DMA buffer.
    import vmachine
    vmachine.I2S.readinto = timed("sim board", vmachine.I2S.readinto)
    vmachine.I2S.write = timed("sim board", vmachine.I2S.write)


def _install_windows():
    # Frames are counted at the codec's rx callback (every 20 ms, whether or not the
    # media task is woken: a quiet line skips Media.frame, firmware/media.py _rx_done).
    from media import Media
    rx_done = Media._rx_done

    def counted(self, i2s):
        hook.frame()
        return rx_done(self, i2s)
    Media._rx_done = counted


def main(argv):
    args = argv[1:]
    if args and args[0] == "--profile":
        hook.profile = True
        args = args[1:]
        _install_profiler()
    _install_windows()          # outermost: the markers sit outside the profiler
    sys.argv[:] = args
    with open(args[0]) as f:
        code = compile(f.read(), args[0], "exec")
    exec(code, {"__name__": "__main__", "__file__": args[0]})


main(sys.argv)
