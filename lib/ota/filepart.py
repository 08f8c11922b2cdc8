# A file-backed twin of esp32.Partition for the sim, with the ESP-IDF bootloader's
# app rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE), so lib/ota/firmware.py runs
# unchanged on the unix port. Under ROOT (the board's flash): ota_0.bin and
# ota_1.bin (the two app partitions, SIZE bytes each, erased = 0xFF) and
# otadata.json (which one boots, and each one's image state).
#
# Image states as the IDF keeps them: set_boot() makes the partition the boot one,
# state "new". At power-on, bootloader() starts a "new" image once as "pending"
# (pending verify); finding it still "pending" (started, never marked valid) it
# marks it "aborted" and starts the previous valid image instead. The running image
# calls mark_app_valid_cancel_rollback() to make itself "valid". Call bootloader()
# once per start of the sim firmware, before anything asks for RUNNING: it records
# the image it started in otadata.json ("running"), so RUNNING is the same for every
# copy of this module in the process (the firmware reloads lib/ota from its slot).
import json
import os

from micropython import const

ROOT = "flash"
SIZE = const(0x180000)        # bytes per app partition (1.5 MB, as a 4 MB ESP32 layout)
BLOCK = const(4096)
LABELS = ("ota_0", "ota_1")


def _path(name):
    return ROOT + "/" + name


def _read_otadata():
    try:
        with open(_path("otadata.json")) as f:
            d = json.load(f)
        if isinstance(d, dict) and d.get("boot") in LABELS:
            return d
    except (OSError, ValueError):
        pass
    return {"boot": LABELS[0], "states": {LABELS[0]: "valid"}}   # factory image in ota_0


def _write_otadata(d):
    try:
        os.mkdir(ROOT)
    except OSError:
        pass
    tmp = _path("otadata.json.tmp")
    with open(tmp, "w") as f:
        json.dump(d, f)
    os.rename(tmp, _path("otadata.json"))   # one sector write on the chip: atomic


def _other(label):
    return LABELS[1] if label == LABELS[0] else LABELS[0]


def bootloader():
    """Power-on: pick the image to start, as the IDF bootloader does. Returns
    (label, note). Writes otadata.json only when there is one (or a state changes)."""
    try:
        os.stat(_path("otadata.json"))
        changed = True                       # record "running" for this start
    except OSError:
        changed = False                      # never updated: ota_0, nothing to write
    d = _read_otadata()
    states = d.setdefault("states", {})
    label = d["boot"]
    st = states.get(label, "valid")
    note = "started %s (%s)" % (label, st)
    if st == "new":
        states[label] = "pending"
        note = "started %s on trial (pending verify)" % label
        changed = True
    elif st in ("pending", "aborted", "invalid"):
        if st == "pending":
            states[label] = "aborted"
        back = _other(label)
        note = "rolled back: %s was not marked valid; started %s" % (label, back)
        d["boot"] = back
        label = back
        changed = True
    if changed:
        d["running"] = label
        _write_otadata(d)
    return label, note


def _running_label():
    d = _read_otadata()
    return d.get("running") or d["boot"]


class FilePartition:
    bootloader = staticmethod(bootloader)   # firmware.power_on() calls it on the sim
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=BLOCK):
        if id == FilePartition.BOOT:
            label = _read_otadata()["boot"]
        elif id == FilePartition.RUNNING:
            label = _running_label()
        elif id in LABELS:
            label = id
        else:
            raise ValueError("no partition %r" % (id,))
        self.label = label
        self.block_size = block_size

    def __repr__(self):
        return "<FilePartition %s>" % self.label

    @staticmethod
    def find(type=0, subtype=0xFF, label=None):
        if type != FilePartition.TYPE_APP:
            return []
        return [FilePartition(n) for n in LABELS if label is None or n == label]

    def info(self):
        i = LABELS.index(self.label)
        return (FilePartition.TYPE_APP, 0x10 + i, 0x10000 + i * SIZE, SIZE, self.label, False)

    def _file(self):
        p = _path(self.label + ".bin")
        try:
            return open(p, "r+b")
        except OSError:
            try:
                os.mkdir(ROOT)
            except OSError:
                pass
            return open(p, "w+b")

    def readblocks(self, block_num, buf, offset=0):
        with self._file() as f:
            f.seek(block_num * self.block_size + offset)
            n = f.readinto(buf)
        for i in range(n or 0, len(buf)):
            buf[i] = 0xFF                    # never written: erased flash
        return True

    def writeblocks(self, block_num, buf, offset=None):
        """Without offset: erase the blocks, then write (the IDF's erase + write)."""
        start = block_num * self.block_size + (offset or 0)
        if start + len(buf) > SIZE:
            raise OSError(28)                # ENOSPC: past the partition's end
        with self._file() as f:
            if offset is None:
                f.seek(block_num * self.block_size)
                nblocks = (len(buf) + self.block_size - 1) // self.block_size
                f.write(b"\xff" * (nblocks * self.block_size))
            f.seek(start)
            f.write(buf)

    def ioctl(self, op, arg=None):
        if op == 4:
            return SIZE // self.block_size   # block count
        if op == 5:
            return self.block_size
        if op == 6:                          # erase block arg
            self.writeblocks(arg, b"\xff" * self.block_size)
        return 0

    def get_next_update(self):
        return FilePartition(_other(self.label))

    def set_boot(self):
        d = _read_otadata()
        d["boot"] = self.label
        d.setdefault("states", {})[self.label] = "new"
        _write_otadata(d)

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        d = _read_otadata()
        d.setdefault("states", {})[_running_label()] = "valid"
        _write_otadata(d)
