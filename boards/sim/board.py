# The sim board: builds virtual pins, timers and I2S wired to the virtual phone and
# hands them to the same drivers the ESP32 board uses.
import json

from vmachine import Flag, I2S, Pin, Timer, WDT, engine
from phonelink import PhoneLink
from codec import SimCodec
from slic.ag1171 import AG1171
from slic.port import Port

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_EADDRINUSE = 98


def check_config(cfg):
    """What this board cannot do with cfg, or None."""
    if cfg["network"]["mode"] != "host":
        return "network.mode: the sim board's network is the host's (mode host)"
    return None


def pins_safe():
    """The sim's pins are virtual and the phone link ends with the process."""


class Board:
    name = "sim"
    # The phone port taken by another process is not a network that may come up
    # later: the sim exits and its runner picks other ports.
    FATAL_ERRNOS = (_EADDRINUSE,)

    def __init__(self, cfg, log=print):
        with open(_HERE + "/board.json") as f:
            self.spec = json.load(f)
        self.cfg = cfg
        self.log = log
        engine.set_timing(cfg["sim"]["timing"], cfg["sim"]["timing_seed"])
        self.link = PhoneLink("127.0.0.1", cfg["sim"]["phone_port"], log)
        I2S.codec = SimCodec(self.link)
        self.ports = []
        for p in self.spec["ports"]:
            rm = Pin(p["rm"], Pin.OUT, value=0)
            fr = Pin(p["fr"], Pin.OUT, value=1)
            shk = Pin(p["shk"], Pin.IN)
            self.link.watch(rm, "R")
            self.link.watch(fr, "F")
            shk.source = self.link.hook_level
            # as an RP2040 board would, hard timer callbacks under its timing model
            hard = cfg["sim"]["timing"] == "rp2"
            slic = AG1171(rm, fr, shk, Timer(p["ring_timer"]), hard_timer=hard)
            rx = I2S(p["i2s_rx"], mode=I2S.RX, bits=16, format=I2S.MONO, rate=8000)
            tx = I2S(p["i2s_tx"], mode=I2S.TX, bits=16, format=I2S.MONO, rate=8000)
            self.ports.append(Port(slic, Timer(p["hook_timer"]), rx, tx, Flag, hard))
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
        if self.link.server is None:
            await self.link.start()
        self.log("phone: listening on 127.0.0.1:%d" % self.link.port)
        return self.cfg["network"]["ip"]

    def status(self):
        return {"board": self.name, "timing": self.cfg["sim"]["timing"],
                "timers": engine.stats, "phone_connected": self.link.writer is not None,
                "frames_in": self.link.frames_in, "frames_out": self.link.frames_out}
