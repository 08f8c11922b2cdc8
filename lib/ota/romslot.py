# ROMFS payloads in the A/B application slots (issue 13; docs/ota.md "ROMFS slots").
# A bundle of kind "romfs" carries the board's ROMFS image (`ata build --romfs`):
# the .mpy tree packed so MicroPython's VfsRom can import from it in place. Here:
# - check(): the staged image is a ROMFS image (header, length, record structure),
#   read as a stream: a signed payload that is not one is refused before any slot
#   is touched.
# - place(): where the image of a slot lives. On the unix port (the sim) it is the
#   file <slot>/app.romfs. On a chip VfsRom needs the image memory-mapped, so it is
#   written into the slot's ROMFS segment (partition) with vfs.rom_ioctl, and the
#   slot keeps only app.romseg (the segment's index). Segment 0 is the factory
#   application's image (mounted at /rom by MicroPython itself): slot a uses
#   segment 1, slot b segment 2. A firmware with fewer segments refuses the bundle.
# - mount(): at boot, the slot's image mounted read-only at /rom_<slot>; the
#   caller puts it (and its lib/) first on sys.path.
# The rom_ioctl calls are the ones `mpremote romfs deploy` makes: 1 number of
# segments, 2 the segment (a memoryview of the mapped flash), 3 prepare (erase),
# 4 write, 5 write done, 6 the erase block size.
import os
import sys

from micropython import const

IMAGE = "app.romfs"          # the sim: the image itself, in the slot's directory
SEGMENT = "app.romseg"       # a chip: the index of the ROMFS segment holding it
HEADER = b"\xd2\xcd\x31"     # a ROMFS image starts so, then its length (varuint)
_KIND_DIR = const(4)
_KIND_FILE = const(5)
_KIND_MAX = const(5)
_CHUNK = const(4096)
_PREPARE_MAX = const(32768)  # erase this much per rom_ioctl(3) call at most
VFS = None                   # tests: a stand-in for the vfs module (rom_ioctl)


class RomError(Exception):
    pass


def _vfs():
    if VFS is not None:
        return VFS
    import vfs
    return vfs


def mount_point(slot):
    return "/rom_" + slot


def _uint(f, end):
    """A ROMFS varuint (7 bits a byte, high bit: more follow) read from f."""
    v = 0
    for _ in range(5):
        if f.tell() >= end:
            raise RomError("record cut short")
        b = f.read(1)
        if not b:
            raise RomError("record cut short")
        v = (v << 7) | (b[0] & 0x7F)
        if not b[0] & 0x80:
            return v
    raise RomError("varuint longer than 5 bytes")


def _walk(f, start, end, depth, counts):
    """Check the records in [start, end): each fits in its parent; directories and
    files are walked into (after their name). counts: [files, records]."""
    if depth > 16:
        raise RomError("directories nested more than 16 deep")
    f.seek(start)
    pos = start
    while pos < end:
        kind = _uint(f, end)
        size = _uint(f, end)
        body = f.tell()
        if body + size > end:
            raise RomError("record of %d bytes at %d runs past its parent (ends %d)"
                           % (size, body, end))
        if kind > _KIND_MAX:
            raise RomError("record kind %d at %d" % (kind, pos))
        counts[1] += 1
        if kind in (_KIND_DIR, _KIND_FILE):
            n = _uint(f, body + size)
            if f.tell() + n > body + size:
                raise RomError("name of %d bytes at %d runs past its record" % (n, body))
            if kind == _KIND_FILE:
                counts[0] += 1
            _walk(f, f.tell() + n, body + size, depth + 1, counts)
        pos = body + size
        f.seek(pos)


def check(path):
    """Raise RomError unless the file is a whole ROMFS image: the header, a length
    that is the file's, records that nest, at least one file. Returns the number of
    files. Read as a stream (a few bytes at a time): no copy of the image in RAM."""
    size = os.stat(path)[6]
    with open(path, "rb") as f:
        if f.read(3) != HEADER:
            raise RomError("not a ROMFS image (no d2 cd 31 header)")
        # the writer may pad the length field with a leading 0x80 (even total size)
        length = _uint(f, size)
        start = f.tell()
        if start + length != size:
            raise RomError("the header says %d bytes, the image has %d"
                           % (start + length, size))
        counts = [0, 0]
        _walk(f, start, size, 0, counts)
    if counts[0] == 0:
        raise RomError("the image holds no file")
    return counts[0]


# -- where a slot's image lives ---------------------------------------------------------
def _on_host():
    return sys.platform in ("linux", "darwin")


