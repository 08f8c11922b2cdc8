# The ATA firmware's entry point: the code's A/B slot, then the application
# (application.py: config, board, line, media, call control, console).
# On a board it runs from /main.py; on the host: micropython firmware/main.py --config FILE
import gc
import sys
import time

VERSION = "0.1.0"
DEFAULT_CONFIG = "config.json"
# Collect whenever a 32nd of the heap free at start has been allocated, not only when
# the heap is full. Left alone, the imports fill the heap with garbage (dicts
# outgrown, transient strings) and the collection that finally runs leaves the live
# objects strewn across it: the free heap then comes in pieces of a few KB, and a SIP
# datagram or a call's buffers find no piece to fit. Collecting early keeps the live
# objects packed at the bottom and the free heap in one run. A call's set-up and end
# are bursts of allocation that would strew its objects the same way, so it stays on
# after start. A share of the heap, as a collection sweeps all of it: ~3.5 KB on a
# PSRAM-less ESP32 (a 16th held ten calls in a row on the 32-bit sim in 120 KB, a
# 32nd in 112 KB; measured: docs/bench-heap.md, The heap a call needs, Calls back to
# back; the cost: docs/bench-cost.md, fifth round).
GC_SHARE = 32

_T0 = time.ticks_ms()
_OTA = []        # the slot this start runs (_Slot), chosen before the app imports
_OTA_FW = []     # a whole-firmware image on trial (ota.firmware's mark), if any
_TRIAL_FAILED = []   # the factory's agent.trial_failed: the slot's own may be the broken part
_LOG_SINK = []   # the console's filter: holds log lines while mpremote's raw REPL runs


def log(msg):
    t = time.ticks_diff(time.ticks_ms(), _T0)
    text = "[%6d.%03d] %s" % (t // 1000, t % 1000, msg)
    if _LOG_SINK:
        _LOG_SINK[0](text)
    else:
        print(text)


def reset_board(app=None):
    """Restart the board now, as its reset button would."""
    try:
        import machine
        machine.reset()                 # a board: does not return
    except (ImportError, AttributeError):
        pass
    # the sim: its runner plays the chip's watchdog (tools/ata/sim.py). Feeding stops
    # and the timeout becomes 0: the runner resets the board at once.
    import vmachine
    sup = app.supervisor if app is not None else None
    task = sup.tasks.get("watchdog") if sup is not None else None
    if task is not None:
        task.cancel()
    with open(vmachine.WDT.PATH, "w") as f:
        f.write("0\n")


def pins_safe():
    """RM low (no ring voltage) on every exit path, whatever state the firmware is in."""
    try:
        import board
        board.pins_safe()
    except Exception as e:  # noqa: the last thing that runs; must not hide the first error
        log("pins: could not make safe: %r" % (e,))


class _Slot:
    """The slot this start runs: ota.slots.Boot's fields, copied."""
    slot: "str | None"
    path: "str | None"
    version: str
    trial: bool
    note: str


def choose_slot():
    """Before any application module is imported: the A/B slot this start runs (its
    directory goes first on sys.path); a version on probation that did not prove
    itself is rolled back here. The flash filesystem's root is on the import path
    as on a board (the trusted key, ota_key.py, may live there)."""
    if "" not in sys.path:
        sys.path.append("")
    try:
        from ota import agent
    except ImportError:
        return None                  # a build without lib/ota
    fw = agent.boot_firmware(log)
    if fw is not None:
        _OTA_FW.append(fw)
    b = agent.boot_slot(VERSION, log)
    if b is not None:
        # its fields, copied: the ota.slots.Boot itself would keep its class and with
        # it the whole ota.slots module (~3.5 KB on x64) in the heap for the whole run
        rec = _Slot()
        for k, v in b.__dict__.items():
            setattr(rec, k, v)
        b = rec
    if (b is not None and b.trial) or fw is not None:
        # kept only for a version on trial: holding it keeps the factory agent's module
        # (~7 KB on x64) in the heap for the whole run
        _TRIAL_FAILED.append(agent.trial_failed)
    for name in [n for n in sys.modules if n == "ota" or n.startswith("ota.")]:
        del sys.modules[name]        # the application imports the slot's own lib/ota
    if b is not None:
        _OTA.append(b)
        if b.slot:
            log("ota: running %s from slot %s%s (%s)" % (b.version, b.slot,
                                                        " on probation" if b.trial else "", b.note))
        elif b.note != "factory":
            log("ota: running the factory application %s (%s)" % (b.version, b.note))
    return b


def main(argv):
    gc.collect()
    gc.threshold(gc.mem_free() // GC_SHARE)
    import asyncio
    path = DEFAULT_CONFIG
    if "--config" in argv:
        path = argv[argv.index("--config") + 1]
    slot = choose_slot()
    try:
        # The application from the code chosen above (application.py): its bytecode
        # runs from the image, where this file is compiled into the heap at each boot.
        import application
        asyncio.run(application.boot(path, version=VERSION, log=log, log_sink=_LOG_SINK,
                                      ota_boot=_OTA[0] if _OTA else None,
                                      ota_fw=_OTA_FW[0] if _OTA_FW else None,
                                      reset=reset_board))
    except Exception as e:
        if (slot is not None and slot.trial) or _OTA_FW:   # a new version failed to start
            pins_safe()
            _TRIAL_FAILED[0](slot, _OTA_FW[0] if _OTA_FW else None, e, log, reset_board)
            while True:                      # the sim: its runner resets the board
                time.sleep_ms(100)
        raise
    finally:
        pins_safe()


if __name__ == "__main__":
    main(sys.argv)
