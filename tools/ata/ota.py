"""`ata ota`: signed update bundles for the firmware's application (docs/ota.md).

  ata ota keygen [--key PATH] [--pub PATH] [--force]
      make an Ed25519 key pair: the private key (PEM, mode 0600) stays on this host,
      by default in ~/.config/ata/ (never in the repository); the public key is
      written as the module firmware/ota_key.py, which `ata build` compiles into
      every board's tree (the device's trusted key).
  ata ota sign --board B --version X.Y.Z [--romfs [IMG] | --image APP.BIN] [--key PATH]
               [-o OUT]
      bundle the board's built tree (build/boards/B, from `ata build`) as a tar
      archive, or with --romfs its ROMFS image (build/boards/B.romfs, `ata build
      --romfs`, or IMG; checked: a whole ROMFS image whose .mpy files are for the
      board's arch; the device mounts it read-only in its A/B slot), or with --image
      a whole-firmware app image (ESP32 OTA through esp32.Partition), under a
      manifest signed with the private key.
  ata ota verify BUNDLE [--pub PATH] [--board B --arch A --mpy V --running X.Y.Z]
      check a bundle on the host (signature, SHA-256, size, and the device fields
      given), print its manifest.
  ata ota serve DIR [--host H] [--port P] [--rate B/S] [--cut-after N]
                   [--tls | --tls-cert CRT --tls-key KEY]
      serve the bundles in DIR over HTTP (or HTTPS) with byte ranges (a device
      resumes a cut download); the device pulls with `ota()` at its console
      (docs/ota.md).
  ata ota push BUNDLE --port PORT [--host-ip IP] [--no-wait] [--timeout S]
      serve BUNDLE and tell the device at console PORT to pull it; a progress bar,
      the device's steps, and the outcome of its probation.

Signing uses the `cryptography` package; the device verifies with lib/ota (its own
Ed25519 and SHA-512 in MicroPython).
"""
import argparse
import hashlib
import io
import json
import os
import pathlib
import re
import struct
import subprocess
import sys
import tarfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

from . import paths

MAGIC = b"ATAOTA"
FORMAT = 1
MAX_MANIFEST = 1024
DEFAULT_KEY = pathlib.Path(os.environ.get(
    "ATA_OTA_KEY", pathlib.Path.home() / ".config" / "ata" / "ota_signing_key.pem"))
DEFAULT_PUB = paths.ROOT / "firmware" / "ota_key.py"
ARCH_CODES = {"x64": 2, "armv6m": 4, "xtensawin": 10}   # .mpy header byte 2, bits 2..7


# ---------------------------------------------------------------- keys

def raw_public(key):
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw):
    """lib/ota/bundle.key_id: first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def pub_module_text(public_raw):
    return ("# The OTA public key this firmware trusts (Ed25519, 32 bytes), written by\n"
            "# `ata ota keygen`; bundles must be signed with its private key, which\n"
            "# stays on the signing host. Key id %s.\n"
            "PUBLIC_KEY = bytes.fromhex(\"%s\")\n"
            "KEY_ID = \"%s\"\n" % (key_id(public_raw), public_raw.hex(), key_id(public_raw)))


def keygen(key_path=DEFAULT_KEY, pub_path=DEFAULT_PUB, force=False):
    """Write a new private key (PEM, PKCS#8, mode 0600, created so no other user can
    read it even for an instant) and the public key module. Refuses to overwrite an
    existing private key unless force: a lost key means devices that accept nothing."""
    key_path, pub_path = pathlib.Path(key_path), pathlib.Path(pub_path)
    if key_path.exists() and not force:
        raise FileExistsError("%s exists (--force replaces it; devices that trust the old "
                              "key will refuse bundles signed with the new one)" % key_path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if key_path.exists():
        key_path.unlink()
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(key_path, 0o600)         # whatever the umask was
    pub_path.parent.mkdir(parents=True, exist_ok=True)
    pub_path.write_text(pub_module_text(raw_public(key)))
    return key_path, pub_path


def load_private(path):
    key = serialization.load_pem_private_key(pathlib.Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("%s is not an Ed25519 private key" % path)
    return key


def load_public(path):
    """The raw 32-byte public key from an ota_key.py module or a PEM public key."""
    text = pathlib.Path(path).read_text()
    m = re.search(r'PUBLIC_KEY\s*=\s*bytes\.fromhex\("([0-9a-f]{64})"\)', text)
    if m:
        return bytes.fromhex(m.group(1))
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("%s is not an Ed25519 public key" % path)
    return raw_public(key)


# ---------------------------------------------------------------- payloads

def mpy_cross_version():
    """'6.3' from `mpy-cross --version` ("... emitting mpy v6.3")."""
    out = subprocess.run([paths.MPY_CROSS, "--version"], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise RuntimeError("mpy-cross --version: %r" % out)
    return "%s.%s" % m.groups()


def check_tree_mpy(files, arch, mpy):
    """Every .mpy (name, first 4 bytes) is of .mpy version mpy's major, and native code
    is for arch with mpy's sub-version: a bundle never mislabels its payload."""
    major, sub = (int(x) for x in mpy.split("."))
    for name, head in files:
        if len(head) < 3 or head[0:1] != b"M" or head[1] != major:
            raise ValueError("%s: not a .mpy v%d file" % (name, major))
        if head[2] >> 2 and (head[2] >> 2 != ARCH_CODES[arch] or head[2] & 3 != sub):
            raise ValueError("%s: native code for arch code %d sub %d, not %s v%s"
                             % (name, head[2] >> 2, head[2] & 3, arch, mpy))


