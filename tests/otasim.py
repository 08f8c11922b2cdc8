"""Helpers for OTA tests on the sim: signed bundles of the firmware's own source (a
v1.1.0 that works, versions broken on purpose), `ata ota serve` as a process of its
own, a PBX (Kamailio + baresip 1002 answering) and one call placed through it."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading
import time

from ata import ota, paths, peers
from ata.phone import VirtualPhone
from conftest import ROOT, run_micropython
from simfix import base_config, deep_merge, start_sim

FACTORY = "0.1.0"          # firmware/main.py's VERSION: what runs with no slot


def mpy_version():
    r = run_micropython(["-c", "import sys; v = sys.implementation._mpy; "
                               "print('%d.%d' % (v & 255, (v >> 8) & 3))"])
    return r.stdout.strip()


def source_tree(dst, patch=None):
    """The firmware as a slot holds it: firmware/*.py at the root, lib's packages
    beside them (source, not .mpy: the sim loads both). patch: {name: fn(text)}."""
    dst = pathlib.Path(dst)
    for src in (ROOT / "firmware", ROOT / "lib"):
        for p in src.rglob("*.py"):
            if p.name in ("manifest.py", "ota_key.py") or p.name.endswith("_ref.py"):
                continue
            rel = p.relative_to(src)
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            text = p.read_text()
            if patch and str(rel) in patch:
                text = patch[str(rel)](text)
            (dst / rel).write_text(text)
    return dst


def sign_tree(tree, key, version, out, mpy):
    payload = ota.tar_tree(tree)
    m = ota.make_manifest("sim", "x64", mpy, version, payload, "tar", ota.raw_public(key))
    pathlib.Path(out).write_bytes(ota.sign_bundle(m, payload, key))
    return out


def broken_at_boot(text):
    return "raise RuntimeError('v1.2.0 broken at boot')\n" + text


def never_registers(text):
    new = text.replace("        await self.ua.start()\n",
                       "        pass                      # v1.3.0: never registers\n", 1)
    assert new != text, "callctl.start() changed: update tests/otasim.py"
    return new


def make_bundles(tmp, key):
    """{name: path} in tmp/srv: 1.1.0 good, 1.2.0 raises at boot, 1.3.0 never
    registers, 1.4.0 has no lib/ota/agent.py (could never pass its health check), forged-1.1.0 (a made-up signature), tampered-1.1.0 (one payload bit),
    fw-1.1.0 (a whole-firmware image for the file-backed Partition)."""
    mpy = mpy_version()
    srv = tmp / "srv"
    srv.mkdir()
    good = source_tree(tmp / "t110")
    sign_tree(good, key, "1.1.0", srv / "sim-1.1.0.ota", mpy)
    sign_tree(source_tree(tmp / "t120", {"callctl.py": broken_at_boot}), key, "1.2.0",
              srv / "sim-1.2.0.ota", mpy)
    sign_tree(source_tree(tmp / "t130", {"callctl.py": never_registers}), key, "1.3.0",
              srv / "sim-1.3.0.ota", mpy)
    t140 = source_tree(tmp / "t140")
    (t140 / "ota" / "agent.py").unlink()          # a version that lost its update agent
    sign_tree(t140, key, "1.4.0", srv / "sim-1.4.0.ota", mpy)
    image = b"IMG 1.1.0\n" + bytes(range(256)) * 240          # a 61 KB "firmware image"
    m = ota.make_manifest("sim", "x64", mpy, "1.1.0", image, "firmware", ota.raw_public(key))
    (srv / "fw-1.1.0.ota").write_bytes(ota.sign_bundle(m, image, key))
    m = ota.make_manifest("sim", "x64", mpy, "1.1.0", b"R" * 512, "romfs", ota.raw_public(key))
    (srv / "romfs-1.1.0.ota").write_bytes(ota.sign_bundle(m, b"R" * 512, key))
    data = bytearray((srv / "sim-1.1.0.ota").read_bytes())
    data[-2000] ^= 1                               # one payload bit: tampered
    (srv / "tampered-1.1.0.ota").write_bytes(bytes(data))
    m = ota.make_manifest("sim", "x64", mpy, "1.1.0", b"x", "tar", ota.raw_public(key))
    (srv / "forged-1.1.0.ota").write_bytes(ota.make_bundle(m, b"x", bytes(64)))
    return srv


class Server:
    """`ata ota serve DIR` in its own process group; stopped by its group id."""

    def __init__(self, root, *args):
        self.proc = subprocess.Popen(
            [str(paths.VENV_BIN / "ata"), "ota", "serve", str(root), "--host", "127.0.0.1",
             "--port", "0"] + [str(a) for a in args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        first = self.proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", first)
        assert m, first
        self.base = m.group(1)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def url(self, name):
        return self.base + name

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


class Pbx:
    """Kamailio with 1001/1002, baresip as 1002 answering at once."""

    def __init__(self, tmp):
        self.kam = peers.Kamailio(tmp / "kamailio")
        self.kam.start()
        self.far = peers.Baresip(tmp / "baresip", "1002", "secret2", self.kam.port)
        self.far.start()

    def stop(self):
        self.far.stop()
        self.kam.stop()


def ota_config(pbx, url, **ota_opts):
    return deep_merge(base_config(pbx.kam.port if pbx else None),
                      {"line": {"interdigit_ms": 1500}, "ota": dict(url=url, **ota_opts)})


def boot(cfg, run_dir, key):
    """Start the sim in run_dir (the board's flash: slots, downloads and the trusted
    key ota_key.py live there). Returns the SimProcess, up (ready:)."""
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "ota_key.py").write_text(ota.pub_module_text(ota.raw_public(key)))
    return start_sim(cfg, run_dir)


def booted_version(sim, start=0):
    return sim.wait_log(r"ATA firmware (\S+) on board sim", 20, start=start).group(1)


def place_call(sim, cfg, far, start=0):
    """Lift, dial 1002# by DTMF (# sends at once), wait for the call to be up at both
    ends, hang up."""
    sim.wait_log(r"sip: registered", 20, start=start)
    phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
    try:
        phone.off_hook()
        phone.sleep_sim(400)
        phone.dial_dtmf("1002#", on_ms=70, off_ms=70, level_dbm0=-8)
        far.wait_event("CALL_ESTABLISHED", 15)
        sim.wait_log(r"call: confirmed", 5, start=start)
        phone.sleep_sim(300)
        phone.on_hook()
        far.wait_event("CALL_CLOSED", 10)
    finally:
        phone.close()


def kill_now(sim):
    """A power cut: SIGKILL of the firmware process, and of the one the runner may
    have started in the same instant (a reset in progress). Returns the log length."""
    sim._stopping = True
    for _ in range(3):
        p = sim.proc
        if p.poll() is None:
            p.kill()
            p.wait()
        time.sleep(0.15)
        if sim.proc is p or sim.proc.poll() is not None:
            break
    n = len(sim.log_text())
    sim.stop()
    return n


def clear_run(run_dir):
    shutil.rmtree(run_dir, ignore_errors=True)
