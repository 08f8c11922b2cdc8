# Signed OTA bundle check, streaming: header, Ed25519-signed manifest, payload.
# Reads through a bounded buffer (one block plus the manifest), refuses with a
# reason before a single payload byte reaches the sink when the signature, key,
# board, arch, .mpy version, version or space is wrong, and refuses afterwards
# (the caller discards what the sink got) when the payload is tampered or truncated.
#
# Bundle layout (format 1; docs/ota.md):
#   0  b"ATAOTA"  magic
#   6  u8         format (1)
#   7  u8         reserved (0)
#   8  u16 BE     manifest length (1..MAX_MANIFEST)
#  10  u16 BE     signature length (64: Ed25519; 0: unsigned, always refused)
#  12  manifest   JSON, UTF-8: format, version, board, arch, mpy, kind, size, sha256, key
#      signature  Ed25519 over the manifest bytes exactly
#      payload    `size` bytes; SHA-256 in the manifest
import hashlib
import json
import sys

from micropython import const

from ota import ed25519

MAGIC = b"ATAOTA"
FORMAT = const(1)
HEADER_BYTES = const(12)
MAX_MANIFEST = const(1024)   # bytes: the manifest is the only thing held whole
BLOCK = const(512)           # bytes read per step of the payload

# refusal codes (Refused.code); the message says the details
UNSIGNED = "unsigned"
FORGED = "forged"
WRONG_KEY = "wrong-key"
TAMPERED = "tampered"
TRUNCATED = "truncated"
MALFORMED = "malformed"
BOARD = "board"
ARCH = "arch"
MPY = "mpy-version"
DOWNGRADE = "downgrade"
SPACE = "space"

_FIELDS = ("format", "version", "board", "arch", "mpy", "kind", "size", "sha256", "key")
_KINDS = ("tar", "romfs", "firmware")   # firmware: a whole ESP32 app image (ota.firmware)

# sys.implementation._mpy >> 10 (MicroPython's MP_NATIVE_ARCH_* order)
_ARCH_NAMES = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
               "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")


class Refused(Exception):
    """A bundle that must not be installed: code (one of the constants above) and a
    message for the log."""

    def __init__(self, code, message):
        super().__init__(code + ": " + message)
        self.code = code
        self.message = message


def key_id(public_key):
    """The short name of a public key that manifests carry: first 16 hex digits of
    its SHA-256 (names the key in refusals; trust comes from the signature only)."""
    return "".join("%02x" % b for b in hashlib.sha256(public_key).digest()[:8])


def parse_version(text):
    """'1.2.3' -> (1, 2, 3); ValueError unless dot-separated decimal numbers."""
    parts = str(text).split(".")
    if not parts or len(parts) > 4:
        raise ValueError(text)
    out = []
    for p in parts:
        if not p or not p.isdigit():
            raise ValueError(text)
        out.append(int(p))
    return tuple(out)


def running_identity(board, version):
    """What a bundle is checked against on this interpreter: the board name and the
    running application version come from the caller (board.json, the installed
    manifest); the .mpy version and native arch from the interpreter itself."""
    v = sys.implementation._mpy
    arch = v >> 10
    return {"board": board, "version": version,
            "arch": _ARCH_NAMES[arch] if arch < len(_ARCH_NAMES) else str(arch),
            "mpy": "%d.%d" % (v & 0xFF, (v >> 8) & 3)}


def _read_exact(stream, mv):
    """Fill mv from stream.readinto; return how many bytes came (less at EOF)."""
    got = 0
    n = len(mv)
    while got < n:
        k = stream.readinto(mv[got:])
        if not k:
            break
        got += k
    return got


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def read_manifest(stream, public_key):
    """Read header, manifest and signature from stream; verify the signature with
    public_key. Returns the manifest dict (fields checked for presence and type).
    Raises Refused (UNSIGNED, MALFORMED, TRUNCATED, FORGED, WRONG_KEY)."""
    head = bytearray(HEADER_BYTES)
    n = _read_exact(stream, memoryview(head))
    if n < len(MAGIC) or bytes(head[:len(MAGIC)]) != MAGIC:
        raise Refused(UNSIGNED, "not a signed bundle (no ATAOTA header)")
    if n < HEADER_BYTES:
        raise Refused(TRUNCATED, "header cut short at %d bytes" % n)
    if head[6] != FORMAT:
        raise Refused(MALFORMED, "bundle format %d, this device reads %d" % (head[6], FORMAT))
    mlen = _u16(head, 8)
    slen = _u16(head, 10)
    if not 0 < mlen <= MAX_MANIFEST:
        raise Refused(MALFORMED, "manifest length %d (1..%d)" % (mlen, MAX_MANIFEST))
    if slen == 0:
        raise Refused(UNSIGNED, "bundle carries no signature")
    if slen != ed25519.SIGNATURE_BYTES:
        raise Refused(MALFORMED, "signature length %d, Ed25519 needs 64" % slen)
    body = bytearray(mlen + slen)
    got = _read_exact(stream, memoryview(body))
    if got < len(body):
        raise Refused(TRUNCATED, "manifest and signature cut short (%d of %d bytes)"
                      % (got, len(body)))
    manifest = bytes(body[:mlen])
    signature = bytes(body[mlen:])
    if not ed25519.verify(public_key, manifest, signature):
        # the manifest is not authentic here; its key field only picks the message
        claimed = None
        try:
            claimed = json.loads(manifest).get("key")
        except (ValueError, AttributeError):
            pass
        mine = key_id(public_key)
        if isinstance(claimed, str) and claimed != mine:
            raise Refused(WRONG_KEY, "signed by key %s, this device trusts key %s"
                          % (claimed, mine))
        raise Refused(FORGED, "signature does not match the manifest (key %s)" % mine)
    try:
        m = json.loads(manifest)
    except ValueError:
        raise Refused(MALFORMED, "manifest is not JSON")
    if not isinstance(m, dict):
        raise Refused(MALFORMED, "manifest is not a JSON object")
    for f in _FIELDS:
        if f not in m:
            raise Refused(MALFORMED, "manifest has no %r" % f)
    if not isinstance(m["size"], int) or m["size"] < 0:
        raise Refused(MALFORMED, "manifest size %r" % (m["size"],))
    if not isinstance(m["sha256"], str) or len(m["sha256"]) != 64:
        raise Refused(MALFORMED, "manifest sha256 %r" % (m["sha256"],))
    if m["kind"] not in _KINDS:
        raise Refused(MALFORMED, "payload kind %r (%s)" % (m["kind"], ", ".join(_KINDS)))
    return m


