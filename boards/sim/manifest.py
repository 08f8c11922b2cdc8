# The sim board's code: the firmware (as every board's) and the sim's board module
# with its virtual hardware (pins, timers, I2S, the ESP32's RMT, the phone link and
# its codec), which a real board has in silicon. boards/sim/frozen/ freezes it into
# a unix MicroPython, to measure the heap of a frozen firmware on the host
# (docs/bench-heap.md). main.py and board.json stay on the filesystem, as on a board.
#
# Paths are relative to this file.
include("../../firmware/manifest.py")
for name in ("board", "codec", "phonelink", "vesp32", "vmachine"):
    module(name + ".py")
