# Driver for tests/test_ota_firmware.py: one process is one power-on of an ESP32
# whose flash is the folder ROOT (lib/ota/filepart.py: the file-backed Partition
# with the bootloader's rollback). The image's first line names its version.
#   power_on ROOT [good]
#       the bootloader picks the image; prints RUN <label> <version> | <note> and
#       TRIAL <version> / ROLLED_BACK <version> from ota.firmware.trial(); "good":
#       the health check passed, ota.firmware.mark_valid()
#   update ROOT BUNDLE PUBHEX [KILL_AFTER_SECTORS]
#       power-on, then ota.firmware.write_image() into the next partition; with
#       KILL_AFTER_SECTORS the process SIGKILLs itself after that many sectors
# Prints SET_BOOT <label> <version> or REFUSED <code> <message>.
import os
import sys

from ota import bundle, filepart, firmware

FACTORY = "1.0.0"
P = filepart.FilePartition


def image_version(part):
    buf = bytearray(32)
    part.readblocks(0, buf)
    if not buf.startswith(b"IMG "):
        return FACTORY
    return bytes(buf[4:]).split(b"\n", 1)[0].decode()


def power_on(good=False):
    label, note = filepart.bootloader()
    print("RUN", label, image_version(P(P.RUNNING)), "|", note)
    t = firmware.trial(P)
    if t is not None:
        print("ROLLED_BACK" if t.get("rolled_back") else "TRIAL", t["version"])
    if good and t is not None and not t.get("rolled_back"):
        firmware.mark_valid(P)
        print("GOOD")


def update(path, pubhex, kill_after=None):
    filepart.bootloader()
    if kill_after is not None:
        count = [0]
        write = P.writeblocks

        def cut(self, n, buf, offset=None):
            count[0] += 1
            if count[0] > kill_after:
                os.system("kill -9 $PPID")       # the shell's parent: this process
            write(self, n, buf, offset)
        P.writeblocks = cut
    ident = bundle.running_identity("esp32_ag1171", image_version(P(P.RUNNING)))
    ident["arch"] = "xtensawin"          # this interpreter is x64; the image is the chip's
    try:
        with open(path, "rb") as f:
            m, part = firmware.write_image(f, bytes.fromhex(pubhex), ident, P)
    except bundle.Refused as e:
        print("REFUSED", e.code, e.message)
        return
    firmware.switch(part, m, P)
    print("SET_BOOT", P(P.BOOT).info()[4], m["version"])


root = sys.argv[2]
try:
    os.mkdir(root)
except OSError:
    pass
args = [a if a.startswith("/") else a for a in sys.argv[3:]]
os.chdir(root)
if sys.argv[1] == "power_on":
    power_on(len(sys.argv) > 3 and sys.argv[3] == "good")
else:
    update(sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else None)
