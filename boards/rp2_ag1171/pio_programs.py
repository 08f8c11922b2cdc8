# The two PIO programs of the rp2_ag1171 board, in MicroPython's asm_pio form: what
# the chip runs. ring.pio and hook.pio beside this file are the same programs as
# pioasm text, with the timing notes; tests/test_pio_asm.py checks that both forms
# assemble to the same instruction words and tests/test_pio_ring.py and
# test_pio_hook.py run those words in a PIO emulator. Together they fill PIO0's 32
# instruction words (13 + 18 + 1 spare): I2S and the CYW43 go to PIO1 (docs/boards.md).
import rp2
from rp2 import PIO

# The instruction names below are bound by asm_pio while it assembles a function.
try:
    from typing_extensions import TYPE_CHECKING  # type: ignore
except ImportError:
    TYPE_CHECKING = False
if TYPE_CHECKING:
    from rp2.asm_pio import *  # noqa: F401,F403


# F/R: SET, OUT and IN base (a high start: forward polarity); RM: side-set (low).
@rp2.asm_pio(set_init=PIO.OUT_HIGH, out_init=PIO.OUT_HIGH, sideset_init=PIO.OUT_LOW,
             out_shiftdir=PIO.SHIFT_RIGHT)
def ring():
    wrap_target()
    label("burst")
    pull(block).side(0)              # next step: a stall waits here with RM low
    mov(y, osr).side(1)[1]           # RM high: the burst begins, F/R at rest
    label("half")
    set(x, 15).side(1)
    label("hold")
    jmp(x_dec, "hold").side(1)[15]
    jmp(y_dec, "flip").side(1)       # another half period follows
    set(pins, 1).side(1)             # the last one is over: F/R at rest, then...
    pull(block).side(0)              # ...RM low: the pause (a stall keeps RM low)
    mov(y, osr).side(0)
    label("wait")
    set(x, 15).side(0)[2]
    label("idle")
    jmp(x_dec, "idle").side(0)[15]
    jmp(y_dec, "wait").side(0)
    wrap()
    label("flip")
    mov(pins, invert(pins)).side(1)  # F/R reverses (read 256 cycles after any write)
    jmp("half").side(1)


# SHK: JMP pin. X counts 0.5 ms samples; an edge that stands pushes X's low 30 bits.
@rp2.asm_pio(in_shiftdir=PIO.SHIFT_LEFT, autopush=True, push_thresh=30)
def hook():
    label("rise")                    # SHK was high once: a high run may begin
    jmp(x_dec, "rise_pin")[1]
    label("rise_pin")
    jmp(pin, "rise_count")
    jmp("low")                       # low again: it was a bounce
    label("rise_count")
    jmp(y_dec, "rise")
    in_(x, 30)                       # off-hook stands: its time, pushed
    jmp(x_dec, "high")[2]
    label("high")                    # off-hook
    mov(y, osr)[1]
    jmp(x_dec, "high_pin")
    label("high_pin")
    jmp(pin, "high")
    label("fall")                    # SHK was low once: a low run may begin
    jmp(x_dec, "fall_pin")[1]
    label("fall_pin")
    jmp(pin, "fall_back")
    jmp(y_dec, "fall")
    in_(x, 30)                       # on-hook stands: its time, pushed
    jmp(x_dec, "low")[2]
    wrap_target()
    label("low")                     # on-hook
    mov(y, osr)[1]
    jmp(x_dec, "low_pin")
    label("low_pin")
    jmp(pin, "rise")
    wrap()
    label("fall_back")
    jmp("high")                      # high again: it was a bounce
