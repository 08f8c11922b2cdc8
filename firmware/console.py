# Serial console: a Python REPL that runs beside the firmware as one supervised task.
#
# Friendly mode: a `>>>` prompt with the running objects in scope (app, line, sip,
# media, calls, cfg, supervisor, board) and helpers (status(), ring(), calls(),
# hangup(), dial(), config(), fault(), log_level(), help()). The old one-word
# commands (status, ring [stop], calls, config, dial N, hangup, fault T, py EXPR,
# shutdown, help) still work. Ctrl-C clears the line and never stops the ATA.
#
# Raw REPL (Ctrl-A), raw-paste (Ctrl-A after Ctrl-E 'A') and Ctrl-D follow the
# MicroPython protocol that mpremote speaks, so `mpremote connect PORT resume exec|
# eval|fs ...` work while calls run. A soft reset (Ctrl-D on an empty raw REPL or at
# the prompt) gives the REPL a fresh namespace; the ATA keeps running. While the raw
# REPL is in use, log lines are held (bounded) so they never mix into mpremote's
# byte-exact replies, and printed when it ends.
#
# Code typed or sent runs synchronously in the asyncio loop: keep it short (a few ms)
# or the audio frames wait for it. Input is read without allocating per byte.
import sys

import json

_CTRL_A = 1
_CTRL_B = 2
_CTRL_C = 3
_CTRL_D = 4
_CTRL_E = 5

PROMPT = ">>> "
PROMPT_MORE = "... "
RAW_BANNER = "raw REPL; CTRL-B to exit\n"
PASTE_WINDOW = 512         # raw-paste flow-control window (bytes); 0x0200: no '\n' byte
RAW_IDLE_MS = 30000        # a raw REPL silent this long is left (its client died)
HOLD_MAX = 200             # log lines held while the raw REPL runs; the oldest dropped
_CHUNK = 256               # input bytes taken per wake-up

# modes of the input state machine
_FRIENDLY = 0
_PASTE = 1                 # friendly paste mode (Ctrl-E ... Ctrl-D)
_RAW = 2
_RAW_PASTE = 3
_ESC = 4                   # an escape sequence (arrow keys) being swallowed

HELP = """The ATA's console is a Python REPL beside the running firmware.
objects:  app line sip media calls cfg supervisor board
helpers:
  status()          line, SIP, media, board and supervisor state (dict)
  config()          the running configuration, secrets hidden
  calls()           the current call and its RTP statistics
  ring() ring(False)  ring the phone with the country cadence, or stop
  dial("1002")      place a call as if the number had been dialled
  hangup()          end the current call
  fault("line")     make a supervised task fail now (tests recovery)
  log_level("quiet")  log lines: "all", "quiet" (problems only) or "off"
  reset()           end the call, reset the board: it boots its filesystem's code
  ota() ota(URL)    pull a signed update from ota.url (or URL), install, restart
  ota.status()      version, slot, probation, download progress, last outcome
  ota.rollback()    back to the previous version (the only way down); restarts
commands (one word, as before): status, config, calls, ring [stop], dial NUMBER,
  hangup, fault TASK, py EXPR, ota [URL|status|rollback],
  shutdown (end calls and stop the firmware), help
keys: Ctrl-C clears the line (never stops the ATA), Ctrl-E paste mode,
  Ctrl-A raw REPL (mpremote), Ctrl-D fresh REPL namespace"""

_QUIET_WORDS = ("crash", "error", "ERROR", "fail", "supervisor", "refus", "safe")
_ARG_COMMANDS = ("ring", "dial", "fault", "py", "ota")
_COMMANDS = ("help", "status", "config", "calls", "hangup", "shutdown") + _ARG_COMMANDS


def _write(text):
    sys.stdout.write(text)


