"""`ata build`: compile the firmware to .mpy for each chip, and type-check board code.

lib/ and firmware/ are compiled for every architecture in ARCHS (native and viper
code is compiled ahead of time there); each board gets a deployable tree in
build/boards/<name>/ for its own architecture. Reference and test-only modules
(`*_ref.py`) never reach a device: they are left out of every build, tree and image.
`--romfs` also packs each board's tree (all but main.py, which stays on the board's
filesystem) into a ROMFS image, build/boards/<name>.romfs, with `mpremote romfs
build`: on the board it is mounted at /rom and its bytecode runs in place, from flash.
`--check` also runs pyright over each real board's code against the official
MicroPython stubs of its port. `--arch ARCH` builds the boards' trees (and images)
for another architecture than their own, into build/boards/<name>-<arch>/: the sim
for a 32-bit unix MicroPython (x86) to measure its heap there (docs/bench-heap.md).
"""
import argparse
import json
import shutil
import subprocess
import sys

from . import paths

ARCHS = ("xtensawin", "armv6m", "x64")
PORT_OF_ARCH = {"xtensawin": "esp32", "armv6m": "rp2"}   # stubs used by --check
BOOT_SOURCES = ("main.py",)   # stay source: the device runs main.py at boot
HOST_ONLY_SUFFIXES = ("_ref.py",)   # reference / test-only code: never on a device
HOST_ONLY_NAMES = ("manifest.py",)  # build descriptions (tools/ata/manifest.py), not code
MPREMOTE = str(paths.VENV_BIN / "mpremote")


def on_device(path):
    """False for reference and test-only modules (dsp.*_ref): host tests use them from
    the source tree; no build, deploy, manifest or image carries them. Nor do the
    manifest.py files that describe the packages and boards."""
    return not (path.name.endswith(HOST_ONLY_SUFFIXES) or path.name in HOST_ONLY_NAMES)


def boards():
    out = {}
    for d in sorted((paths.ROOT / "boards").iterdir()):
        spec = d / "board.json"
        if spec.exists():
            out[d.name] = json.loads(spec.read_text())
    return out


def compile_tree(src_root, dst_root, arch, errors):
    count = 0
    for src in sorted(src_root.rglob("*.py")):
        if not on_device(src):
            continue
        rel = src.relative_to(src_root)
        dst = dst_root / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([paths.MPY_CROSS, "-march=" + arch, "-s", str(rel), "-o", str(dst),
                            str(src)], capture_output=True, text=True)
        if r.returncode:
            errors.append("%s [%s]: %s" % (src.relative_to(paths.ROOT), arch, r.stderr.strip()))
        count += 1
    return count


def tree_name(name, arch=None):
    """A board's tree and image name: its own, or with -<arch> when built for another."""
    return name + "-" + arch if arch else name


def build(only_board=None, arch_override=None):
    errors = []
    out = paths.BUILD / "mpy"
    for arch in ((arch_override,) if arch_override else ARCHS):
        shutil.rmtree(out / arch, ignore_errors=True)    # no stale or excluded module stays
        n = compile_tree(paths.ROOT / "lib", out / arch / "lib", arch, errors)
        n += compile_tree(paths.ROOT / "firmware", out / arch / "firmware", arch, errors)
        print("build: %-9s %3d modules -> %s" % (arch, n, (out / arch).relative_to(paths.ROOT)))
    for name, spec in boards().items():
        if only_board and name != only_board:
            continue
        arch = arch_override or spec["mpy_arch"]
        tree = paths.BUILD / "boards" / tree_name(name, arch_override)
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(out / arch / "lib", tree / "lib")
        for mpy in (out / arch / "firmware").glob("*.mpy"):
            if mpy.stem + ".py" not in BOOT_SOURCES:
                shutil.copy(mpy, tree / mpy.name)
        for src in BOOT_SOURCES:
            shutil.copy(paths.ROOT / "firmware" / src, tree / src)
        compile_tree(paths.ROOT / "boards" / name, tree, arch, errors)
        shutil.copy(paths.ROOT / "boards" / name / "board.json", tree / "board.json")
        print("build: board %-13s (%s) -> %s" % (name, arch, tree.relative_to(paths.ROOT)))
    return errors


