# Driver for tests/test_ota_crypto.py: reads a file of requests, one a line, and
# prints one answer a line, so one MicroPython process checks many cases.
#   sha HEX            -> hex SHA-512 of the bytes ("-" for no bytes)
#   verify PK MSG SIG  -> 1 or 0 from ota.ed25519.verify (hex; "-" for empty)
import sys

from ota import ed25519
from ota.sha512 import sha512


def _b(h):
    return b"" if h == "-" else bytes.fromhex(h)


def main(path):
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "sha":
                print(sha512(_b(parts[1])).hexdigest())
            elif parts[0] == "verify":
                print(1 if ed25519.verify(_b(parts[1]), _b(parts[2]), _b(parts[3])) else 0)
            else:
                print("?", parts[0])


main(sys.argv[1])
