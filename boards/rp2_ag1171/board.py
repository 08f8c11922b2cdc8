# Raspberry Pi Pico W + AG1171 board: pins from board.json; the ring's F/R waveform
# AND its cadence from a PIO state machine fed by a DMA channel (no CPU at any edge);
# SHK sampled and debounced by a second state machine that timestamps each edge;
# audio through two machine.I2S (PIO too, on the rp2 port); Wi-Fi from the CYW43.
# The PIO plan (docs/boards.md): PIO0 holds our two programs (31 of its 32 words), so
# the I2S programs and the CYW43's SPI program land in PIO1. Their state machines are
# created first, before any I2S: the port places I2S where program space is left.
from array import array

import network
import rp2
import uctypes
from machine import I2S, WDT, Pin, Timer, freq, mem32
from slic.pio_hook import PioHook, debounce_count
from slic.pio_ring import STEPS, PioAG1171, PioRing
from slic.port import Port, board_spec

import pio_programs

_I2S_IBUF = 1280         # bytes of buffering per direction: 4 frames (80 ms), little latency
_NET_TIMEOUT_MS = 20000  # give up waiting for an address after this
_HOOK_SM_HZ = 8000       # 4 cycles a sample: 0.5 ms; an integer divider at 125/133/150/200 MHz
# CPU clocks (MHz) this board takes: MicroPython's rp2 port boots the RP2040 at 125;
# 133 is its rated clock (datasheet), reached by the PLL exactly (12 MHz x 133 / 12).
# Both are multiples of the hook program's 8 kHz.
CPU_MHZ = (125, 133)
FULL_MHZ = 133
_IO_BANK0 = 0x40014000   # GPIO_CTRL(n) at +8n+4: OUTOVER bits 9:8, INOVER 17:16 (1 = invert)
_INVERT = (1 << 8) | (1 << 16)
_DREQ_PIO0_TX0 = 0       # DMA pacing request of PIO0 SM0's TX FIFO (SMn: n; PIO1: 8 + n)


def check_config(cfg):
    """What this board cannot do with cfg, or None: its network is Wi-Fi (the default
    mode `host` is the sim's), with an SSID, and the CPU clock is one it runs at."""
    mhz = cfg.get("board", {}).get("cpu_mhz", 0)   # (callers may pass only a part)
    if mhz and mhz not in CPU_MHZ:
        return "board.cpu_mhz: must be 0 (full speed, %d), 125 or 133 on this board, " \
               "got %d" % (FULL_MHZ, mhz)
    net = cfg["network"]
    if net["mode"] != "wifi":
        return "network.mode: must be wifi on this board, got %s" % net["mode"]
    if not net["wifi_ssid"]:
        return "network.wifi_ssid: is required for Wi-Fi"
    ports = cfg.get("ports")
    if ports and len(ports) > len(board_spec()["ports"]):
        return "ports: this board has %d FXS port(s), %d configured" % (
            len(board_spec()["ports"]), len(ports))
    return None


def pins_safe():
    """RM low on every port, straight from board.json: callable before the board
    object exists and after anything failed (the pin leaves the PIO for the GPIO)."""
    for p in board_spec()["ports"]:
        Pin(p["rm"], Pin.OUT, value=0)


def _thread_safe_flag():
    """I2S callbacks may run in interrupt context: ThreadSafeFlag."""
    import asyncio
    return asyncio.ThreadSafeFlag()


class RingMachine:
    """The ring state machine (pio_programs.ring: F/R is its SET/OUT/IN pin, RM its
    side-set) and the DMA channel that loops over the cadence words into its TX FIFO
    (read address wrapping on a 32-byte ring: STEPS words, 32-byte aligned)."""

    def __init__(self, sm_id, rm_pin, fr_pin):
        self.rm_pin = rm_pin
        self.fr_pin = fr_pin
        self.sm = rp2.StateMachine(sm_id)
        self._init(25 * 520)                  # loads the program now: before any I2S
        self.dreq = _DREQ_PIO0_TX0 + sm_id
        self.dma = rp2.DMA()
        self._buf = array("I", [0] * (2 * STEPS))
        addr = uctypes.addressof(self._buf)
        self._first = ((addr + 31) & ~31) - addr   # bytes to the first 32-byte boundary
        self.addr = addr + self._first

    def _init(self, hz):
        fr = Pin(self.fr_pin)
        self.sm.init(pio_programs.ring, freq=hz, set_base=fr, out_base=fr, in_base=fr,
                     sideset_base=Pin(self.rm_pin))

    def _invert(self, on):
        """Reverse polarity at rest: F/R's output AND input inverted in the pad logic,
        so the program's rest level 1 is a low pin and its read-back still sees 1."""
        reg = _IO_BANK0 + 8 * self.fr_pin + 4
        mem32[reg] = (mem32[reg] & ~_INVERT) | (_INVERT if on else 0)

    def run(self, hz, words, rest):
        self.halt(rest)
        base = self._first // 4
        for i in range(STEPS):
            self._buf[base + i] = words[i]
        self._invert(rest == 0)
        self._init(hz)                        # FIFOs cleared, PC at the start, pins to the PIO
        dma = self.dma
        ctrl = dma.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=self.dreq,
                             ring_size=5, ring_sel=False)
        dma.config(read=self.addr, write=self.sm, count=0xFFFFFFFF, ctrl=ctrl, trigger=True)
        self.sm.active(1)

    def halt(self, rest):
        """Stop at once: RM low, F/R at rest (the pins stay with the PIO)."""
        self.sm.active(0)
        self.dma.active(0)
        self.sm.exec("set(pins, 1)")          # side-set 0: RM low; F/R 1 = rest (inverted if reversed)

    def release(self):
        """F/R's pad logic back to normal before it is a plain output again."""
        self._invert(False)


