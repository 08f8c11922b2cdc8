"""Boot that never bricks the line: a missing, unreadable or invalid config is refused
with the field and the reason and starts safe mode (line idle, console up) until a
usable config appears; the last config that registered is the fallback; a network
that is down at power-on is retried; a hung firmware is reset by the watchdog."""
import json
import os
import re
import subprocess

import pytest

from ata import peers
from ata.sim import SimProcess
from conftest import MICROPYPATH, MICROPYTHON, ROOT
from simfix import base_config, start_sim

GOOD = {"sip": {"server": "127.0.0.1", "user": "1001", "password": "x"}}
SAFE_RETRY_S = 5          # firmware/safemode.py SAFE_RETRY_MS


def _boot(tmp_path, path):
    sim = SimProcess(str(path), run_dir=tmp_path / "run")
    sim.start()             # returns at "ready:" or the first CONFIG ERROR
    return sim


def _safe_mode_status(sim):
    mark = len(sim.log_text())
    sim.send("status")
    return json.loads(sim.wait_log(r"safe_mode: (\{[^\n]*\})", 5, start=mark).group(1))


@pytest.mark.parametrize("cfg, field, reason", [
    ({"sip": {"server": "127.0.0.1", "user": "1001", "port": "5060"}}, "sip.port", "an integer"),
    ({"sip": {"server": "127.0.0.1"}}, "sip.user", "is required"),
    (dict(GOOD, line={"country": "Narnia"}), "line.country", "unknown country"),
    (dict(GOOD, line={"flash_max_ms": 5000}), "line.flash_max_ms", "must be 400..1600"),
    (dict(GOOD, rtp={"port": 16385}), "rtp.port", "must be even"),
    (dict(GOOD, rtp={"port_min": 16385}), "rtp.port_min", "must be even"),
    (dict(GOOD, rtp={"port_min": 16384, "port_max": 16400}), "rtp.port_max", "at least"),
    (dict(GOOD, network={"mode": "wifi"}), "network.mode", "the sim board's network"),
    ("{not json", "(file)", "not valid JSON"),
    (dict(GOOD, ports=[{}, {"sip": {"user": "1004"}}]), "ports[1].sip.sip_port", "already"),
    (dict(GOOD, ports=[{}, {"sip": {"user": "1004", "sip_port": 5072}},
                       {"sip": {"user": "1005", "sip_port": 5074}}]), "ports",
     "this board has 2 FXS ports, 3 configured"),
])
def test_bad_config_starts_safe_mode_with_field_and_reason(tmp_path, cfg, field, reason):
    path = tmp_path / "config.json"
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    sim = _boot(tmp_path, path)
    try:
        sim.wait_log(r"safe mode: ", 5)
        out = sim.log_text()
        assert "CONFIG ERROR %s: " % field in out and reason in out, out
        st = _safe_mode_status(sim)              # the console answers in safe mode
        assert st["reason"].startswith(field) and reason in st["reason"], st
        assert sim.proc.poll() is None           # no exit: on a board, no reset loop
    finally:
        rc = sim.stop()
    assert rc == 0, sim.log_text()[-2000:]


@pytest.mark.parametrize("kind", ["missing", "unreadable"])
def test_missing_or_unreadable_config_waits_in_safe_mode_until_one_appears(tmp_path, kind):
    path = tmp_path / "config.json"
    if kind == "unreadable":
        path.mkdir()                             # a folder where the file should be
    sim = _boot(tmp_path, path)
    try:
        sim.wait_log(r"CONFIG ERROR \(file\): cannot read", 5)
        sim.wait_log(r"safe mode: ", 5)
        if kind == "unreadable":
            path.rmdir()
        cfg = base_config()
        cfg["sim"]["phone_port"] = sim.phone_port
        path.write_text(json.dumps(cfg))         # as `mpremote fs cp` would put it there
        sim.wait_log(r"ready: ", SAFE_RETRY_S * 3)
        assert sim.proc.poll() is None
    finally:
        rc = sim.stop()
    assert rc == 0, sim.log_text()[-2000:]


