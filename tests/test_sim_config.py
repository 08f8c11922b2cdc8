"""`ata sim --config` refuses a malformed config with the field and the reason."""
import json
import subprocess

import pytest

from conftest import ROOT

ATA = str(ROOT / ".venv" / "bin" / "ata")
GOOD = {"sip": {"server": "127.0.0.1", "user": "1001", "password": "x"}}


@pytest.mark.parametrize("cfg, field, reason", [
    ({"sip": {"server": "127.0.0.1", "user": "1001", "port": "5060"}}, "sip.port", "an integer"),
    ({"sip": {"server": "127.0.0.1"}}, "sip.user", "is required"),
    (dict(GOOD, line={"country": "Narnia"}), "line.country", "unknown country"),
    (dict(GOOD, line={"flash_max_ms": 5000}), "line.flash_max_ms", "must be 400..1600"),
    (dict(GOOD, rtp={"port": 16385}), "rtp.port", "must be even"),
    (dict(GOOD, rtp={"port_min": 16385}), "rtp.port_min", "must be even"),
    (dict(GOOD, rtp={"port_min": 16384, "port_max": 16400}), "rtp.port_max", "at least"),
    ("{not json", "(file)", "not valid JSON"),
])
def test_bad_config_is_refused_with_field_and_reason(tmp_path, cfg, field, reason):
    path = tmp_path / "bad.json"
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    r = subprocess.run([ATA, "sim", "--config", str(path), "--run-dir", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "CONFIG ERROR %s: " % field in r.stdout and reason in r.stdout, r.stdout
