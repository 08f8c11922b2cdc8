"""Who holds the firmware's heap: every live block of the GC heap, attributed.

    PYTHONPATH=tools .venv/bin/python -m ata.heap_holders      # ~15 s, no PBX needed
    ... -m ata.heap_holders --micropython BIN --arch x86 --frozen   # a 32-bit build's heap

Runs the heap census (tools/ata/heap_census_mp.py under simboot, the ROMFS image
mounted as in `ata bench --only heap`) with `--holders`: after boot and again with a
call's RTP session and media up, tools/ata/heap_dump_mp.py writes the heap's bytes
and its block map. Here every allocation is given to the first root that reaches it
through the words it holds, as MicroPython's own collector marks (a word that points
into an allocation's first block keeps it), walking the roots in this order:

1. each firmware module in sys.modules and each class it names (their globals,
   methods, functions, raw code, constant and name tables): the code;
2. the firmware's objects (board, media, call control, user agent, line, port,
   supervisor, application): the state;
3. the census's own coroutine and its dump module: what only the census holds (its
   locals: main.py's globals, which a board keeps in __main__, the config, modules
   main.py drops after boot);
4. asyncio (its task queue);
5. the sim's own modules and every instance of a class they define: the virtual
   pins, timers, I2S and phone link that a board has in silicon.

A walk stops at any other root, so a module that imports another does not take it.
What no root reaches is the VM's own: the qstr pools (allocations that hold a pool
header) and the rest (sys.modules' table, sys.path, ...). Figures are in bytes; the GC
block (4 words: 32 bytes on x64, 16 on a 32-bit build) is the unit. With --micropython
the census runs on a unix MicroPython of one's own (docs/bench-heap.md, On 32 bits,
measured), from the ROMFS image built for its arch or, with --frozen, on the firmware
frozen into it (then there is no image buffer, and nothing of the code's tables to
count as kept in flash: they are). docs/bench-heap.md has the figures and the reading.
"""
import argparse
import collections
import pathlib
import re
import struct
import subprocess
import sys
import tempfile


