# Frozen manifest for a unix-port MicroPython that runs the sim with its code frozen,
# as boards/esp32_ag1171/frozen does the ESP32's: bytecode, constants and names in the
# binary, not the heap. asyncio as the unix port freezes it (its own variant manifest
# also pulls mip and ssl from micropython-lib, which the ATA does not use), then the
# sim board's code. Build and use: docs/bench-heap.md (On 32 bits, measured).
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")
