"""`ata deploy` through the sim's console pty (the real mpremote transport and the
firmware's raw REPL): only changed files are written, config.json from a local file,
the restarted firmware runs the new code from the sim's flash folder, and a build
the board cannot load (.mpy version or architecture) is refused with nothing written.
`ata flash`: esptool's command lines."""
import json
import shutil
import subprocess
import sys

import pytest

from ata import deploy, paths
from ata.sim import SimProcess
from simfix import base_config, start_sim

ATA = str(paths.VENV_BIN / "ata")


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory):
    """The sim board's .mpy tree (ata build), copied: other tests may rebuild."""
    r = subprocess.run([ATA, "build", "--board", "sim"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    tree = tmp_path_factory.mktemp("build") / "sim"
    shutil.copytree(paths.BUILD / "boards" / "sim", tree)
    xtensa = tmp_path_factory.mktemp("build") / "dtmf.mpy"   # native code for the ESP32
    shutil.copy(paths.BUILD / "mpy" / "xtensawin" / "lib" / "dsp" / "dtmf.mpy", xtensa)
    return tree, xtensa


def ata_deploy(port, *args):
    return subprocess.run([ATA, "deploy", "--port", port, *args], capture_output=True,
                          text=True, timeout=300)


def marked(tree, dst, version):
    """A copy of tree whose main.py says `version`: new code, visible in the boot log."""
    shutil.copytree(tree, dst)
    main = dst / "main.py"
    text = main.read_text()
    assert 'VERSION = "' in text
    main.write_text(text.replace('VERSION = "', 'VERSION = "%s+' % version, 1))
    return dst


def test_deploy_writes_changed_files_and_the_restarted_firmware_runs_them(sim_build, tmp_path):
    tree, _ = sim_build
    cfg = base_config()
    sim = start_sim(cfg, tmp_path / "board")          # running its code from source
    local_cfg = tmp_path / "local.json"
    local_cfg.write_text(json.dumps(dict(cfg, line={"country": "UK"})))
    new = marked(tree, tmp_path / "v1", "deploy1")
    try:
        port = str(sim.console_path)
        r = ata_deploy(port, "--tree", str(new), "--config", str(local_cfg))
        assert r.returncode == 0, r.stdout + r.stderr
        n = sum(1 for p in new.rglob("*") if p.is_file()) + 1        # + config.json
        assert "%d files, %d changed" % (n, n) in r.stdout, r.stdout
        for p in new.rglob("*"):
            if p.is_file():
                assert (sim.run_dir / p.relative_to(new)).read_bytes() == p.read_bytes(), p
        assert json.loads((sim.run_dir / "config.json").read_text())["line"]["country"] == "UK"
        assert not list(sim.run_dir.rglob("*.new"))
        # again, with one file changed: only that one is written
        again = marked(tree, tmp_path / "v2", "deploy2")
        r = ata_deploy(port, "--tree", str(again), "--config", str(local_cfg))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "%d files, 1 changed" % n in r.stdout, r.stdout
        assert "wrote main.py" in r.stdout and r.stdout.count("deploy: wrote") == 1, r.stdout
        assert sim.proc.poll() is None                # the ATA ran on meanwhile
    finally:
        assert sim.stop() == 0
    # restart: the board boots main.py and the code from its flash (the run folder)
    board = SimProcess(sim.run_dir / "config.json", run_dir=sim.run_dir, flash=True)
    try:
        board.start()
        board.wait_log(r"ATA firmware deploy2\+\S+ on board sim, country UK", 10)
        board.wait_log(r"ready:", 10)
        out = subprocess.run([str(paths.VENV_BIN / "mpremote"), "connect",
                              str(board.console_path), "resume", "eval",
                              "__import__('console').__file__"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().endswith("console.mpy"), out.stdout   # not the source
    finally:
        assert board.stop() == 0


def test_deploy_with_reset_boots_the_new_code_on_the_same_console(sim_build, tmp_path):
    tree, _ = sim_build
    run_dir = tmp_path / "board"
    shutil.copytree(tree, run_dir)                  # what the board's flash holds now
    sim = SimProcess(base_config(), run_dir=run_dir, flash=True).start()
    try:
        sim.wait_log(r"ATA firmware \S+ on board sim", 5)
        mark = len(sim.log_text())
        port = str(sim.console_path)
        r = ata_deploy(port, "--tree", str(marked(tree, tmp_path / "new", "reset1")), "--reset")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "1 changed" in r.stdout and "resetting the board" in r.stdout, r.stdout
        m = sim.wait_log(r"ATA firmware reset1\+\S+ on board sim", 20, start=mark)
        # "ready:" of the new boot, not the first boot's (also after `mark`): before
        # it the new firmware's console is not up and mpremote cannot enter raw REPL
        sim.wait_log(r"ready:", 20, start=mark + m.end())
        assert sim.watchdog_resets == 1
        # at once, through the same console: the input relay must feed the new
        # firmware, not the killed one (a relay per process once lost mpremote's
        # Ctrl-A to the dead process: "could not enter raw repl", 2 runs in 3)
        out = subprocess.run([str(paths.VENV_BIN / "mpremote"), "connect", port, "resume",
                              "eval", "status()['supervisor']['restarts']"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "'console': 0" in out.stdout, (out.stdout, out.stderr)
    finally:
        assert sim.stop() == 0


def test_a_build_the_board_cannot_load_is_refused_and_nothing_written(sim_build, tmp_path):
    tree, xtensa = sim_build
    sim = start_sim(base_config(), tmp_path / "board")
    try:
        port = str(sim.console_path)
        # an .mpy of another bytecode version
        old = marked(tree, tmp_path / "old", "old")
        mpy = old / "line.mpy"
        data = bytearray(mpy.read_bytes())
        data[1] = 5
        mpy.write_bytes(bytes(data))
        r = ata_deploy(port, "--tree", str(old))
        assert r.returncode == 2, r.stdout + r.stderr
        assert "refused: the board runs .mpy v6.3 for x64" in r.stderr, r.stderr
        assert "line.mpy: .mpy v5" in r.stderr, r.stderr
        # native code for another architecture (the ESP32's viper DTMF detector)
        other = marked(tree, tmp_path / "other", "other")
        shutil.copy(xtensa, other / "lib" / "dsp" / "dtmf.mpy")
        r = ata_deploy(port, "--tree", str(other))
        assert r.returncode == 2, r.stdout + r.stderr
        assert "lib/dsp/dtmf.mpy: .mpy v6.3 for xtensawin" in r.stderr, r.stderr
        assert "ata build --board NAME" in r.stderr
        written = [p for p in sim.run_dir.rglob("*") if p.suffix in (".mpy", ".py", ".new")]
        assert not written and not (sim.run_dir / "lib").exists(), written
        assert sim.proc.poll() is None
    finally:
        assert sim.stop() == 0


def test_flash_runs_esptool_with_the_image(tmp_path):
    image = tmp_path / "ESP32_GENERIC.bin"
    image.write_bytes(b"\xe9" + bytes(255))
    ran = []
    assert deploy.flash("/dev/ttyUSB0", image, erase=True,
                        run=lambda cmd: ran.append(cmd) or 0) == 0
    assert [c[c.index("--baud") + 2:] for c in ran] == [
        ["erase-flash"], ["write-flash", "-z", "0x1000", str(image)]]
    assert all(c[1:3] == ["-m", "esptool"] and "/dev/ttyUSB0" in c for c in ran)
    # a failing step stops there
    ran.clear()
    assert deploy.flash("/dev/ttyUSB0", image, erase=True, run=lambda cmd: ran.append(cmd) or 2) == 2
    assert len(ran) == 1
    with pytest.raises(deploy.DeployError):
        deploy.flash("/dev/ttyUSB0", tmp_path / "missing.bin")
    r = subprocess.run([ATA, "flash", "--port", "/dev/null", str(tmp_path / "missing.bin")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no firmware image" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "esptool", "version"], capture_output=True,
                       text=True)
    assert r.returncode == 0, "esptool (requirements.txt) is not installed: make setup"


def test_each_board_has_an_example_config_the_firmware_accepts():
    boards = sorted(p.parent for p in (paths.ROOT / "boards").glob("*/board.json"))
    assert boards
    for b in boards:
        example = b / "config.example.json"
        assert example.is_file(), "%s has no config.example.json" % b.name
        r = subprocess.run([paths.MICROPYTHON, "-c", "import config, json; "
                            "print(json.dumps(config.load(%r)['network']))" % str(example)],
                           env=paths.micropython_env(b.name), capture_output=True, text=True)
        assert r.returncode == 0 and "CONFIG ERROR" not in r.stdout, (b.name, r.stdout, r.stderr)
        net = json.loads(r.stdout.strip().splitlines()[-1])
        if b.name != "sim":            # a real board's own check: Wi-Fi or Ethernet
            assert net["mode"] in ("wifi", "ethernet") and \
                (net["mode"] != "wifi" or net["wifi_ssid"]), (b.name, net)
