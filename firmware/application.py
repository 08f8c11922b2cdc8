# The ATA application: config, board, line, media, call control, console. main.py
# (which stays source on the board's filesystem, so it is compiled into the heap at
# every boot) picks the code's A/B slot first, then imports this module from that
# code (ROMFS image, frozen firmware or .mpy tree: its bytecode runs in place) and
# runs boot() once start() has handed it main.py's context.
import sys

NET_RETRY_MS = (1000, 60000)   # network retries: first delay, then doubling up to this
WDT_TIMEOUT_MS = 8000          # the event loop stalled this long: the board resets
WDT_FEED_MS = 1000

# main.py's: version (its VERSION), log, log_sink (the console's log filter list),
# ota_boot (ota.slots.Boot, or None), ota_fw (a firmware image's trial mark, or
# None), reset (reset_board(app))
_CTX = {"version": "0", "log": print, "log_sink": [], "ota_boot": None, "ota_fw": None,
        "reset": None}


def log(msg):
    _CTX["log"](msg)


class App:
    def __init__(self, cfg, config_path):
        self.cfg = cfg
        self.config_path = config_path
        self.safe_reason = None     # set while in safe mode (status shows it)
        self.board = None
        self.line = None
        self.media = None
        self.calls = None
        self.sip = None
        self.ports = []             # fxsport.FxsPort per configured port; [0] is the above
        self.lines = []
        self.supervisor = None
        self._updater_obj = None
        self._console_obj = None    # console.Console, made when the console is first used
        self._board_name = None     # set once the firmware is up: the OTA agent may load
        self.ota_boot = _CTX["ota_boot"]
        self.version = self.ota_boot.version if self.ota_boot else _CTX["version"]
        self.log_sink = _CTX["log_sink"]

    async def run(self):
        import board

        cfg = self.cfg
        log("ATA firmware %s on board %s, country %s" % (self.version, board.Board.name,
                                                        cfg["line"]["country"]))
        self.board = board.Board(cfg, log)
        ip = await self._network()
        # The heavy imports only now: Wi-Fi takes its buffers while the heap is still
        # small (on an ESP32 without PSRAM the IDF and the GC heap share the RAM).
        from fxsport import FxsPort
        from supervisor import Supervisor

        sup = self.supervisor = Supervisor(log, self.make_safe)
        # one line per configured port (config "ports"; else one): each its own media,
        # line, call control and SIP account; app.line/media/calls/sip are port 1's
        on_call = getattr(self.board, "call_active", None)
        for i, pcfg in enumerate(cfg.get("ports") or [cfg]):
            self.ports.append(FxsPort(i + 1, pcfg, self.board.ports[i], ip, log, on_call))
        p1 = self.ports[0]
        self.media, self.calls, self.sip, self.line = p1.media, p1.calls, p1.sip, p1.line
        self.lines = [p.line for p in self.ports]
        for p in self.ports:
            p.supervise(sup)
        sup.spawn("watchdog", self._feed_watchdog)
        sup.spawn("config_keeper", self._keep_config_when_registered)
        self._board_name = board.Board.name
        # The OTA agent (~7 KB of heap on x64) loads now only if a version is on trial
        # or pulls are scheduled; otherwise when the console first asks for it (ota()).
        trial = (self.ota_boot is not None and self.ota_boot.trial) or _CTX["ota_fw"] is not None
        if trial or cfg["ota"]["interval_h"]:
            u = self.updater
            if u is not None and u.on_trial:
                sup.spawn("ota_probation", u.probation)
            if u is not None and cfg["ota"]["interval_h"]:
                sup.spawn("ota_schedule", u.schedule)
        for p in self.ports:
            await p.calls.start()
        # The config's schema tables (~12 KB on x64) are only needed to check a config:
        # dropped now, imported again if the console asks (console.config()). So are
        # the country plans (~3 KB), read by each port's line above: an Alert-Info
        # naming another country's cadence imports them again (alert.py).
        for name in ("config", "cfgports", "country"):
            sys.modules.pop(name, None)
        for p in self.ports:
            p.ready(ip)
        # main.py's early collections stay on: calls back to back keep the heap in
        # one piece with them (ten in a row on the 32-bit sim in 112 KB, where they
        # failed after one or two without). Their cost in a call is small now that
        # a task switch and the media wake allocate little (docs/bench-heap.md,
        # Calls back to back; docs/bench-cost.md, fifth round).
        await sup.spawn("console", self._console)   # returns on `shutdown`
        log("console: shutting down")
        for p in self.ports:
            await p.calls.stop()

    async def _console(self):
        """The console's task. The REPL (console.py, ~7 KB of heap on x64 with its
        objects) loads when its first byte arrives, as the OTA agent does on first
        use; until then the prompt is shown and the input waited for here."""
        c = self._console_obj
        if c is not None:
            return await c.run()        # restarted by the supervisor: the same REPL
        import asyncio
        try:
            import micropython
            micropython.kbd_intr(-1)    # Ctrl-C is a byte for the REPL, never an interrupt
        except (ImportError, AttributeError):
            pass
        sys.stdout.write(">>> ")
        s = getattr(sys.stdin, "buffer", sys.stdin)     # bytes, not decoded text
        try:
            first = await asyncio.StreamReader(s).read(1)
        except (TypeError, OSError):    # a port whose buffer cannot poll
            first = await asyncio.StreamReader(sys.stdin).read(1)
        if not first:
            return                      # console closed (sim: stdin ended)
        from console import Console
        c = self._console_obj = Console(self)
        b = first[0]
        return await c.run(ord(b) if isinstance(b, str) else b)

    @property
    def updater(self):
        """The OTA agent, made on first use once the firmware is up; None before that,
        in safe mode, or in a build without lib/ota."""
        if self._updater_obj is None and self._board_name is not None:
            self._updater_obj = self._updater(self._board_name)
        return self._updater_obj

    def _updater(self, board_name):
        """The OTA agent (lib/ota/agent.py) with what only the firmware knows."""
        try:
            from ota.agent import Updater
        except ImportError:
            if (self.ota_boot is not None and self.ota_boot.trial) or _CTX["ota_fw"] is not None:
                raise        # a version on trial without its agent cannot prove itself
            return None                     # a build without lib/ota
        return Updater(self.cfg["ota"], self.ota_boot, _CTX["version"], board_name, log,
                       self.line_busy, self.health, lambda: _CTX["reset"](self), ota_key,
                       _CTX["ota_fw"])

    def line_busy(self):
        """Why an update must wait: a call, a handset off hook, ringing (on any port);
        or None."""
        for p in self.ports:
            why = p.busy()
            if why is not None:
                return why if p.n == 1 else "line %d: %s" % (p.n, why)
        return None

    def health(self):
        """(registered with the PBX, supervised task crashes so far, the last one)."""
        sup = self.supervisor
        return (self.sip.status()["registered"], sum(sup.restarts.values()), sup.last_crash)

    async def _network(self):
        """The board's network, retried with back-off until it comes up: a Wi-Fi
        access point that is down at power-on must not leave the ATA dead."""
        import asyncio
        delay = NET_RETRY_MS[0]
        while True:
            try:
                return await self.board.network_up()
            except OSError as e:
                if getattr(e, "errno", None) in getattr(self.board, "FATAL_ERRNOS", ()):
                    raise                    # the sim's own port taken: its runner retries
                log("network: %s; retrying in %d ms" % (e, delay))
                await asyncio.sleep_ms(delay)
                delay = min(delay * 2, NET_RETRY_MS[1])

    async def _feed_watchdog(self):
        """Feeds the board's watchdog while the event loop runs: a task that blocks the
        loop (or a hang anywhere) stops the feeding and the board resets."""
        import asyncio
        wdt = self.board.watchdog(WDT_TIMEOUT_MS)
        while True:
            wdt.feed()
            await asyncio.sleep_ms(WDT_FEED_MS)

    async def _keep_config_when_registered(self):
        """config.good.json is the config that proved itself: written once SIP has
        registered with it, not at every boot."""
        import asyncio
        import safemode
        while not self.sip.status()["registered"]:
            await asyncio.sleep_ms(500)
        safemode.keep_good(self.config_path, log)
        sys.modules.pop("safemode", None)

    def make_safe(self, crashed):
        """After a task crashed: ring off, tones and caller ID off, any call ended (BYE
        or CANCEL), the line back to what the hook says (idle or dial tone); on the
        port the task was of, or on every port after a task of the whole board."""
        mine = [p for p in self.ports if crashed in p.tasks]
        for p in mine or self.ports:
            p.make_safe(crashed, p.log)
            p.log("supervisor: line made safe after %s crashed" % crashed)
        if not self.ports:
            log("supervisor: line made safe after %s crashed" % crashed)

    def status(self):
        if self.safe_reason is not None and self.line is None:
            return [("safe_mode", {"reason": self.safe_reason})]
        out = self.ports[0].status() + [("board", self.board.status()),
                                        ("supervisor", self.supervisor.status())]
        for p in self.ports[1:]:
            out += p.status()
        return out


def ota_key():
    """The trusted OTA public key (ota_key.py, from `ata ota keygen`), or None."""
    try:
        import ota_key as k
        return k.PUBLIC_KEY
    except ImportError:
        return None


async def boot(path, **ctx):
    """Config (or safe mode until there is one), then the ATA. ctx: main.py's (see
    _CTX)."""
    _CTX.update(ctx)
    import iowait
    iowait.install()                    # no heap frame at each task switch
    import board
    import safemode
    cfg, reason = safemode.load(path, board.check_config, log)
    app = App(cfg, path)
    if cfg is None:
        cfg = await safemode.wait_for_config(path, board.check_config, reason, log, app)
        if cfg is None:
            return                      # shut down from the console in safe mode
        app = App(cfg, path)
    # safe mode's code is not needed while a config is in use (the config keeper
    # imports it again for its one write): out of the heap for the run, ~0.9 KB on x64
    del safemode
    sys.modules.pop("safemode", None)
    await app.run()
