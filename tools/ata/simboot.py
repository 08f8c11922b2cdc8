# Boot shim for the sim board (runs on MicroPython, not CPython): hold the firmware's
# code the way a board does, then run main.py from source as the board's boot does.
#
#   micropython simboot.py --romfs IMAGE [--heap-trace MS] MAIN.py ARGS...
#   micropython simboot.py --tree DIR    [--heap-trace MS] MAIN.py ARGS...
#   micropython simboot.py --frozen      [--heap-trace MS] MAIN.py ARGS...
#
# --romfs: the board's ROMFS image (`ata build --romfs`) is mounted with vfs.VfsRom at
#   /rom and /rom, /rom/lib come first on sys.path, as on a board with a ROMFS
#   partition: imports run the bytecode in place. The unix port has no flash, so the
#   image is read into one heap buffer; its size is printed, and every heap figure
#   below leaves it out.
# --tree: the board's .mpy tree (`ata build`) on the filesystem: bytecode loaded
#   into the heap, as from a board's flash filesystem.
# --frozen: the code is frozen into this MicroPython binary (a unix build whose
#   frozen manifest holds the board's .mpy tree, as boards/esp32_ag1171/frozen does
#   the ESP32's): nothing on sys.path but the filesystem and .frozen.
# --heap-trace MS: every MS milliseconds collect garbage and print the live heap
#   ("heap: live N max M", bytes, image excluded).
import gc
import sys

_IMAGE = 0


def _mount(path):
    global _IMAGE
    import vfs
    with open(path, "rb") as f:
        buf = f.read()
    vfs.mount(vfs.VfsRom(buf), "/rom")
    _IMAGE = len(buf)
    print("simboot: romfs %s, %d bytes at /rom (image buffer in the heap: left out "
          "of heap figures)" % (path, _IMAGE))


def live_heap():
    gc.collect()
    return gc.mem_alloc() - _IMAGE


def _trace(period_ms):
    """Wrap asyncio.run so a sampler task runs beside the firmware's own."""
    import asyncio
    run = asyncio.run

    async def sampler():
        top = 0
        while True:
            now = live_heap()
            top = max(top, now)
            print("heap: live %d max %d" % (now, top))
            await asyncio.sleep_ms(period_ms)

    async def both(coro):
        t = asyncio.create_task(sampler())
        try:
            return await coro
        finally:
            t.cancel()

    asyncio.run = lambda coro: run(both(coro))


def boot(argv):
    args = argv[1:]
    roots = None
    trace = 0
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--frozen":
            roots = []
            continue
        val = args.pop(0)
        if opt == "--romfs":
            _mount(val)
            roots = ["/rom", "/rom/lib"]
        elif opt == "--tree":
            roots = [val, val + "/lib"]
        elif opt == "--heap-trace":
            trace = int(val)
        else:
            raise SystemExit("simboot: unknown option " + opt)
    if roots is None:
        raise SystemExit("simboot: --romfs IMAGE, --tree DIR or --frozen needed")
    # A board's order: its filesystem (cwd), frozen modules, then the code.
    sys.path[:] = ["", ".frozen"] + roots
    print("simboot: heap after mount %d" % live_heap())
    if trace:
        _trace(trace)
    main = args[0]
    sys.argv[:] = args
    with open(main) as f:
        src = f.read()
    code = compile(src, main, "exec")
    del src
    exec(code, {"__name__": "__main__", "__file__": main})


boot(sys.argv)
