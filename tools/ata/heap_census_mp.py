# Heap census (runs on MicroPython under tools/ata/simboot.py, not CPython): boots the
# firmware's pieces in main.py's order, step by step, and prints the live heap each
# import and each object takes (gc.mem_alloc() after a collection, before and after).
#
#   micropython simboot.py --romfs IMAGE heap_census_mp.py firmware/main.py --config FILE
#
# Imports are counted through builtins.__import__: a module's own figure leaves out
# the modules it imports the first time (they get their own rows, indented).
# Driven by tools/ata/heap_census.py (`python -m ata.heap_census`). With --holders
# (tools/ata/heap_holders.py) it also dumps the heap after boot and in a call, and
# does not count imports.
import builtins
import gc
import micropython
import sys

_orig_import = builtins.__import__
_rows = []         # [depth, label, own bytes, bytes with what it imported]
_depth = [0]
HOLDERS = "--holders" in sys.argv   # --holders SIM_MODULES (comma-separated)


def live():
    gc.collect()
    return gc.mem_alloc()


def _import(name, *args):
    if name in sys.modules and not (len(args) > 2 and args[2]):
        return _orig_import(name, *args)
    before_mods = len(sys.modules)
    row = [_depth[0], name, 0, 0]
    _rows.append(row)
    _depth[0] += 1
    kids = len(_rows)
    _q(row)
    t0 = live()
    try:
        mod = _orig_import(name, *args)
    finally:
        _depth[0] -= 1
    total = live() - t0
    _q(row)
    if len(sys.modules) == before_mods:
        _rows.remove(row)                # nothing new loaded (a from-import of a loaded one)
        return mod
    row[3] = total
    row[2] = total - sum(r[3] for r in _rows[kids:] if r[0] == row[0] + 1)
    return mod


def _q(row):
    """The qstr pool's size now (printed: tools/ata/heap_census.py reads it)."""
    print("census-q %d" % id(row))
    micropython.qstr_info()


def step(label, fn, *args):
    _rows.append([0, "= " + label, 0, 0])
    row = _rows[-1]
    kids = len(_rows)
    _q(row)
    t0 = live()
    _depth[0] += 1
    try:
        out = fn(*args)
    finally:
        _depth[0] -= 1
    total = live() - t0
    _q(row)
    row[3] = total
    row[2] = total - sum(r[3] for r in _rows[kids:] if r[0] == 1)
    return out


def report(t_start):
    for row in _rows:
        depth, label, n, total = row
        print("census: %d %d %s %d %d" % (id(row), depth, label.replace(" ", "~"), n, total))
    print("census: total %d bytes live (image excluded: %d at start)" % (live() - t_start, t_start))
    micropython.qstr_info()


def holders(tag, app, port, more=()):
    """With --holders: the heap's bytes and roots for tools/ata/heap_holders.py."""
    import asyncio
    here = sys.argv[0].rsplit("/", 1)[0]
    if here not in sys.path:
        sys.path.append(here)
    import heap_dump_mp
    print("holders: dump %s" % tag)
    heap_dump_mp.dump([("census task", asyncio.current_task().coro), ("board", app.board),
                       ("media", port.media), ("call control", port.calls),
                       ("user agent", port.sip), ("line", port.line), ("port", port),
                       ("supervisor", app.supervisor), ("application", app)] + list(more),
                      sys.argv[sys.argv.index("--holders") + 1].split(","))
    del sys.modules["heap_dump_mp"]


class _Port:
    """fxsport.FxsPort's fields, filled one by one below."""


def main():
    import asyncio
    t_start = live()
    if not HOLDERS:     # the dumps need no import rows, and on a 32-bit build the hook's
        builtins.__import__ = _import     # nesting overran the C stack (RuntimeError)
    path = sys.argv[sys.argv.index("--config") + 1]
    with open(sys.argv[1]) as f:
        src = f.read()
    g = {"__name__": "fwmain"}
    code = step("main.py compiled from source", compile, src, "main.py", "exec")
    del src
    step("main.py run (its functions)", exec, code, g)
    del code
    step("choose_slot (ota.agent, dropped)", g["choose_slot"])
    log = g["log"]
    application = step("import application", __import__, "application")
    application._CTX.update(version=g["VERSION"], log=log, log_sink=g["_LOG_SINK"],
                            ota_boot=g["_OTA"][0] if g["_OTA"] else None, ota_fw=None,
                            reset=g["reset_board"])
    import board
    import safemode
    cfg = step("config loaded (safemode.load)", lambda: safemode.load(path, board.check_config, log)[0])
    app = step("App", application.App, cfg, path)

    async def run():
        app.board = step("Board()", board.Board, cfg, log)
        ip = await app.board.network_up()
        step("imports fxsport, supervisor", lambda: [
            __import__("fxsport"), __import__("supervisor")])
        from supervisor import Supervisor
        import fxsport
        sup = app.supervisor = step("Supervisor()", Supervisor, log, app.make_safe)
        port = _Port()
        # FxsPort.__init__ by hand, piece by piece
        port.n, port.cfg, port.log, port.suffix, port.tasks = 1, cfg, log, "", []
        step("imports country, callctl, line, media", lambda: [
            __import__(n) for n in ("country", "callctl", "line", "media")])
        import country
        from callctl import CallControl
        from line import Line
        from media import Media
        port.media = step("Media()", Media, app.board.ports[0], log)
        port.calls = step("CallControl() (incl. UserAgent)", CallControl, cfg, ip, log)
        port.sip = port.calls.ua
        plan = step("country.plan()", country.plan, cfg["line"]["country"])
        port.line = step("Line()", Line, app.board.ports[0], plan, cfg["line"], port.media,
                         port.calls.line_event, log)
        step("attach", port.calls.attach, port.line, port.media)
        app.ports.append(port)
        app.media, app.calls, app.sip, app.line = port.media, port.calls, port.sip, port.line
        app.lines = [port.line]
        step("supervise (media, line tasks)", fxsport.FxsPort.supervise, port, sup)
        step("watchdog, config_keeper tasks", lambda: [
            sup.spawn("watchdog", app._feed_watchdog),  # pyright: ignore
            sup.spawn("config_keeper", app._keep_config_when_registered)])
        row = [0, "= calls.start() (UA socket, tasks) + 300 ms", 0, 0]
        _rows.append(row)
        _q(row)
        t0 = live()
        await port.calls.start()
        await asyncio.sleep_ms(300)
        row[2] = row[3] = live() - t0
        _q(row)
        step("drop config, cfgports, country modules", lambda: [
            sys.modules.pop(n, None) for n in ("config", "cfgports", "country")])
        app._board_name = board.Board.name
        _rows.append([0, "-- after boot: %d bytes live" % (live() - t_start), 0, 0])
        if HOLDERS:
            holders("after-boot", app, port)
        # the console's REPL: loaded when its first input byte arrives
        step("console (on first input)", lambda: __import__("console").Console(app))
        # what a call makes (without a far end): its RTP session, the media started
        calls = port.calls
        step("RtpSession (calls._open_rtp)", calls._open_rtp)
        step("media.start_call (pcmu)", port.media.start_call, calls.rtp, 0, calls.plc)
        from sip.sdp import offer
        step("an SDP offer", offer, ip, calls.rtp.local_port, 2, calls.codecs, 101)
        if HOLDERS:      # (built only then: a stale copy on the stack would keep the session)
            holders("in-a-call", app, port, [("rtp session", calls.rtp)])
        step("calls._close_rtp", calls._close_rtp)
        builtins.__import__ = _orig_import
        report(t_start)
        await port.calls.stop()

    asyncio.run(run())


main()
