# The ATA's code every board carries: the lib/ packages, required by name from the
# "ata" library as micropython-lib packages are (none of them needs another), and the
# firmware modules at the top level. main.py is not here: a board runs it from its
# filesystem at boot. A board's manifest includes this and adds its board module.
#
# Paths are relative to this file.
add_library("ata", "../lib")
for name in ("dsp", "ota", "rtp", "sip", "slic"):
    require(name, library="ata")

for name in ("alert", "application", "callctl", "cfgports", "cidcw", "clip", "conference",
             "config", "console", "country", "digitmap", "flashcall", "fxsport", "hook",
             "iowait", "line", "media", "mwi", "safemode", "supervisor", "waiting"):
    module(name + ".py")
