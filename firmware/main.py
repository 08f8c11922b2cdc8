# The ATA firmware's entry point: config, board, line, media, call control, console.
# On a board it runs from /main.py; on the host: micropython firmware/main.py --config FILE
import sys
import time

VERSION = "0.1.0"
DEFAULT_CONFIG = "config.json"
NET_RETRY_MS = (1000, 60000)   # network retries: first delay, then doubling up to this
WDT_TIMEOUT_MS = 8000          # the event loop stalled this long: the board resets
WDT_FEED_MS = 1000

_T0 = time.ticks_ms()
_LOG_SINK = []   # the console's filter: holds log lines while mpremote's raw REPL runs


def log(msg):
    t = time.ticks_diff(time.ticks_ms(), _T0)
    text = "[%6d.%03d] %s" % (t // 1000, t % 1000, msg)
    if _LOG_SINK:
        _LOG_SINK[0](text)
    else:
        print(text)


class App:
    def __init__(self, cfg, config_path=DEFAULT_CONFIG):
        self.cfg = cfg
        self.config_path = config_path
        self.safe_reason = None     # set while in safe mode (status shows it)
        self.board = None
        self.line = None
        self.media = None
        self.calls = None
        self.sip = None
        self.supervisor = None
        self.log_sink = _LOG_SINK

    async def run(self):
        import board

        cfg = self.cfg
        log("ATA firmware %s on board %s, country %s" % (VERSION, board.Board.name,
                                                        cfg["line"]["country"]))
        self.board = board.Board(cfg, log)
        ip = await self._network()
        # The heavy imports only now: Wi-Fi takes its buffers while the heap is still
        # small (on an ESP32 without PSRAM the IDF and the GC heap share the RAM).
        import country
        from callctl import CallControl
        from console import Console
        from line import Line
        from media import Media
        from supervisor import Supervisor

        port = self.board.ports[0]
        self.media = Media(port, log)
        self.media.on_call = getattr(self.board, "call_active", None)
        self.calls = CallControl(cfg, ip, log)
        self.sip = self.calls.ua
        sup = self.supervisor = Supervisor(log, self.make_safe)
        self.sip.spawn = sup.spawn
        self.line = Line(port, country.plan(cfg["line"]["country"]), cfg["line"],
                         self.media, self.calls.line_event, log)
        self.calls.attach(self.line, self.media)
        self.media.start()
        self.line.start()
        sup.spawn("media", self.media.run)
        sup.spawn("line", self.line.run)
        sup.spawn("watchdog", self._feed_watchdog)
        sup.spawn("config_keeper", self._keep_config_when_registered)
        await self.calls.start()
        log("ready: SIP %s@%s:%d from %s:%d" % (cfg["sip"]["user"], cfg["sip"]["server"],
                                               cfg["sip"]["port"], ip, cfg["sip"]["sip_port"]))
        await sup.spawn("console", Console(self).run)   # returns on `shutdown`
        log("console: shutting down")
        await self.calls.stop()

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

    def make_safe(self, crashed):
        """After a task crashed: ring off, tones and caller ID off, any call ended (BYE
        or CANCEL), the line back to what the hook says (idle or dial tone). Each step
        runs even when another fails: the state that crashed one task may be odd."""
        steps = (("call", self.calls.hangup if self.calls else None),
                 ("media", self.media.stop_all if self.media else None),
                 ("line", self.line.recover if self.line else None))
        for what, step in steps:
            if step is None:
                continue
            try:
                step()
            except Exception as e:  # noqa: the next step must still run
                log("supervisor: safe %s after %s failed: %r" % (what, crashed, e))
        log("supervisor: line made safe after %s crashed" % crashed)

    def status(self):
        if self.safe_reason is not None and self.line is None:
            return [("safe_mode", {"reason": self.safe_reason})]
        return [("line", self.line.status()), ("sip", self.sip.status()),
                ("media", self.media.status()), ("board", self.board.status()),
                ("supervisor", self.supervisor.status())]


def pins_safe():
    """RM low (no ring voltage) on every exit path, whatever state the firmware is in."""
    try:
        import board
        board.pins_safe()
    except Exception as e:  # noqa: the last thing that runs; must not hide the first error
        log("pins: could not make safe: %r" % (e,))


async def boot(path):
    """Config (or safe mode until there is one), then the ATA."""
    import board
    import safemode
    cfg, reason = safemode.load(path, board.check_config, log)
    app = App(cfg, path)
    if cfg is None:
        cfg = await safemode.wait_for_config(path, board.check_config, reason, log, app)
        if cfg is None:
            return                      # shut down from the console in safe mode
        app = App(cfg, path)
    await app.run()


def main(argv):
    import asyncio
    path = DEFAULT_CONFIG
    if "--config" in argv:
        path = argv[argv.index("--config") + 1]
    try:
        asyncio.run(boot(path))
    finally:
        pins_safe()


if __name__ == "__main__":
    main(sys.argv)
