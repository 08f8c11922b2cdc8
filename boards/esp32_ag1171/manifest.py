# The esp32_ag1171 board's code: what `ata build` puts on the board (or into its
# ROMFS image) and what boards/esp32_ag1171/frozen/ freezes into the firmware.
# main.py and board.json stay on the board's filesystem, beside config.json: the
# board runs main.py at boot and board.py reads its pins from board.json.
#
# Paths are relative to this file.
include("../../firmware/manifest.py")
module("board.py")