def check_manifest(m, identity, free_bytes=None):
    """Refuse a (verified) manifest that does not fit this device: board, arch, .mpy
    version, a version not above the running one, a payload larger than free_bytes."""
    if m["format"] != FORMAT:
        raise Refused(MALFORMED, "manifest format %r" % (m["format"],))
    if m["board"] != identity["board"]:
        raise Refused(BOARD, "bundle is for board %r, this is %r" % (m["board"], identity["board"]))
    if m["arch"] != identity["arch"]:
        raise Refused(ARCH, "bundle is for arch %r, this device runs %r"
                      % (m["arch"], identity["arch"]))
    if m["mpy"] != identity["mpy"]:
        raise Refused(MPY, "bundle holds .mpy version %s, this MicroPython loads %s"
                      % (m["mpy"], identity["mpy"]))
    try:
        new = parse_version(m["version"])
    except ValueError:
        raise Refused(MALFORMED, "version %r" % (m["version"],))
    running = identity.get("version")
    if running is not None and new <= parse_version(running):
        raise Refused(DOWNGRADE, "version %s is not above the running %s" % (m["version"], running))
    if free_bytes is not None and m["size"] > free_bytes:
        raise Refused(SPACE, "payload needs %d bytes, %d free" % (m["size"], free_bytes))


def check(stream, public_key, identity, sink=None, free_bytes=None, block=BLOCK):
    """Check a whole bundle read from stream (anything with readinto). Payload blocks
    go to sink(memoryview) only after the manifest passed every check; the SHA-256
    and length are known only at the end, so on Refused the caller must discard what
    the sink received (install.stage() does). Returns the manifest."""
    m = read_manifest(stream, public_key)
    check_manifest(m, identity, free_bytes)
    return check_payload(stream, m, sink, block)


def check_payload(stream, m, sink=None, block=BLOCK):
    """The payload part of check(), after read_manifest() and check_manifest(): stream
    `size` bytes to sink, then refuse a truncated, overlong or tampered payload."""
    size = m["size"]
    h = hashlib.sha256()
    buf = bytearray(block)
    mv = memoryview(buf)
    left = size
    while left:
        want = block if left > block else left
        n = _read_exact(stream, mv[:want])
        if n:
            h.update(mv[:n])
            if sink is not None:
                sink(mv[:n])
        left -= n
        if n < want:
            raise Refused(TRUNCATED, "payload cut short at %d of %d bytes" % (size - left, size))
    if _read_exact(stream, mv[:1]):
        raise Refused(MALFORMED, "data after the %d-byte payload" % size)
    digest = "".join("%02x" % b for b in h.digest())
    if digest != m["sha256"].lower():
        raise Refused(TAMPERED, "payload SHA-256 %s, manifest says %s" % (digest, m["sha256"]))
    return m


def free_bytes(path):
    """Bytes free on the filesystem that holds path (os.statvfs: bavail * frsize)."""
    import os
    st = os.statvfs(path)
    return st[4] * st[1]


def stage(stream, public_key, identity, path, free=None, block=BLOCK):
    """Check a bundle and write its payload to path: streamed into path + '.part',
    renamed to path only when every check passed, removed when one failed (Refused
    is raised again). A refused bundle so leaves nothing behind; the slot code only
    ever takes a staged file. free: bytes available (None: measured at path's dir)."""
    import os
    part = path + ".part"
    if free is None:
        d = path.rsplit("/", 1)[0] if "/" in path else "."
        free = free_bytes(d)
    f = None
    try:
        f = open(part, "wb")
        m = check(stream, public_key, identity, f.write, free, block)
        f.close()
        f = None
        os.rename(part, path)
        return m
    except BaseException:
        if f is not None:
            f.close()
        try:
            os.remove(part)
        except OSError:
            pass
        raise
