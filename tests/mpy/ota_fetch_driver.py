# Driver for tests/test_ota_https.py: lib/ota/fetch.py on the unix port, as the
# device's OTA agent runs it (asyncio, one 512-byte buffer, resume by Range).
#   URL PATH  ->  "FETCHED <size> <sha256 hex> <progress calls>" or "FAILED <error>"
import sys

import asyncio
import hashlib
from ota import fetch


def main(url, path):
    calls = [0]

    def progress(have, total):
        calls[0] += 1

    try:
        size = asyncio.run(fetch.download(url, path, path + ".meta", progress, retries=3))
    except (fetch.FetchError, OSError) as e:
        print("FAILED %r" % (e,))
        return
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4096)
            if not b:
                break
            h.update(b)
    print("FETCHED %d %s %d" % (size, h.digest().hex(), calls[0]))


main(sys.argv[1], sys.argv[2])
