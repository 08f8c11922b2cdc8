"""A/B application slots with probation (lib/ota/slots.py) on the MicroPython unix
port, one process per boot: a signed bundle is checked, installed into the inactive
slot and booted on trial; marked good it stays; a v2 that raises at start, or one
that never passes its health check, is rolled back on the next boot with the reason;
refused bundles (forged, downgrade) touch no slot; a power cut (SIGKILL) at each
point of unpacking leaves the old version booting; an archive that climbs out of its
slot is refused."""
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ata import ota
from conftest import ROOT, mpy_version, run_micropython

DRIVER = ROOT / "tests" / "mpy" / "ota_slots_driver.py"


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


def _app_bundle(tmp, key, version, body, extra_files=3):
    """A signed tar bundle whose app.py start() runs body (source text)."""
    tree = tmp / ("tree-" + version)
    (tree / "lib" / "pkg").mkdir(parents=True, exist_ok=True)
    (tree / "app.py").write_text("def start():\n" + body)
    for i in range(extra_files):
        (tree / "lib" / "pkg" / ("m%d.py" % i)).write_text("X = %d\n" % i)
    payload = ota.tar_tree(tree)
    m = ota.make_manifest("sim", "x64", mpy_version(), version, payload, "tar",
                          ota.raw_public(key))
    path = tmp / ("app-%s.ota" % version)
    path.write_bytes(ota.sign_bundle(m, payload, key))
    return path


def _run(*args, ok=True):
    r = run_micropython([str(DRIVER)] + [str(a) for a in args])
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def _update(root, bundle, key, *extra):
    return _run("update", root, bundle, ota.raw_public(key).hex(), *extra).stdout


def _boot(root, good=False, ok=True):
    return _run("boot", root, *(["good"] if good else []), ok=ok)


def _tree(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else b"")
                  for p in root.rglob("*") if "state.json" not in p.name)


def test_update_probation_good_then_bad_versions_rolled_back(tmp_path, key):
    root = tmp_path / "ota"
    assert "APP factory" in _boot(root).stdout
    v11 = _app_bundle(tmp_path, key, "1.1.0", "    return 'v1.1'\n")
    assert "UPDATED 1.1.0 slot a" in _update(root, v11, key)
    out = _boot(root, good=True).stdout
    assert "BOOT a 1.1.0 True" in out and "APP v1.1" in out and "GOOD" in out
    out = _boot(root).stdout
    assert "BOOT a 1.1.0 False" in out and "APP v1.1" in out

    # v1.2.0 raises at start: its first boot dies, the next one rolls back
    v12 = _app_bundle(tmp_path, key, "1.2.0", "    raise RuntimeError('v1.2 broken')\n")
    assert "UPDATED 1.2.0 slot b" in _update(root, v12, key)
    r = _boot(root, good=True, ok=False)
    assert r.returncode != 0 and "BOOT b 1.2.0 True" in r.stdout and "GOOD" not in r.stdout
    assert "RuntimeError: v1.2 broken" in r.stdout + r.stderr
    out = _boot(root).stdout
    assert "BOOT a 1.1.0 False" in out and "APP v1.1" in out, out
    assert "rolled back: 1.2.0 was not marked good after 1 trial boot(s)" in out

    # v1.3.0 starts but never passes its health check (never registers): rolled back too
    v13 = _app_bundle(tmp_path, key, "1.3.0", "    return 'v1.3 unregistered'\n")
    assert "UPDATED 1.3.0 slot b" in _update(root, v13, key)
    out = _boot(root).stdout                      # no "good": the health check failed
    assert "BOOT b 1.3.0 True" in out and "APP v1.3 unregistered" in out
    out = _boot(root).stdout
    assert "BOOT a 1.1.0 False" in out and "rolled back: 1.3.0" in out

    # a good v1.4.0 replaces slot b and stays
    v14 = _app_bundle(tmp_path, key, "1.4.0", "    return 'v1.4'\n")
    assert "UPDATED 1.4.0 slot b" in _update(root, v14, key)
    assert "GOOD" in _boot(root, good=True).stdout
    for _ in range(2):
        out = _boot(root).stdout
        assert "BOOT b 1.4.0 False" in out and "APP v1.4" in out


