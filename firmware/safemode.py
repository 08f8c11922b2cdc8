# Boot that never bricks the line: the config is taken from config.json, else from the
# last config that registered (config.good.json); with neither, safe mode keeps the
# line idle and the console up, says why, and looks for a usable config again until
# one appears (copied with mpremote or written at the console). Never sys.exit and
# never a reset loop: on a board either would leave the phone dead.
import os

SAFE_RETRY_MS = 5000     # safe mode: look for a usable config this often
LAST_GOOD = "config.good.json"   # the last config that registered with the PBX


def load(path, board_check, log):
    """(cfg, None) from path or else the last good config, or (None, reason).
    board_check(cfg) returns what the board cannot do with a config, or None."""
    reason = _try(path, board_check, log)
    if not isinstance(reason, str):
        return reason, None
    if path != LAST_GOOD:
        cfg = _try(LAST_GOOD, board_check, lambda _m: None)
        if not isinstance(cfg, str):
            log("config: %s unusable; using the last good configuration" % path)
            return cfg, None
    return None, reason


def _try(path, board_check, log):
    # imported here, not at the top: once the firmware is up main.py drops the config
    # module (its schema tables) from the heap, and nothing here may hold it
    import config
    try:
        cfg = config.load(path)
    except config.ConfigError as e:
        log("CONFIG ERROR %s" % e)
        return str(e)
    problem = board_check(cfg)
    if problem:
        log("CONFIG ERROR %s" % problem)
        return problem
    return cfg


def keep_good(path, log):
    """After the config registered with the PBX: keep a copy as config.good.json,
    written to a temporary file and renamed, so a power cut leaves the old copy or
    the new one, never half of one."""
    if path == LAST_GOOD:
        return
    tmp = LAST_GOOD + ".tmp"
    try:
        with open(path) as src, open(tmp, "w") as dst:
            dst.write(src.read())
        try:
            os.rename(tmp, LAST_GOOD)
        except OSError:           # FAT cannot rename over an existing file
            os.remove(LAST_GOOD)
            os.rename(tmp, LAST_GOOD)
        log("config: kept as %s (registered)" % LAST_GOOD)
    except OSError as e:
        log("config: could not keep %s: %s" % (LAST_GOOD, e))


async def wait_for_config(path, board_check, reason, log, console_app):
    """Safe mode: the line idle, the console up, until a usable config appears
    (returned) or the console is told to shut down (None)."""
    import asyncio
    from console import Console
    log("safe mode: %s; line idle, console up; looking for a usable %s every %d s"
        % (reason, path, SAFE_RETRY_MS // 1000))
    console_app.safe_reason = reason
    console = asyncio.create_task(Console(console_app).run())
    try:
        waited = 0
        while True:
            await asyncio.sleep_ms(100)
            if console.done():
                return None           # `shutdown` at the console
            waited += 100
            if waited < SAFE_RETRY_MS:
                continue
            waited = 0
            cfg, why = load(path, board_check, lambda _m: None)
            if cfg is not None:
                log("safe mode: %s is usable now, starting" % path)
                return cfg
            if why != console_app.safe_reason:
                log("safe mode: %s" % why)
                console_app.safe_reason = why
    finally:
        console.cancel()
