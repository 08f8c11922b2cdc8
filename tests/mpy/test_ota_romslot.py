# ROMFS slots (lib/ota/romslot.py, ota.agent.boot_slot) on the unix port: the image
# check, the file-backed mount the sim uses (read-only, first on sys.path, a
# module's __file__ inside it), a slot whose image does not mount rolled back at
# boot, and the chip's path (the image written into the slot's ROMFS segment with
# rom_ioctl, then mounted from the mapped segment) against a stand-in rom_ioctl that
# behaves as the calls `mpremote romfs deploy` makes expect (erase before write).
import os
import sys

from check import eq, raises

from ota import agent, romslot, slots

_TMP = "/tmp/ata-romslot-" + "".join("%02x" % b for b in os.urandom(4))


# -- a small ROMFS writer (the format VfsRom reads; mpremote's romfs build makes it) ----
def _uint(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.insert(0, 0x80 | (v & 0x7F))
        v >>= 7
    return bytes(out)


def _rec(kind, payload):
    return _uint(kind) + _uint(len(payload)) + payload


def _file(name, data):
    return _rec(5, _uint(len(name)) + name.encode() + _rec(2, data))


def _dir(name, *children):
    return _rec(4, _uint(len(name)) + name.encode() + b"".join(children))


def _image(*records):
    body = b"".join(records)
    size = _uint(len(body))
    if (3 + len(size) + len(body)) % 2:
        size = b"\x80" + size
    return romslot.HEADER + size + body


def _app_image(tag):
    return _image(
        _file("romprobe_%s.py" % tag, b"TAG = %r\n" % tag),
        _dir("lib", _dir("rompkg_%s" % tag,
                         _file("__init__.py", b"WHERE = 'lib'\n"))))


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _cleaned(fn):
    """Remove the test's scratch directory afterwards, pass or fail."""
    def run():
        try:
            fn()
        finally:
            slots._rmtree(_TMP)
    return run


def _fresh(name):
    d = _TMP + "/" + name
    slots._rmtree(d)
    slots._makedirs(d)
    return d


@_cleaned
def test_check_accepts_an_image_and_counts_its_files():
    d = _fresh("check")
    _write(d + "/ok.romfs", _app_image("c"))
    eq(romslot.check(d + "/ok.romfs"), 2, "files")


@_cleaned
def test_check_refuses_what_is_not_a_whole_image():
    d = _fresh("refuse")
    good = _app_image("r")
    cases = (
        ("junk", b"R" * 512, "no d2 cd 31 header"),
        ("cut", good[:-7], "the header says"),
        ("padded", good + b"\x00\x00", "the header says"),
        ("empty", _image(_dir("lib")), "holds no file"),
        # a file record whose length runs past the image
        ("past", _image(_uint(5) + _uint(200) + b"\x01x"), "runs past its parent"),
        ("kind", _image(_rec(9, b"zz"), _file("a.py", b"")), "record kind 9"),
    )
    for name, data, why in cases:
        _write(d + "/" + name, data)
        e = raises(romslot.RomError, romslot.check, d + "/" + name)
        if why not in str(e):
            raise AssertionError("%s: %r lacks %r" % (name, str(e), why))


@_cleaned
def test_file_slot_mounts_read_only_and_imports_from_the_image():
    d = _fresh("file")
    _write(d + "/staged.bin", _app_image("f"))
    romslot.place(d + "/staged.bin", d, "a")          # the sim: the file in the slot
    eq(sorted(os.listdir(d)), [romslot.IMAGE], "slot")
    mp, buf = romslot.mount(d, "a")
    eq(mp, "/rom_a", "mount point")
    eq(len(buf), os.stat(d + "/" + romslot.IMAGE)[6], "image in RAM")
    eq(sorted(os.listdir(mp)), ["lib", "romprobe_f.py"], "listing")
    raises(OSError, open, mp + "/new.py", "w")        # read-only
    sys.path.insert(0, mp)
    sys.path.insert(1, mp + "/lib")
    try:
        import romprobe_f
        import rompkg_f
        eq(romprobe_f.TAG, "f", "module")
        eq(romprobe_f.__file__, "/rom_a/romprobe_f.py", "__file__")
        eq(rompkg_f.WHERE, "lib", "package under lib/")
    finally:
        sys.path.remove(mp)
        sys.path.remove(mp + "/lib")
        import vfs
        vfs.umount(mp)


def _install(root, data, version):
    staged = root + "/staged.bin"
    _write(staged, data)
    m = {"kind": "romfs", "version": version}
    return slots.install(root, staged, m)


@_cleaned
def test_boot_slot_mounts_and_puts_the_image_first_then_rolls_back_a_bad_one():
    root = _fresh("boot") + "/ota"
    slots._makedirs(root)
    old_root = agent.ROOT
    agent.ROOT = root
    logs = []
    path0 = list(sys.path)
    try:
        eq(_install(root, _app_image("b1"), "1.1.0"), "a", "slot")
        b = agent.boot_slot("1.0.0", logs.append)
        eq((b.slot, b.version, b.trial, b.mount), ("a", "1.1.0", True, "/rom_a"), "boot")
        eq(sys.path[:2], ["/rom_a", "/rom_a/lib"], "sys.path")
        import romprobe_b1
        eq(romprobe_b1.__file__, "/rom_a/romprobe_b1.py", "__file__")
        eq(logs, ["ota: slot a: ROMFS image mounted read-only at /rom_a"], "log")
        slots.mark_good(root)
        sys.path[:] = path0

        # a v2 whose image is damaged on the flash after install: it does not mount,
        # is rolled back with the reason, and the good 1.1.0 runs
        eq(_install(root, _app_image("b2"), "1.2.0"), "b", "slot")
        with open(root + "/b/" + romslot.IMAGE, "r+b") as f:
            f.write(b"XX")
        del logs[:]
        b = agent.boot_slot("1.0.0", logs.append)
        eq((b.slot, b.version, b.trial, b.mount), ("a", "1.1.0", False, "/rom_a"), "back")
        eq(sys.path[0], "/rom_a", "sys.path")
        if "1.2.0 in slot b: its ROMFS image does not mount" not in logs[0]:
            raise AssertionError(logs)
        if not b.note.startswith("rolled back: 1.2.0 in slot b: its ROMFS image does "
                                 "not mount (OSError(19"):
            raise AssertionError(b.note)
    finally:
        agent.ROOT = old_root
        sys.path[:] = path0
        import vfs
        for mp in ("/rom_a", "/rom_b"):
            try:
                vfs.umount(mp)
            except OSError:
                pass


# -- the chip's path: ROMFS segments through rom_ioctl -------------------------------
class _FakeRom:
    """vfs with rom_ioctl over bytearrays: segment n of sizes[n] bytes, erase blocks of
    BLOCK bytes (0xff when erased); a write outside an erased range fails as flash
    would not hold it."""
    BLOCK = 4096

    def __init__(self, sizes):
        import vfs
        self.VfsRom, self.mount, self.umount = vfs.VfsRom, vfs.mount, vfs.umount
        self.segs = [bytearray(b"\x00" * n) for n in sizes]
        self.erased = [bytearray(n // self.BLOCK) for n in sizes]
        self.calls = []

    def rom_ioctl(self, op, *a):
        self.calls.append(op)
        if op == 1:
            return len(self.segs)
        seg = a[0]
        if op == 2:
            return memoryview(self.segs[seg])
        if op == 6:
            return self.BLOCK
        if op == 3:
            off, n = (a[1], a[2]) if len(a) == 3 else (0, a[1])
            for blk in range(off // self.BLOCK, (off + n + self.BLOCK - 1) // self.BLOCK):
                self.segs[seg][blk * self.BLOCK:(blk + 1) * self.BLOCK] = b"\xff" * self.BLOCK
                self.erased[seg][blk] = 1
            return 16                                   # the minimum write
        if op == 4:
            off, buf = a[1], a[2]
            for blk in range(off // self.BLOCK, (off + len(buf) - 1) // self.BLOCK + 1):
                if not self.erased[seg][blk]:
                    return -5
            self.segs[seg][off:off + len(buf)] = buf
            return 0
        if op == 5:
            self.erased[seg] = bytearray(len(self.erased[seg]))
            return 0
        return -22


@_cleaned
def test_chip_writes_the_slot_segment_and_mounts_it_from_flash():
    fake = _FakeRom([16384, 3 * 8192, 3 * 8192])
    factory = bytes(fake.segs[0])
    romslot.VFS = fake
    try:
        d = _fresh("seg")
        for slot, tag in (("a", "sa"), ("b", "sb")):
            sd = d + "/" + slot
            slots._makedirs(sd)
            # a bigger image than one chunk: several writes, the last one padded
            big = _image(_file("big_%s.py" % tag, b"# " + b"x" * 9000 + b"\nN = 1\n"),
                         _file("romprobe_%s.py" % tag, b"TAG = %r\n" % tag))
            _write(sd + "/staged.bin", big)
            romslot.place(sd + "/staged.bin", sd, slot)
            eq(sorted(os.listdir(sd)), [romslot.SEGMENT], "slot keeps the segment index")
            seg = 1 if slot == "a" else 2
            eq(bytes(fake.segs[seg][:len(big)]), big, "segment %d" % seg)
            mp, buf = romslot.mount(sd, slot)
            eq(isinstance(buf, memoryview), True, "mounted from the mapped segment")
            eq(sorted(os.listdir(mp)), ["big_%s.py" % tag, "romprobe_%s.py" % tag], "list")
            with open(mp + "/romprobe_%s.py" % tag) as f:
                eq(f.read(), "TAG = %r\n" % tag, "file")
            fake.umount(mp)
        eq(bytes(fake.segs[0]), factory, "the factory segment untouched")
        eq(fake.calls.count(5), 2, "write-done calls")

        # too few segments: slot b has none
        romslot.VFS = _FakeRom([16384, 8192])
        e = raises(romslot.RomError, romslot.target_segment, "b")
        if "slot b needs ROMFS segment 2; this firmware has 2" not in str(e):
            raise AssertionError(str(e))
        eq(romslot.target_segment("a"), 1, "slot a")

        # an image larger than the segment: refused before erasing anything
        small = _FakeRom([16384, 8192, 8192])
        romslot.VFS = small
        sd = _fresh("seg-big") + "/a"
        slots._makedirs(sd)
        _write(sd + "/staged.bin", _image(_file("x.py", b"#" * 9000)))
        e = raises(romslot.RomError, romslot.place, sd + "/staged.bin", sd, "a")
        if "ROMFS segment 1 holds 8192" not in str(e):
            raise AssertionError(str(e))
        eq(3 in small.calls, False, "no erase")
    finally:
        romslot.VFS = None


@_cleaned
def test_chip_without_rom_ioctl_refuses():
    class NoRom:
        pass
    romslot.VFS = NoRom()
    on_host = romslot._on_host
    romslot._on_host = lambda: False
    try:
        e = raises(romslot.RomError, romslot.target_segment, "a")
        if "no ROMFS partitions" not in str(e):
            raise AssertionError(str(e))
    finally:
        romslot._on_host = on_host
        romslot.VFS = None
    eq(romslot.target_segment("a"), None, "the unix port: a file in the slot")
