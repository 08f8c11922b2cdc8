# A/B application slots with probation, on a filesystem (the sim; an ESP32's
# application files alike). Layout under a root directory:
#   root/a/, root/b/   the two slots: an application tree (from a tar payload) or
#                      a ROMFS payload (app.romfs, the image itself, on the sim; on a
#                      chip app.romseg, the ROMFS segment it was written to: see
#                      ota/romslot.py), plus manifest.json
#   root/state.json    the pointer: which slot runs, whether it is on probation
# The pointer is only ever replaced whole: written to state.json.tmp, then renamed
# over state.json (atomic on POSIX and LittleFS). An install writes the inactive
# slot first and the pointer last, so a power cut at any point leaves either the
# old pointer (old slot intact, it never was written) or the new one (new slot
# complete): never neither.
#
# Probation: install() points at the new slot with trial=True and boots=0. boot()
# counts each start of a trial slot; a start that finds the slot already started
# once and never marked good rolls back to the previous slot. mark_good() (called by
# the firmware after its health check) ends the trial.
import json
import os

from micropython import const

SLOTS = ("a", "b")
STATE = "state.json"
MANIFEST = "manifest.json"
TRIAL_BOOTS = const(1)        # starts a new slot gets to be marked good
_TAR_BLOCK = const(512)       # ustar header and data block


class SlotError(Exception):
    pass


def _join(*parts):
    return "/".join(parts)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _rmtree(path):
    if not _exists(path):
        return
    if not _is_dir(path):
        os.remove(path)
        return
    for name in os.listdir(path):
        _rmtree(_join(path, name))
    os.rmdir(path)


def _makedirs(path):
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if cur in ("", "/") else cur + "/" + part
        if not _exists(cur):
            os.mkdir(cur)


def read_state(root):
    """The pointer, or None when no slot was ever installed (factory image) or the
    file is unreadable (never half-written: it is only replaced by rename)."""
    try:
        with open(_join(root, STATE)) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(st, dict) or st.get("active") not in SLOTS:
        return None
    return st


