"""ata.heap_holders: every live block of the firmware's heap is given to one holder,
the qstr pools it finds are the ones MicroPython counts, and the walk reaches the
firmware (what no root reaches is the VM's own, small)."""
import pytest

from ata import heap_holders
from ata.heap_bench import image


@pytest.fixture(scope="module")
def dumps():
    return heap_holders.run(image())


def test_after_boot_and_in_a_call_are_dumped(dumps):
    assert [d[0] for d in dumps] == ["after-boot", "in-a-call"]


@pytest.mark.parametrize("which", [0, 1])
def test_every_block_has_one_holder_and_the_pools_match_qstr_info(dumps, which):
    tag, heap, roots, sim_types, names, pool = dumps[which]
    by_group, got, total, image_bytes, _ = heap_holders.groups(heap, roots, sim_types)
    assert sum(by_group.values()) == total
    assert image_bytes > 100_000             # the ROMFS image buffer, left out
    # pools found by their headers == micropython.qstr_info()'s pool bytes (its
    # n_total_bytes less the names, which stay in the image)
    assert by_group["VM: qstr pools"] == pool, (by_group, pool)
    # the walk follows the firmware's references: the VM keeps only a few KB alone
    assert by_group["VM: the rest (sys.modules, sys.path, ...)"] < 16 * 1024, by_group
    assert by_group["firmware code (modules)"] > 60 * 1024, by_group
    assert by_group["sim's virtual hardware"] > 4 * 1024, by_group
    # the sim's modules are its roots, and no firmware holder counts an instance of
    # a class they define (the sim's virtual pins, timers, I2S are not firmware)
    sim_roots = {label for side, label, _ in roots if side == "sim"}
    assert {"module:board", "module:vmachine", "module:phonelink"} <= sim_roots
    assert sim_types
    for label, by_type in got.items():
        if not label.startswith("sim") and label not in sim_roots:
            assert not set(by_type) & sim_types, label


def test_a_call_renews_the_rtp_session_made_at_boot_and_adds_little(dumps):
    """The line's RTP session with its ring and buffers (~8 KB on x64) is made at boot
    and renewed for each call (firmware/callctl.py): the call's state grows by its
    sockets' polls and RTCP buffers, not by a session."""
    boot = heap_holders.groups(*dumps[0][1:4])[0]
    call = heap_holders.groups(*dumps[1][1:4])[0]
    labels = {label for _, label, _ in dumps[1][2]}
    assert "rtp session" in labels
    grown = call["firmware state (objects)"] - boot["firmware state (objects)"]
    assert 0 < grown < 4 * 1024, grown


def test_the_esp32_board_module_is_imported_from_its_own_image(tmp_path):
    """The bench's ESP32 figure swaps the sim's board for the ESP32's: its board.py
    (with slic.rmt_ring, which only the ESP32 board imports) from the ESP32's image."""
    from ata import heap_bench
    img = heap_bench.image("esp32_ag1171")
    n = heap_bench.esp32_board_module(img)
    assert 1024 < n < 16 * 1024, n
    # without the stand-in `network` the ESP32's board.py cannot be imported: it is
    # that file, not the sim's board, that the figure measures
    r = heap_bench.board_module_run(img, tmp_path)
    assert r.returncode != 0 and "network" in r.stdout + r.stderr, r.stdout + r.stderr


def _tables_bytes(mpy):
    """A module's name and constant tables as the loader allocates them from its .mpy
    header (py/bc.h mp_module_context_alloc_tables): names 2 bytes each, rounded up
    to words, then a word per constant; in 32-byte GC blocks on x64."""
    data = mpy.read_bytes()
    i = 4 + (1 if data[2] & 0x40 else 0)       # MP_NATIVE_ARCH_FLAGS_PRESENT: a varint
    vals = []
    for _ in range(2):
        v = 0
        while True:
            v = (v << 7) | (data[i] & 0x7F)
            i += 1
            if not data[i - 1] & 0x80:
                break
        vals.append(v)
    n_qstr, n_obj = vals
    words = (2 * n_qstr + 7) // 8 + n_obj
    return (8 * words + 31) // 32 * 32


