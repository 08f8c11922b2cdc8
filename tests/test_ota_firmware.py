"""ESP32 whole-firmware OTA (lib/ota/firmware.py) on the sim's file-backed Partition
(lib/ota/filepart.py), the ESP-IDF bootloader's rollback included, one MicroPython
process per power-on: a signed image streams into the next OTA partition and is set
to boot only after every check; started once on trial (pending verify), it is kept
when the health check marks it valid, and rolled back by the bootloader when a start
ends without that. Forged, tampered, wrong-kind and too-large images are refused
with the boot partition unchanged; a power cut (SIGKILL) while sectors are written
boots the old image."""
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ata import ota
from conftest import ROOT, mpy_version, run_micropython

DRIVER = ROOT / "tests" / "mpy" / "ota_firmware_driver.py"


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


def image(version, size=40000):
    body = hashlib.sha256(version.encode()).digest() * (size // 32)
    return ("IMG %s\n" % version).encode() + body


def firmware_bundle(tmp, key, version, size=40000, kind="firmware", tamper=False):
    payload = image(version, size)
    m = ota.make_manifest("esp32_ag1171", "xtensawin", mpy_version(), version, payload, kind,
                          ota.raw_public(key))
    data = bytearray(ota.sign_bundle(m, payload, key))
    if tamper:
        data[-100] ^= 0x40
    p = tmp / ("fw-%s-%s-%d-%s%s.ota" % (version, kind, size, ota.key_id(ota.raw_public(key)),
                                      "-t" if tamper else ""))
    p.write_bytes(bytes(data))
    return p


def run(*args):
    r = run_micropython([str(DRIVER)] + [str(a) for a in args])
    return r


def power_on(flash, good=False):
    r = run("power_on", flash, *(["good"] if good else []))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def update(flash, bundle, key, *extra):
    return run("update", flash, bundle, ota.raw_public(key).hex(), *extra)


def test_image_on_trial_kept_when_valid_rolled_back_when_not(tmp_path, key):
    flash = tmp_path / "flash"
    assert "RUN ota_0 1.0.0" in power_on(flash)
    r = update(flash, firmware_bundle(tmp_path, key, "1.1.0"), key)
    assert "SET_BOOT ota_1 1.1.0" in r.stdout, r.stdout + r.stderr
    # the image is in ota_1, byte for byte, erased flash after it
    got = (flash / "flash" / "ota_1.bin").read_bytes()
    want = image("1.1.0")
    assert got[:len(want)] == want and set(got[len(want):]) <= {0xFF}
    out = power_on(flash, good=True)
    assert "RUN ota_1 1.1.0 | started ota_1 on trial (pending verify)" in out, out
    assert "TRIAL 1.1.0" in out and "GOOD" in out
    out = power_on(flash)
    assert "RUN ota_1 1.1.0 | started ota_1 (valid)" in out and "TRIAL" not in out, out

    # 1.2.0 starts once and never passes its health check: the bootloader goes back
    assert "SET_BOOT ota_0 1.2.0" in update(flash, firmware_bundle(tmp_path, key, "1.2.0"),
                                             key).stdout
    out = power_on(flash)
    assert "RUN ota_0 1.2.0" in out and "TRIAL 1.2.0" in out and "GOOD" not in out
    out = power_on(flash)
    assert "RUN ota_1 1.1.0 | rolled back: ota_0 was not marked valid; started ota_1" in out
    assert "ROLLED_BACK 1.2.0" in out, out
    out = power_on(flash)
    assert "RUN ota_1 1.1.0 | started ota_1 (valid)" in out and "ROLLED_BACK" not in out


def test_refused_images_leave_the_boot_partition(tmp_path, key):
    flash = tmp_path / "flash"
    power_on(flash)
    cases = [
        (firmware_bundle(tmp_path, key, "1.1.0", tamper=True), "REFUSED tampered"),
        (firmware_bundle(tmp_path, key, "1.1.0", kind="tar"), "REFUSED malformed payload "
                                                                 "kind 'tar' is not a firmware"),
        (firmware_bundle(tmp_path, key, "0.9.0"), "REFUSED downgrade"),
        (firmware_bundle(tmp_path, key, "1.1.0", size=0x180000 + 32), "REFUSED space"),
        (firmware_bundle(tmp_path, Ed25519PrivateKey.generate(), "1.1.0"), "REFUSED wrong-key"),
    ]
    for bundle, want in cases:
        r = update(flash, bundle, key)
        assert want in r.stdout, (bundle.name, r.stdout + r.stderr)
        assert "SET_BOOT" not in r.stdout
        out = power_on(flash)
        assert "RUN ota_0 1.0.0 | started ota_0 (valid)" in out, (bundle.name, out)


@pytest.mark.parametrize("sectors", [0, 3, 9])
def test_power_cut_while_writing_boots_the_old_image(tmp_path, key, sectors):
    flash = tmp_path / "flash"
    power_on(flash)
    r = update(flash, firmware_bundle(tmp_path, key, "1.1.0"), key, sectors)
    assert r.returncode != 0 and "SET_BOOT" not in r.stdout, r.stdout + r.stderr
    assert "RUN ota_0 1.0.0 | started ota_0 (valid)" in power_on(flash)
    # and the next try goes through
    assert "SET_BOOT ota_1 1.1.0" in update(flash, firmware_bundle(tmp_path, key, "1.1.0"),
                                             key).stdout
    assert "RUN ota_1 1.1.0" in power_on(flash, good=True)


def test_cli_signs_an_app_image_the_device_writes(tmp_path, key):
    """`ata ota sign --image` (kind firmware) makes a bundle lib/ota/firmware.py takes;
    a file that is no ESP32 app image (first byte not 0xE9) is refused on the host."""
    import subprocess
    from cryptography.hazmat.primitives import serialization
    from ata import paths
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    app = tmp_path / "firmware.app-bin"
    app.write_bytes(b"\xe9" + bytes(range(256)) * 100)
    bad = tmp_path / "merged.bin"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "fw.ota"
    ata = [str(paths.VENV_BIN / "ata"), "ota", "sign", "--board", "esp32_ag1171",
           "--version", "1.1.0", "--key", str(pem)]
    r = subprocess.run(ata + ["--image", str(app), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and '"kind": "firmware"' in r.stdout, r.stdout + r.stderr
    r = subprocess.run(ata + ["--image", str(bad), "-o", str(tmp_path / "x.ota")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "not an ESP32 app image" in r.stderr, r.stderr
    flash = tmp_path / "flash"
    power_on(flash)
    r = update(flash, out, key)
    assert "SET_BOOT ota_1 1.1.0" in r.stdout, r.stdout + r.stderr
    assert (flash / "flash" / "ota_1.bin").read_bytes()[:app.stat().st_size] == app.read_bytes()
