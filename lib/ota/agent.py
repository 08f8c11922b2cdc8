# The device's update agent (issue 13; docs/ota.md): pull a signed bundle over
# HTTP(S) into the flash filesystem (fetch), check it (bundle), put it into the
# inactive A/B slot and restart on probation (slots); the health check marks the new
# version good, or rolls it back and restarts. Never started, switched or rolled
# back while the line is in use. The firmware hands in what only it knows, as
# functions: busy() (why the line is in use, or None), health() ((registered,
# crashes so far, the last crash)), reset() (restart the board), key() (the
# trusted public key or None), and the ota config section.
import os
import sys
import time

import asyncio
from micropython import const

from ota import slots

ROOT = "ota"                        # slots, pointer and downloads (the board's flash)
DOWNLOAD = ROOT + "/download.ota"   # the bundle as it arrives (kept across a cut)
DOWNLOAD_META = ROOT + "/download.json"
STAGED = ROOT + "/staged.bin"       # the checked payload, until it is in a slot
_POLL_MS = 500                      # health check and "line free?" poll


def boot_slot(factory_version, log=None):
    """Once per start, before the application is imported: pick the slot (rolling
    back a trial version that did not prove itself), put its code first on sys.path:
    a tar slot's directory, or a ROMFS slot's image mounted read-only at
    /rom_<slot>. A slot whose image does not mount is rolled back (the reason in the
    pointer's note) and the choice made again. Returns ota.slots.Boot, or None when
    the slot state cannot be read."""
    for _ in range(len(slots.SLOTS) + 1):      # each rollback leaves one slot fewer
        try:
            b = slots.boot(ROOT, factory_version)
        except (OSError, ValueError) as e:      # never keep the board from starting
            if log:
                log("ota: slot choice failed (%r); running the factory application" % (e,))
            return None
        if not b.path:
            return b
        code = b.path
        from ota import romslot
        if romslot.is_romfs_slot(b.path):
            try:
                b.mount, b.image = romslot.mount(b.path, b.slot)
            except (OSError, romslot.RomError) as e:
                reason = "%s in slot %s: its ROMFS image does not mount (%r)" % (
                    b.version, b.slot, e)
                if log:
                    log("ota: " + reason + "; rolling back")
                slots.rollback(ROOT, reason)
                continue
            code = b.mount
            if log:
                log("ota: slot %s: ROMFS image mounted read-only at %s" % (b.slot, code))
        _put_first(code)
        return b
    return None


def _put_first(code):
    """A board's built tree: modules at its root, packages under lib/ (as / and /lib
    on the board's own filesystem, or /rom and /rom/lib from its ROMFS partition)."""
    sys.path.insert(0, code)
    try:
        if os.stat(code + "/lib")[0] & 0x4000:
            sys.path.insert(1, code + "/lib")
    except OSError:
        pass


def boot_firmware(log):
    """Once per start: on the sim the twin's bootloader picks the firmware image (the
    chip's own bootloader already has). Logs an image on trial, or one the bootloader
    rolled back. Returns the trial's mark (ota.firmware.trial()) or None."""
    from ota import firmware
    P = firmware.partition_class()
    try:
        firmware.power_on(P)
        t = firmware.trial(P)
    except (OSError, ValueError) as e:
        log("ota: firmware partitions unreadable (%r)" % (e,))
        return None
    if t is not None and t.get("rolled_back"):
        log("ota: firmware %s rolled back by the bootloader (%s was not marked valid); "
            "running %s" % (t["version"], t["label"], firmware.running_label(P)))
        return None
    if t is not None:
        log("ota: firmware %s on trial in %s (pending verify)" % (t["version"], t["label"]))
    return t


