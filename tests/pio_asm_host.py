"""A host stand-in for MicroPython's `rp2` module, enough to assemble the board's
`@rp2.asm_pio` programs on CPython: the decorated function is run twice (labels
first, then words) with the PIO instruction names bound, as the rp2 port's rp2.py
does, and each instruction is encoded from the RP2040 datasheet (section 3.4).

The result is (words, wrap_target, wrap, sideset_count): what the rp2 port loads into
PIO instruction memory (jump targets relative to the program's start, as the port
relocates them at load time) and the wrap range the emulator needs. The words are
checked against adafruit-circuitpython-pioasm assembling the same program's pioasm
text (tests/test_pio_asm.py), so two independent assemblers agree on what runs.
"""
import sys
import types

SHIFT_LEFT = 0
SHIFT_RIGHT = 1


class PIOASMError(Exception):
    pass


class _Emit:
    """One program being assembled."""

    def __init__(self, sideset_count):
        self.sideset_count = sideset_count
        self.labels = {}
        self.words = []
        self.pass_ = 0
        self.n = 0
        self.sides = 0
        self.wrap_target_at = 0
        self.wrap_at = None
        self.opt = False

    # -- directives
    def label(self, name):
        if self.pass_ == 0:
            if name in self.labels:
                raise PIOASMError("duplicate label %s" % name)
            self.labels[name] = self.n

    def wrap_target(self):
        self.wrap_target_at = self.n

    def wrap(self):
        self.wrap_at = self.n - 1

    # -- modifiers: .side(v), [delay]
    def side(self, value):
        self.sides += 1
        if self.pass_:
            bits = self.sideset_count + self.opt
            if not self.sideset_count or value >= 1 << self.sideset_count:
                raise PIOASMError("side-set %r does not fit" % value)
            self.words[-1] |= (self.opt << 12) | value << (13 - bits)
        return self

    def __getitem__(self, delay):
        if self.pass_:
            bits = self.sideset_count + self.opt
            if delay >= 1 << (5 - bits):
                raise PIOASMError("delay %d too large" % delay)
            self.words[-1] |= delay << 8
        return self

    # -- instructions
    def _word(self, w, target=None):
        self.n += 1
        if self.pass_:
            if target is not None:
                if target not in self.labels:
                    raise PIOASMError("unknown label %s" % target)
                w |= self.labels[target]
            self.words.append(w)
        return self

    def jmp(self, cond, target=None):
        if target is None:
            cond, target = 0, cond
        return self._word(cond << 5, target)

    def in_(self, src, bits):
        return self._word(0x4000 | src << 5 | (bits & 31))

    def out(self, dst, bits):
        return self._word(0x6000 | dst << 5 | (bits & 31))

    def push(self, *flags):
        f = sum(flags)
        return self._word(0x8000 | (0 if f & 1 else 0x20) | (f & 0x40))   # blocks unless noblock

    def pull(self, *flags):
        f = sum(flags)
        return self._word(0x8080 | (0 if f & 1 else 0x20) | (f & 0x40))

    def mov(self, dst, src):
        return self._word(0xA000 | dst << 5 | src)

    def set(self, dst, value):
        if not 0 <= value <= 31:
            raise PIOASMError("set value %r out of 0..31" % value)
        return self._word(0xE000 | dst << 5 | value)

    def nop(self):
        return self._word(0xA042)     # mov y, y


# operands as the rp2 module names them (datasheet encodings)
_NAMES = {
    "pins": 0, "x": 1, "y": 2, "null": 3, "pindirs": 4, "pc": 5, "status": 5,
    "isr": 6, "osr": 7,
    "not_x": 1, "x_dec": 2, "not_y": 3, "y_dec": 4, "x_not_y": 5, "pin": 6, "not_osre": 7,
    "block": 0x20, "noblock": 0x01, "iffull": 0x40, "ifempty": 0x40,
    "invert": lambda src: src | 0x08,
    "reverse": lambda src: src | 0x10,
}


def asm_pio(*, sideset_init=None, **_kw):
    count = 0 if sideset_init is None else (1 if isinstance(sideset_init, int) else len(sideset_init))

    def dec(f):
        emit = _Emit(count)
        names = dict(_NAMES)
        for n in ("label", "wrap_target", "wrap", "jmp", "in_", "out", "push", "pull", "mov",
                  "set", "nop"):
            names[n] = getattr(emit, n)
        g = dict(f.__globals__)
        g.update(names)
        run = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
        run()
        n = emit.n
        if count:
            emit.opt = emit.sides != n      # a side-set on only some instructions: optional
        emit.pass_, emit.n, emit.sides = 1, 0, 0
        emit.wrap_at = None
        run()
        wrap = n - 1 if emit.wrap_at is None else emit.wrap_at
        return (tuple(emit.words), emit.wrap_target_at, wrap, count)
    return dec


class PIO:
    """The constants board code passes to asm_pio."""
    IN_LOW, IN_HIGH, OUT_LOW, OUT_HIGH = 0, 1, 2, 3
    SHIFT_LEFT, SHIFT_RIGHT = SHIFT_LEFT, SHIFT_RIGHT
    JOIN_NONE, JOIN_TX, JOIN_RX = 0, 1, 2


def install():
    """Make `import rp2` give this module (host tests only)."""
    sys.modules["rp2"] = sys.modules[__name__]