class _Input:
    """Bytes from the console stream: wait for the first in asyncio, then take what
    is already there (poll, one byte at a time: a UART stream would block on more)."""

    def __init__(self, stream):
        import asyncio
        import select
        self.poller = select.poll()
        self.s = getattr(stream, "buffer", stream)     # bytes, not decoded text
        try:
            self.poller.register(self.s, select.POLLIN)
        except (TypeError, OSError):                   # a port whose buffer cannot poll
            self.s = stream
            self.poller.register(self.s, select.POLLIN)
        self.reader = asyncio.StreamReader(self.s)
        self.buf = bytearray(_CHUNK)
        self.one = bytearray(1)
        self.t0 = 0

    async def fill(self, timeout_ms=0):
        """Number of bytes put in buf; 0 at end of input, -1 on time-out."""
        import asyncio
        import time
        if timeout_ms:
            try:
                first = await asyncio.wait_for_ms(self.reader.read(1), timeout_ms)
            except asyncio.TimeoutError:
                return -1
        else:
            first = await self.reader.read(1)
        if not first:
            return 0
        self.t0 = time.ticks_us()         # the REPL holds the event loop from here
        c = first[0]
        self.buf[0] = ord(c) if isinstance(c, str) else c
        n = 1
        while n < _CHUNK:
            ready = False
            for _ in self.poller.ipoll(0):
                ready = True
            if not ready or not self.s.readinto(self.one):
                break
            self.buf[n] = self.one[0]
            n += 1
        return n


class _Calls:
    """`calls` in the REPL: calls() gives the call status, calls.x is app.calls.x."""

    def __init__(self, app):
        self._app = app

    def __call__(self):
        return self._app.calls.status()

    def __getattr__(self, name):
        return getattr(self._app.calls, name)


class _Ota:
    """`ota` in the REPL: ota() or ota(URL) starts an update, ota.status(),
    ota.rollback(). Each refuses (and says why) while the line is in use."""

    def __init__(self, app):
        self._app = app

    def _updater(self):
        u = getattr(self._app, "updater", None)
        if u is None:
            raise RuntimeError("ota: not available (safe mode, or the firmware is starting)")
        return u

    def __call__(self, url=None):
        return self._updater().start(url)

    def status(self):
        return self._updater().status()

    def rollback(self):
        return self._updater().rollback()


