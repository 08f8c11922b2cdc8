"""Packaging as micropython-lib does it, checked with what runs here (no ESP-IDF):
every manifest runs under a manifest evaluator and names only files that exist; each
package's manifest lists exactly its device modules (never *_ref.py); package.json
matches the manifest and installs through mpremote's own mip code from a local path
and from a URL; the board's ROMFS images hold .mpy for the board's arch and no
reference code; the frozen board definition is complete."""
import functools
import http.server
import json
import pathlib
import subprocess
import threading

import pytest

from conftest import ROOT, VENV_BIN
from ata import build, manifest

BOARD = ROOT / "boards" / "esp32_ag1171"
FROZEN = BOARD / "frozen"
MPY_ARCH = {"x86": 1, "x64": 2, "xtensawin": 10}    # .mpy header byte 2, bits 2..7 (native code)
SIM = ROOT / "boards" / "sim"


def device_modules(folder):
    return sorted(p.name for p in folder.glob("*.py") if build.on_device(p))


@pytest.mark.parametrize("pkg", manifest.packages())
def test_package_manifest_lists_its_device_modules_and_package_json_matches(pkg):
    m = manifest.evaluate(ROOT / "lib" / pkg / "manifest.py")
    assert not m.missing, m.missing
    meta = m.metadata_of[str(ROOT / "lib" / pkg / "manifest.py")]
    assert meta.get("version") and meta.get("description"), meta
    assert sorted(t.split("/", 1)[1] for t in m.files) == device_modules(ROOT / "lib" / pkg)
    assert not any(t.endswith(("_ref.py", "manifest.py")) for t in m.files)
    got = (ROOT / "lib" / pkg / "package.json").read_text()
    assert got == manifest.package_json(pkg), "stale: run `ata build --package-json`"


def test_every_lib_package_has_a_manifest():
    assert manifest.packages() == sorted(p.name for p in (ROOT / "lib").iterdir()
                                         if (p / "__init__.py").exists())


def test_board_manifests_name_every_module_and_nothing_else():
    """The board manifest (and the frozen one, which includes it) hold every firmware
    module but main.py, the board module and every lib package; nothing else."""
    for path in (BOARD / "manifest.py", FROZEN / "manifest.py"):
        m = manifest.evaluate(path, board_dir=FROZEN)
        assert not m.missing, m.missing
        want = set(device_modules(ROOT / "firmware")) - {"main.py"}
        want.add("board.py")
        for pkg in manifest.packages():
            want |= {pkg + "/" + f for f in device_modules(ROOT / "lib" / pkg)}
        assert set(m.files) == want, set(m.files) ^ want
        assert sorted(r[0] for r in m.requires) == manifest.packages()
    frozen = manifest.evaluate(FROZEN / "manifest.py", board_dir=FROZEN)
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in frozen.external


@pytest.mark.parametrize("board", ["sim", "rp2_ag1171"])
def test_other_board_manifests_name_the_firmware_and_the_boards_modules(board):
    """The sim's and the RP2040's manifests (the sim's frozen unix build includes its
    own) hold what `ata build` puts in the board's tree: every firmware module but
    main.py, every lib package (firmware/manifest.py, shared), and the board's own
    modules (the sim's virtual hardware; the RP2040's PIO programs)."""
    folder = ROOT / "boards" / board
    want = set(device_modules(ROOT / "firmware")) - {"main.py"}
    want |= set(device_modules(folder))
    for pkg in manifest.packages():
        want |= {pkg + "/" + f for f in device_modules(ROOT / "lib" / pkg)}
    paths = [folder / "manifest.py"] + ([SIM / "frozen" / "manifest.py"] if board == "sim" else [])
    for path in paths:
        m = manifest.evaluate(path)
        assert not m.missing, m.missing
        assert set(m.files) == want, set(m.files) ^ want
    if board == "sim":
        frozen = manifest.evaluate(SIM / "frozen" / "manifest.py")
        assert ("include", "$(MPY_DIR)/extmod/asyncio") in frozen.external   # the unix port's


