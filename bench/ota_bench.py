# MicroPython bench driver for `ata bench --only ota`: REPS times one piece of the
# OTA check, so callgrind's counts of two REPS values differ by exactly REPS pieces
# (start-up, imports and constant set-up cancel).
#   micropython bench/ota_bench.py verify REPS   Ed25519 verify of RFC 8032 TEST 2
#   micropython bench/ota_bench.py sha512 REPS   SHA-512 of REPS KB (one object, 1 KB updates)
#   micropython bench/ota_bench.py sha256 REPS   the port's hashlib.sha256 of REPS KB
#   micropython bench/ota_bench.py stage BUNDLE PUBHEX DEST   bundle.stage() (board sim,
#       running 0.0.1): `ata bench` finds the smallest -X heapsize this passes in
#   micropython bench/ota_bench.py pull URL PUBHEX DEST   the device's update path
#       without the slot: ota.fetch.download() over HTTP into DEST.ota (asyncio,
#       512-byte blocks), then bundle.stage() from that file
import sys

from ota import ed25519
from ota.sha512 import sha512

# RFC 8032 TEST 2 (a one-byte message): the manifest-sized hashing is small either way
_PK = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
_SIG = bytes.fromhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")


def main(mode, reps):
    if mode == "verify":
        for _ in range(reps):
            if not ed25519.verify(_PK, b"\x72", _SIG):
                raise SystemExit("verify failed")
    elif mode in ("sha512", "sha256"):
        kb = bytes(range(256)) * 4
        if mode == "sha512":
            h = sha512()
        else:
            import hashlib
            h = hashlib.sha256()
        for _ in range(reps):
            h.update(kb)
        h.digest()
    else:
        raise SystemExit("mode? " + mode)


def stage(path, pubhex, dest):
    from ota import bundle
    with open(path, "rb") as f:
        m = bundle.stage(f, bytes.fromhex(pubhex), bundle.running_identity("sim", "0.0.1"),
                         dest, 1 << 30)
    print("STAGED", m["size"])


def pull(url, pubhex, dest):
    import asyncio
    from ota import fetch
    n = asyncio.run(fetch.download(url, dest + ".ota", dest + ".json"))
    print("PULLED", n)
    stage(dest + ".ota", pubhex, dest)


if sys.argv[1] == "stage":
    stage(sys.argv[2], sys.argv[3], sys.argv[4])
elif sys.argv[1] == "pull":
    pull(sys.argv[2], sys.argv[3], sys.argv[4])
else:
    main(sys.argv[1], int(sys.argv[2]))
