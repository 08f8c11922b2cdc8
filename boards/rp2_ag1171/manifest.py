# The rp2_ag1171 board's code: what `ata build` puts on the board (or into its ROMFS
# image). main.py and board.json stay on the board's filesystem, beside config.json:
# the board runs main.py at boot and board.py reads its pins from board.json.
#
# Paths are relative to this file. The lib/ packages are required by name from the
# "ata" library, as micropython-lib packages are; none of them needs another.
add_library("ata", "../../lib")
for name in ("dsp", "ota", "rtp", "sip", "slic"):
    require(name, library="ata")

# Firmware modules (main.py excepted), the board module and its PIO programs, at the
# top level. ring.pio and hook.pio are their pioasm text for readers and host tests.
for name in ("alert", "application", "callctl", "cfgports", "cidcw", "clip", "conference",
             "config", "console", "country", "digitmap", "flashcall", "fxsport", "hook", "line",
             "media", "mwi", "safemode", "supervisor", "waiting"):
    module(name + ".py", base_path="../../firmware")
module("board.py", base_path=".")
module("pio_programs.py", base_path=".")
