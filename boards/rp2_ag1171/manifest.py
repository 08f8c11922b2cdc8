# The rp2_ag1171 board's code: what `ata build` puts on the board (or into its ROMFS
# image). main.py and board.json stay on the board's filesystem, beside config.json:
# the board runs main.py at boot and board.py reads its pins from board.json.
#
# Paths are relative to this file. What every board carries (the firmware modules but
# main.py, the lib/ packages) is firmware/manifest.py's; then the board module and its
# PIO programs, at the top level. ring.pio and hook.pio are their pioasm text for
# readers and host tests.
include("../../firmware/manifest.py")
module("board.py")
module("pio_programs.py")
