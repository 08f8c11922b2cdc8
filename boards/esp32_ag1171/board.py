# ESP32 + AG1171 board: pins from board.json, the ring's F/R waveform from an RMT
# channel (hardware-timed: the ESP32's timer callbacks are soft, and a garbage
# collection or a long task would stretch a ring toggled from one), its cadence and
# RM from a timer, SHK's edges from its pin interrupt (Pin.irq, both edges, stamped
# with time.ticks_ms: the line sleeps until one comes or a deadline passes; no 2 ms
# sampling timer), audio through two I2S peripherals at 8 kHz, network from the
# config (Wi-Fi station, or Ethernet where board.json names a PHY).
#
# The ESP32 port's pin interrupt handlers are always scheduled (mp_sched_schedule, as
# its timer callbacks are; Pin.irq takes no `hard` there): a handler runs late by the
# scheduler's latency, or a whole garbage collection, and reads SHK and the time when
# it runs. The line then measures a break or a make that long off; a lost one (queue
# full) is made good by the line reading SHK at its next wake. The sim models it
# (sim.timing esp32).
import time

import esp32
import machine
import network
from machine import I2S, WDT, Pin, Timer
from slic.ag1171 import AG1171
from slic.port import Port, board_spec
from slic.rmt_ring import RmtRing

_I2S_IBUF = 1280         # bytes of buffering per direction: 4 frames (80 ms), little latency
_NET_TIMEOUT_MS = 20000  # give up waiting for an address after this
# RMT channel clock: 80 MHz / 200 = 400 kHz (2.5 us ticks). Ring half periods are
# then whole ticks at 16, 20 and 25 Hz, and 10 Hz's (50 ms) is 20,000 < PULSE_MAX.
_RMT_CLOCK_DIV = 200
# CPU clocks machine.freq() takes here (MHz). The port boots at 160; the firmware asks
# for 240 (board.cpu_mhz 0: full speed) unless the config lowers it. Wi-Fi needs >= 80.
CPU_MHZ = (80, 160, 240)
FULL_MHZ = 240


def check_config(cfg):
    """What this board cannot do with cfg, or None: its network is Wi-Fi or Ethernet
    (the default mode `host` is the sim's), Wi-Fi needs an SSID, and the CPU clock
    is one the ESP32 runs at."""
    mhz = cfg.get("board", {}).get("cpu_mhz", 0)   # (callers may pass only a part)
    if mhz and mhz not in CPU_MHZ:
        return "board.cpu_mhz: must be 0 (full speed, %d), 80, 160 or 240 on this board, " \
               "got %d" % (FULL_MHZ, mhz)
    net = cfg["network"]
    if net["mode"] not in ("wifi", "ethernet"):
        return "network.mode: must be wifi or ethernet on this board, got %s" % net["mode"]
    if net["mode"] == "wifi" and not net["wifi_ssid"]:
        return "network.wifi_ssid: is required for Wi-Fi"
    ports = cfg.get("ports")
    if ports and len(ports) > len(board_spec()["ports"]):
        return "ports: this board has %d FXS port(s), %d configured" % (
            len(board_spec()["ports"]), len(ports))
    return None


def pins_safe():
    """RM low on every port, straight from board.json: callable before the board
    object exists and after anything failed."""
    for p in board_spec()["ports"]:
        Pin(p["rm"], Pin.OUT, value=0)


def _thread_safe_flag():
    """Timer and I2S callbacks run in interrupt context here: ThreadSafeFlag."""
    import asyncio
    return asyncio.ThreadSafeFlag()


def _rmt_maker(channel, pin):
    """A new RMT channel on F/R per ring (slic.rmt_ring says why), resting at the
    line polarity. The channel number matters to MicroPython before 1.24 only."""
    def new_rmt(idle_level):
        return esp32.RMT(channel, pin=pin, clock_div=_RMT_CLOCK_DIV, idle_level=bool(idle_level))
    return new_rmt