def tar_tree(tree):
    """The tree as an uncompressed ustar archive, byte-for-byte reproducible (sorted
    names, zero times and owners): the device unpacks it block by block."""
    tree = pathlib.Path(tree)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for p in sorted(tree.rglob("*")):
            if not p.is_file():
                continue
            info = tarfile.TarInfo(p.relative_to(tree).as_posix())
            info.size = p.stat().st_size
            info.mode = 0o644
            with open(p, "rb") as f:
                tar.addfile(info, f)
    return out.getvalue()


def tree_mpy_heads(tree):
    return [(str(p), p.read_bytes()[:4]) for p in sorted(pathlib.Path(tree).rglob("*.mpy"))]


ROMFS_HEADER = b"\xd2\xcd\x31"     # MicroPython's ROMFS image (VfsRom; lib/ota/romslot.py)


def _romfs_uint(data, pos, end):
    v = 0
    for _ in range(5):
        if pos >= end:
            raise ValueError("ROMFS image: record cut short at %d" % pos)
        b = data[pos]
        pos += 1
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, pos
    raise ValueError("ROMFS image: varuint longer than 5 bytes at %d" % pos)


def romfs_files(data):
    """[(path, bytes)] of a ROMFS image (the layout `mpremote romfs build` writes and
    lib/ota/romslot.check() walks on the device). ValueError unless it is a whole
    image: the header, a length that is the image's, records that nest."""
    if data[:3] != ROMFS_HEADER:
        raise ValueError("not a ROMFS image (no d2 cd 31 header)")
    length, pos = _romfs_uint(data, 3, len(data))
    if pos + length != len(data):
        raise ValueError("ROMFS image: the header says %d bytes, the image has %d"
                         % (pos + length, len(data)))
    out = []

    def walk(pos, end, prefix):
        while pos < end:
            kind, pos = _romfs_uint(data, pos, end)
            size, pos = _romfs_uint(data, pos, end)
            body, pos = pos, pos + size
            if pos > end:
                raise ValueError("ROMFS image: record at %d runs past its parent" % body)
            if kind in (4, 5):                  # directory, file: a name, then records
                n, at = _romfs_uint(data, body, pos)
                name = prefix + data[at:at + n].decode()
                if kind == 4:
                    walk(at + n, pos, name + "/")
                    continue
                content = None
                sub = at + n
                while sub < pos:
                    k, sub = _romfs_uint(data, sub, pos)
                    sz, sub = _romfs_uint(data, sub, pos)
                    if k == 2:                  # data, verbatim
                        content = data[sub:sub + sz]
                    elif k not in (0, 1):       # (3: a pointer: `romfs build` makes none)
                        raise ValueError("ROMFS image: %s: data record kind %d" % (name, k))
                    sub += sz
                out.append((name, bytes(content or b"")))
            elif kind > 5:
                raise ValueError("ROMFS image: record kind %d at %d" % (kind, body))

    walk(pos, len(data), "")
    if not out:
        raise ValueError("ROMFS image holds no file")
    return out


# ---------------------------------------------------------------- bundles

def make_manifest(board, arch, mpy, version, payload, kind, public_raw):
    return {"format": FORMAT, "version": version, "board": board, "arch": arch, "mpy": mpy,
            "kind": kind, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
            "key": key_id(public_raw)}


def encode_manifest(manifest):
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def make_bundle(manifest_bytes, payload, signature):
    """Header + manifest + signature + payload (lib/ota/bundle.py's layout). Takes
    the pieces raw so tests can build bundles that are wrong on purpose."""
    if isinstance(manifest_bytes, dict):
        manifest_bytes = encode_manifest(manifest_bytes)
    return (MAGIC + bytes([FORMAT, 0]) + struct.pack(">HH", len(manifest_bytes), len(signature))
            + manifest_bytes + signature + payload)


