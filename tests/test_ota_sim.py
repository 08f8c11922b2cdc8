"""OTA on the sim with the real firmware (issue 13): the console's `ota` pulls a
signed bundle from `ata ota serve`, checks it, installs it into the inactive slot and
restarts on probation; the health check (registered with Kamailio, no task crash)
marks it good and calls go through it; a forced rollback goes back. A v1.2.0 that
raises at boot and a v1.3.0 that never registers are rolled back by themselves, the
log saying why, and so is a v1.4.0 that lost its update agent (it could never
prove itself). Forged and tampered bundles, and a signed romfs payload that is no ROMFS image,
are refused and touch no slot; an update
is refused while the handset is off hook; a download cut by the server resumes with
a Range request, and one cut by a power cut resumes on the next pull."""
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import otasim
from ata.phone import VirtualPhone


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, key):
    return otasim.make_bundles(tmp_path_factory.mktemp("bundles"), key)


@pytest.fixture(scope="module")
def server(bundles):
    srv = otasim.Server(bundles)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    p = otasim.Pbx(tmp_path_factory.mktemp("pbx"))
    yield p
    p.stop()


def _slots(run_dir):
    d = run_dir / "ota"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_update_probation_good_call_then_forced_rollback(tmp_path, key, server, pbx):
    run = tmp_path / "board"
    cfg = otasim.ota_config(pbx, server.url("sim-1.1.0.ota"), health_s=2, probation_s=60)
    sim = otasim.boot(cfg, run, key)
    try:
        assert otasim.booted_version(sim) == otasim.FACTORY
        sim.wait_log("sip: registered", 15)
        mark = len(sim.log_text())
        sim.send("ota")
        sim.wait_log(r"ota: 1\.1\.0 installed in slot a; restarting on probation", 30, mark)
        sim.wait_log(r"ota: running 1\.1\.0 from slot a on probation", 20, mark)
        assert otasim.booted_version(sim, mark) == "1.1.0"
        sim.wait_log(r"ota: 1\.1\.0 marked good \(registered, no task crashed for 2 s\)",
                     30, mark)
        state = json.loads((run / "ota" / "state.json").read_text())
        assert state["active"] == "a" and state["trial"] is False
        assert not (run / "ota" / "download.ota").exists()
        assert not (run / "ota" / "staged.bin").exists()
        otasim.place_call(sim, cfg, pbx.far, mark)

        # the same version again: refused as a downgrade (equal is not above)
        mark = len(sim.log_text())
        sim.send("ota")
        sim.wait_log(r"ota: refused: downgrade: version 1\.1\.0 is not above the running "
                     r"1\.1\.0 \(running 1\.1\.0 kept\)", 30, mark)
        sim.send("ota status")
        st = json.loads(sim.wait_log(r"ota: (\{[^\n]*\})", 10, mark).group(1))
        assert (st["version"], st["slot"], st["trial"]) == ("1.1.0", "a", False)

        # a forced rollback: the only way down; the factory application boots
        mark = len(sim.log_text())
        sim.send("ota rollback")
        sim.wait_log(r"ota: rollback forced from the console: 1\.1\.0 -> the factory "
                     r"application; restarting", 10, mark)
        assert otasim.booted_version(sim, mark) == otasim.FACTORY
        sim.wait_log(r"ota: running the factory application 0\.1\.0 \(rolled back: forced "
                     r"from the console \(was 1\.1\.0\)\)", 10, mark)
        otasim.place_call(sim, cfg, pbx.far, mark)
    finally:
        sim.stop()
    assert "Traceback" not in sim.log_text(), sim.log_text()[-3000:]


@pytest.mark.parametrize("name, why", [
    ("sim-1.2.0.ota", r"ota: 1\.2\.0 failed at boot: RuntimeError\('v1\.2\.0 broken at "
                      r"boot',?\)"),
    ("sim-1.3.0.ota", r"ota: 1\.3\.0 not healthy within 10 s: never registered with the PBX"),
    ("sim-1.4.0.ota", r"ota: 1\.4\.0 failed at boot: ImportError\(\"no module named "
                      r"'ota\.agent'\",?\)"),
])
def test_broken_version_rolled_back_by_itself(tmp_path, key, server, pbx, name, why):
    run = tmp_path / "board"
    cfg = otasim.ota_config(pbx, server.url(name), health_s=2, probation_s=10)
    sim = otasim.boot(cfg, run, key)
    try:
        sim.wait_log("sip: registered", 15)
        mark = len(sim.log_text())
        sim.send("ota")
        sim.wait_log(r"ota: running 1\.[234]\.0 from slot a on probation", 30, mark)
        sim.wait_log(why + r"[^\n]*; rolling back and restarting", 30, mark)
        after = len(sim.log_text())
        assert otasim.booted_version(sim, after) == otasim.FACTORY
        sim.wait_log(r"ota: running the factory application 0\.1\.0 \(rolled back: " + why[5:],
                     10, after)
        otasim.place_call(sim, cfg, pbx.far, after)
        assert sim.watchdog_resets == 2           # into the new version, and back
    finally:
        sim.stop()