def test_refused_bundles_touch_no_slot(tmp_path, key):
    root = tmp_path / "ota"
    v12 = _app_bundle(tmp_path, key, "1.2.0", "    return 'v1.2'\n")
    _update(root, v12, key)
    _boot(root, good=True)
    before = _tree(root)
    state = (root / "state.json").read_bytes()
    old = _app_bundle(tmp_path, key, "1.1.5", "    return 'old'\n")
    assert "REFUSED downgrade" in _update(root, old, key)
    forged = bytearray(_app_bundle(tmp_path, key, "1.3.0", "    return 'v1.3'\n").read_bytes())
    forged[20] ^= 0x20                            # inside the signed manifest
    fpath = tmp_path / "forged.ota"
    fpath.write_bytes(bytes(forged))
    assert "REFUSED forged" in _update(root, fpath, key)
    other = Ed25519PrivateKey.generate()
    wrong = _app_bundle(tmp_path, other, "1.3.0", "    return 'evil'\n")
    assert "REFUSED wrong-key" in _update(root, wrong, key)
    assert _tree(root) == before and (root / "state.json").read_bytes() == state
    assert "APP v1.2" in _boot(root).stdout


def test_power_cut_while_unpacking_keeps_the_old_version(tmp_path, key):
    """SIGKILL after 0, 1, ... files written into the inactive slot: each time the next
    boot runs v1.1 (the pointer was never switched); then an uncut update works."""
    root = tmp_path / "ota"
    _update(root, _app_bundle(tmp_path, key, "1.1.0", "    return 'v1.1'\n"), key)
    _boot(root, good=True)
    v12 = _app_bundle(tmp_path, key, "1.2.0", "    return 'v1.2'\n", extra_files=4)
    for n in range(0, 6):                        # app.py + 4 modules: 5 files
        r = run_micropython([str(DRIVER), "update", str(root), str(v12),
                             ota.raw_public(key).hex(), str(n)])
        assert r.returncode != 0 and "UPDATED" not in r.stdout, (n, r.stdout, r.stderr)
        out = _boot(root).stdout
        assert "BOOT a 1.1.0 False" in out and "APP v1.1" in out, (n, out)
    assert "UPDATED 1.2.0 slot b" in _update(root, v12, key)
    assert "APP v1.2" in _boot(root, good=True).stdout
    assert not (root / "staged.bin").exists()      # unpacked, its space given back


def test_archive_escaping_its_slot_is_refused(tmp_path, key):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = b"def start():\n    return 'x'\n"
        for name in ("app.py", "../escaped.py"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    payload = buf.getvalue()
    m = ota.make_manifest("sim", "x64", mpy_version(), "1.1.0", payload, "tar",
                          ota.raw_public(key))
    path = tmp_path / "escape.ota"
    path.write_bytes(ota.sign_bundle(m, payload, key))
    root = tmp_path / "ota"
    out = _update(root, path, key)
    assert "REFUSED slot tar: unsafe name '../escaped.py'" in out, out
    assert not (tmp_path / "escaped.py").exists() and not (root / "state.json").exists()
    assert "APP factory" in _boot(root).stdout
    assert not os.path.exists(root / "a" / "manifest.json")


def test_romfs_payload_is_installed_as_the_slot_image(tmp_path, key):
    payload = os.urandom(5000)
    m = ota.make_manifest("sim", "x64", mpy_version(), "1.1.0", payload, "romfs",
                          ota.raw_public(key))
    path = tmp_path / "romfs.ota"
    path.write_bytes(ota.sign_bundle(m, payload, key))
    root = tmp_path / "ota"
    assert "UPDATED 1.1.0 slot a" in _update(root, path, key)
    assert (root / "a" / "app.romfs").read_bytes() == payload
    assert not (root / "staged.bin").exists()
