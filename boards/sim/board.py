# The sim board: builds virtual pins, timers and I2S wired to the virtual phone and
# hands them to the same drivers the ESP32 board uses.
import json

from vmachine import Flag, I2S, Pin, Timer
from phonelink import PhoneLink
from codec import SimCodec
from slic.ag1171 import AG1171
from slic.port import Port

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."


class Board:
    name = "sim"

    def __init__(self, cfg, log=print):
        with open(_HERE + "/board.json") as f:
            self.spec = json.load(f)
        self.cfg = cfg
        self.log = log
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
            slic = AG1171(rm, fr, shk, Timer(p["ring_timer"]))
            rx = I2S(p["i2s_rx"], mode=I2S.RX, bits=16, format=I2S.MONO, rate=8000)
            tx = I2S(p["i2s_tx"], mode=I2S.TX, bits=16, format=I2S.MONO, rate=8000)
            self.ports.append(Port(slic, Timer(p["hook_timer"]), rx, tx, Flag))

    async def network_up(self):
        """Start the phone link; the sim's network is the host's loopback."""
        await self.link.start()
        self.log("phone: listening on 127.0.0.1:%d" % self.link.port)
        return self.cfg["network"]["ip"]

    def status(self):
        return {"board": self.name, "phone_connected": self.link.writer is not None,
                "frames_in": self.link.frames_in, "frames_out": self.link.frames_out}
