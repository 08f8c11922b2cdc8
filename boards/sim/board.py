# The sim board: builds virtual pins, timers and I2S wired to the virtual phone and
# hands them to the same drivers the ESP32 board uses. The ring source mirrors the
# chip whose timing the sim models (board.json ring_by_timing): under sim.timing
# esp32 F/R comes from the RMT, as on boards/esp32_ag1171 (vesp32.RMT, hardware-exact
# edges); under rp2 from a hard timer; under ideal from the soft timer. The
# environment variable ATA_SIM_RING (timer | rmt) overrides it, so a test can show
# what the other source does under the same timing model. The hook switch gives its
# edges through Pin.irq, as on boards/esp32_ag1171: handlers scheduled (soft) under
# esp32, run in the interrupt (hard) under rp2; ATA_SIM_HOOK=timer samples it every
# 2 ms from a timer instead (the path of a board with neither).
import json
import os

from vmachine import Flag, I2S, Pin, Timer, WDT, engine, ticks_ms
from phonelink import PhoneLink
from codec import SimCodec
from slic.ag1171 import AG1171
from slic.port import Port

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_EADDRINUSE = 98
_RMT_CLOCK_DIV = 200     # as boards/esp32_ag1171: 80 MHz / 200, 2.5 us channel ticks


def _rmt_ring(channel, fr):
    """The ESP32 board's ring source on the sim's RMT model (imported only for it)."""
    from slic.rmt_ring import RmtRing
    from vesp32 import RMT

    def new_rmt(idle_level):
        return RMT(channel, pin=fr, clock_div=_RMT_CLOCK_DIV, idle_level=bool(idle_level))
    return RmtRing(fr, new_rmt, RMT.source_freq() // _RMT_CLOCK_DIV)


def _spec():
    with open(_HERE + "/board.json") as f:
        return json.load(f)


def check_config(cfg):
    """What this board cannot do with cfg, or None."""
    if cfg["network"]["mode"] != "host":
        return "network.mode: the sim board's network is the host's (mode host)"
    have = len(_spec()["ports"])
    if len(cfg.get("ports") or ()) > have:
        return "ports: this board has %d FXS ports, %d configured" % (have, len(cfg["ports"]))
    return None


def _port_log(log, n):
    """Port n's log: port 1's lines as they always were, the others' prefixed "[n] "."""
    if n == 1:
        return log
    tag = "[%d] " % n

    def port_log(msg):
        log(tag + msg)
    return port_log


def pins_safe():
    """The sim's pins are virtual and the phone link ends with the process."""


class Board:
    name = "sim"
    # The phone port taken by another process is not a network that may come up
    # later: the sim exits and its runner picks other ports.
    FATAL_ERRNOS = (_EADDRINUSE,)

    def __init__(self, cfg, log=print):
        self.spec = _spec()
        self.cfg = cfg
        self.log = log
        # board.cpu_mhz: nothing to clock on the host; recorded (status) so a config
        # meant for a chip runs here unchanged. 0: the full speed of a real board.
        self.cpu_mhz = cfg["board"]["cpu_mhz"]
        timing = cfg["sim"]["timing"]
        engine.set_timing(timing, cfg["sim"]["timing_seed"])
        self.ring_source = os.getenv("ATA_SIM_RING") or self.spec["ring_by_timing"][timing]
        if self.ring_source not in ("timer", "rmt"):
            raise ValueError("ATA_SIM_RING: timer or rmt, got %r" % self.ring_source)
        self.hook_source = os.getenv("ATA_SIM_HOOK") or "irq"
        if self.hook_source not in ("timer", "irq"):
            raise ValueError("ATA_SIM_HOOK: timer or irq, got %r" % self.hook_source)
        # the ports the config uses (config "ports", else one), each wired to its own
        # virtual phone: a phone link (the port's sim.phone_port) and a codec clock
        port_cfgs = cfg.get("ports") or [cfg]
        self.links = []
        self.ports = []
        for i, p in enumerate(self.spec["ports"][:len(port_cfgs)]):
            link = PhoneLink("127.0.0.1", port_cfgs[i]["sim"]["phone_port"],
                             _port_log(log, i + 1))
            self.links.append(link)
            I2S.codec = SimCodec(link)      # the codec of this port's two I2S below
            rm = Pin(p["rm"], Pin.OUT, value=0)
            fr = Pin(p["fr"], Pin.OUT, value=1)
            shk = Pin(p["shk"], Pin.IN)
            link.watch(rm, "R")
            link.watch(fr, "F")
            shk.source = link.hook_level
            shk.source_next = link.hook_next
            link.hook_pin = shk
            # as an RP2040 board would, hard timer callbacks under its timing model
            hard = timing == "rp2"
            ring = _rmt_ring(p["ring_rmt"], fr) if self.ring_source == "rmt" else None
            slic = AG1171(rm, fr, shk, Timer(p["ring_timer"]), hard_timer=hard, ring=ring,
                          ticks_ms=ticks_ms)
            rx = I2S(p["i2s_rx"], mode=I2S.RX, bits=16, format=I2S.MONO, rate=8000)
            tx = I2S(p["i2s_tx"], mode=I2S.TX, bits=16, format=I2S.MONO, rate=8000)
            self.ports.append(Port(slic, Timer(p["hook_timer"]), rx, tx, Flag, hard,
                                   hook_pin=shk if self.hook_source == "irq" else None,
                                   hard_pin_irq=hard, ticks_ms=ticks_ms))
        self.link = self.links[0]
        import time
        self._t0 = time.ticks_ms()

    def watchdog(self, timeout_ms):
        return WDT(timeout=timeout_ms)

    async def network_up(self):
        """Start the phone link; the sim's network is the host's loopback. With
        sim.network_after_ms, the network is down until that long after boot (an
        access point that comes up after the ATA)."""
        import time
        after = self.cfg["sim"]["network_after_ms"]
        if after and time.ticks_diff(time.ticks_ms(), self._t0) < after:
            raise OSError("no network (sim.network_after_ms)")
        for link in self.links:
            if link.server is None:
                await link.start()
            link.log("phone: listening on 127.0.0.1:%d" % link.port)
        return self.cfg["network"]["ip"]

    def status(self):
        return {"board": self.name, "cpu_mhz": self.cpu_mhz,
                "timing": self.cfg["sim"]["timing"], "ring": self.ring_source,
                "hook": self.hook_source,
                "timers": engine.stats, "phone_connected": self.link.writer is not None,
                "frames_in": self.link.frames_in, "frames_out": self.link.frames_out,
                "ports": len(self.ports),
                "phones": [[k.port, k.writer is not None, k.frames_in, k.frames_out]
                           for k in self.links[1:]]}
