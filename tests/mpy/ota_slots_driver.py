# Driver for tests/test_ota_slots.py: one process is one boot (or one update) of a
# device whose application lives in lib/ota/slots.py's A/B slots under ROOT.
#   update ROOT BUNDLE PUBHEX [KILL_AFTER_FILES]
#       stage the bundle (bundle.stage, checked against the running version) and
#       install it into the inactive slot; with KILL_AFTER_FILES the process SIGKILLs
#       itself while unpacking, after that many files (a power cut)
#   boot ROOT [good]
#       slots.boot(), then import the slot's app and call app.start(); "good": the
#       health check passed, mark_good()
# Prints UPDATED/REFUSED, BOOT <slot> <version> <trial> | <note>, APP <text>, GOOD.
import os
import sys

from ota import bundle, slots

FACTORY = "1.0.0"
BOARD = "sim"


def update(root, path, pubhex, kill_after=None):
    slots._makedirs(root)
    ident = bundle.running_identity(BOARD, slots.running_version(root, FACTORY))
    staged = root + "/staged.bin"
    try:
        with open(path, "rb") as f:
            m = bundle.stage(f, bytes.fromhex(pubhex), ident, staged, 1 << 30)
    except bundle.Refused as e:
        print("REFUSED", e.code, e.message)
        return
    if kill_after is not None:
        real_open = open
        count = [0]

        def counting_open(p, mode="r"):
            if "w" in mode and p.startswith(root + "/" + slots.inactive_slot(root) + "/"):
                count[0] += 1
                if count[0] > kill_after:
                    os.system("kill -9 $PPID")      # the shell's parent: this process
            return real_open(p, mode)

        slots.open = counting_open
    try:
        slot = slots.install(root, staged, m)
    except slots.SlotError as e:
        print("REFUSED slot", e)
        return
    print("UPDATED", m["version"], "slot", slot)


def boot(root, good):
    b = slots.boot(root, FACTORY)
    print("BOOT", b.slot, b.version, b.trial, "|", b.note)
    if b.path:
        sys.path.insert(0, b.path)
        import app
        print("APP", app.start())
    else:
        print("APP factory")
    if good:
        print("GOOD" if slots.mark_good(root) else "NOT-TRIAL")


cmd = sys.argv[1]
if cmd == "update":
    update(sys.argv[2], sys.argv[3], sys.argv[4],
           int(sys.argv[5]) if len(sys.argv) > 5 else None)
elif cmd == "boot":
    boot(sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "good")