def test_refusals_touch_no_slot_and_busy_line_refused(tmp_path, key, server):
    run = tmp_path / "board"
    cfg = otasim.ota_config(None, server.url("forged-1.1.0.ota"))
    sim = otasim.boot(cfg, run, key)
    try:
        mark = len(sim.log_text())
        sim.send("ota")
        sim.wait_log(r"ota: refused: forged: signature does not match the manifest", 20, mark)
        sim.send("ota(%r)" % server.url("tampered-1.1.0.ota"))
        sim.wait_log(r"ota: refused: tampered: payload SHA-256 \w+, manifest says", 20, mark)
        sim.send("ota(%r)" % server.url("romfs-1.1.0.ota"))
        sim.wait_log(r"ota: refused: malformed: romfs: not a ROMFS image \(no d2 cd 31 "
                     r"header\) \(running 0\.1\.0 kept\)", 20, mark)
        sim.send("ota(%r)" % server.url("no-such.ota"))
        sim.wait_log(r"ota: download failed: HTTP 404", 20, mark)
        assert _slots(run) == [], _slots(run)          # nothing kept, no slot made
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        try:
            phone.off_hook()
            phone.sleep_sim(300)
            sim.send("ota(%r)" % server.url("sim-1.1.0.ota"))
            sim.wait_log(r"ota: refused: the handset is off hook; try again when the line is "
                         r"idle", 10, mark)
            phone.on_hook()
        finally:
            phone.close()
        assert otasim.FACTORY in sim.log_text()
        assert "installed" not in sim.log_text()[mark:]
    finally:
        sim.stop()


def test_download_resumes_after_a_cut_connection_and_a_power_cut(tmp_path, key, bundles):
    # the server cuts each file's first response after 100000 bytes: the firmware
    # asks for the rest with a Range request within the same pull
    srv = otasim.Server(bundles, "--cut-after", "100000")
    try:
        run = tmp_path / "board"
        cfg = otasim.ota_config(None, srv.url("sim-1.1.0.ota"), health_s=2, probation_s=60)
        sim = otasim.boot(cfg, run, key)
        try:
            sim.send("ota")
            sim.wait_log(r"ota: 1\.1\.0 installed in slot a", 30)
        finally:
            sim.stop()
        size = (bundles / "sim-1.1.0.ota").stat().st_size
        assert "ota serve: cut sim-1.1.0.ota after 100000 bytes" in srv.lines
        assert "ota serve: sent sim-1.1.0.ota bytes 100000-%d of %d (206)" % (
            size - 1, size) in srv.lines, srv.lines
    finally:
        srv.stop()

    # a power cut in the middle of a slow download: the next pull resumes from the file
    srv = otasim.Server(bundles, "--rate", "200000")
    try:
        run = tmp_path / "board2"
        cfg = otasim.ota_config(None, srv.url("sim-1.1.0.ota"), health_s=2, probation_s=60)
        sim = otasim.boot(cfg, run, key)
        sim.send("ota")
        sim.wait_log(r"ota: download \d+ of \d+ bytes", 20)
        otasim.kill_now(sim)
        kept = (run / "ota" / "download.ota").stat().st_size
        assert 0 < kept < size
        sim = otasim.boot(cfg, run, key)
        try:
            assert otasim.booted_version(sim) == otasim.FACTORY
            sim.send("ota")
            m = sim.wait_log(r"ota: pulling \S+ \(running 0\.1\.0, resuming at (\d+) bytes\)", 20)
            assert int(m.group(1)) == kept
            sim.wait_log(r"ota: 1\.1\.0 installed in slot a", 30)
            assert otasim.booted_version(sim, m.end()) == "1.1.0"
        finally:
            sim.stop()
        assert any(line.startswith("ota serve: sent sim-1.1.0.ota bytes %d-" % kept)
                   and line.endswith("(206)") for line in srv.lines), srv.lines
    finally:
        srv.stop()