def _i2s(spec, mode):
    return I2S(spec["id"], sck=Pin(spec["sck"]), ws=Pin(spec["ws"]), sd=Pin(spec["sd"]),
               mode=mode, bits=16, format=I2S.MONO, rate=8000, ibuf=_I2S_IBUF)


def set_clock(cfg, log=print):
    """The CPU clock from the config (0: full speed), set before anything else runs;
    returns it in MHz as the chip reports it."""
    machine.freq((cfg["board"]["cpu_mhz"] or FULL_MHZ) * 1_000_000)
    mhz = machine.freq() // 1_000_000
    log("board: CPU at %d MHz" % mhz)
    return mhz


class Board:
    name = "esp32_ag1171"

    def __init__(self, cfg, log=print):
        # Full speed first: the media frame's budget is set by it (docs/bench-cost.md).
        self.cpu_mhz = set_clock(cfg, log)
        self.spec = board_spec()
        self.cfg = cfg
        self.log = log
        self.nic = None
        self.ports = []
        for p in self.spec["ports"]:
            rm = Pin(p["rm"], Pin.OUT, value=0)
            fr = Pin(p["fr"], Pin.OUT, value=1)
            shk = Pin(p["shk"], Pin.IN, Pin.PULL_DOWN)
            ring = RmtRing(fr, _rmt_maker(p["ring_rmt"], fr),
                           esp32.RMT.source_freq() // _RMT_CLOCK_DIV)
            slic = AG1171(rm, fr, shk, Timer(p["ring_timer"]), ring=ring)
            rx = _i2s(p["i2s_rx"], I2S.RX)
            tx = _i2s(p["i2s_tx"], I2S.TX)
            # hook_timer (board.json) unused: the edges come from SHK's interrupt
            self.ports.append(Port(slic, None, rx, tx, _thread_safe_flag, hook_pin=shk,
                                   ticks_ms=time.ticks_ms))

    async def network_up(self):
        """Bring the network up as the config says; returns our IP address."""
        import asyncio
        import time
        net = self.cfg["network"]
        if net["mode"] == "ethernet":
            eth = self.spec.get("ethernet")
            if not eth:
                raise OSError("network.mode is ethernet but board %s has no PHY" % self.name)
            # Looked up by name: the published stubs give LAN neither the ESP32
            # constructor's keywords nor ifconfig(), which the port has.
            lan = getattr(network, "LAN")
            nic = lan(mdc=Pin(eth["mdc"]), mdio=Pin(eth["mdio"]),
                      power=Pin(eth["power"]) if eth.get("power") is not None else None,
                      phy_type=getattr(network, eth["phy"]), phy_addr=eth["phy_addr"])
        else:
            nic = network.WLAN(network.STA_IF)
        nic.active(True)
        if net["mode"] != "ethernet":
            nic.connect(net["wifi_ssid"], net["wifi_password"])
        self.nic = nic
        start = time.ticks_ms()
        while nic.ifconfig()[0] == "0.0.0.0":
            if time.ticks_diff(time.ticks_ms(), start) > _NET_TIMEOUT_MS:
                raise OSError("no IP address after %d ms (%s)" % (_NET_TIMEOUT_MS, net["mode"]))
            await asyncio.sleep_ms(100)
        ip = nic.ifconfig()[0]
        self.log("network: %s up, address %s" % (net["mode"], ip))
        return ip

    def watchdog(self, timeout_ms):
        """The hardware watchdog: once started it cannot be stopped; the firmware's
        main loop feeds it (firmware/main.py)."""
        return WDT(timeout=timeout_ms)

    def call_active(self, active):
        """Wi-Fi power saving off during a call (it delays received packets by up to
        a beacon interval, ~100 ms: audible), back on afterwards."""
        nic = self.nic
        if nic is None or self.cfg["network"]["mode"] != "wifi":
            return
        wlan = getattr(network, "WLAN")
        nic.config(pm=wlan.PM_NONE if active else wlan.PM_PERFORMANCE)

    def status(self):
        import gc
        return {"board": self.name, "ip": self.nic.ifconfig()[0] if self.nic else None,
                "heap_free": gc.mem_free(), "heap_used": gc.mem_alloc()}
