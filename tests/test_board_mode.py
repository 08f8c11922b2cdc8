"""The console tests' board mode (--port, --phone) works without a sim fixture: a sim
started here stands in for the board, the way a user's board and phone rig would."""
import subprocess
import sys

from conftest import ROOT
from simfix import base_config, start_sim


def test_line_tests_run_against_a_board_console_and_phone_rig(tmp_path):
    cfg = base_config()
    cfg["line"]["country"] = "UK"          # the board's own setting, read by the tests
    board = start_sim(cfg, tmp_path / "board")
    try:
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider",
             str(ROOT / "tests" / "test_sim_line.py"),
             "--port", str(board.console_path),
             "--phone", "127.0.0.1:%d" % cfg["sim"]["phone_port"],
             "-k", "dial_tone or (releases_ring and ideal)"],
            cwd=ROOT, capture_output=True, text=True, timeout=240)
    finally:
        board.stop()
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "test_dial_tone_prompt_and_right_frequencies[UK] PASSED" in out, out
    assert "releases_ring_within_debounce_and_poll[ideal] PASSED" in out, out
    # the plans the board is not set to are not run, and say why
    for other in ("US", "DE"):
        assert "test_dial_tone_prompt_and_right_frequencies[%s] SKIPPED" % other in out, out
    assert "needs line settings the board does not have" in out, out
    assert "Traceback" not in board.log_text(), board.log_text()[-3000:]