@pytest.mark.parametrize("which", [0, 1])
def test_what_a_frozen_build_keeps_in_flash_matches_the_mpy_headers(dumps, which):
    """flash_kept's tables are the loaded modules' tables to the byte, as their .mpy
    headers size them (found through each module's context in the heap dump)."""
    from ata import paths
    tag, heap, roots, sim_types, names, pool = dumps[which]
    owner = heap_holders.attribute(heap, heap_holders.order(roots), sim_types)[3]
    kept = heap_holders.flash_kept(heap, owner, names)
    tree = paths.BUILD / "boards" / "sim"
    want = 0
    loaded = {label[7:] for side, label, _ in roots
              if side == "fw" and label.startswith("module:")}   # modules and their classes
    for name in sorted(loaded):
        if name.startswith("asyncio"):
            continue
        parts = name.split(".")
        for base in (tree, tree / "lib"):
            f = base.joinpath(*parts).with_suffix(".mpy")
            g = base.joinpath(*parts, "__init__.mpy")
            if f.exists() or g.exists():
                want += _tables_bytes(f if f.exists() else g)
                break
        else:
            raise AssertionError("no .mpy for " + name)
    assert kept["name and constant tables"] == want, (kept, want)
    assert kept["constant objects"] > 8 * 1024 and kept["raw code"] > 0, kept


def test_a_32_bit_heap_is_read_in_4_byte_words_and_16_byte_blocks():
    """--arch x86 (a 32-bit unix build, docs/bench-heap.md): the same walk over 4-byte
    words. Three allocations: a root of one block pointing at a two-block one, which
    points at a third; a fourth nothing reaches is the VM's rest, and a frozen build
    has no image buffer to leave out."""
    import struct
    start = 0xF7A00000
    kinds = "hh=h" + "h"                      # blocks 0, 1-2, 3, 4
    words = [0] * (len(kinds) * 4)
    words[0], words[1] = 0x566DBB24, start + 16          # type, -> block 1
    words[4], words[6] = 0x566DBB24, start + 48          # -> block 3 (from its third word)
    words[12] = 0x1234                                   # block 3: no pointers
    words[16] = 0x566DBB24                               # block 4: unreached
    heap = heap_holders.Heap(start, kinds, struct.pack("<%dI" % len(words), *words), word=4,
                             romfs=False)
    assert heap.block_bytes == 16 and heap.size == {0: 1, 1: 2, 3: 1, 4: 1}
    assert heap.block(start + 20) == 1 and heap.block(start + 32) is None   # a tail block
    got, pools, rest, owner = heap_holders.attribute(heap, [("fw", "root", start)], set())
    assert sorted(owner) == [0, 1, 3] and sum(got["root"].values()) == 64, (owner, got)
    assert (pools, rest) == (0, 16)
    by_group, _, total, image, _ = heap_holders.groups(heap, [("fw", "root", start)], set())
    assert (total, image) == (80, 0), (total, image)


def test_ids_that_wrapped_as_small_ints_are_addresses_again():
    # id() of an object at an address in [2**30, 2**31) on a 32-bit build is a small
    # int one bit short: it comes out less 2**31 (seen: the unix port's builtin types)
    assert heap_holders._address(str(0x566DBB24 - (1 << 31)), 4) == 0x566DBB24
    assert heap_holders._address("4155043024", 4) == 4155043024
    assert heap_holders._address("140737488355328", 8) == 140737488355328


def test_the_census_runs_frozen_on_a_build_of_ones_own(tmp_path):
    # --micropython BIN --frozen: simboot --frozen on BIN, and board.json in the run
    # folder, where a frozen board keeps it (the sim's board reads it from there)
    from ata import heap_census, paths
    argv, env = heap_census.command(None, tmp_path, "--holders", "board", micropython="/x/mp")
    assert argv[0] == "/x/mp" and "--frozen" in argv and "--romfs" not in argv, argv
    assert (tmp_path / "board.json").read_bytes() == \
        (paths.ROOT / "boards" / "sim" / "board.json").read_bytes()
    img = tmp_path / "sim.romfs"
    argv, env = heap_census.command(img, tmp_path)
    assert argv[0] == str(paths.MICROPYTHON) and argv[argv.index("--romfs") + 1] == str(img), argv