class HookMachine:
    """The hook state machine (pio_programs.hook, SHK its JMP pin) as slic.pio_hook's
    PioHook drives it."""

    def __init__(self, sm_id, shk_pin, debounce_ms):
        self.shk = Pin(shk_pin, Pin.IN, Pin.PULL_DOWN)
        self.count = debounce_count(debounce_ms)
        self.sm = rp2.StateMachine(sm_id)
        self.sm.init(pio_programs.hook, freq=_HOOK_SM_HZ, jmp_pin=self.shk)   # program loaded now

    def start(self):
        """From the start: on-hook state, X = ~0, OSR = Y = the debounce count."""
        sm = self.sm
        sm.active(0)
        sm.init(pio_programs.hook, freq=_HOOK_SM_HZ, jmp_pin=self.shk)
        sm.put(self.count)
        sm.exec("pull()")
        sm.exec("mov(y, osr)")
        sm.exec("mov(x, invert(null))")
        sm.active(1)

    def pending(self):
        return self.sm.rx_fifo()

    def get(self):
        return self.sm.get()


def _i2s(spec, mode):
    # the rp2 port wants WS on the pin after SCK (one side-set pair)
    return I2S(spec["id"], sck=Pin(spec["sck"]), ws=Pin(spec["ws"]), sd=Pin(spec["sd"]),
               mode=mode, bits=16, format=I2S.MONO, rate=8000, ibuf=_I2S_IBUF)


class Board:
    name = "rp2_ag1171"

    def __init__(self, cfg, log=print):
        self.spec = board_spec()
        self.cfg = cfg
        self.log = log
        self.nic = None
        self.ports = []
        # the clock first: the state machines' dividers are computed from it
        freq((cfg["board"]["cpu_mhz"] or FULL_MHZ) * 1_000_000)
        sys_hz = freq()
        self.cpu_mhz = sys_hz // 1_000_000
        log("board: CPU at %d MHz" % self.cpu_mhz)
        if sys_hz % _HOOK_SM_HZ:
            raise ValueError("system clock %d Hz: the hook clock needs a multiple of %d Hz"
                             % (sys_hz, _HOOK_SM_HZ))
        for p in self.spec["ports"]:
            rm = Pin(p["rm"], Pin.OUT, value=0)
            fr = Pin(p["fr"], Pin.OUT, value=1)
            ring = PioRing(fr, RingMachine(p["ring_sm"], p["rm"], p["fr"]))
            hook = PioHook(HookMachine(p["hook_sm"], p["shk"], cfg["line"]["debounce_ms"]),
                           Timer(-1))
            slic = PioAG1171(rm, fr, hook.level, ring)
            rx = _i2s(p["i2s_rx"], I2S.RX)
            tx = _i2s(p["i2s_tx"], I2S.TX)
            self.ports.append(Port(slic, hook, rx, tx, _thread_safe_flag, hard_timers=True))

    async def network_up(self):
        """Bring Wi-Fi up as the config says; returns our IP address."""
        import asyncio
        import time
        net = self.cfg["network"]
        nic = network.WLAN(network.STA_IF)
        nic.active(True)
        nic.connect(net["wifi_ssid"], net["wifi_password"])
        self.nic = nic
        start = time.ticks_ms()
        while nic.ifconfig()[0] == "0.0.0.0":
            if time.ticks_diff(time.ticks_ms(), start) > _NET_TIMEOUT_MS:
                raise OSError("no IP address after %d ms (wifi)" % _NET_TIMEOUT_MS)
            await asyncio.sleep_ms(100)
        ip = nic.ifconfig()[0]
        self.log("network: wifi up, address %s" % ip)
        return ip

    def watchdog(self, timeout_ms):
        """The hardware watchdog (at most 8.3 s on the RP2040): once started it cannot
        be stopped; the firmware's main loop feeds it (firmware/main.py)."""
        return WDT(timeout=timeout_ms)

    def call_active(self, active):
        """CYW43 power saving off during a call (it delays received packets by up to
        a beacon interval, ~100 ms: audible), back on afterwards."""
        nic = self.nic
        if nic is None:
            return
        wlan = getattr(network, "WLAN")
        nic.config(pm=wlan.PM_NONE if active else wlan.PM_PERFORMANCE)

    def status(self):
        import gc
        return {"board": self.name, "ip": self.nic.ifconfig()[0] if self.nic else None,
                "cpu_mhz": self.cpu_mhz, "heap_free": gc.mem_free(), "heap_used": gc.mem_alloc()}
