"""`ata deploy`: copy a board's build onto its filesystem over the serial REPL.

Uses mpremote's serial transport and the firmware console's raw REPL, so it works
on a board running the ATA (and on the sim's console pty) without stopping it:
  1. the board's `sys.implementation._mpy` is checked against every .mpy of the
     build (bytecode version and native architecture): a mismatch is refused;
  2. the board hashes the files it has (sha256, one exec): only changed files are
     written, each to PATH.new and renamed, so an interrupted deploy leaves whole files;
  3. `--config FILE` writes config.json from a local file (JSON-checked first).
The new code runs after the next reset of the board (or a restart of the sim).

`ata flash --port PORT FIRMWARE.bin` writes a MicroPython image with esptool.
"""
import argparse
import hashlib
import json
import pathlib
import sys

from . import paths

# sys.implementation._mpy: bytecode version in bits 0-7, sub-version in bits 8-9,
# native architecture in bits 10-15 (the .mpy header's bytes 1 and 2)
ARCH_NAMES = [None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
              "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc"]
CHUNK = 1024               # bytes of a file per exec

_HASH_SCRIPT = """
import hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    with f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(b if n == 512 else b[:n])
    return binascii.hexlify(h.digest()).decode()
print(repr({p: _h(p) for p in %r}))
del _h
"""

_MKDIRS_SCRIPT = """
import os
for d in %r:
    try:
        os.mkdir(d)
    except OSError:
        pass
"""


class DeployError(Exception):
    pass


def arch_name(n):
    return ARCH_NAMES[n] if 0 < n < len(ARCH_NAMES) else ("none" if n == 0 else "arch %d" % n)


def mpy_header(data):
    """(version, sub-version, arch number) of an .mpy file's bytes."""
    if len(data) < 4 or data[0] != ord("M"):
        raise DeployError("not an .mpy file")
    return data[1], data[2] & 3, data[2] >> 2


def describe(version, sub, arch):
    return ".mpy v%d.%d%s" % (version, sub, "" if arch is None else " for " + arch_name(arch))


def check_mpy(files, board_mpy):
    """Refuse a build whose .mpy files the board cannot load. files: {rel: bytes}."""
    b_ver, b_sub, b_arch = board_mpy & 0xFF, (board_mpy >> 8) & 3, board_mpy >> 10
    bad = []
    for rel, data in sorted(files.items()):
        if not rel.endswith(".mpy"):
            continue
        try:
            ver, sub, arch = mpy_header(data)
        except DeployError as e:
            bad.append("%s: %s" % (rel, e))
            continue
        # MicroPython's own rule: the version always; sub-version and architecture
        # only for files with native code (viper, @native), arch 0 otherwise
        if ver != b_ver or (arch and (sub, arch) != (b_sub, b_arch)):
            bad.append("%s: %s" % (rel, describe(ver, sub, arch or None) if arch else
                                   ".mpy v%d" % ver))
    if bad:
        raise DeployError(
            "refused: the board runs %s; the build has %d .mpy file(s) it cannot load "
            "(first: %s). Build for this board (ata build --board NAME) or flash a matching "
            "MicroPython (ata flash)." % (describe(b_ver, b_sub, b_arch), len(bad), bad[0]))


def local_files(tree):
    out = {}
    for p in sorted(tree.rglob("*")):
        if p.is_file():
            out[p.relative_to(tree).as_posix()] = p.read_bytes()
    return out


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Board:
    """The board's REPL through mpremote's serial transport, without a soft reset."""

    def __init__(self, port):
        from mpremote.transport_serial import SerialTransport
        self.t = SerialTransport(port, baudrate=115200)
        self.t.enter_raw_repl(soft_reset=False)

    def close(self):
        try:
            self.t.exit_raw_repl()
            self.t.close()
        except Exception:  # noqa: a board that just reset may have dropped its port
            pass

    def exec(self, code):
        return self.t.exec(code).decode()

    def eval(self, expr):
        import ast
        return ast.literal_eval(self.exec("print(repr(%s))" % expr).strip())

    def write(self, path, data):
        tmp = path + ".new"
        self.exec("_f = open(%r, 'wb')" % tmp)
        for i in range(0, len(data), CHUNK):
            self.exec("_f.write(%r)" % data[i:i + CHUNK])
        self.exec("_f.close()\ndel _f\nimport os\nos.rename(%r, %r)" % (tmp, path))


# the ATA's console has reset() (ends the call first); a bare MicroPython REPL has not
_RESET = "try:\n reset()\nexcept NameError:\n import machine\n machine.reset()\n"


