# The heap as bytes, for tools/ata/heap_holders.py (runs on MicroPython, not CPython).
#
# dump(roots, sim_modules): collects garbage, prints the GC's block map
# (micropython.mem_info(1): one character per 32-byte block on x64, the kind of each
# allocation's head block, "=" for the rest of it), then reads from stdin the heap's
# start, its size and a file name from the host, which has parsed the map, and
# writes the heap's bytes there (uctypes.bytearray_at). Then it prints what the host
# needs to attribute every block: the address of each root (each module in
# sys.modules, this one marked as the census's, then the named objects), of each
# class a module names (marked "sim" when one of the sim's own modules names it:
# their instances are the board's virtual hardware), and of the builtin types, so
# that the host can name what it finds.
import gc
import micropython
import sys


def _builtin_types():
    import array

    def fun():
        pass

    def make_closure():
        x = 1

        def inner():
            return x
        return inner

    def gen():
        yield 1

    class C:
        def m(self):
            pass
    return (("function", type(fun)), ("closure", type(make_closure())),
            ("generator", type(gen())), ("bound method", type(C().m)), ("dict", dict),
            ("list", list), ("tuple", tuple), ("str", str), ("bytes", bytes),
            ("bytearray", bytearray), ("array", array.array), ("class", type),
            ("module", type(sys)), ("set", set), ("memoryview", memoryview),
            ("float", float))


def dump(roots, sim_modules):
    import uctypes
    types = _builtin_types()
    gc.collect()
    print("holders: map")
    micropython.mem_info(1)
    print("holders: map end")
    start = int(sys.stdin.readline())
    size = int(sys.stdin.readline())
    path = sys.stdin.readline().strip()
    with open(path, "wb") as f:
        f.write(uctypes.bytearray_at(start, size))
    for name, mod in sys.modules.items():
        side = "sim" if name in sim_modules else "census" if name == __name__ else "fw"
        print("holders: root %s module:%s %d" % (side, name, id(mod)))
        for k in dir(mod):
            v = getattr(mod, k)
            if isinstance(v, type):
                print("holders: type %s.%s %d %s" % (name, k, id(v), side))
    for label, obj in roots:
        print("holders: root %s %s %d" % ("census" if label == "census task" else "fw",
                                          label.replace(" ", "~"), id(obj)))
    for label, t in types:
        print("holders: type %s %d builtin" % (label.replace(" ", "~"), id(t)))
    print("holders: end")
