"""ROMFS payloads in the A/B slots, on the sim with the real firmware (issue 13): the
tools a user runs (`ata ota keygen`, `ata build --romfs`, `ata ota sign --romfs`,
`ata ota serve`) make a v1.1.0 bundle of the board's ROMFS image; the console's
`ota` pulls it, checks it, installs it into slot a and restarts on probation; boot
mounts the slot's image read-only at /rom_a and puts it first on sys.path; the
firmware runs from it (its modules' __file__ under /rom_a, the console's status
says so), registers, is marked good and carries a call. A signed image that is cut
short is refused and 1.1.0 keeps running. A v1.2.0 image whose call control raises
at import is started on probation from the image, rolled back, and the factory
application runs again."""
import json
import shutil
import subprocess

import pytest

import otasim
from ata import ota, paths
from conftest import ROOT, VENV_BIN

ATA = str(VENV_BIN / "ata")


def _run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _broken_image(tmp):
    """The built image's tree (build/romfs/sim) with callctl.mpy compiled from a
    callctl.py that raises at import: an image `ata build --romfs` could have made."""
    tree = tmp / "t120"
    shutil.copytree(paths.BUILD / "romfs" / "sim", tree)
    src = tmp / "callctl.py"
    src.write_text(otasim.broken_at_boot((ROOT / "firmware" / "callctl.py").read_text()))
    _run(paths.MPY_CROSS, "-march=x64", "-s", "callctl.py", "-o", tree / "callctl.mpy", src)
    img = tmp / "sim-1.2.0.romfs"
    _run(VENV_BIN / "mpremote", "romfs", "-o", img, "--no-mpy", "build", tree)
    return img.read_bytes()


def _sign(payload, key, version, out):
    m = ota.make_manifest("sim", "x64", ota.mpy_cross_version(), version, payload, "romfs",
                          ota.raw_public(key))
    out.write_bytes(ota.sign_bundle(m, payload, key))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("romfs")
    keyfile, pub = tmp / "keys" / "signing.pem", tmp / "ota_key.py"
    _run(ATA, "ota", "keygen", "--key", keyfile, "--pub", pub)
    _run(ATA, "build", "--board", "sim", "--romfs")
    srv = tmp / "srv"
    srv.mkdir()
    out = _run(ATA, "ota", "sign", "--board", "sim", "--version", "1.1.0", "--romfs", "--key",
               keyfile, "-o", srv / "sim-1.1.0.ota")
    assert '"kind": "romfs"' in out, out
    image = (paths.BUILD / "boards" / "sim.romfs").read_bytes()
    key = ota.load_private(keyfile)
    _sign(_broken_image(tmp), key, "1.2.0", srv / "sim-1.2.0.ota")
    _sign(image[:-100], key, "1.5.0", srv / "cut-1.5.0.ota")         # signed, yet cut short
    return {"srv": srv, "pub": pub.read_text(), "image": image}


