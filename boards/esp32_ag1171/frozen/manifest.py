# Frozen-firmware manifest of the esp32_ag1171 ATA: MicroPython's own ESP32 modules
# (asyncio, the networking bundle, ...) plus the ATA's code, compiled into the
# firmware image so that its bytecode, constants and names stay in flash.
# main.py, board.json and config.json stay on the filesystem (docs/flash-build.md).
include("$(PORT_DIR)/boards/manifest.py")
include("../manifest.py")
