"""The rp2_ag1171 PIO programs exist twice: in MicroPython's asm_pio form (what the
chip runs, boards/rp2_ag1171/pio_programs.py) and as pioasm text (ring.pio, hook.pio
beside it). Both must assemble to the same words and wrap: asm_pio's encoding
reproduced on the host (tests/pio_asm_host.py) against adafruit-circuitpython-pioasm.
The emulator tests run the asm_pio words, so what they prove is about what runs.
Together the two programs must fit PIO0's 32 instruction words (I2S and the CYW43
use PIO1: docs/boards.md)."""
import adafruit_pioasm
import pytest

import pio_emu
from conftest import ROOT


@pytest.mark.parametrize("name", ["ring", "hook"])
def test_asm_pio_and_pioasm_text_agree(name):
    words, wrap_target, wrap, sideset = getattr(pio_emu.programs(), name)
    text = (ROOT / "boards" / "rp2_ag1171" / (name + ".pio")).read_text()
    prog = adafruit_pioasm.Program(text)
    assert list(words) == list(prog.assembled)
    assert (wrap_target, wrap) == (prog.pio_kwargs["wrap_target"], prog.pio_kwargs["wrap"])
    assert sideset == prog.pio_kwargs.get("sideset_pin_count", 0)


def test_both_programs_fit_one_pio():
    p = pio_emu.programs()
    assert len(p.ring[0]) + len(p.hook[0]) <= 32


def test_the_host_assembler_catches_a_changed_word():
    """The comparison can fail: one operand changed in the text gives other words."""
    text = (ROOT / "boards" / "rp2_ag1171" / "ring.pio").read_text()
    changed = adafruit_pioasm.Program(text.replace("set x, 15           side 1",
                                                   "set x, 14           side 1"))
    assert list(changed.assembled) != list(pio_emu.programs().ring[0])
