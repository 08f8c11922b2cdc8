"""Runs every MicroPython-side unit test module (tests/mpy/test_*.py) on the unix port."""
import pathlib

import pytest

from conftest import ROOT, run_micropython

MODULES = sorted(p.stem for p in (ROOT / "tests" / "mpy").glob("test_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_micropython_module(module):
    r = run_micropython([str(ROOT / "tests" / "mpy" / "runner.py"), module], timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "RESULT" in out and " 0 failed" in out, out
