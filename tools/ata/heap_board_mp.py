# The heap a real board's board module takes (runs on MicroPython, not CPython).
#
#   micropython heap_board_mp.py BOARD.romfs SIM_TREE STUBS_DIR
#
# The sim's figures hold the sim's board module and its virtual hardware; a board
# holds its own board.py instead. This mounts the board's ROMFS image at /rom (as
# simboot does), lets the sim's vmachine and vesp32 answer for `machine` and `esp32`,
# and a stand-in `network` from STUBS_DIR, none of which a board holds in its heap
# (they are C modules there), imports the machinery board.py imports first, then
# board.py itself, and prints the live heap that import added (x64 bytes).
import gc
import sys

import vfs

with open(sys.argv[1], "rb") as f:
    _image = f.read()
vfs.mount(vfs.VfsRom(_image), "/rom")
sys.path[:] = ["/rom", "/rom/lib", ".frozen", sys.argv[2], sys.argv[3]]

import asyncio  # noqa: E402,F401  (frozen on a board; loaded before the measurement)
import time  # noqa: E402,F401

import vesp32  # noqa: E402
import vmachine  # noqa: E402

sys.modules["machine"] = vmachine
sys.modules["esp32"] = vesp32
import network  # noqa: E402,F401
from slic import ag1171, port  # noqa: E402,F401  (the sim's board holds these too)

gc.collect()
_before = gc.mem_alloc()
import board  # noqa: E402,F401
gc.collect()
print("board module: %d bytes" % (gc.mem_alloc() - _before))
print("modules it loaded: %s" % " ".join(sorted(
    n for n in sys.modules if n not in ("machine", "esp32", "network", "vmachine", "vesp32"))))