def _peek_kind(path):
    """The payload kind a downloaded bundle's manifest names (only to route it: the
    check that follows verifies the signature), or None."""
    import json
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            n = (head[8] << 8) | head[9]
            return json.loads(f.read(n)).get("kind")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def trial_failed(boot, fw_trial, err, log, reset):
    """A version on probation (an application slot, or a firmware image) raised
    before the firmware was up: roll the slot back with the reason (a firmware image
    is left unvalidated: the bootloader goes back), and restart (reset() does not
    return on a board)."""
    what = boot.version if boot is not None and boot.trial else (
        "firmware " + fw_trial["version"] if fw_trial else "?")
    reason = "%s failed at boot: %r" % (what, err)
    log("ota: " + reason + "; rolling back and restarting")
    if boot is not None and boot.trial:
        slots.rollback(ROOT, reason)
    reset()


_RECHECK_MS = const(60000)   # a scheduled pull that fell due in a call: look again this often


def _spread_ms(interval_ms):
    """0..interval/10 at random (urandom: the clock is the same on every unit at boot)."""
    r = os.urandom(2)
    return (interval_ms // 10) * ((r[0] << 8) | r[1]) // 65536


class Updater:
    def __init__(self, cfg, boot, factory_version, board_name, log, busy, health, reset,
                 key, fw_trial=None):
        self.cfg = cfg                  # the config's ota section
        self.boot = boot                # ota.slots.Boot (None: slot state unreadable)
        self.factory_version = factory_version
        self.board_name = board_name
        self.log = log
        self.busy = busy
        self.health = health
        self.reset = reset
        self.key = key
        self.fw_trial = fw_trial        # a whole-firmware image on trial (its mark) or None
        self.state = "idle"             # idle, download, check, waiting, install, restart
        self.bytes = 0
        self.total = 0
        self.last = None                # the last pull's outcome (str)
        self.task = None

    @property
    def version(self):
        return self.boot.version if self.boot else self.factory_version

    def _refuse(self, msg):
        self.log("ota: refused: " + msg)
        return "ota: refused: " + msg

    def start(self, url=None):
        """Start a pull in the background; returns what happened, for the console."""
        url = url or self.cfg["url"]
        if self.boot is None:
            return self._refuse("the slot state is unreadable")
        if self.task is not None and not self.task.done():
            return self._refuse("an update is already running (%s)" % self.state)
        if not url:
            return self._refuse("no URL (set ota.url in the config, or ota(URL))")
        if self.boot.trial:
            return self._refuse("%s is still on probation" % self.version)
        if self.fw_trial is not None:
            return self._refuse("firmware %s is still on probation" % self.fw_trial["version"])
        why = self.busy()
        if why:
            return self._refuse(why + "; try again when the line is idle")
        if self.key() is None:
            return self._refuse("no trusted key (ota_key.py, from `ata ota keygen`)")
        self.task = asyncio.create_task(self._run(url))
        return "ota: pulling %s" % url

    async def _run(self, url):
        from ota import bundle, fetch
        try:
            await self.update(url)
        except bundle.Refused as e:
            self.last = "refused: %s" % e
            self.log("ota: refused: %s (running %s kept)" % (e, self.version))
        except (fetch.FetchError, OSError) as e:
            self.last = "download failed: %s" % (e,)
            self.log("ota: download failed: %s; %d bytes kept to resume" % (
                e, fetch.file_size(DOWNLOAD)))
        except Exception as e:  # noqa: an update must never take the firmware down
            self.last = "failed: %r" % (e,)
            self.log("ota: failed: %r (running %s kept)" % (e, self.version))
        finally:
            if self.state != "restart":
                self.state = "idle"

    def _progress(self, have, total):
        step = max(total // 10, 1)
        if have // step != self.bytes // step or have == total:
            self.log("ota: download %d of %d bytes" % (have, total))
        self.bytes, self.total = have, total

    async def update(self, url):
        from ota import bundle, fetch
        try:
            os.mkdir(ROOT)
        except OSError:
            pass
        self.state = "download"
        self.bytes = fetch.file_size(DOWNLOAD)
        self.log("ota: pulling %s (running %s%s)" % (
            url, self.version, ", resuming at %d bytes" % self.bytes if self.bytes else ""))
        await fetch.download(url, DOWNLOAD, DOWNLOAD_META, self._progress)
        self.state = "check"
        ident = bundle.running_identity(self.board_name, self.version)
        kind = _peek_kind(DOWNLOAD)
        if kind == "firmware":
            await self._firmware(ident)
            return
        try:
            with open(DOWNLOAD, "rb") as f:
                m = bundle.stage(f, self.key(), ident, STAGED)
        except bundle.Refused:
            fetch.forget(DOWNLOAD, DOWNLOAD_META)   # never to be resumed
            raise
        fetch.forget(DOWNLOAD, DOWNLOAD_META)
        if m["kind"] == "romfs":
            self._check_romfs(m)
        self.log("ota: %s checked (signed by key %s, %d bytes)" % (m["version"], m["key"],
                                                                 m["size"]))
        await self._line_idle(m)
        self.state = "install"
        slot = slots.install(ROOT, STAGED, m)
        self.state = "restart"
        self.last = "installed %s in slot %s" % (m["version"], slot)
        self.log("ota: %s installed in slot %s; restarting on probation" % (m["version"], slot))
        await asyncio.sleep_ms(100)             # let the log line out
        self.reset()

    def _check_romfs(self, m):
        """A signed ROMFS payload: refused (the staged copy removed, no slot touched)
        unless it is a whole ROMFS image this board can mount for the inactive slot."""
        from ota import bundle, romslot
        try:
            romslot.check(STAGED)
            romslot.target_segment(slots.inactive_slot(ROOT))
        except (OSError, romslot.RomError) as e:
            try:
                os.remove(STAGED)
            except OSError:
                pass
            raise bundle.Refused(bundle.MALFORMED, "romfs: %s" % (e,))

    async def _line_idle(self, m):
        waited = False
        while True:
            why = self.busy()
            if why is None:
                return
            if not waited:
                self.state = "waiting"
                self.log("ota: %s staged; switching when the line is idle (%s)"
                         % (m["version"], why))
                waited = True
            await asyncio.sleep_ms(_POLL_MS)

    async def _firmware(self, ident):
        """A whole-firmware image: written into the next OTA partition while checked
        (ota.firmware), made the boot partition when the line is idle, then a reset:
        the bootloader starts it on trial."""
        from ota import bundle, fetch, firmware
        P = firmware.partition_class()
        try:
            with open(DOWNLOAD, "rb") as f:
                m, part = firmware.write_image(f, self.key(), ident, P)
        except bundle.Refused:
            fetch.forget(DOWNLOAD, DOWNLOAD_META)
            raise
        fetch.forget(DOWNLOAD, DOWNLOAD_META)
        label = part.info()[4]
        self.log("ota: firmware %s checked and written to %s (signed by key %s, %d bytes)"
                 % (m["version"], label, m["key"], m["size"]))
        await self._line_idle(m)
        firmware.switch(part, m, P)
        self.state = "restart"
        self.last = "firmware %s in %s" % (m["version"], label)
        self.log("ota: firmware %s set to boot from %s; restarting on trial" % (m["version"],
                                                                               label))
        await asyncio.sleep_ms(100)
        self.reset()

    def rollback(self):
        """Forced from the console: back to the previous slot (or the factory
        application), the only way down in version. Restarts the board."""
        why = self.busy()
        if why:
            return self._refuse("rollback: " + why)
        if self.task is not None and not self.task.done():
            return self._refuse("rollback: an update is running (%s)" % self.state)
        if self.boot is None or self.boot.slot is None:
            return self._refuse("rollback: the factory application %s runs; nothing to "
                                "go back to" % self.version)
        st = slots.rollback(ROOT, "forced from the console (was %s)" % self.version)
        to = "slot %s" % st["active"] if st else "the factory application"
        self.log("ota: rollback forced from the console: %s -> %s; restarting"
                 % (self.version, to))
        self.state = "restart"
        self.reset()
        return "ota: rolled back to %s; restarting" % to

    def status(self):
        b = self.boot
        return {"version": self.version, "slot": b.slot if b else None,
                "code": (b.mount or b.path) if b else None,
                "trial": bool(b and b.trial), "state": self.state, "bytes": self.bytes,
                "total": self.total, "url": self.cfg["url"], "last": self.last,
                "note": b.note if b else None,
                "firmware_trial": self.fw_trial["version"] if self.fw_trial else None}

    # -- supervised tasks -----------------------------------------------------------------
    async def probation(self):
        """Health check of a version on trial: registered with the PBX and no
        supervised task crashed for ota.health_s in a row marks it good; not so
        within ota.probation_s (from start) rolls it back, with the reason, and
        restarts the board."""
        cfg = self.cfg
        t0 = time.ticks_ms()
        since = None            # start of the current healthy stretch
        crashes = 0
        ever_registered = False
        while True:
            await asyncio.sleep_ms(_POLL_MS)
            now = time.ticks_ms()
            registered, total, last_crash = self.health()
            ever_registered = ever_registered or registered
            if registered and since is not None and total == crashes:
                if time.ticks_diff(now, since) >= cfg["health_s"] * 1000:
                    self._passed(cfg["health_s"])
                    return
            elif registered:
                since, crashes = now, total
            else:
                since = None
            if time.ticks_diff(now, t0) >= cfg["probation_s"] * 1000:
                if not ever_registered:
                    why = "never registered with the PBX"
                elif total != crashes:
                    why = "a task crashed (%s)" % last_crash
                else:
                    why = "lost its registration"
                what = self.version if self.boot and self.boot.trial else (
                    "firmware " + self.fw_trial["version"] if self.fw_trial else self.version)
                reason = "%s not healthy within %d s: %s" % (what, cfg["probation_s"], why)
                self.log("ota: %s; rolling back and restarting" % reason)
                if self.boot is not None and self.boot.trial:
                    slots.rollback(ROOT, reason)
                # a firmware image on trial: not marked valid, the bootloader goes back
                self.state = "restart"
                await asyncio.sleep_ms(100)
                self.reset()
                return

    def _passed(self, health_s):
        why = "registered, no task crashed for %d s" % health_s
        if self.boot is not None and self.boot.trial:
            slots.mark_good(ROOT)
            self.boot.trial = False
            self.log("ota: %s marked good (%s)" % (self.version, why))
        if self.fw_trial is not None:
            from ota import firmware
            firmware.mark_valid(firmware.partition_class())
            self.log("ota: firmware %s marked valid (%s)" % (self.fw_trial["version"], why))
            self.fw_trial = None

    @property
    def on_trial(self):
        return bool(self.boot is not None and self.boot.trial) or self.fw_trial is not None

    async def schedule(self, sleep_ms=asyncio.sleep_ms):
        """ota.interval_h > 0: pull ota.url that often, when the line is idle. Each wait
        is the interval plus up to a tenth more, at random, so a fleet that came back
        from one power cut does not hit the server in the same minute. A pull that
        falls due during a call, a probation or another pull waits for the line to be
        idle (checked every minute), then starts; a pull the updater refuses is
        logged by it and the next comes an interval later."""
        interval_ms = self.cfg["interval_h"] * 3600000
        while True:
            await sleep_ms(interval_ms + _spread_ms(interval_ms))
            while self.busy() or self.on_trial or (self.task is not None and
                                                   not self.task.done()):
                await sleep_ms(_RECHECK_MS)
            if self.cfg["url"]:
                self.log("ota: scheduled pull (every %d h)" % self.cfg["interval_h"])
                self.start()
