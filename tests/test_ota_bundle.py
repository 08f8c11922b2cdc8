"""Signed OTA bundles: the host tools (`ata ota keygen/sign/verify`) and the device's
streaming check (lib/ota/bundle.py on MicroPython). Every refusal of issue 13 is a
case here: unsigned, forged, wrong key, tampered payload, truncated, wrong board,
wrong arch, .mpy version mismatch, downgrade, not enough space (and malformed: data
after the payload). A refused bundle hands no payload byte on before its manifest
passed, and leaves neither the staged file nor its .part behind; an accepted one is
staged byte for byte. One bundle is checked in a 64 KB heap though it is ~200 KB
(streamed through a bounded buffer)."""
import json
import os
import stat
import struct
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ata import ota, paths
from conftest import ROOT, mpy_version, run_micropython

DRIVER = ROOT / "tests" / "mpy" / "ota_bundle_driver.py"
RUNNING = "1.4.0"


@pytest.fixture(scope="module")
def keys():
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    tree = tmp_path_factory.mktemp("tree")
    (tree / "lib" / "demo").mkdir(parents=True)
    (tree / "main.py").write_text("import app\n")
    (tree / "lib" / "demo" / "x.bin").write_bytes(bytes(range(256)) * 9)
    return ota.tar_tree(tree)


def _manifest(key, payload, **over):
    m = ota.make_manifest("sim", "x64", mpy_version(), "1.5.0", payload, "tar",
                          ota.raw_public(key))
    m.update(over)
    return m