def test_firmware_image_through_the_emulated_partition(tmp_path, key, server, pbx):
    """A whole-firmware bundle goes through lib/ota/firmware.py into the sim's
    file-backed Partition: written to ota_1, set to boot, started on trial (pending
    verify), marked valid by the health check; on a board that never registers the
    health check lets it lapse and the bootloader goes back to ota_0."""
    image = (b"IMG 1.1.0\n" + bytes(range(256)) * 240)
    for name, registrar, probation in (("good", pbx, 60), ("lapsed", None, 10)):
        run = tmp_path / name
        cfg = otasim.ota_config(registrar, server.url("fw-1.1.0.ota"), health_s=2,
                                probation_s=probation)
        sim = otasim.boot(cfg, run, key)
        try:
            sim.send("ota")
            sim.wait_log(r"ota: firmware 1\.1\.0 checked and written to ota_1 \(signed by key "
                         r"\w+, 61450 bytes\)", 20)
            sim.wait_log(r"ota: firmware 1\.1\.0 set to boot from ota_1; restarting on trial", 10)
            sim.wait_log(r"ota: firmware 1\.1\.0 on trial in ota_1 \(pending verify\)", 20)
            flash = run / "flash"
            assert (flash / "ota_1.bin").read_bytes()[:len(image)] == image
            otadata = json.loads((flash / "otadata.json").read_text())
            assert otadata == {"boot": "ota_1", "running": "ota_1",
                               "states": {"ota_0": "valid", "ota_1": "pending"}}, otadata
            if name == "good":
                sim.wait_log(r"ota: firmware 1\.1\.0 marked valid \(registered, no task "
                             r"crashed for 2 s\)", 30)
                otadata = json.loads((flash / "otadata.json").read_text())
                assert otadata["states"]["ota_1"] == "valid"
                assert not (run / "ota" / "firmware.json").exists()
            else:
                sim.wait_log(r"ota: firmware 1\.1\.0 not healthy within 10 s: never registered "
                             r"with the PBX; rolling back and restarting", 30)
                sim.wait_log(r"ota: firmware 1\.1\.0 rolled back by the bootloader \(ota_1 was "
                             r"not marked valid\); running ota_0", 20)
                otadata = json.loads((flash / "otadata.json").read_text())
                assert otadata == {"boot": "ota_0", "running": "ota_0",
                                   "states": {"ota_0": "valid", "ota_1": "aborted"}}, otadata
        finally:
            sim.stop()
        assert "Traceback" not in sim.log_text(), sim.log_text()[-3000:]


def test_user_cycle_keygen_push_probation_good(tmp_path, bundles, pbx):
    """The tools a user runs: `ata ota keygen` (private key outside the run folder,
    public key module onto the device's flash), a bundle signed with it, `ata ota
    push` over the sim's console pty: progress bar to 100 %, the device's steps,
    exit 0 once the new version is marked good."""
    import subprocess
    from ata import paths
    run = tmp_path / "board"
    run.mkdir()
    keyfile = tmp_path / "keys" / "signing.pem"
    ata = str(paths.VENV_BIN / "ata")
    r = subprocess.run([ata, "ota", "keygen", "--key", str(keyfile), "--pub",
                        str(run / "ota_key.py")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert keyfile.stat().st_mode & 0o777 == 0o600
    key = otasim.ota.load_private(keyfile)
    bundle = otasim.sign_tree(otasim.source_tree(tmp_path / "tree"), key, "1.1.0",
                              tmp_path / "sim-1.1.0.ota", otasim.mpy_version())
    cfg = otasim.ota_config(pbx, "", health_s=2, probation_s=60)
    sim = otasim.start_sim(cfg, run)       # the key from keygen is already on its flash
    try:
        sim.wait_log("sip: registered", 15)
        r = subprocess.run([ata, "ota", "push", str(bundle), "--port", str(sim.console_path),
                            "--host-ip", "127.0.0.1", "--timeout", "60"],
                           capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "100%% %d/%d KB" % ((bundle.stat().st_size // 1024,) * 2) in r.stdout, r.stdout
        assert "push: device: ota: 1.1.0 installed in slot a" in r.stdout, r.stdout
        assert "push: device: ota: 1.1.0 marked good" in r.stdout, r.stdout
        assert otasim.booted_version(sim, len(sim.log_text()) // 2) == "1.1.0"
    finally:
        sim.stop()