def deploy(port, tree, config=None, dry_run=False, reset=False, log=print):
    tree = pathlib.Path(tree)
    if not tree.is_dir():
        raise DeployError("no build at %s (run: ata build --board NAME)" % tree)
    files = local_files(tree)
    if config is not None:
        text = pathlib.Path(config).read_bytes()
        try:
            json.loads(text)
        except ValueError as e:
            raise DeployError("%s is not JSON: %s" % (config, e))
        files["config.json"] = text
    board = Board(port)
    try:
        board_mpy = board.eval("__import__('sys').implementation._mpy")
        check_mpy(files, board_mpy)
        have = hashes(board, sorted(files))
        changed = [rel for rel in sorted(files) if have.get(rel) != sha(files[rel])]
        log("deploy: %s -> %s (board: %s): %d files, %d changed"
            % (tree, port, describe(board_mpy & 0xFF, (board_mpy >> 8) & 3, board_mpy >> 10),
               len(files), len(changed)))
        if dry_run:
            for rel in changed:
                log("deploy: would write %s" % rel)
            return changed
        dirs = sorted({"/".join(rel.split("/")[:i + 1]) for rel in changed
                       for i in range(rel.count("/"))}, key=lambda d: d.count("/"))
        if dirs:
            board.exec(_MKDIRS_SCRIPT % (dirs,))
        for rel in changed:
            board.write(rel, files[rel])
            log("deploy: wrote %s (%d bytes)" % (rel, len(files[rel])))
        after = hashes(board, changed)
        wrong = [rel for rel in changed if after.get(rel) != sha(files[rel])]
        if wrong:
            raise DeployError("written but not read back intact: %s" % ", ".join(wrong))
        log("deploy: done, %d written, %d unchanged; %s"
            % (len(changed), len(files) - len(changed),
               "resetting the board" if reset else "reset the board to run the new code"))
        if reset:
            board.t.exec_raw_no_follow(_RESET)   # its reply never comes: it resets
        return changed
    finally:
        board.close()


def hashes(board, rels):
    """{path: sha256 hex or None} of the board's files."""
    import ast
    return ast.literal_eval(board.exec(_HASH_SCRIPT % (list(rels),)).strip())


def flash(port, image, chip="esp32", baud=460800, offset="0x1000", erase=False, run=None):
    """esptool (v5 command names): (erase and) write a MicroPython image; esptool's
    exit code. run(cmd) runs one command (tests pass their own)."""
    import subprocess
    image = pathlib.Path(image)
    if not image.is_file():
        raise DeployError("no firmware image at %s" % image)
    base = [sys.executable, "-m", "esptool", "--chip", chip, "--port", port, "--baud", str(baud)]
    cmds = ([base + ["erase-flash"]] if erase else []) + \
        [base + ["write-flash", "-z", offset, str(image)]]
    run = run or (lambda cmd: subprocess.call(cmd))
    for cmd in cmds:
        rc = run(cmd)
        if rc:
            return rc
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog="ata deploy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True, help="the board's serial port (or the sim's console pty)")
    ap.add_argument("--board", default="esp32_ag1171", help="board whose build to deploy")
    ap.add_argument("--tree", help="the tree to deploy (default build/boards/BOARD)")
    ap.add_argument("--config", help="local JSON file written as the board's config.json")
    ap.add_argument("--dry-run", action="store_true", help="only list what would be written")
    ap.add_argument("--reset", action="store_true", help="then reset the board (reset(): the "
                    "call is ended first) so it boots the new code")
    args = ap.parse_args(argv)
    tree = pathlib.Path(args.tree) if args.tree else paths.BUILD / "boards" / args.board
    try:
        deploy(args.port, tree, args.config, args.dry_run, args.reset)
    except DeployError as e:
        print("ata deploy: %s" % e, file=sys.stderr)
        return 2
    return 0


def flash_main(argv):
    ap = argparse.ArgumentParser(prog="ata flash", description="write a MicroPython firmware "
                                 "image to an ESP32 with esptool (then: ata deploy)")
    ap.add_argument("--port", required=True, help="the board's serial port")
    ap.add_argument("image", help="MicroPython firmware .bin (e.g. ESP32_GENERIC-*.bin)")
    ap.add_argument("--chip", default="esp32", help="esptool chip (default esp32)")
    ap.add_argument("--baud", type=int, default=460800)
    ap.add_argument("--offset", default="0x1000", help="flash offset (0x1000 on the ESP32, "
                    "0x0 on the ESP32-S3/C3)")
    ap.add_argument("--erase", action="store_true", help="erase the whole flash first "
                    "(also erases the filesystem and its config.json)")
    args = ap.parse_args(argv)
    try:
        return flash(args.port, args.image, args.chip, args.baud, args.offset, args.erase)
    except DeployError as e:
        print("ata flash: %s" % e, file=sys.stderr)
        return 2