def sign_bundle(manifest, payload, key):
    mb = encode_manifest(manifest)
    if len(mb) > MAX_MANIFEST:
        raise ValueError("manifest is %d bytes, the device reads at most %d"
                         % (len(mb), MAX_MANIFEST))
    return make_bundle(mb, payload, key.sign(mb))


def sign_board(board, version, key, romfs=False):
    """(bundle bytes, manifest) for build/boards/<board> (tar) or its ROMFS image:
    romfs True for build/boards/<board>.romfs, or the path of an image."""
    from . import build
    spec = build.boards().get(board)
    if spec is None:
        raise ValueError("no board %r (boards/: %s)" % (board, ", ".join(build.boards())))
    arch = spec["mpy_arch"]
    mpy = mpy_cross_version()
    tree = paths.BUILD / "boards" / board
    if not tree.is_dir() and romfs in (False, None, True):
        raise FileNotFoundError("%s missing: run `ata build` first" % tree)
    if romfs:
        img = build.romfs_path(board) if romfs is True else pathlib.Path(romfs)
        if not img.exists():
            raise FileNotFoundError("%s missing: run `ata build --romfs` first" % img)
        payload, kind = img.read_bytes(), "romfs"
        files = romfs_files(payload)
        # the .mpy files in the image itself: the device's mpy version and arch
        check_tree_mpy([("%s:%s" % (img.name, n), d[:4]) for n, d in files
                        if n.endswith(".mpy")], arch, mpy)
    else:
        check_tree_mpy(tree_mpy_heads(tree), arch, mpy)
        payload, kind = tar_tree(tree), "tar"
    parse_version(version)
    manifest = make_manifest(board, arch, mpy, version, payload, kind, raw_public(key))
    return sign_bundle(manifest, payload, key), manifest


ESP_IMAGE_MAGIC = 0xE9          # first byte of an ESP-IDF app image (esp_image_header_t)


def sign_image(board, version, key, image_path):
    """(bundle bytes, manifest) for a whole-firmware image (kind "firmware"): an
    ESP32 app image (MicroPython's firmware.app-bin, not the merged flash image with
    the bootloader), written by lib/ota/firmware.py into the next OTA partition."""
    from . import build
    spec = build.boards().get(board)
    if spec is None:
        raise ValueError("no board %r (boards/: %s)" % (board, ", ".join(build.boards())))
    payload = pathlib.Path(image_path).read_bytes()
    if payload[:3] == ROMFS_HEADER:
        raise ValueError("%s is a ROMFS image, not a firmware image: sign it with --romfs %s"
                         % (image_path, image_path))
    if spec["mpy_arch"] == "xtensawin" and (not payload or payload[0] != ESP_IMAGE_MAGIC):
        raise ValueError("%s is not an ESP32 app image (first byte 0x%02x, want 0xE9)"
                         % (image_path, payload[0] if payload else 0))
    parse_version(version)
    manifest = make_manifest(board, spec["mpy_arch"], mpy_cross_version(), version, payload,
                             "firmware", raw_public(key))
    return sign_bundle(manifest, payload, key), manifest


def parse_version(text):
    parts = str(text).split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise ValueError("version %r: want numbers separated by dots, e.g. 1.2.0" % text)
    return tuple(int(p) for p in parts)


def verify_bundle(data, public_raw, board=None, arch=None, mpy=None, running=None):
    """Host-side check of a bundle (bytes). Returns (ok, manifest or None, reason)."""
    if data[:6] != MAGIC:
        return False, None, "unsigned: no ATAOTA header"
    if len(data) < 12:
        return False, None, "truncated header"
    mlen, slen = struct.unpack(">HH", data[8:12])
    if slen == 0:
        return False, None, "unsigned: no signature"
    mb, sig = data[12:12 + mlen], data[12 + mlen:12 + mlen + slen]
    payload = data[12 + mlen + slen:]
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(sig, mb)
    except (InvalidSignature, ValueError):
        return False, None, "signature does not verify with key %s" % key_id(public_raw)
    m = json.loads(mb)
    if len(payload) != m["size"]:
        return False, m, "payload is %d bytes, manifest says %d" % (len(payload), m["size"])
    if hashlib.sha256(payload).hexdigest() != m["sha256"]:
        return False, m, "payload SHA-256 differs from the manifest"
    for field, want in (("board", board), ("arch", arch), ("mpy", mpy)):
        if want is not None and m[field] != want:
            return False, m, "%s is %r, expected %r" % (field, m[field], want)
    if running is not None and parse_version(m["version"]) <= parse_version(running):
        return False, m, "version %s is not above %s" % (m["version"], running)
    return True, m, "ok"


