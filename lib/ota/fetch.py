# HTTP(S) download of a bundle into a file, for asyncio (the firmware's loop keeps
# running: audio, SIP, the watchdog). Streams in blocks through one bounded buffer,
# appends to the file as it goes, and resumes where the file ends: after a cut
# connection within the same pull, and after a power cut on the next pull, with a
# Range request (If-Range: the server's validator, so a changed file starts over).
# A server that ignores Range (200 to a ranged request) gets a fresh download.
#
# HTTPS: the port's ssl module (SSLContext, mbedTLS on the ESP32). The server's
# certificate is not checked: the bundle's Ed25519 signature is what makes it
# trusted, TLS only hides it on the way.
import json
import os

import asyncio
from micropython import const

BLOCK = const(512)           # bytes per read and write: the whole download buffer
TIMEOUT_MS = const(15000)    # no byte for this long: the connection counts as cut
RETRIES = const(5)           # cut connections resumed within one pull
_BACKOFF_MS = const(500)     # first delay before a resume; doubles


class FetchError(Exception):
    pass


def parse_url(url):
    """(tls, host, port, path) of an http:// or https:// URL."""
    if url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    elif url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    else:
        raise FetchError("not an http:// or https:// URL: %r" % url)
    host, slash, path = rest.partition("/")
    path = "/" + path if slash else "/"
    if ":" in host:
        host, p = host.rsplit(":", 1)
        if not p.isdigit():
            raise FetchError("bad port in %r" % url)
        port = int(p)
    if not host:
        raise FetchError("no host in %r" % url)
    return tls, host, port, path


def file_size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def _read_meta(path):
    try:
        with open(path) as f:
            m = json.load(f)
        return m if isinstance(m, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_meta(path, meta):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(meta, f)
    os.rename(tmp, path)


def forget(path, meta_path):
    """Drop a partial download and what resuming it needed."""
    for p in (path, meta_path):
        try:
            os.remove(p)
        except OSError:
            pass


async def _open(tls, host, port):
    if not tls:
        return await asyncio.open_connection(host, port)
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_NONE          # trust comes from the bundle's signature
    return await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)


async def _headers(reader):
    """(status, {lower-case name: value}) of an HTTP/1.x response."""
    line = await asyncio.wait_for_ms(reader.readline(), TIMEOUT_MS)
    parts = line.decode().split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise FetchError("not an HTTP response: %r" % line[:60])
    status = int(parts[1])
    hdrs = {}
    while True:
        line = await asyncio.wait_for_ms(reader.readline(), TIMEOUT_MS)
        if not line:
            raise FetchError("connection closed in the headers")
        if line in (b"\r\n", b"\n"):
            return status, hdrs
        name, _, value = line.decode().partition(":")
        hdrs[name.strip().lower()] = value.strip()


async def _get_once(url, path, meta, progress, buf):
    """One request: from the file's end (a Range request) or from 0. Returns True when
    the file holds the whole body; False when the connection was cut (resume)."""
    tls, host, port, upath = parse_url(url)
    have = file_size(path)
    req = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ata-ota\r\nConnection: close\r\n" % (
        upath, host)
    if have and meta.get("total"):
        req += "Range: bytes=%d-\r\n" % have
        if meta.get("validator"):
            req += "If-Range: %s\r\n" % meta["validator"]
    reader, writer = await _open(tls, host, port)
    try:
        writer.write((req + "\r\n").encode())
        await writer.drain()
        status, hdrs = await _headers(reader)
        if status == 416 and have and have == meta.get("total"):
            return True                            # the file was already complete
        if status == 200:
            have = 0
            total = int(hdrs.get("content-length", "-1"))
            if total < 0:
                raise FetchError("the server sent no Content-Length")
            meta["validator"] = hdrs.get("etag") or hdrs.get("last-modified") or ""
            meta["total"] = total
            _write_meta(meta["meta_path"], {"url": url, "validator": meta["validator"],
                                            "total": total})
            mode = "wb"
        elif status == 206:
            cr = hdrs.get("content-range", "")    # bytes START-END/TOTAL
            try:
                start = int(cr.split()[1].split("-")[0])
                total = int(cr.rsplit("/", 1)[1])
            except (IndexError, ValueError):
                raise FetchError("bad Content-Range %r" % cr)
            if start != have or total != meta.get("total"):
                raise FetchError("range from %d of %d, asked from %d of %s"
                                 % (start, total, have, meta.get("total")))
            mode = "ab"
        else:
            raise FetchError("HTTP %d for %s" % (status, url))
        mv = memoryview(buf)
        with open(path, mode) as f:
            while have < total:
                want = min(len(buf), total - have)
                try:
                    n = await asyncio.wait_for_ms(reader.readinto(mv[:want]), TIMEOUT_MS)
                except asyncio.TimeoutError:
                    n = 0
                if not n:
                    return False                   # cut: what arrived stays in the file
                f.write(mv[:n])
                have += n
                if progress is not None:
                    progress(have, total)
        return True
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def download(url, path, meta_path, progress=None, retries=RETRIES, block=BLOCK):
    """Fetch url into path, resuming a partial file left by an earlier pull of the
    same url (meta_path holds the url, total and validator). progress(have, total) is
    called per block. Returns the size. Raises FetchError or OSError; the partial
    file is kept for the next try."""
    meta = _read_meta(meta_path)
    if meta.get("url") != url:
        forget(path, meta_path)
        meta = {}
    meta["meta_path"] = meta_path
    buf = bytearray(block)
    delay = _BACKOFF_MS
    tries = 0
    while True:
        try:
            if await _get_once(url, path, meta, progress, buf):
                return file_size(path)
            err = "connection cut at %d bytes" % file_size(path)
        except (OSError, asyncio.TimeoutError) as e:
            err = "%r" % (e,)
        tries += 1
        if tries > retries:
            raise FetchError("gave up after %d tries: %s" % (tries, err))
        await asyncio.sleep_ms(delay)
        delay *= 2