BLOCK_WORDS = 4                              # a GC block: 32 bytes on x64, 16 on 32 bits
SIM_MODULES = ("board", "vmachine", "phonelink", "codec", "vesp32")   # boards/sim
_LINE = re.compile(r"^[0-9a-f]{8}: (.*)$")
_FREE = re.compile(r"^\s*\((\d+) lines all free\)")
_POOL = re.compile(r"qstr pool: .*n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def parse_map(lines):
    """(heap start address, one character per block) from mem_info(1)'s output."""
    text = "".join(lines)
    start = int(re.search(r"GC memory layout; from ([0-9a-f]+)", text).group(1), 16)
    cells = []
    for line in lines:
        m = _LINE.match(line.rstrip("\n"))
        if m:
            cells.append(m.group(1))
        m = _FREE.match(line)
        if m:
            cells.append("." * 64 * int(m.group(1)))
    return start, "".join(cells)


class Heap:
    """The heap's bytes and block map: allocations by their first block. A block is
    4 words on every port: 32 bytes on x64, 16 on a 32-bit build (word=4)."""

    def __init__(self, start, kinds, data, word=8, romfs=True):
        self.start, self.kinds, self.word = start, kinds, word
        self.block_bytes = BLOCK_WORDS * word
        self.words = struct.unpack("<%d%s" % (len(data) // word, "Q" if word == 8 else "I"), data)
        self.data = data
        self.size = {}                       # first block -> blocks
        i, n = 0, len(kinds)
        while i < n:
            if kinds[i] in ".=":
                i += 1
                continue
            j = i + 1
            while j < n and kinds[j] == "=":
                j += 1
            self.size[i] = j - i
            i = j
        # the ROMFS image buffer, one allocation (the unix port has no flash to map it
        # from); a frozen build has none
        self.image = max(self.size, key=self.size.get) if romfs else None

    def block(self, word):
        """The allocation a word points into the first block of, or None."""
        off = word - self.start
        if 0 <= off < len(self.kinds) * self.block_bytes:
            b = off // self.block_bytes
            if b in self.size:
                return b
        return None

    def refs(self, b):
        for k in range(b * 4, (b + self.size[b]) * 4):
            t = self.block(self.words[k])
            if t is not None:
                yield t

    def is_pool(self, b):
        """A qstr pool: prev, total_prev_len, alloc, len, hashes, lengths, qstrs[alloc]."""
        w, word = self.words[b * 4: b * 4 + 4], self.word
        return (self.size[b] > 1 and 0 < w[3] <= w[2] < 1 << 20
                and self.size[b] * self.block_bytes >= word * (6 + w[2])
                and 0 < w[1] & ((1 << (8 * word - 1)) - 1) < 1 << 20)

    def bytes_of(self, b):
        return self.size[b] * self.block_bytes


def attribute(heap, roots, sim_types):
    """(got, pools, rest, owner): got is {root label: Counter(type address: bytes)} in
    walking order (see the module's doc), with the sim's classes and instances the
    firmware reaches under one label; pools and rest are the bytes no root reaches
    (qstr pools, and the rest less the image buffer); owner is {block: label}."""
    owner = {}
    stops = {heap.block(a) for _, _, a in roots} - {None}
    got = collections.OrderedDict()

    def is_sim(b):                  # a class the sim defines, or an instance of one
        return heap.words[b * 4] in sim_types or heap.start + b * heap.block_bytes in sim_types

    def walk(label, first, keep_out_sim):
        todo = [first]
        while todo:
            b = todo.pop()
            if b in owner or (keep_out_sim and is_sim(b)):
                continue
            owner[b] = label
            got.setdefault(label, collections.Counter())[heap.words[b * 4]] += heap.bytes_of(b)
            todo.extend(t for t in heap.refs(b) if t not in owner and (t not in stops or t == first))

    for side, label, addr in roots:
        b = heap.block(addr)
        if b is not None and b not in owner:
            walk(label, b, side != "sim")
    for b in list(heap.size):
        if b not in owner and is_sim(b):
            walk("sim: classes and instances the firmware holds", b, False)
    pools = sum(heap.bytes_of(b) for b in heap.size if b not in owner and heap.is_pool(b))
    rest = sum(heap.bytes_of(b) for b in heap.size
               if b not in owner and b != heap.image and not heap.is_pool(b))
    return got, pools, rest, owner


def flash_kept(heap, owner, names):
    """Of what the firmware's modules hold, what a frozen build keeps in flash instead
    (mpy-tool.py freezes them as C data), by kind, in bytes: each module's name and
    constant tables (mp_module_context_t's qstr_table and obj_table), the constant
    objects the latter points to (str, bytes, tuple, float; a tuple's items too), and
    the raw code a function keeps for the code it defines (child_table, the raw code
    records it points to and theirs)."""
    by_name = {n: t for t, n in names.items()}
    module, function = by_name["module"], by_name["function"]
    consts = {by_name[n] for n in ("str", "bytes", "tuple", "float") if n in by_name}
    tuple_t = by_name.get("tuple")
    kept = collections.Counter()
    seen = set()

    def take(b, kind):
        if b is None or b in seen:
            return False
        seen.add(b)
        kept[kind] += heap.bytes_of(b)
        return True

    def const(b):
        if b is not None and heap.words[b * 4] in consts and take(b, "constant objects"):
            if heap.words[b * 4] == tuple_t:
                for k in range(b * 4 + 2, b * 4 + 2 + heap.words[b * 4 + 1]):
                    const(heap.block(heap.words[k]))

    def raw_code(table):
        if take(table, "raw code"):
            for k in range(table * 4, (table + heap.size[table]) * 4):
                rc = heap.block(heap.words[k])
                if take(rc, "raw code"):
                    raw_code(heap.block(heap.words[rc * 4 + 2]))   # its children

    for b, label in list(owner.items()):
        if not label.startswith("module:") or label[7:] in SIM_MODULES:
            continue
        if heap.words[b * 4] == module:
            # one allocation holds both tables (mp_module_context_alloc_tables): the
            # names (2 bytes each), then the constants' pointers up to its end
            table = heap.block(heap.words[b * 4 + 2])
            if take(table, "name and constant tables"):
                first = (heap.words[b * 4 + 3] - heap.start) // heap.word
                for k in range(max(first, table * 4), (table + heap.size[table]) * 4):
                    const(heap.block(heap.words[k]))
        elif heap.words[b * 4] == function:
            raw_code(heap.block(heap.words[b * 4 + 2]))
    return kept


def name_table_bytes(heap, owner, names):
    """Bytes of the firmware modules' name tables alone (2 bytes a name, rounded up to
    a word: the first part of each module's tables, up to its constant table). A
    32-bit build needs as many (a name is a 16-bit index there too), where the
    constant table's pointers halve."""
    module = {n: t for t, n in names.items()}["module"]
    n = 0
    for b, label in owner.items():
        if label.startswith("module:") and label[7:] not in SIM_MODULES \
                and heap.words[b * 4] == module:
            qstr_table, obj_table = heap.words[b * 4 + 2], heap.words[b * 4 + 3]
            if heap.block(qstr_table) is not None:
                n += obj_table - qstr_table
    return n


def order(roots):
    """The walking order of the module's doc."""
    def rank(r):
        side, label, _ = r
        if side == "sim":
            return 5
        if label.startswith("module:asyncio"):
            return 4
        if side == "census":
            return 3
        if label.startswith("module:"):
            return 1
        return 2
    return sorted(roots, key=rank)


def _address(text, word):
    """An object's address from the id() it printed. id() gives an address below half
    the address space as a small int, which has one bit less than a word: on a 32-bit
    build an address in [2**30, 2**31) (where the unix port keeps its builtin types)
    comes out less 2**31, negative."""
    v = int(text)
    return v + (1 << (8 * word - 1)) if v < 0 else v


def run(img, micropython=None, word=8):
    """Boot the census with --holders; returns [(tag, Heap, roots, sim types, type
    names, qstr pool bytes by micropython.qstr_info() just before the dump)]. img None:
    the code frozen into `micropython`; word: its bytes per word (4 on a 32-bit build)."""
    from .heap_census import command
    out = []
    with tempfile.TemporaryDirectory(prefix="ata-holders-") as d:
        argv, env = command(img, d, "--holders", ",".join(SIM_MODULES), micropython=micropython)
        p = subprocess.Popen(argv, cwd=d, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        try:
            tag, lines, in_map = None, [], False
            roots, sim_types, names, pool = [], set(), {}, None
            for line in p.stdout:
                m = _POOL.search(line)
                if m:
                    pool = int(m.group(2)) - int(m.group(1))
                if line.startswith("holders: dump "):
                    tag, lines, roots, sim_types, names = line.split()[2], [], [], set(), {}
                elif line.startswith("holders: map end"):
                    in_map = False
                    start, kinds = parse_map(lines)
                    dump = pathlib.Path(d) / ("heap-%s.bin" % tag)
                    p.stdin.write("%d\n%d\n%s\n" % (start, len(kinds) * BLOCK_WORDS * word, dump))
                    p.stdin.flush()
                elif line.startswith("holders: map"):
                    in_map = True
                elif in_map:
                    lines.append(line)
                elif line.startswith("holders: root "):
                    side, label, addr = line.split()[2:5]
                    roots.append((side, label.replace("~", " "), _address(addr, word)))
                elif line.startswith("holders: type "):
                    label, addr, side = line.split()[2:5]
                    addr = _address(addr, word)
                    names[addr] = label.replace("~", " ")
                    if side == "sim":
                        sim_types.add(addr)
                    if side != "builtin":
                        # a class is its module's code, whoever reaches it first
                        # (a Task's type is asyncio's, not the task holder's)
                        roots.append((side, "module:" + label.rsplit(".", 1)[0], addr))
                elif line.startswith("holders: end"):
                    heap = Heap(start, kinds, dump.read_bytes(), word, romfs=img is not None)
                    # a class lives in the heap; a builtin a sim module names does not
                    sim_types = {t for t in sim_types if heap.block(t) is not None}
                    out.append((tag, heap, roots, sim_types, names, pool))
            p.stdin.close()
        finally:
            p.kill()
            p.wait()
    if not out:
        raise RuntimeError("the census printed no heap dump")
    return out


def groups(heap, roots, sim_types):
    """({group: bytes}, {root label: Counter(type address: bytes)}, live heap less
    the image buffer, the image buffer's bytes, {block: root label})."""
    got, pools, rest, owner = attribute(heap, order(roots), sim_types)
    image = heap.bytes_of(heap.image) if heap.image is not None else 0   # never reached
    total = sum(heap.size.values()) * heap.block_bytes - image
    groups = collections.OrderedDict((g, 0) for g in (
        "firmware code (modules)", "firmware state (objects)", "asyncio",
        "the census's own (main.py's globals, config)", "sim's virtual hardware"))
    for label, by_type in got.items():
        n = sum(by_type.values())
        if label == "census task" or label == "module:heap_dump_mp":
            g = "the census's own (main.py's globals, config)"
        elif label.startswith("sim") or label.startswith("module:") and label[7:] in SIM_MODULES:
            g = "sim's virtual hardware"
        elif label.startswith("module:asyncio"):
            g = "asyncio"
        elif label.startswith("module:"):
            g = "firmware code (modules)"
        else:
            g = "firmware state (objects)"
        groups[g] += n
    groups["VM: qstr pools"] = pools
    groups["VM: the rest (sys.modules, sys.path, ...)"] = rest
    return groups, got, total, image, owner


def report(tag, heap, roots, sim_types, names, pool=None, top=12):
    by_group, got, total, image, owner = groups(heap, roots, sim_types)
    if heap.image is not None:
        code, left = "ROMFS", " (ROMFS image buffer of %d B left out)" % image
    else:
        code, left = "frozen", ""
    lines = ["who holds the heap: %s (%s, %d-bit), live heap %d B%s" % (
        tag.replace("-", " "), code, 8 * heap.word, total, left)]
    for g, n in by_group.items():
        lines.append("  %-44s %8d" % (g, n))
    if heap.image is not None:
        kept = flash_kept(heap, owner, names)
        lines.append("  of the firmware's code, a frozen build keeps in flash: %s; and the "
                     "names (qstr pools)" % ", ".join("%s %d" % kv for kv in kept.items()))
    lines.append("  largest holders (type: bytes):")
    ranked = sorted(got.items(), key=lambda kv: -sum(kv[1].values()))
    for label, by_type in ranked[:top]:
        kinds = sorted(((names.get(t, "other"), n) for t, n in by_type.items()), key=lambda x: -x[1])
        merged = collections.Counter()
        for k, n in kinds:
            merged[k] += n
        lines.append("  %8d  %-30s %s" % (sum(by_type.values()), label,
                                          ", ".join("%s %d" % kv for kv in merged.most_common(4))))
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ata.heap_holders", description=__doc__.split("\n")[0])
    ap.add_argument("--top", type=int, default=12, help="holders listed (default 12)")
    ap.add_argument("--micropython", metavar="BIN", help="on this unix MicroPython instead "
                    "of the venv's (a 32-bit build: docs/bench-heap.md, On 32 bits, measured)")
    ap.add_argument("--arch", default="x64", choices=("x64", "x86"),
                    help="with --micropython: its arch (x86: 4-byte words, 16-byte blocks)")
    ap.add_argument("--frozen", action="store_true", help="with --micropython: the firmware "
                    "is frozen into it (boards/sim/frozen/manifest.py), no ROMFS image")
    a = ap.parse_args(argv)
    if (a.frozen or a.arch != "x64") and not a.micropython:
        ap.error("--frozen and --arch need --micropython")
    from .heap_bench import image_for
    img = None if a.frozen else image_for(a.arch)
    for dump in run(img, a.micropython, 4 if a.arch == "x86" else 8):
        print(report(*dump, top=a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