def test_frozen_board_definition_is_complete():
    cmake = (FROZEN / "mpconfigboard.cmake").read_text()
    assert "set(IDF_TARGET esp32)" in cmake
    assert "MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py" in cmake
    assert "${MICROPY_BOARD_DIR}/sdkconfig.board" in cmake
    assert "partitions-ata-4MiB.csv" in cmake
    assert "#define MICROPY_VFS_ROM (1)" in (FROZEN / "mpconfigboard.h").read_text()
    sdk = (FROZEN / "sdkconfig.board").read_text()
    assert "CONFIG_PARTITION_TABLE_CUSTOM=y" in sdk
    assert "CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y" in sdk
    rows = [[c.strip() for c in line.split(",")]
            for line in (FROZEN / "partitions-ata-4MiB.csv").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    parts = {r[0]: (r[1], r[2], int(r[3], 16), int(r[4], 16)) for r in rows}
    assert parts["ota_0"][:2] == ("app", "ota_0") and parts["ota_1"][:2] == ("app", "ota_1")
    assert parts["otadata"][:2] == ("data", "ota")
    assert parts["romfs"][:2] == ("data", "0x8f") and parts["vfs"][0] == "data"
    ends = sorted((off, off + size, name) for name, (_, _, off, size) in parts.items())
    for (a0, a1, an), (b0, b1, bn) in zip(ends, ends[1:]):
        assert a1 <= b0, (an, bn)                       # no overlap
    assert ends[-1][1] <= 4 * 1024 * 1024               # fits 4 MiB flash
    for name in ("ota_0", "ota_1"):
        assert parts[name][2] % 0x10000 == 0            # apps 64 KiB aligned
    # an app slot holds stock MicroPython (~1.4 MiB without BLE) and the frozen code
    assert parts["ota_0"][3] >= 0x180000


@pytest.fixture(scope="module")
def built():
    out = ""
    # every board for its own arch; the sim for a 32-bit unix MicroPython too
    for extra in ([], ["--board", "sim", "--arch", "x86"]):
        r = subprocess.run([str(VENV_BIN / "ata"), "build", "--romfs"] + extra,
                           capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        out += r.stdout
    return out


@pytest.mark.parametrize("board,arch", [("esp32_ag1171", "xtensawin"), ("sim", "x64"),
                                        ("sim-x86", "x86")])
def test_romfs_image_holds_the_boards_mpy_for_its_arch_and_no_reference_code(built, board, arch):
    img = build.romfs_path(board).read_bytes()
    assert img[:3] == b"\xd2\xcd\x31", img[:8]     # ROMFS header (mpremote's VfsRomWriter)
    assert b"_ref.mpy" not in img and b"manifest.mpy" not in img
    assert b"main.py" not in img and b"main.mpy" not in img   # main.py stays on the filesystem
    stage = build.paths.BUILD / "romfs" / board
    mpys = list(stage.rglob("*.mpy"))
    assert len(mpys) > 30 and not list(stage.rglob("*.py"))
    native = 0
    for f in mpys:
        head = f.read_bytes()[:4]
        assert head[0] == ord("M") and head[1] == 6, f
        if head[2] >> 2:                 # native/viper code: compiled for this board's arch
            assert head[2] >> 2 == MPY_ARCH[arch], (f, head)
            native += 1
    assert native >= 3                   # dsp.g711, dsp.dtmf, rtp._fast at least
    for tree in (build.paths.BUILD / "boards" / board, build.paths.BUILD / "mpy"):
        assert not [p for p in tree.rglob("*") if p.name.endswith(("_ref.mpy", "_ref.py"))]


class FakeBoard:
    """The filesystem side of an mpremote transport, as mip uses it."""

    def __init__(self):
        self.files = {}

    def fs_exists(self, path):
        return path in self.files or any(p.startswith(path + "/") for p in self.files)

    def fs_mkdir(self, path):
        pass

    def fs_writefile(self, path, data, progress_callback=None):
        self.files[path] = data

    def fs_hashfile(self, path, algo):
        raise FileNotFoundError(path)


def _mip_install(package):
    from mpremote import mip
    board = FakeBoard()
    mip._install_package(board, package, "https://micropython.org/pi/v2", "/lib", None, False)
    return board.files


@pytest.mark.parametrize("pkg", manifest.packages())
def test_mip_installs_a_package_from_a_local_path(pkg, monkeypatch):
    monkeypatch.chdir(ROOT)
    files = _mip_install("lib/%s/package.json" % pkg)
    want = {"/lib/%s/%s" % (pkg, f) for f in device_modules(ROOT / "lib" / pkg)}
    assert set(files) == want
    for path, data in files.items():
        assert data == (ROOT / "lib" / pkg / path.rsplit("/", 1)[1]).read_bytes()


def test_mip_installs_a_package_from_a_url():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        files = _mip_install("http://127.0.0.1:%d/lib/dsp/" % srv.server_address[1])
    finally:
        srv.shutdown()
    assert sorted(files) == ["/lib/dsp/" + f for f in device_modules(ROOT / "lib" / "dsp")]
    assert not any("_ref" in f for f in files)
