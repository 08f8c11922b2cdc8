# board.cpu_mhz: the config field (0 = the board's full speed), the ESP32 board's
# check of it and the clock it sets at start-up (machine.freq, with a stand-in for
# the chip-only modules), and the sim board recording it.
import sys

import config
from check import eq, raises

_BASE = '{"sip": {"server": "127.0.0.1", "user": "1001"}%s}'


def cfg_with(mhz):
    return config.parse(_BASE % (', "board": {"cpu_mhz": %s}' % mhz))


class _Machine:
    """machine.freq as the ESP32 port has it: set in Hz, read back in Hz."""
    I2S = WDT = Pin = Timer = object   # imported by the board module, unused here

    def __init__(self):
        self.hz = 160_000_000          # what the ESP32 port boots at
        self.calls = []

    def freq(self, hz=None):
        if hz is None:
            return self.hz
        self.calls.append(hz)
        self.hz = hz


class _Any:
    def __getattr__(self, _name):
        return object


def _load_board(path, stand_ins):
    """A board module loaded into its own namespace (the name `board` is the sim's on
    this path), with sys.modules entries stood in for its chip-only imports."""
    saved = {n: sys.modules.get(n) for n in stand_ins}
    sys.modules.update(stand_ins)
    try:
        ns = {"__name__": path.replace("/", "_")}
        with open(_root() + "/boards/" + path) as f:
            exec(f.read(), ns)
        return ns
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def esp32_board(machine):
    return _load_board("esp32_ag1171/board.py",
                       {"machine": machine, "network": _Any(), "esp32": _Any()})


def _root():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return here + "/../.."


def test_config_field_default_and_range():
    eq(config.parse(_BASE % "")["board"]["cpu_mhz"], 0, "default: full speed")
    eq(cfg_with(160)["board"]["cpu_mhz"], 160, "given")
    for text, words in (('"160"', "integer"), ("5000", "0..1000"), ("-1", "0..1000"),
                        ("true", "integer")):
        e = raises(config.ConfigError, config.parse,
                   _BASE % (', "board": {"cpu_mhz": %s}' % text))
        eq(e.field, "board.cpu_mhz", "field of " + text)
        if words not in str(e):
            raise AssertionError("%r not in %r" % (words, str(e)))


def test_esp32_accepts_its_clocks_only():
    b = esp32_board(_Machine())
    for mhz in (0, 80, 160, 240):
        eq(b["check_config"](dict(cfg_with(mhz), network={"mode": "wifi", "wifi_ssid": "x"})),
           None, "%d MHz" % mhz)
    for mhz in (40, 100, 200, 320):
        msg = b["check_config"](cfg_with(mhz))
        if not msg or not msg.startswith("board.cpu_mhz:") or ("got %d" % mhz) not in msg:
            raise AssertionError("%d MHz not refused: %r" % (mhz, msg))


def test_esp32_runs_at_full_speed_unless_lowered():
    m = _Machine()
    b = esp32_board(m)
    logged = []
    eq(b["set_clock"](cfg_with(0), logged.append), 240, "0: full speed")
    eq(m.calls, [240_000_000], "machine.freq asked for 240 MHz")
    eq(b["set_clock"](cfg_with(160), logged.append), 160, "lowered")
    eq(m.calls[-1], 160_000_000, "machine.freq asked for 160 MHz")
    eq(logged, ["board: CPU at 240 MHz", "board: CPU at 160 MHz"], "logged")


def test_sim_board_records_the_clock():
    import board
    cfg = cfg_with(160)
    cfg["sim"]["phone_port"] = 1          # never started: only the object is made
    b = board.Board(cfg, log=lambda *_: None)
    eq(b.status()["cpu_mhz"], 160, "sim status")


def rp2_board():
    """boards/rp2_ag1171/board.py's check_config (the clock itself is set in Board(),
    which needs the PIO)."""
    m = _Machine()
    m.mem32 = None
    return _load_board("rp2_ag1171/board.py", {"machine": m, "network": _Any(), "rp2": _Any(),
                                              "uctypes": _Any(), "pio_programs": _Any()})


def test_rp2_accepts_its_clocks_only():
    b = rp2_board()
    eq(b["FULL_MHZ"] * 1_000_000 % 8000, 0, "full speed is a multiple of the hook clock")
    for mhz in (0, 125, 133):
        eq(b["check_config"](dict(cfg_with(mhz), network={"mode": "wifi", "wifi_ssid": "x"})),
           None, "%d MHz" % mhz)
    for mhz in (48, 150, 200, 240):
        msg = b["check_config"](cfg_with(mhz))
        if not msg or not msg.startswith("board.cpu_mhz:") or ("got %d" % mhz) not in msg:
            raise AssertionError("%d MHz not refused: %r" % (mhz, msg))
