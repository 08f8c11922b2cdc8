# Driver for tests/test_ota_bundle.py: checks bundle files with lib/ota/bundle.py the
# way the device does. argv: a cases file, one case a line:
#   BUNDLE PUBHEX BOARD RUNNING DEST FREE BLOCK
# (FREE "-": measured at DEST's directory). For each case prints one line:
#   OK <version> <bytes the sink got>   or   REFUSED <code> <bytes the sink got> <message>
# First a dry check() with a counting sink (shows no payload byte is handed on before
# the manifest passed), then stage() to DEST as the device would.
import gc
import sys

from ota import bundle


def run(line):
    path, pubhex, board, running, dest, free, block = line.split()
    pub = bytes.fromhex(pubhex)
    ident = bundle.running_identity(board, None if running == "-" else running)
    free = None if free == "-" else int(free)
    block = int(block)
    sunk = [0]

    def sink(mv):
        sunk[0] += len(mv)

    try:
        with open(path, "rb") as f:
            bundle.check(f, pub, ident, sink, free if free is not None else 1 << 40, block)
    except bundle.Refused as e:
        dry = (e.code, sunk[0])
    else:
        dry = ("OK", sunk[0])
    try:
        with open(path, "rb") as f:
            m = bundle.stage(f, pub, ident, dest, free, block)
    except bundle.Refused as e:
        print("REFUSED", e.code, sunk[0], e.message, "| dry", dry[0])
        return
    print("OK", m["version"], sunk[0], "| dry", dry[0])


def main(cases):
    with open(cases) as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    for ln in lines:
        run(ln)
        gc.collect()


main(sys.argv[1])