@pytest.fixture(scope="module")
def server(made):
    srv = otasim.Server(made["srv"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = otasim.Pbx(tmp_path_factory.mktemp("pbx"))
    yield p
    p.stop()


def _board(tmp_path, made):
    run = tmp_path / "board"
    run.mkdir()
    (run / "ota_key.py").write_text(made["pub"])     # keygen's public key on the flash
    return run


def _status(sim, mark):
    sim.send("ota status")
    return json.loads(sim.wait_log(r"ota: (\{[^\n]*\})", 10, mark).group(1))


def test_romfs_update_probation_good_runs_from_the_image(tmp_path, made, server, pbx):
    run = _board(tmp_path, made)
    cfg = otasim.ota_config(pbx, server.url("sim-1.1.0.ota"), health_s=2, probation_s=60)
    sim = otasim.start_sim(cfg, run)
    try:
        assert otasim.booted_version(sim) == otasim.FACTORY
        sim.wait_log("sip: registered", 15)
        mark = boot_mark = len(sim.log_text())
        sim.send("ota")
        sim.wait_log(r"ota: 1\.1\.0 checked \(signed by key \w+, %d bytes\)" % len(made["image"]),
                     30, mark)
        sim.wait_log(r"ota: 1\.1\.0 installed in slot a; restarting on probation", 10, mark)
        sim.wait_log(r"ota: slot a: ROMFS image mounted read-only at /rom_a", 20, mark)
        sim.wait_log(r"ota: running 1\.1\.0 from slot a on probation", 10, mark)
        assert otasim.booted_version(sim, mark) == "1.1.0"
        sim.wait_log(r"ota: 1\.1\.0 marked good \(registered, no task crashed for 2 s\)",
                     30, mark)
        slot = run / "ota" / "a"
        assert sorted(p.name for p in slot.iterdir()) == ["app.romfs", "manifest.json"]
        assert (slot / "app.romfs").read_bytes() == made["image"]
        state = json.loads((run / "ota" / "state.json").read_text())
        assert state["active"] == "a" and state["trial"] is False

        # the code runs from the image: first on sys.path, modules loaded from it
        mark = len(sim.log_text())
        sim.send('import sys; print("CODE", sys.path[:2], sys.modules["callctl"].__file__, '
                 'sys.modules["ota.agent"].__file__)')
        sim.wait_log(r"CODE \['/rom_a', '/rom_a/lib'\] /rom_a/callctl\.mpy "
                     r"/rom_a/lib/ota/agent\.mpy", 10, mark)
        st = _status(sim, mark)
        assert (st["version"], st["slot"], st["trial"], st["code"]) == (
            "1.1.0", "a", False, "/rom_a"), st
        otasim.place_call(sim, cfg, pbx.far, boot_mark)

        # a signed image cut short: refused with the reason, 1.1.0 untouched
        mark = len(sim.log_text())
        sim.send("ota(%r)" % server.url("cut-1.5.0.ota"))
        sim.wait_log(r"ota: refused: malformed: romfs: the header says %d bytes, the image "
                     r"has %d \(running 1\.1\.0 kept\)" % (len(made["image"]),
                                                           len(made["image"]) - 100), 30, mark)
        assert sorted(p.name for p in (run / "ota").iterdir()) == ["a", "state.json"]
        assert (_status(sim, mark)["version"], _status(sim, mark)["code"]) == ("1.1.0", "/rom_a")
    finally:
        sim.stop()
    assert "Traceback" not in sim.log_text(), sim.log_text()[-3000:]


def test_broken_romfs_version_rolled_back(tmp_path, made, server):
    run = _board(tmp_path, made)
    cfg = otasim.ota_config(None, server.url("sim-1.2.0.ota"), health_s=2, probation_s=30)
    sim = otasim.start_sim(cfg, run)
    try:
        mark = len(sim.log_text())
        sim.send("ota")
        sim.wait_log(r"ota: 1\.2\.0 installed in slot a; restarting on probation", 30, mark)
        sim.wait_log(r"ota: slot a: ROMFS image mounted read-only at /rom_a", 20, mark)
        sim.wait_log(r"ota: running 1\.2\.0 from slot a on probation", 10, mark)
        why = r"1\.2\.0 failed at boot: RuntimeError\('v1\.2\.0 broken at boot',?\)"
        sim.wait_log(r"ota: " + why + r"; rolling back and restarting", 20, mark)
        after = len(sim.log_text())
        assert otasim.booted_version(sim, after) == otasim.FACTORY
        sim.wait_log(r"ota: running the factory application 0\.1\.0 \(rolled back: " + why,
                     10, after)
        assert "ROMFS image mounted" not in sim.log_text()[after:]
        st = _status(sim, after)
        assert (st["version"], st["slot"], st["code"]) == (otasim.FACTORY, None, None), st
        assert sim.watchdog_resets == 2           # into the new version, and back
    finally:
        sim.stop()
