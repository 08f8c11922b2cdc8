"""Shared pytest fixtures and options: where MicroPython is, how the firmware runs."""
import os
import pathlib
import subprocess

import pytest

pytest_plugins = ["simfix"]
# tests/mpy/ holds MicroPython test modules: run by test_micropython.py, not collected.
collect_ignore = ["mpy"]

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MICROPYTHON = str(VENV_BIN / "micropython")
# The device's import path, reproduced on the unix port: firmware modules at the
# top, the board module, then the reusable packages of lib/.
MICROPYPATH = ":".join([".frozen", str(ROOT / "firmware"), str(ROOT / "boards" / "sim"),
                        str(ROOT / "lib"), str(ROOT / "tests" / "mpy")])


def run_micropython(args, heapsize=None, timeout=120, env_extra=None, cwd=None):
    """Run MicroPython with the device's import path; return CompletedProcess."""
    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    if env_extra:
        env.update(env_extra)
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    return subprocess.run(cmd + list(args), env=env, cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout)


def mpy_version():
    """The .mpy version this MicroPython loads ("6.3"), as an OTA manifest names it."""
    r = run_micropython(["-c", "import sys; v = sys.implementation._mpy; "
                               "print('%d.%d' % (v & 255, (v >> 8) & 3))"])
    return r.stdout.strip()


@pytest.fixture(scope="session")
def micropython():
    return run_micropython


# A test module that collects nothing (a renamed function, a bad parametrize list,
# a module-level skip) would pass silently; every module must run at least one test.
_EMPTY_MODULES = []


def pytest_collectreport(report):
    if report.passed and report.nodeid.endswith(".py") and not report.result:
        _EMPTY_MODULES.append(report.nodeid)


def pytest_collection_finish(session):
    if _EMPTY_MODULES:
        raise pytest.UsageError("test modules with no tests: %s" % ", ".join(_EMPTY_MODULES))


def require_tool(path_or_name, hint="run `make setup`"):
    """Fail (never skip) when a tool the suite needs is missing, with how to install it."""
    import shutil
    if os.path.sep in str(path_or_name):
        ok = os.path.exists(path_or_name)
    else:
        ok = shutil.which(path_or_name) is not None
    if not ok:
        pytest.fail("%s is missing: %s" % (path_or_name, hint), pytrace=False)