def write_state(root, st):
    tmp = _join(root, STATE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.rename(tmp, _join(root, STATE))


def slot_manifest(root, slot):
    try:
        with open(_join(root, slot, MANIFEST)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def running_version(root, factory_version):
    """The active slot's version (what a new bundle must be above), or the factory
    version when no slot is active."""
    st = read_state(root)
    if st is None:
        return factory_version
    m = slot_manifest(root, st["active"])
    return m["version"] if m else factory_version


def inactive_slot(root):
    st = read_state(root)
    return SLOTS[1] if st is not None and st["active"] == SLOTS[0] else SLOTS[0]


def _safe_name(name):
    if not name or name.startswith("/") or "\\" in name:
        return False
    for part in name.split("/"):
        if part in ("..",):
            return False
    return True


def _octal(b):
    s = bytes(b).split(b"\x00", 1)[0].strip()
    return int(s, 8) if s else 0


def untar(stream, dest, block=None):
    """Unpack an uncompressed ustar archive from stream into dest, one 512-byte block
    at a time. Only regular files and directories; a name that is absolute or climbs
    with '..' raises SlotError (the payload is signed, but a slot must not write
    outside itself whatever it is given). Returns the number of files."""
    buf = bytearray(_TAR_BLOCK)
    mv = memoryview(buf)
    files = 0
    while True:
        if stream.readinto(mv) != _TAR_BLOCK:
            raise SlotError("tar: cut short")
        if not any(buf):
            return files                     # end-of-archive block
        name = bytes(buf[0:100]).split(b"\x00", 1)[0].decode()
        prefix = bytes(buf[345:500]).split(b"\x00", 1)[0].decode()
        if prefix:
            name = prefix + "/" + name
        size = _octal(buf[124:136])
        kind = buf[156]
        if not _safe_name(name.rstrip("/")):
            raise SlotError("tar: unsafe name %r" % name)
        path = _join(dest, name.rstrip("/"))
        if kind == 0x35:                     # '5' directory
            _makedirs(path)
            continue
        if kind not in (0, 0x30):            # '0' or NUL: regular file
            raise SlotError("tar: entry %r of type %r" % (name, chr(kind)))
        if "/" in name:
            _makedirs(path.rsplit("/", 1)[0])
        left = size
        with open(path, "wb") as f:
            while left > 0:
                if stream.readinto(mv) != _TAR_BLOCK:
                    raise SlotError("tar: %r cut short" % name)
                f.write(mv[:min(left, _TAR_BLOCK)])
                left -= _TAR_BLOCK
        files += 1


def install(root, staged, manifest):
    """Put a staged payload (bundle.stage() wrote and checked it) into the inactive
    slot, then switch to it on probation. The running slot is never touched; the
    pointer is written last. Returns the slot name."""
    _makedirs(root)
    st = read_state(root)
    slot = inactive_slot(root)
    path = _join(root, slot)
    _rmtree(path)
    os.mkdir(path)
    if manifest["kind"] == "tar":
        with open(staged, "rb") as f:
            untar(f, path)
        os.remove(staged)                    # its space is needed by the next update
    elif manifest["kind"] == "romfs":
        from ota import romslot
        try:
            romslot.place(staged, path, slot)
        except romslot.RomError as e:
            raise SlotError("romfs: %s" % e)
    else:
        raise SlotError("payload kind %r" % manifest["kind"])
    with open(_join(path, MANIFEST), "w") as f:
        json.dump(manifest, f)
    write_state(root, {"active": slot, "previous": st["active"] if st else None,
                       "trial": True, "boots": 0, "note": "installed %s" % manifest["version"]})
    return slot


class Boot:
    """What boot() decided: slot (None: the factory application), its directory
    (put it first on sys.path, or mount its ROMFS image: ota.agent.boot_slot),
    version, trial, note. mount: where a ROMFS slot's image was mounted, else None."""

    def __init__(self, root, st, factory_version, note=None):
        self.slot = st["active"] if st else None
        self.path = _join(root, self.slot) if self.slot else None
        m = slot_manifest(root, self.slot) if self.slot else None
        self.version = m["version"] if m else factory_version
        self.trial = bool(st and st.get("trial"))
        self.note = note or (st.get("note", "") if st else (factory_note(root) or "factory"))
        self.mount = None
        self.image = None           # the buffer a ROMFS slot runs from (kept referenced)


def boot(root, factory_version="0"):
    """Call once per start, before importing the application. A slot on trial that
    was already started TRIAL_BOOTS times without mark_good() is rolled back to the
    previous slot (or the factory application); the reason is in Boot.note."""
    st = read_state(root)
    note = None
    if st is not None and st.get("trial"):
        if st.get("boots", 0) >= TRIAL_BOOTS:
            reason = "%s was not marked good after %d trial boot(s)" % (
                running_version(root, factory_version), st.get("boots", 0))
            st = rollback(root, reason)
            if st is None:
                note = "rolled back to the factory application: " + reason
        else:
            st["boots"] = st.get("boots", 0) + 1
            write_state(root, st)
    return Boot(root, st, factory_version, note)


def mark_good(root):
    """End the active slot's probation (after the firmware's health check)."""
    st = read_state(root)
    if st is None or not st.get("trial"):
        return False
    st["trial"] = False
    st["note"] = "marked good"
    write_state(root, st)
    return True


def rollback(root, reason):
    """Point back at the previous slot (None: the factory application), not on trial.
    Also the console's forced rollback. Returns the new state (None: factory)."""
    st = read_state(root)
    if st is None:
        return None
    prev = st.get("previous")
    if prev in SLOTS and slot_manifest(root, prev) is not None:
        new = {"active": prev, "previous": None, "trial": False, "boots": 0,
               "note": "rolled back: " + reason}
        write_state(root, new)
        return new
    # nothing to go back to: the factory application; the pointer says so, and why
    write_state(root, {"active": None, "previous": None, "trial": False, "boots": 0,
                       "note": "rolled back: " + reason})
    return None


def factory_note(root):
    """The note of a pointer that sends the board back to the factory application
    (a rollback with no previous slot), or None."""
    try:
        with open(_join(root, STATE)) as f:
            st = json.load(f)
        return st.get("note") if isinstance(st, dict) and st.get("active") is None else None
    except (OSError, ValueError):
        return None