def test_last_good_config_is_kept_only_after_registration_and_used_when_the_new_is_bad(tmp_path):
    run = tmp_path / "run"
    kam = peers.Kamailio(tmp_path / "kam").start()
    try:
        # no registrar answering: the config has not proven itself, nothing is kept
        cfg = base_config()
        sim = start_sim(cfg, run)
        sim.stop()
        assert not (run / "config.good.json").exists()
        # registered: kept, with the same content, through a temporary file
        cfg = base_config(kam.port)
        sim = start_sim(cfg, run)
        sim.wait_log(r"config: kept as config\.good\.json", 15)
        sim.stop()
        kept = json.loads((run / "config.good.json").read_text())
        assert kept == cfg
        assert not (run / "config.good.json.tmp").exists()
        # a bad config later: the firmware runs the last good one and registers
        bad = dict(GOOD, line={"country": "Narnia"})
        (run / "config.json").write_text(json.dumps(bad))
        sim = SimProcess(str(run / "config.json"), run_dir=run).start()
        try:
            sim.wait_log(r"unusable; using the last good configuration", 10)
            sim.wait_log(r"sip: registered", 15)
            assert "safe mode" not in sim.log_text()
        finally:
            assert sim.stop() == 0
    finally:
        kam.stop()


def test_network_down_at_boot_is_retried_with_back_off(tmp_path):
    cfg = base_config()
    cfg["sim"]["network_after_ms"] = 2500
    sim = start_sim(cfg, tmp_path / "run")        # returns at "ready:"
    try:
        delays = [int(d) for d in
                  re.findall(r"no network .*; retrying in (\d+) ms", sim.log_text())]
        assert delays[:2] == [1000, 2000], sim.log_text()
        assert "ready:" in sim.log_text()
    finally:
        assert sim.stop() == 0


def test_hung_firmware_is_reset_by_the_watchdog_and_comes_back(tmp_path):
    sim = start_sim(base_config(), tmp_path / "run")
    try:
        mark = len(sim.log_text())
        sim.send("py exec('while True: pass')")  # blocks the event loop for good
        sim.wait_log(r"\[sim\] watchdog: no feed for [\d.]+ s, board reset", 20, start=mark)
        sim.wait_log(r"ready: ", 20, start=mark)
        assert sim.watchdog_resets == 1
        assert sim.proc.poll() is None
    finally:
        sim.stop()
    # the runner's relays (both firmware processes') are over before the pty closes:
    # one left in its select() would read whatever pipe reuses the descriptor number
    assert sim._threads and not [t for t in sim._threads if t.is_alive()]
    assert sim.master is None


def test_esp32_refuses_the_sims_network_mode_and_a_missing_ssid():
    # boards/esp32_ag1171/board.py's check, run on the unix port with stand-ins for
    # the chip-only modules it imports (only check_config is exercised)
    code = (
        "import sys\n"
        "class M:\n"
        "    def __getattr__(self, n): return object\n"
        "sys.modules['machine'] = M(); sys.modules['network'] = M(); sys.modules['esp32'] = M()\n"
        "sys.path.insert(0, '%s')\n" % (ROOT / "boards" / "esp32_ag1171") +
        "import board\n"
        "net = lambda **k: {'network': dict({'mode': 'host', 'wifi_ssid': ''}, **k)}\n"
        "print(board.check_config(net()))\n"
        "print(board.check_config(net(mode='wifi')))\n"
        "print(board.check_config(net(mode='wifi', wifi_ssid='home')))\n"
        "print(board.check_config(net(mode='ethernet')))\n")
    r = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MICROPYPATH=MICROPYPATH))
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines[0].startswith("network.mode: must be wifi or ethernet"), lines
    assert lines[1] == "network.wifi_ssid: is required for Wi-Fi", lines
    assert lines[2:] == ["None", "None"], lines
