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
_OTA = []        # the slot this start runs (ota.slots.Boot), chosen before the app imports
_OTA_FW = []     # a whole-firmware image on trial (ota.firmware's mark), if any
_TRIAL_FAILED = []   # the factory's agent.trial_failed: the slot's own may be the broken part
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
        self.ports = []             # fxsport.FxsPort per configured port; [0] is the above
        self.lines = []
        self.supervisor = None
        self._updater_obj = None
        self._board_name = None     # set once the firmware is up: the OTA agent may load
        self.ota_boot = _OTA[0] if _OTA else None
        self.version = self.ota_boot.version if self.ota_boot else VERSION
        self.log_sink = _LOG_SINK

    async def run(self):
        import board

        cfg = self.cfg
        log("ATA firmware %s on board %s, country %s" % (self.version, board.Board.name,
                                                        cfg["line"]["country"]))
        self.board = board.Board(cfg, log)
        ip = await self._network()
        # The heavy imports only now: Wi-Fi takes its buffers while the heap is still
        # small (on an ESP32 without PSRAM the IDF and the GC heap share the RAM).
        from console import Console
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
        trial = (self.ota_boot is not None and self.ota_boot.trial) or bool(_OTA_FW)
        if trial or cfg["ota"]["interval_h"]:
            u = self.updater
            if u is not None and u.on_trial:
                sup.spawn("ota_probation", u.probation)
            if u is not None and cfg["ota"]["interval_h"]:
                sup.spawn("ota_schedule", u.schedule)
        for p in self.ports:
            await p.calls.start()
        # The config's schema tables (~12 KB on x64) are only needed to check a config:
        # dropped now, imported again if the console asks (console.config()).
        sys.modules.pop("config", None)
        sys.modules.pop("cfgports", None)
        for p in self.ports:
            p.ready(ip)
        await sup.spawn("console", Console(self).run)   # returns on `shutdown`
        log("console: shutting down")
        for p in self.ports:
            await p.calls.stop()

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
            if (self.ota_boot is not None and self.ota_boot.trial) or _OTA_FW:
                raise        # a version on trial without its agent cannot prove itself
            return None                     # a build without lib/ota
        return Updater(self.cfg["ota"], self.ota_boot, VERSION, board_name, log,
                       self.line_busy, self.health, lambda: reset_board(self), ota_key,
                       _OTA_FW[0] if _OTA_FW else None)

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


def reset_board(app=None):
    """Restart the board now, as its reset button would."""
    try:
        import machine
        machine.reset()                 # a board: does not return
    except (ImportError, AttributeError):
        pass
    # the sim: its runner plays the chip's watchdog (tools/ata/sim.py). Feeding stops
    # and the timeout becomes 0: the runner resets the board at once.
    import vmachine
    sup = app.supervisor if app is not None else None
    task = sup.tasks.get("watchdog") if sup is not None else None
    if task is not None:
        task.cancel()
    with open(vmachine.WDT.PATH, "w") as f:
        f.write("0\n")


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


def choose_slot():
    """Before any application module is imported: the A/B slot this start runs (its
    directory goes first on sys.path); a version on probation that did not prove
    itself is rolled back here. The flash filesystem's root is on the import path
    as on a board (the trusted key, ota_key.py, may live there)."""
    if "" not in sys.path:
        sys.path.append("")
    try:
        from ota import agent
    except ImportError:
        return None                  # a build without lib/ota
    fw = agent.boot_firmware(log)
    if fw is not None:
        _OTA_FW.append(fw)
    b = agent.boot_slot(VERSION, log)
    if (b is not None and b.trial) or fw is not None:
        # kept only for a version on trial: holding it keeps the factory agent's module
        # (~7 KB on x64) in the heap for the whole run
        _TRIAL_FAILED.append(agent.trial_failed)
    for name in [n for n in sys.modules if n == "ota" or n.startswith("ota.")]:
        del sys.modules[name]        # the application imports the slot's own lib/ota
    if b is not None:
        _OTA.append(b)
        if b.slot:
            log("ota: running %s from slot %s%s (%s)" % (b.version, b.slot,
                                                        " on probation" if b.trial else "", b.note))
        elif b.note != "factory":
            log("ota: running the factory application %s (%s)" % (b.version, b.note))
    return b


def main(argv):
    import asyncio
    path = DEFAULT_CONFIG
    if "--config" in argv:
        path = argv[argv.index("--config") + 1]
    slot = choose_slot()
    try:
        asyncio.run(boot(path))
    except Exception as e:
        if (slot is not None and slot.trial) or _OTA_FW:   # a new version failed to start
            pins_safe()
            _TRIAL_FAILED[0](slot, _OTA_FW[0] if _OTA_FW else None, e, log, reset_board)
            while True:                      # the sim: its runner resets the board
                time.sleep_ms(100)
        raise
    finally:
        pins_safe()


if __name__ == "__main__":
    main(sys.argv)
