"""Runs every MicroPython-side unit test module (tests/mpy/test_*.py) on the unix port."""
import pathlib
import re

import pytest

from conftest import ROOT, run_micropython

MODULES = sorted(p.stem for p in (ROOT / "tests" / "mpy").glob("test_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_micropython_module(module):
    r = run_micropython([str(ROOT / "tests" / "mpy" / "runner.py"), module], timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"^RESULT (\d+) tests, (\d+) failed", out, re.M)
    assert m, out
    ran, failed = int(m.group(1)), int(m.group(2))
    assert ran >= 1 and failed == 0, out
    assert out.count("\nPASS ") + out.startswith("PASS ") == ran, out
