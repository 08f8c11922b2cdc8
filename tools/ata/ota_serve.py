"""`ata ota serve DIR`: a small HTTP server for bundles in a lab (stdlib http.server).

GET and HEAD of the files in DIR (no listing, nothing outside DIR), with single
byte ranges (`Range: bytes=A-` or `A-B`, answered 206 with Content-Range, 416 past
the end), an ETag per file version and If-Range (a changed file is sent whole: 200),
so a device resumes a cut download. For tests and demonstrations of resuming:
--rate limits each response's bytes per second; --cut-after N closes the first
response of each file after N bytes (once per file and server run).

HTTPS: --tls-cert/--tls-key serve over TLS with that certificate; --tls alone makes
a self-signed one for the host name (a lab: the device does not check the
certificate, the bundle's Ed25519 signature is what it trusts, TLS hides the bundle
on the way).
"""
import datetime
import email.utils
import http.server
import ipaddress
import pathlib
import re
import ssl
import sys
import threading
import time

_CHUNK = 4096


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "ata-ota-serve"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("ota serve: %s %s\n" % (self.address_string(), fmt % args))

    def _file(self):
        name = self.path.split("?", 1)[0].lstrip("/")
        root = self.server.root
        p = (root / name).resolve()
        if not name or root not in p.parents or not p.is_file():
            return None
        return p

    def do_HEAD(self):
        self._send(head=True)

    def do_GET(self):
        self._send(head=False)

    def _send(self, head):
        p = self._file()
        if p is None:
            self.send_error(404, "no such bundle")
            return
        st = p.stat()
        size = st.st_size
        etag = '"%x-%x"' % (st.st_mtime_ns, size)
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and (if_range is None or if_range == etag):
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if head:
            return
        cut = self.server.take_cut(p)
        sent = 0
        t0 = time.monotonic()
        with open(p, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                n = min(_CHUNK, left)
                if cut is not None:
                    n = min(n, cut - sent)
                    if n <= 0:
                        self.server.note("cut %s after %d bytes" % (p.name, sent))
                        return
                data = f.read(n)
                if not data:
                    return
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(data)
                left -= len(data)
                if self.server.progress is not None:
                    self.server.progress(p.name, start + sent, size)
                if self.server.rate:
                    ahead = sent / self.server.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        self.server.note("sent %s bytes %d-%d of %d (%d)" % (p.name, start, end, size, status))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root, host="0.0.0.0", port=8080, rate=0, cut_after=None,
                 verbose=False, progress=None, quiet=False, tls=None):
        self.root = pathlib.Path(root).resolve()
        self.scheme = "https" if tls else "http"
        self.progress = progress          # fn(name, bytes of the file sent so far, size)
        self.quiet = quiet
        self.rate = rate
        self.cut_after = cut_after
        self.verbose = verbose
        self._cut_done = set()
        self._lock = threading.Lock()
        super().__init__((host, port), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            # the handshake runs in the request's thread, not in the accept loop, so one
            # slow or broken client cannot stall the others
            self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # a client that drops the TLS handshake or the connection is not a server error
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            self.note("connection from %s ended: %s" % (client_address[0], sys.exc_info()[1]))
            return
        super().handle_error(request, client_address)

    def take_cut(self, path):
        """Bytes after which to cut this response (None: send it whole)."""
        if self.cut_after is None:
            return None
        with self._lock:
            if path in self._cut_done:
                return None
            self._cut_done.add(path)
            return self.cut_after

    def note(self, text):
        if not self.quiet:
            print("ota serve: " + text, flush=True)


def self_signed(out_dir, host="127.0.0.1", days=30):
    """(cert path, key path): a fresh self-signed certificate for `host` (an address
    or a name) made with the `cryptography` package, for a lab server."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = out / "ota-serve.crt", out / "ota-serve.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def serve(root, host="0.0.0.0", port=8080, rate=0, cut_after=None, verbose=False, tls=None):
    """tls: None (HTTP), (cert, key) paths, or "self" (a self-signed certificate made
    under DIR/.tls for the printed address)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError("%s is not a directory" % root)
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    if tls == "self":
        tls = self_signed(root / ".tls", shown)
        print("ota serve: self-signed certificate %s" % tls[0], flush=True)
    srv = Server(root, host, port, rate, cut_after, verbose, tls=tls)
    p = srv.server_address[1]
    print("ota serve: %s at %s://%s:%d/" % (root, srv.scheme, shown, p), flush=True)
    for b in sorted(root.glob("*.ota")):
        print("ota serve:   %s://%s:%d/%s (%d bytes)" % (srv.scheme, shown, p, b.name,
                                                       b.stat().st_size), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0
