"""Runs the rp2_ag1171 board's PIO programs in rp2040-pio-emulator: the words come
from the board's own asm_pio functions (boards/rp2_ag1171/pio_programs.py, assembled
by tests/pio_asm_host.py), the clocks and FIFO words from lib/slic/pio_ring.py and
pio_hook.py, as the board computes them."""
import collections
import functools
import importlib.util
import sys

from pioemu import State, emulate

from conftest import ROOT

sys.path.insert(0, str(ROOT / "lib"))
import pio_asm_host  # noqa: E402

SYS_HZ = 133_000_000      # the board sets its full speed, 133 MHz (board.cpu_mhz 0), then reads machine.freq()
FR, RM = 0, 1             # emulated pin numbers: F/R bit 0, RM bit 1; SHK bit 0 for the hook


@functools.lru_cache(maxsize=None)
def programs():
    """The board's pio_programs module, assembled on the host."""
    pio_asm_host.install()
    spec = importlib.util.spec_from_file_location(
        "pio_programs", ROOT / "boards" / "rp2_ag1171" / "pio_programs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ring_trace(words, seconds, freq, program=None):
    """Emulate the ring program fed with `words` (looped, as the DMA does) for
    `seconds` at SM clock `freq` (Hz, the real one). Returns the pin changes as
    [(time s, pin, level)] and the number of instructions emulated."""
    prog, wrap_target, wrap, _ = program or programs().ring
    end = int(seconds * freq)
    loops = 1 + end // 1000            # enough words for any cadence step >= 1000 cycles
    fifo = collections.deque(list(words) * loops)
    state = State(transmit_fifo=fifo, pin_values=1 << FR, pin_directions=(1 << FR) | (1 << RM))
    changes = []
    steps = 0
    last = state.pin_values
    for before, after in emulate(list(prog), initial_state=state,
                                 stop_when=lambda _op, s: s.clock >= end,
                                 set_base=FR, set_count=1, out_base=FR, out_count=1,
                                 side_set_base=RM, side_set_count=1, shift_osr_right=True,
                                 wrap_target=wrap_target, wrap_top=wrap):
        steps += 1
        now = after.pin_values & 3
        if now != last:
            for pin in (FR, RM):
                if (now ^ last) >> pin & 1:
                    changes.append((before.clock / freq, pin, now >> pin & 1))
            last = now
    return changes, steps


def ring_figures(changes):
    """From a pin trace: the F/R half periods inside bursts, the RM on and off periods
    (complete ones only), and F/R changes while RM was low (must be none: F/R rests)."""
    halves, ons, offs, stray = [], [], [], []
    rm, rm_at, fr_at = 0, None, None
    for t, pin, level in changes:
        if pin == RM:
            if rm_at is not None:
                (ons if rm else offs).append(t - rm_at)
            rm, rm_at = level, t
            fr_at = t if level else None      # a burst's first half starts with RM
        elif rm:
            if fr_at is not None:
                halves.append(t - fr_at)
            fr_at = t
        elif level != 1:
            stray.append(t)                   # F/R left rest during a pause
    return halves, ons, offs, stray


def hook_words(levels, debounce_samples, program=None):
    """Emulate the hook program with SHK = levels(t seconds) (0/1) for as long as
    levels.duration; returns [(time s, word)] as pushed to the RX FIFO."""
    prog, wrap_target, wrap, _ = program or programs().hook
    freq = 8000                               # the board's hook SM clock: 4 cycles = 0.5 ms
    end = int(levels.duration * freq)
    n = debounce_samples - 2
    state = State(x_register=0xFFFFFFFF, y_register=n,
                  output_shift_register=pio_shift_register(n))
    pushed = []

    def shk(s: State) -> int:
        return levels(s.clock / freq)

    for before, after in emulate(list(prog), initial_state=state, input_source=shk,
                                 stop_when=lambda _op, s: s.clock >= end,
                                 jmp_pin=0, auto_push=True, push_threshold=30,
                                 shift_isr_right=False, wrap_target=wrap_target, wrap_top=wrap):
        while after.receive_fifo:
            pushed.append((after.clock / freq, after.receive_fifo.popleft()))
    return pushed


def pio_shift_register(value):
    from pioemu.shift_register import ShiftRegister
    return ShiftRegister(value, 0)