# ---------------------------------------------------------------- command line

def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata ota", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen", help="make the Ed25519 signing key pair")
    k.add_argument("--key", default=str(DEFAULT_KEY), help="private key (PEM, 0600); default %(default)s")
    k.add_argument("--pub", default=str(DEFAULT_PUB), help="public key module; default %(default)s")
    k.add_argument("--force", action="store_true", help="replace an existing private key")
    s = sub.add_parser("sign", help="bundle and sign a board's build")
    s.add_argument("--board", required=True)
    s.add_argument("--version", required=True, help="the bundle's version, e.g. 1.2.0")
    s.add_argument("--key", default=str(DEFAULT_KEY))
    s.add_argument("--romfs", nargs="?", const=True, default=False, metavar="IMG",
                   help="payload: the board's ROMFS image (build/boards/<board>.romfs, "
                        "or IMG), not a tar; the device mounts it in its slot")
    s.add_argument("--image", help="payload: this whole-firmware app image (ESP32 OTA)")
    s.add_argument("-o", "--out", help="bundle file (default build/ota/<board>-<version>.ota)")
    v = sub.add_parser("verify", help="check a bundle on the host")
    v.add_argument("bundle")
    v.add_argument("--pub", default=str(DEFAULT_PUB), help="ota_key.py or a PEM public key")
    v.add_argument("--board")
    v.add_argument("--arch")
    v.add_argument("--mpy")
    v.add_argument("--running", help="refuse unless the bundle's version is above this one")
    sv = sub.add_parser("serve", help="serve bundles over HTTP with Range (a lab)")
    sv.add_argument("dir")
    sv.add_argument("--host", default="0.0.0.0")
    sv.add_argument("--port", type=int, default=8080, help="0: any free port (printed)")
    sv.add_argument("--rate", type=int, default=0, help="bytes per second per response (0: no limit)")
    sv.add_argument("--cut-after", type=int, help="close each file's first response after N bytes")
    sv.add_argument("-v", "--verbose", action="store_true", help="log every request")
    sv.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate")
    sv.add_argument("--tls-cert", help="HTTPS with this PEM certificate (and --tls-key)")
    sv.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    pu = sub.add_parser("push", help="serve a bundle and have the device pull it (progress bar)")
    pu.add_argument("bundle")
    pu.add_argument("--port", required=True, help="the device's console (serial port, sim pty)")
    pu.add_argument("--host-ip", help="address the device reaches this host at")
    pu.add_argument("--no-wait", action="store_true", help="return once the device switched")
    pu.add_argument("--timeout", type=int, default=900)
    a = ap.parse_args(argv)
    if a.cmd == "push":
        from . import ota_push
        return ota_push.push(a.bundle, a.port, a.host_ip, not a.no_wait, a.timeout)
    if a.cmd == "serve":
        from . import ota_serve
        if bool(a.tls_cert) != bool(a.tls_key):
            print("ota serve: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        tls = (a.tls_cert, a.tls_key) if a.tls_cert else ("self" if a.tls else None)
        return ota_serve.serve(a.dir, a.host, a.port, a.rate, a.cut_after, a.verbose, tls)
    try:
        if a.cmd == "keygen":
            kp, pp = keygen(a.key, a.pub, a.force)
            print("ota: private key %s (mode 0600; keep it off devices and out of git)" % kp)
            print("ota: public key  %s (key id %s; `ata build` puts it on the device)"
                  % (pp, key_id(load_public(pp))))
        elif a.cmd == "sign":
            if a.image:
                data, m = sign_image(a.board, a.version, load_private(a.key), a.image)
            else:
                data, m = sign_board(a.board, a.version, load_private(a.key), a.romfs)
            out = pathlib.Path(a.out or paths.BUILD / "ota" / ("%s-%s.ota" % (a.board, a.version)))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            print("ota: %s %d bytes: %s" % (out, len(data), json.dumps(m, sort_keys=True)))
        else:
            ok, m, why = verify_bundle(pathlib.Path(a.bundle).read_bytes(), load_public(a.pub),
                                       a.board, a.arch, a.mpy, a.running)
            if m:
                print(json.dumps(m, sort_keys=True, indent=1))
            print("ota: %s: %s" % ("OK" if ok else "REFUSED", why))
            return 0 if ok else 1
    except (OSError, ValueError) as e:
        print("ata ota: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
