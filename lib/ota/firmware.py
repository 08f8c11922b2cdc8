# Whole-firmware update on the ESP32 through esp32.Partition and the bootloader's
# rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): a signed bundle of kind
# "firmware" is checked while its image streams into the next OTA partition, one
# flash sector at a time; only when every check passed is that partition made the
# boot one (set_boot). The bootloader starts it once as "pending verify"; the
# firmware's health check calls mark_app_valid_cancel_rollback(); a start that ends
# (reset, power cut, crash) before that makes the bootloader go back to the
# previous image. A cut or refusal before set_boot leaves the running image booting.
#
# The same code runs on the sim with ota.filepart.FilePartition, a file-backed
# Partition with those semantics: pass the class as `Partition`.
import json
import os

from micropython import const

from ota import bundle

SECTOR = const(4096)              # bytes: Partition.writeblocks erases and writes one
MARK = "ota/firmware.json"        # {"version", "label", "previous"} of an image on trial


def partition_class():
    """esp32.Partition on the chip; the file-backed twin elsewhere (the sim)."""
    try:
        import esp32  # pyright: ignore[reportMissingImports]  (no such module off the ESP32)
        return esp32.Partition
    except ImportError:
        from ota import filepart
        return filepart.FilePartition


def _running(P):
    # the stubs type Partition's id as a label (str); BOOT and RUNNING are ints too
    return P(P.RUNNING)  # pyright: ignore[reportArgumentType]


def running_label(Partition):
    return _running(Partition).info()[4]


class _SectorWriter:
    """The payload sink: fills one sector buffer, writes it to the next block."""

    def __init__(self, part, size):
        self.part = part
        self.buf = bytearray(SECTOR)
        self.n = 0
        self.block = 0
        self.blocks = size // SECTOR

    def __call__(self, mv):
        i = 0
        while i < len(mv):
            k = min(SECTOR - self.n, len(mv) - i)
            self.buf[self.n:self.n + k] = mv[i:i + k]
            self.n += k
            i += k
            if self.n == SECTOR:
                self._write()

    def _write(self):
        if self.block >= self.blocks:
            raise bundle.Refused(bundle.SPACE, "image larger than the partition")
        self.part.writeblocks(self.block, self.buf)
        self.block += 1
        self.n = 0

    def flush(self):
        if self.n:
            for j in range(self.n, SECTOR):
                self.buf[j] = 0xFF          # erased flash
            self._write()


def power_on(Partition):
    """Once per start: on the sim, the twin's bootloader picks the image (the chip's
    own bootloader has done so before MicroPython runs). Returns a note or None."""
    boot = getattr(Partition, "bootloader", None)
    return boot()[1] if boot is not None else None


def write_image(stream, public_key, identity, Partition=None, block=bundle.BLOCK):
    """Check a firmware bundle from stream and write its image into the next OTA
    partition. Returns (manifest, partition); switch() makes it the boot one. Raises
    bundle.Refused (the boot partition unchanged: a partial image never boots)."""
    P = Partition or partition_class()
    running = _running(P)
    part = running.get_next_update()
    info = part.info()
    m = bundle.read_manifest(stream, public_key)
    if m["kind"] != "firmware":
        raise bundle.Refused(bundle.MALFORMED, "payload kind %r is not a firmware image"
                             % m["kind"])
    bundle.check_manifest(m, identity, info[3])
    w = _SectorWriter(part, info[3])
    bundle.check_payload(stream, m, w, block)
    w.flush()
    return m, part


def switch(part, m, Partition=None):
    """Make the written image the one the bootloader starts next (on trial)."""
    P = Partition or partition_class()
    _write_mark({"version": m["version"], "label": part.info()[4],
                 "previous": running_label(P)})
    part.set_boot()


def _write_mark(d):
    try:
        os.mkdir("ota")
    except OSError:
        pass
    tmp = MARK + ".tmp"
    with open(tmp, "w") as f:
        json.dump(d, f)
    os.rename(tmp, MARK)


def trial(Partition=None):
    """After a start: the image written by write_image() that now runs on trial
    (its mark, a dict), or None. When the bootloader went back to the previous
    image (the new one was never marked valid), the mark is dropped and returned
    with "rolled_back": True, for the log."""
    try:
        with open(MARK) as f:
            mark = json.load(f)
    except (OSError, ValueError):
        return None
    P = Partition or partition_class()
    if running_label(P) == mark.get("label"):
        return mark
    os.remove(MARK)
    mark["rolled_back"] = True
    return mark


def mark_valid(Partition=None):
    """The health check passed: cancel the bootloader's rollback, drop the mark."""
    P = Partition or partition_class()
    P.mark_app_valid_cancel_rollback()
    try:
        os.remove(MARK)
    except OSError:
        pass