def target_segment(slot, slots=("a", "b")):
    """The ROMFS segment slot's image goes to: None on the unix port (the image
    stays a file in the slot, read into RAM at boot: the sim), an index on a chip.
    Raises RomError when this firmware cannot hold it (no rom_ioctl, or too few
    segments: segment 0 is the factory application's)."""
    rom = getattr(_vfs(), "rom_ioctl", None)
    if rom is None:
        if _on_host():
            return None
        raise RomError("this firmware has no ROMFS partitions (vfs.rom_ioctl)")
    seg = 1 + slots.index(slot)
    n = rom(1)
    if n <= seg:
        raise RomError("slot %s needs ROMFS segment %d; this firmware has %d (segment 0 is "
                       "the factory application's)" % (slot, seg, n))
    return seg


def _segment(rom, seg):
    part = rom(2, seg)
    if isinstance(part, int):
        raise RomError("ROMFS segment %d: rom_ioctl error %d" % (seg, part))
    if hasattr(part, "ioctl"):
        # a block device: not memory-mapped, VfsRom could not run from it
        raise RomError("ROMFS segment %d is a block device, not mapped memory" % seg)
    return part


def write_segment(path, seg):
    """Erase segment seg and write the image file at path into it, then compare the
    mapped flash with the file. The segment must not be mounted (it is the inactive
    slot's)."""
    v = _vfs()
    rom = v.rom_ioctl
    part = _segment(rom, seg)
    size = os.stat(path)[6]
    if size > len(part):
        raise RomError("image of %d bytes; ROMFS segment %d holds %d" % (size, seg, len(part)))
    block = rom(6, seg)
    if isinstance(block, int) and 0 < block < len(part):
        off = 0
        while off < size:
            n = min(size - off, _PREPARE_MAX)
            n = (n + block - 1) // block * block
            min_write = rom(3, seg, off, n)
            if min_write < 0:
                raise RomError("ROMFS segment %d: erase at %d failed (%d)" % (seg, off, min_write))
            off += n
    else:
        min_write = rom(3, seg, size)
        if min_write < 0:
            raise RomError("ROMFS segment %d: erase failed (%d)" % (seg, min_write))
    chunk = max(_CHUNK, min_write)
    buf = bytearray(chunk)
    mv = memoryview(buf)
    with open(path, "rb") as f:
        off = 0
        while off < size:
            n = f.readinto(mv)
            for i in range(n, chunk):      # the last chunk: padded, as mpremote does
                buf[i] = 0
            r = rom(4, seg, off, buf)
            if isinstance(r, int) and r < 0:
                raise RomError("ROMFS segment %d: write at %d failed (%d)" % (seg, off, r))
            off += chunk
    r = rom(5, seg)
    if isinstance(r, int) and r < 0:
        raise RomError("ROMFS segment %d: write end failed (%d)" % (seg, r))
    part = _segment(rom, seg)
    with open(path, "rb") as f:
        off = 0
        while off < size:
            n = f.readinto(mv)
            if bytes(part[off:off + n]) != bytes(mv[:n]):
                raise RomError("ROMFS segment %d differs from the image at %d after "
                               "writing" % (seg, off))
            off += n


def place(staged, slot_dir, slot):
    """Put a checked ROMFS payload where slot's boot will mount it: the file
    slot_dir/app.romfs (the sim), or the slot's ROMFS segment (a chip; the staged
    file is then removed and slot_dir/app.romseg names the segment)."""
    seg = target_segment(slot)
    if seg is None:
        os.rename(staged, slot_dir + "/" + IMAGE)
        return
    write_segment(staged, seg)
    os.remove(staged)
    with open(slot_dir + "/" + SEGMENT, "w") as f:
        f.write("%d\n" % seg)


def is_romfs_slot(slot_dir):
    for name in (IMAGE, SEGMENT):
        try:
            os.stat(slot_dir + "/" + name)
            return True
        except OSError:
            pass
    return False


def mount(slot_dir, slot):
    """Mount slot's image read-only at /rom_<slot>. Returns (mount point, the
    buffer VfsRom runs from: keep it referenced for the whole run). Raises
    RomError or OSError (VfsRom: ENODEV for a buffer that is not ROMFS)."""
    v = _vfs()
    mp = mount_point(slot)
    try:
        with open(slot_dir + "/" + SEGMENT) as f:
            seg = int(f.read().strip())
    except OSError:
        seg = None
    except ValueError:
        raise RomError("%s/%s unreadable" % (slot_dir, SEGMENT))
    if seg is not None:
        rom = getattr(v, "rom_ioctl", None)
        if rom is None:
            raise RomError("slot %s is in ROMFS segment %d; this firmware has no rom_ioctl"
                           % (slot, seg))
        buf = _segment(rom, seg)
    else:
        # the sim: the unix port maps no flash; the image is read into the heap
        with open(slot_dir + "/" + IMAGE, "rb") as f:
            buf = f.read()
    vfs_rom = getattr(v, "VfsRom", None)      # (the port stubs predate VfsRom)
    if vfs_rom is None:
        raise RomError("this firmware has no vfs.VfsRom")
    try:
        v.umount(mp)
    except OSError:
        pass
    v.mount(vfs_rom(buf), mp, readonly=True)
    return mp, buf
