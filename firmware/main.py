# The ATA firmware's entry point: config, board, line, media, call control, console.
# On a board it runs from /main.py; on the host: micropython firmware/main.py --config FILE
import sys
import time

import config

VERSION = "0.1.0"
DEFAULT_CONFIG = "config.json"
LAST_GOOD = "config.good.json"   # the last config that booted; used when the new one is bad

_T0 = time.ticks_ms()


def log(msg):
    t = time.ticks_diff(time.ticks_ms(), _T0)
    print("[%6d.%03d] %s" % (t // 1000, t % 1000, msg))


def load_config(path):
    """The config at path, or the last good one when it is bad; exit if neither."""
    try:
        cfg = config.load(path)
    except config.ConfigError as e:
        print("CONFIG ERROR %s" % e)
        if path == LAST_GOOD:
            sys.exit(2)
        try:
            cfg = config.load(LAST_GOOD)
        except config.ConfigError:
            sys.exit(2)
        print("config: using the last good configuration")
        return cfg
    try:
        with open(path) as src, open(LAST_GOOD, "w") as dst:
            dst.write(src.read())
    except OSError:
        pass       # read-only filesystem: no fallback kept, not fatal
    return cfg


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.board = None
        self.line = None
        self.media = None
        self.calls = None
        self.sip = None
        self.supervisor = None

    async def run(self):
        import asyncio
        import board
        import country
        from callctl import CallControl
        from console import Console
        from line import Line
        from media import Media
        from supervisor import Supervisor

        cfg = self.cfg
        log("ATA firmware %s on board %s, country %s" % (VERSION, board.Board.name,
                                                        cfg["line"]["country"]))
        self.board = board.Board(cfg, log)
        ip = await self.board.network_up()
        port = self.board.ports[0]
        self.media = Media(port, log)
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
        await self.calls.start()
        log("ready: SIP %s@%s:%d from %s:%d" % (cfg["sip"]["user"], cfg["sip"]["server"],
                                               cfg["sip"]["port"], ip, cfg["sip"]["sip_port"]))
        await sup.spawn("console", Console(self).run)   # returns on `shutdown`
        log("console: shutting down")
        await self.calls.stop()

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
        return [("line", self.line.status()), ("sip", self.sip.status()),
                ("media", self.media.status()), ("board", self.board.status()),
                ("supervisor", self.supervisor.status())]


def main(argv):
    import asyncio
    path = DEFAULT_CONFIG
    if "--config" in argv:
        path = argv[argv.index("--config") + 1]
    cfg = load_config(path)
    asyncio.run(App(cfg).run())


if __name__ == "__main__":
    main(sys.argv)