def romfs_path(name):
    return paths.BUILD / "boards" / (name + ".romfs")


def romfs(name, errors):
    """Pack build/boards/<name>/ (built first; name as tree_name gives it) into a ROMFS
    image, main.py left out. The .mpy files are already compiled for the board's arch:
    `--no-mpy` keeps mpremote from compiling anything itself (its own step knows no
    arch)."""
    tree = paths.BUILD / "boards" / name
    stage = paths.BUILD / "romfs" / name
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(tree, stage, ignore=shutil.ignore_patterns(*BOOT_SOURCES, "*.py"))
    img = romfs_path(name)
    r = subprocess.run([MPREMOTE, "romfs", "-o", str(img), "--no-mpy", "build", str(stage)],
                       capture_output=True, text=True)
    if r.returncode or not img.exists():
        errors.append("romfs %s: %s" % (name, (r.stderr or r.stdout).strip()))
        return None
    print("build: romfs %-13s %7d bytes -> %s" % (name, img.stat().st_size,
                                                   img.relative_to(paths.ROOT)))
    return img


def check(only_board=None):
    """pyright over each real board's code, the drivers it loads and the OTA library
    (lib/ota runs on the chip as is), with its port's stubs."""
    failures = []
    for name, spec in boards().items():
        port = PORT_OF_ARCH.get(spec["mpy_arch"])
        if port is None or (only_board and name != only_board):
            continue
        stubs = paths.ROOT / ".venv" / "stubs" / port
        cfg_dir = paths.BUILD / "check" / name
        cfg_dir.mkdir(parents=True, exist_ok=True)
        up = "../../../"
        (cfg_dir / "pyrightconfig.json").write_text(json.dumps({
            "include": [up + "boards/" + name, up + "lib/slic", up + "lib/ota"],
            "exclude": [up + "**/manifest.py"],      # build descriptions, run by the build tool
            # the board's own modules sit beside board.py at the top level on the chip
            "extraPaths": [up + "lib", up + "firmware", up + "boards/" + name],
            "stubPath": str(stubs), "typeshedPath": str(stubs),
            "typeCheckingMode": "basic", "reportMissingModuleSource": "none",
        }, indent=1))
        r = subprocess.run([str(paths.VENV_BIN / "pyright"), "-p", str(cfg_dir / "pyrightconfig.json")],
                           capture_output=True, text=True)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
        print("check: board %-13s pyright with %s stubs: %s" % (name, port, last))
        if r.returncode:
            failures.append(r.stdout)
    return failures


def main(argv):
    ap = argparse.ArgumentParser(prog="ata build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", help="only this board")
    ap.add_argument("--check", action="store_true", help="also type-check board code with pyright")
    ap.add_argument("--romfs", action="store_true",
                    help="also pack each board's tree into build/boards/<board>.romfs")
    ap.add_argument("--arch", choices=("x86", "x64", "armv6m", "armv7m", "xtensawin"),
                    help="build the trees for this arch instead of each board's own, into "
                    "build/boards/<board>-<arch>/ (e.g. the sim for a 32-bit unix MicroPython)")
    ap.add_argument("--package-json", action="store_true",
                    help="(re)write lib/<pkg>/package.json from each package's manifest.py")
    args = ap.parse_args(argv)
    if args.package_json:
        from . import manifest
        for path in manifest.write_package_jsons():
            print("build: wrote %s" % path.relative_to(paths.ROOT))
    errors = build(args.board, args.arch)
    if args.romfs and not errors:
        for name in boards():
            if not args.board or name == args.board:
                romfs(tree_name(name, args.arch), errors)
    for e in errors:
        print("build error: " + e, file=sys.stderr)
    failures = check(args.board) if args.check else []
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if errors or failures else 0