def _run_cases(tmp_path, cases, heapsize=None):
    """cases: [(name, bundle bytes, public key raw, free or None)] -> {name: line}."""
    lines = []
    for name, data, pub, free in cases:
        b = tmp_path / (name + ".ota")
        b.write_bytes(data)
        dest = tmp_path / "slot" / (name + ".staged")
        dest.parent.mkdir(exist_ok=True)
        lines.append(" ".join([str(b), pub.hex(), "sim", RUNNING, str(dest),
                               "-" if free is None else str(free), "256"]))
    f = tmp_path / "cases.txt"
    f.write_text("\n".join(lines) + "\n")
    r = run_micropython([str(DRIVER), str(f)], heapsize=heapsize, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert len(out) == len(cases), r.stdout + r.stderr
    return {c[0]: line for c, line in zip(cases, out)}


def test_refusals_each_with_its_reason_and_nothing_staged(tmp_path, keys, payload):
    key, other = keys
    pub = ota.raw_public(key)
    good = ota.sign_bundle(_manifest(key, payload), payload, key)
    mb = ota.encode_manifest(_manifest(key, payload))
    hdr = 12 + len(mb) + 64

    def signed(**over):
        return ota.sign_bundle(_manifest(key, payload, **over), payload, key)

    # the manifest changed after signing (a newer version claimed): same key id
    forged_mb = ota.encode_manifest(_manifest(key, payload, version="9.0.0"))
    tampered = bytearray(good)
    tampered[hdr + 700] ^= 0x01
    cases = [
        ("good", good, pub, None),
        ("unsigned_raw", payload, pub, None),
        ("unsigned_nosig", ota.make_bundle(mb, payload, b""), pub, None),
        ("forged", ota.make_bundle(forged_mb, payload, key.sign(mb)), pub, None),
        ("forged_random_sig", ota.make_bundle(mb, payload, os.urandom(64)), pub, None),
        ("wrong_key", ota.sign_bundle(_manifest(other, payload), payload, other), pub, None),
        ("tampered", bytes(tampered), pub, None),
        ("truncated_payload", good[:hdr + len(payload) // 2], pub, None),
        ("truncated_manifest", good[:40], pub, None),
        ("truncated_header", good[:9], pub, None),
        ("board", signed(board="esp32_ag1171"), pub, None),
        ("arch", signed(arch="xtensawin"), pub, None),
        ("mpy", signed(mpy="5.0"), pub, None),
        ("downgrade_same", signed(version=RUNNING), pub, None),
        ("downgrade_lower", signed(version="1.3.9"), pub, None),
        ("space", good, pub, len(payload) - 1),
        ("trailing", good + b"\x00", pub, None),
    ]
    got = _run_cases(tmp_path, cases)
    want = {
        "unsigned_raw": "unsigned", "unsigned_nosig": "unsigned", "forged": "forged",
        "forged_random_sig": "forged", "wrong_key": "wrong-key", "tampered": "tampered",
        "truncated_payload": "truncated", "truncated_manifest": "truncated",
        "truncated_header": "truncated", "board": "board", "arch": "arch",
        "mpy": "mpy-version", "downgrade_same": "downgrade", "downgrade_lower": "downgrade",
        "space": "space", "trailing": "malformed",
    }
    # refused after the payload streamed: the sink saw bytes, the caller discards them
    late = {"tampered", "truncated_payload", "trailing"}
    for name, code in want.items():
        words = got[name].split()
        assert words[:2] == ["REFUSED", code], (name, got[name])
        assert got[name].endswith("| dry " + code), (name, got[name])
        if name not in late:
            assert words[2] == "0", ("payload handed on before the manifest passed", got[name])
        staged = tmp_path / "slot" / (name + ".staged")
        assert not staged.exists() and not (tmp_path / "slot" / (name + ".staged.part")).exists()
    assert got["good"].split()[:3] == ["OK", "1.5.0", str(len(payload))], got["good"]
    assert (tmp_path / "slot" / "good.staged").read_bytes() == payload
    assert not (tmp_path / "slot" / "good.staged.part").exists()
    # the reasons name what was wrong
    assert "esp32_ag1171" in got["board"] and "xtensawin" in got["arch"]
    assert ota.key_id(ota.raw_public(other)) in got["wrong_key"]
    assert "1.3.9" in got["downgrade_lower"] and RUNNING in got["downgrade_lower"]


def test_large_bundle_streams_in_a_small_heap(tmp_path, keys):
    key, _ = keys
    payload = os.urandom(200_000)
    data = ota.sign_bundle(_manifest(key, payload), payload, key)
    got = _run_cases(tmp_path, [("big", data, ota.raw_public(key), None)], heapsize="64k")
    assert got["big"].split()[:3] == ["OK", "1.5.0", "200000"], got["big"]
    assert (tmp_path / "slot" / "big.staged").read_bytes() == payload


def test_keygen_private_key_0600_and_public_module(tmp_path):
    kp, pp = ota.keygen(tmp_path / "keys" / "k.pem", tmp_path / "ota_key.py")
    assert stat.S_IMODE(kp.stat().st_mode) == 0o600
    key = ota.load_private(kp)
    assert ota.load_public(pp) == ota.raw_public(key)
    # the module is what the device imports: MicroPython reads the same key from it
    r = run_micropython(["-c", "import ota_key; print(ota_key.PUBLIC_KEY.hex(), ota_key.KEY_ID)"],
                        env_extra={"MICROPYPATH": str(tmp_path)})
    assert r.stdout.split() == [ota.raw_public(key).hex(), ota.key_id(ota.raw_public(key))]
    with pytest.raises(FileExistsError):
        ota.keygen(kp, tmp_path / "ota_key.py")
    assert ota.load_private(kp).private_bytes_raw() == key.private_bytes_raw()


def test_cli_sign_and_verify_a_board_tree(tmp_path, monkeypatch):
    """`ata ota sign` over a built tree (two real .mpy files for the sim's arch), then
    `ata ota verify`: OK with the right key and fields, refused otherwise."""
    build = tmp_path / "build"
    tree = build / "boards" / "sim"
    (tree / "lib" / "pkg").mkdir(parents=True)
    src = tmp_path / "m.py"
    src.write_text("X = 1\n")
    for out in (tree / "app.mpy", tree / "lib" / "pkg" / "m.mpy"):
        subprocess.run([paths.MPY_CROSS, "-march=x64", "-o", str(out), str(src)], check=True)
    (tree / "main.py").write_text("import app\n")
    monkeypatch.setattr(paths, "BUILD", build)
    kp, pp = ota.keygen(tmp_path / "k.pem", tmp_path / "ota_key.py")
    out = tmp_path / "sim.ota"
    assert ota.main(["sign", "--board", "sim", "--version", "2.0.0", "--key", str(kp),
                     "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:6] == b"ATAOTA"
    mlen, slen = struct.unpack(">HH", data[8:12])
    m = json.loads(data[12:12 + mlen])
    assert (m["board"], m["arch"], m["kind"], m["version"], slen) == ("sim", "x64", "tar", "2.0.0", 64)
    assert m["mpy"] == mpy_version()
    assert ota.main(["verify", str(out), "--pub", str(pp), "--board", "sim",
                     "--running", "1.9.9"]) == 0
    assert ota.main(["verify", str(out), "--pub", str(pp), "--board", "esp32_ag1171"]) == 1
    assert ota.main(["verify", str(out), "--pub", str(pp), "--running", "2.0.0"]) == 1
    _, other = ota.keygen(tmp_path / "k2.pem", tmp_path / "other_key.py")
    assert ota.main(["verify", str(out), "--pub", str(other)]) == 1
    # a tree whose native code is for another arch is not signed as this board's
    viper = tmp_path / "v.py"
    viper.write_text("@micropython.viper\ndef f(x: int) -> int:\n    return x + 1\n")
    subprocess.run([paths.MPY_CROSS, "-march=xtensawin", "-o", str(tree / "v.mpy"), str(viper)],
                   check=True)
    assert ota.main(["sign", "--board", "sim", "--version", "2.0.1", "--key", str(kp),
                     "-o", str(tmp_path / "bad.ota")]) == 1
    assert not (tmp_path / "bad.ota").exists()


def test_cli_sign_a_romfs_image(tmp_path, monkeypatch, capsys):
    """`ata ota sign --romfs IMG`: a ROMFS image (as `ata build --romfs` packs it) is
    signed as kind romfs, byte for byte; an image cut short, one with native code for
    another arch, or one given to --image (a whole-firmware image) is not signed."""
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")     # no build tree needed
    tree = tmp_path / "tree"
    (tree / "lib" / "pkg").mkdir(parents=True)
    src = tmp_path / "m.py"
    src.write_text("X = 1\n")
    for out in (tree / "app.mpy", tree / "lib" / "pkg" / "m.mpy"):
        subprocess.run([paths.MPY_CROSS, "-march=x64", "-o", str(out), str(src)], check=True)
    img = tmp_path / "sim.romfs"
    subprocess.run([str(paths.VENV_BIN / "mpremote"), "romfs", "-o", str(img), "--no-mpy",
                    "build", str(tree)], check=True, capture_output=True)
    image = img.read_bytes()
    assert sorted(n for n, _ in ota.romfs_files(image)) == ["app.mpy", "lib/pkg/m.mpy"]
    kp, pp = ota.keygen(tmp_path / "k.pem", tmp_path / "ota_key.py")
    out = tmp_path / "sim.ota"
    assert ota.main(["sign", "--board", "sim", "--version", "2.0.0", "--romfs", str(img),
                     "--key", str(kp), "-o", str(out)]) == 0
    data = out.read_bytes()
    mlen, slen = struct.unpack(">HH", data[8:12])
    m = json.loads(data[12:12 + mlen])
    assert (m["kind"], m["arch"], m["mpy"], m["size"]) == ("romfs", "x64", mpy_version(),
                                                            len(image))
    assert data[12 + mlen + slen:] == image
    assert ota.main(["verify", str(out), "--pub", str(pp), "--board", "sim"]) == 0
    capsys.readouterr()

    def refused(args, why):
        bad = tmp_path / "bad.ota"
        assert ota.main(["sign", "--board", "sim", "--version", "2.0.1", "--key", str(kp),
                         "-o", str(bad)] + args) == 1
        assert not bad.exists()
        err = capsys.readouterr().err
        assert why in err, err

    cut = tmp_path / "cut.romfs"
    cut.write_bytes(image[:-9])
    refused(["--romfs", str(cut)], "the header says %d bytes, the image has %d"
            % (len(image), len(image) - 9))
    refused(["--romfs", str(src)], "not a ROMFS image")
    refused(["--image", str(img)], "is a ROMFS image, not a firmware image: sign it with "
                                   "--romfs")
    viper = tmp_path / "v.py"
    viper.write_text("@micropython.viper\ndef f(x: int) -> int:\n    return x + 1\n")
    subprocess.run([paths.MPY_CROSS, "-march=xtensawin", "-o", str(tree / "v.mpy"), str(viper)],
                   check=True)
    other = tmp_path / "other.romfs"
    subprocess.run([str(paths.VENV_BIN / "mpremote"), "romfs", "-o", str(other), "--no-mpy",
                    "build", str(tree)], check=True, capture_output=True)
    refused(["--romfs", str(other)], "other.romfs:v.mpy: native code")
