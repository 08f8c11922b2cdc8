"""The OTA download over HTTPS (issue 13, item 2): lib/ota/fetch.py on the unix port
(mbedTLS, as on the ESP32) pulls a bundle from `ata ota serve` with TLS, whole and
after the server cuts the connection (resumed with a Range request over a new TLS
session), and the bytes on disk are the bundle's. A plain-HTTP pull from the TLS
port fails with a clear error and keeps nothing it should not.
"""
import hashlib
import os
import threading

import pytest

from conftest import ROOT, run_micropython
from ata import ota_serve

DRIVER = str(ROOT / "tests" / "mpy" / "ota_fetch_driver.py")
SIZE = 150_000


@pytest.fixture
def bundle_dir(tmp_path):
    d = tmp_path / "srv"
    d.mkdir()
    data = os.urandom(SIZE)          # content does not matter to the transport
    (d / "sim-9.9.9.ota").write_bytes(data)
    return d, hashlib.sha256(data).hexdigest()


def _serve(root, tls, cut_after=None):
    srv = ota_serve.Server(root, "127.0.0.1", 0, cut_after=cut_after, quiet=False, tls=tls)
    lines = []
    srv.note = lines.append
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, t, lines


def _stop(srv, t):
    srv.shutdown()
    srv.server_close()
    t.join(5)


def _fetch(url, dest):
    r = run_micropython([DRIVER, url, str(dest)], timeout=120)
    out = r.stdout.strip().splitlines()
    assert r.returncode == 0 and out, r.stdout + r.stderr
    return out[-1]


@pytest.mark.parametrize("cut_after", [None, 60_000])
def test_https_pull_whole_and_resumed_after_a_cut(tmp_path, bundle_dir, cut_after):
    root, sha = bundle_dir
    tls = ota_serve.self_signed(tmp_path / "tls")
    srv, t, lines = _serve(root, tls, cut_after)
    try:
        url = "https://127.0.0.1:%d/sim-9.9.9.ota" % srv.server_address[1]
        got = _fetch(url, tmp_path / "dl.bin").split()
    finally:
        _stop(srv, t)
    assert srv.scheme == "https"
    assert got[:3] == ["FETCHED", str(SIZE), sha], got
    assert int(got[3]) >= SIZE // 512, got          # 512-byte blocks, one call each
    if cut_after is None:
        assert lines == ["sent sim-9.9.9.ota bytes 0-%d of %d (200)" % (SIZE - 1, SIZE)], lines
    else:
        # the first response is cut; the second asks for the rest only (206)
        assert lines[0] == "cut sim-9.9.9.ota after %d bytes" % cut_after, lines
        assert ("sent sim-9.9.9.ota bytes %d-%d of %d (206)" % (cut_after, SIZE - 1, SIZE)
                in lines), lines


def test_plain_http_to_the_tls_port_fails_clearly(tmp_path, bundle_dir):
    root, _ = bundle_dir
    tls = ota_serve.self_signed(tmp_path / "tls")
    srv, t, lines = _serve(root, tls)
    try:
        url = "http://127.0.0.1:%d/sim-9.9.9.ota" % srv.server_address[1]
        got = _fetch(url, tmp_path / "dl.bin")
    finally:
        _stop(srv, t)
    assert got.startswith("FAILED"), got
    assert "not an HTTP response" in got, got       # refused at once, not retried
    assert not any(line.startswith("sent") for line in lines), lines


def test_self_signed_certificate_names_the_host(tmp_path):
    from cryptography import x509
    cert_path, key_path = ota_serve.self_signed(tmp_path, "ata-lab.local")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["ata-lab.local"]
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