class Console:
    def __init__(self, app, stream=None):
        self.app = app
        self.stream = stream
        self.mode = _FRIENDLY
        self.line = bytearray()         # friendly: the line being typed
        self.block = []                 # friendly: lines of a compound statement so far
        self.raw = bytearray()          # raw REPL / paste: the code so far
        self.window = 0                 # raw-paste: bytes left before the next window
        self.last = 0                   # previous byte (CR LF counts as one end of line)
        self.level = "all"
        self.held = []                  # log lines held while the raw REPL runs
        self.dropped = 0
        self.ns = None
        # execs: code run, max_exec_us: the longest one; max_hold_us: the longest the
        # REPL kept the event loop (reading a burst of input, running what it ended)
        self.stats = {"execs": 0, "max_exec_us": 0, "max_hold_us": 0, "raw_sessions": 0,
                      "held_lines": 0}
        self.fresh_namespace()

    # -- namespace and helpers ----------------------------------------------------------
    def fresh_namespace(self):
        app = self.app
        ns = {"__name__": "__main__", "app": app, "calls": _Calls(app), "console": self,
              "ota": _Ota(app)}
        for name in ("line", "sip", "media", "board", "cfg", "supervisor"):
            ns[name] = getattr(app, name, None)
        ns.update(status=self.status, config=self.config, ring=self.ring,
                  dial=self.dial, hangup=self.hangup, fault=self.fault,
                  log_level=self.log_level, help=self.help, reset=self.reset)
        self.ns = ns

    def status(self):
        return dict(self.app.status())

    def config(self):
        import config
        return config.redacted(self.app.cfg)

    def ring(self, on=True):
        if not on:
            self.app.line.stop_ring()
            return "stopped"
        return "started" if self.app.line.ring() else "line busy"

    def dial(self, number):
        self.app.calls.line_event("number", str(number))

    def hangup(self):
        self.app.calls.hangup()

    def fault(self, task):
        self.app.supervisor.inject(task)      # the task fails now (tests supervision)

    def log_level(self, level=None):
        if level is not None:
            if level not in ("all", "quiet", "off"):
                raise ValueError("log level: all, quiet or off")
            self.level = level
            self._sink_update()
        return self.level

    def reset(self):
        """Reset the board now, as its reset button would: it boots the code on its
        filesystem again (after `ata deploy`). The call is ended (BYE) and the line
        made safe first."""
        app = self.app
        for step in (app.calls.hangup, app.line.stop_ring, app.media.stop_all):
            try:
                step()
            except Exception as e:  # noqa: the reset must still happen
                _write("reset: %r\n" % (e,))
        _write("reset: the board restarts\n")
        try:
            import machine
            machine.reset()                 # a board: this does not return
        except (ImportError, AttributeError):
            pass
        # The sim: its runner plays the chip's watchdog (vmachine.WDT, tools/ata/sim.py).
        # Feeding stops and the timeout becomes 0: the runner resets the board at once.
        import vmachine
        task = app.supervisor.tasks.get("watchdog") if app.supervisor else None
        if task is not None:
            task.cancel()
        with open(vmachine.WDT.PATH, "w") as f:
            f.write("0\n")

    def help(self):
        _write(HELP + "\n")

    # -- log lines: printed, filtered, or held while the raw REPL runs ------------------
    def _sink_update(self):
        sink = getattr(self.app, "log_sink", None)
        if sink is None:
            return
        sink.clear()
        if self.mode in (_RAW, _RAW_PASTE) or self.level != "all":
            sink.append(self._log_line)

    def _log_line(self, text):
        if self.level == "off":
            return
        if self.level == "quiet" and not any(w in text for w in _QUIET_WORDS):
            return
        if self.mode not in (_RAW, _RAW_PASTE):
            _write(text + "\n")
            return
        self.stats["held_lines"] += 1
        if len(self.held) >= HOLD_MAX:
            self.held.pop(0)
            self.dropped += 1
        self.held.append(text)

    def _release(self):
        held, self.held = self.held, []
        for text in held:
            _write(text + "\n")
        if self.dropped:
            _write("console: %d log lines dropped while the raw REPL ran\n" % self.dropped)
            self.dropped = 0

    def _set_mode(self, mode):
        was_raw = self.mode in (_RAW, _RAW_PASTE)
        self.mode = mode
        self._sink_update()
        if was_raw and mode not in (_RAW, _RAW_PASTE):
            self._release()

    # -- the task -----------------------------------------------------------------------
    async def run(self, first=None):
        """The REPL until `shutdown` or the end of input. first: the first input byte,
        already read (application.py's console task, which showed the prompt)."""
        import time
        try:
            import micropython
            micropython.kbd_intr(-1)      # Ctrl-C is a byte for the REPL, never an interrupt
        except (ImportError, AttributeError):
            pass
        inp = _Input(self.stream or sys.stdin)
        if self.mode in (_RAW, _RAW_PASTE):   # restarted after a crash in the raw REPL
            self._set_mode(_FRIENDLY)
        self.line = bytearray()
        self.block = []
        if first is None:
            _write(PROMPT)
        try:
            if first is not None and self.feed(first):
                return                    # `shutdown`
            while True:
                raw = self.mode in (_RAW, _RAW_PASTE)
                n = await inp.fill(RAW_IDLE_MS if raw else 0)
                if n < 0:                 # the raw REPL's client went away
                    self._set_mode(_FRIENDLY)
                    _write("\n" + PROMPT)
                    continue
                if n == 0:
                    return                # console closed (sim: stdin ended)
                for i in range(n):
                    if self.feed(inp.buf[i]):
                        return            # `shutdown`
                us = time.ticks_diff(time.ticks_us(), inp.t0)
                if us > self.stats["max_hold_us"]:
                    self.stats["max_hold_us"] = us
        finally:
            if self.mode in (_RAW, _RAW_PASTE):
                self._set_mode(_FRIENDLY)

    def feed(self, c):
        """One input byte; True when the console should end (`shutdown`)."""
        last, self.last = self.last, c
        mode = self.mode
        if mode == _FRIENDLY:
            return self._friendly(c, last)
        if mode == _RAW:
            self._raw_byte(c)
        elif mode == _RAW_PASTE:
            self._raw_paste_byte(c)
        elif mode == _PASTE:
            self._paste_byte(c)
        elif mode == _ESC:
            # ESC [ X (arrow keys): swallowed; '[' and digits/';' continue the sequence
            if not (c == 0x5B or 0x30 <= c <= 0x3B):
                self.mode = _FRIENDLY
        return False

    # -- friendly mode ------------------------------------------------------------------
    def _prompt(self):
        _write(PROMPT_MORE if self.block else PROMPT)

    def _friendly(self, c, last):
        if c == 0x0A and last == 0x0D:
            return False                  # CR LF: one end of line
        if c == 0x0D or c == 0x0A:
            _write("\n")
            text, self.line = self.line.decode(), bytearray()
            if self.enter(text):
                return True
            self._prompt()
        elif c == 0x08 or c == 0x7F:
            if self.line:
                self.line = self.line[:-1]
                _write("\x08 \x08")
        elif c == _CTRL_A:
            self.line = bytearray()
            self.block = []
            self.raw = bytearray()
            self.stats["raw_sessions"] += 1
            self._set_mode(_RAW)
            _write("\n" + RAW_BANNER + ">")
        elif c == _CTRL_C:
            self.line = bytearray()
            self.block = []
            _write("\n" + PROMPT)
        elif c == _CTRL_D:
            self.fresh_namespace()
            self.line = bytearray()
            self.block = []
            _write("\nsoft reboot: fresh REPL namespace (the ATA keeps running)\n" + PROMPT)
        elif c == _CTRL_E:
            self.raw = bytearray()
            self.mode = _PASTE
            _write("\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\n=== ")
        elif c == 0x1B:
            self.mode = _ESC
        elif c >= 0x20 and c != 0x7F:
            self.line.append(c)
            if c < 0x80:
                _write(chr(c))
        return False

    def enter(self, text):
        """A line typed at the prompt; True on `shutdown`."""
        if self.block:
            if text.strip():
                self.block.append(text)
                return False
            src = "\n".join(self.block)
            self.block = []
            self.run_source(src)
            return False
        stripped = text.strip()
        if not stripped:
            return False
        word, _, rest = stripped.partition(" ")
        rest = rest.strip()
        if word in _COMMANDS and (not rest or (word in _ARG_COMMANDS and (
                word == "py" or rest[0].isalpha() or rest[0].isdigit() or rest[0] in "*#+"))):
            if word == "shutdown":
                return True
            try:
                self.command(word, rest)
            except Exception as e:  # noqa: a console typo must never stop the ATA
                _write("error: %r\n" % (e,))
            return False
        if stripped.endswith(":") or stripped.endswith("\\") or stripped.startswith("@"):
            self.block.append(text)
            return False
        self.run_source(text)
        return False

    def _timed(self, t0):
        import time
        us = time.ticks_diff(time.ticks_us(), t0)
        st = self.stats
        st["execs"] += 1
        if us > st["max_exec_us"]:
            st["max_exec_us"] = us

    def run_source(self, src):
        """Evaluate an expression (printing its value) or execute statements."""
        import time
        t0 = time.ticks_us()
        try:
            self._eval_or_exec(src)
        finally:
            self._timed(t0)

    def _eval_or_exec(self, src):
        ns = self.ns
        try:
            try:
                value = eval(src, ns)
            except SyntaxError:
                exec(src, ns)
                return
            if value is not None:
                ns["_"] = value
                _write(repr(value) + "\n")
        except BaseException as e:  # noqa: SystemExit or anything typed must not stop the ATA
            sys.print_exception(e)

    def _paste_byte(self, c):
        if c == _CTRL_C:
            self.mode = _FRIENDLY
            _write("\n" + PROMPT)
        elif c == _CTRL_D:
            self.mode = _FRIENDLY
            src = self.raw.decode()
            self.raw = bytearray()
            _write("\n")
            self._exec(src)
            _write(PROMPT)
        else:
            if c == 0x0D:
                c = 0x0A
            self.raw.append(c)
            if c < 0x80:
                _write("\n=== " if c == 0x0A else chr(c))

    # -- raw REPL (mpremote) ------------------------------------------------------------
    def _raw_byte(self, c):
        if c == _CTRL_A:
            if len(self.raw) == 2 and self.raw[0] == _CTRL_E and self.raw[1] == 0x41:
                self.raw = bytearray()
                self.window = PASTE_WINDOW
                self.mode = _RAW_PASTE
                _write("R\x01" + chr(PASTE_WINDOW & 0xFF) + chr(PASTE_WINDOW >> 8))
            else:
                self.raw = bytearray()
                _write(RAW_BANNER + ">")
        elif c == _CTRL_B:
            self.raw = bytearray()
            self._set_mode(_FRIENDLY)
            _write("\n" + PROMPT)
        elif c == _CTRL_C:
            self.raw = bytearray()
        elif c == _CTRL_D:
            if not self.raw:              # soft reset: only the REPL's namespace
                self.fresh_namespace()
                _write("OK\nsoft reboot\n" + RAW_BANNER + ">")
                return
            _write("OK")
            self._raw_exec()
        else:
            self.raw.append(c)

    def _raw_paste_byte(self, c):
        if c == _CTRL_D or c == _CTRL_C:
            _write("\x04")                # end of data acknowledged
            self.mode = _RAW
            if c == _CTRL_C:
                self.raw = bytearray()
                _write("\x04\x04>")
                return
            self._raw_exec()
            return
        self.raw.append(c)
        self.window -= 1
        if self.window == 0:
            self.window = PASTE_WINDOW
            _write("\x01")                # the host may send another window

    def _raw_exec(self):
        src = self.raw.decode()
        self.raw = bytearray()
        self._exec(src, raw=True)
        _write(">")

    def _exec(self, src, raw=False):
        import time
        t0 = time.ticks_us()
        try:
            exec(src, self.ns)
            err = None
        except BaseException as e:  # noqa: nothing sent may stop the ATA
            err = e
        self._timed(t0)
        if raw:
            _write("\x04")
        if err is not None:
            sys.print_exception(err, sys.stdout)
        if raw:
            _write("\x04")

    # -- the one-word commands ----------------------------------------------------------
    def command(self, word, rest):
        app = self.app
        if word == "help":
            _write(HELP + "\n")
        elif word == "status":
            for name, st in app.status():
                _write("%s: %s\n" % (name, json.dumps(st)))
        elif word == "config":
            _write(json.dumps(self.config()) + "\n")
        elif word == "calls":
            _write(json.dumps(app.calls.status()) + "\n")
        elif word == "ring":
            if rest == "stop":
                app.line.stop_ring()
                _write("ring: stopped\n")
            else:
                _write("ring: %s\n" % self.ring())
        elif word == "dial":
            self.dial(rest)
            _write("dial: %s\n" % rest)
        elif word == "hangup":
            self.hangup()
            _write("hangup: done\n")
        elif word == "fault":
            self.fault(rest)
            _write("fault: injected into %s\n" % rest)
        elif word == "py":
            _write(repr(eval(rest, self.ns)) + "\n")
        elif word == "ota":
            o = self.ns["ota"]
            if rest == "status":
                _write("ota: %s\n" % json.dumps(o.status()))
            elif rest == "rollback":
                _write(o.rollback() + "\n")
            else:
                _write(o(rest or None) + "\n")
