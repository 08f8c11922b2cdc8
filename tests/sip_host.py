"""CPython side of the lib/sip interop tests: runs tests/sip_driver.py on MicroPython."""
import json
import os
import subprocess
import threading
import time

from conftest import MICROPYPATH, MICROPYTHON, ROOT
from ata.peers import free_udp_port

DRIVER = str(ROOT / "tests" / "sip_driver.py")


def ua_config(kam_port, user="1001", password="secret1", **kw):
    cfg = {"server": "127.0.0.1", "port": kam_port, "user": user, "password": password,
           "local_ip": "127.0.0.1", "sip_port": free_udp_port(), "expires": 60,
           "rtp_port": free_udp_port()}
    cfg.update(kw)
    return cfg


class UaProc:
    """One MicroPython UserAgent in a subprocess; events and replies as dicts."""

    def __init__(self, cfg, heapsize=None, driver=DRIVER, args=()):
        self.cfg = cfg
        env = dict(os.environ, MICROPYPATH=MICROPYPATH)
        cmd = [MICROPYTHON] + (["-X", "heapsize=%s" % heapsize] if heapsize else [])
        self.proc = subprocess.Popen(cmd + [driver, json.dumps(cfg)] + list(args),
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                                     text=True, errors="replace", bufsize=1, env=env)
        self.lines = []
        self.cond = threading.Condition()
        self._id = 0
        self._seen = 0
        threading.Thread(target=self._reader, daemon=True).start()
        self.wait_for(lambda e: e.get("ev") == "ready", 10)

    @property
    def port(self):
        if "sip" in self.cfg:                 # a firmware config (sip_cc_driver.py)
            return self.cfg["sip"]["sip_port"]
        return self.cfg["sip_port"]

    def _reader(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = {"ev": "raw", "text": line.rstrip()}
            with self.cond:
                self.lines.append(obj)
                self.cond.notify_all()
        with self.cond:
            self.lines.append({"ev": "exit"})
            self.cond.notify_all()

    def wait_for(self, pred, timeout=10.0, start=0):
        """First event (from index `start`) satisfying pred; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    e = self.lines[i]
                    i += 1
                    if pred(e):
                        return e
                    if e.get("ev") == "exit":
                        raise RuntimeError("driver exited: %s" % self.stderr_text())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching event; last: %r" % self.lines[-5:])
                self.cond.wait(left)

    def stderr_text(self):
        try:
            self.proc.wait(1)
            return self.proc.stderr.read()[-3000:]
        except subprocess.TimeoutExpired:
            return "(running)"

    def cmd(self, name, timeout=5.0, **kw):
        self._id += 1
        kw.update(cmd=name, id=self._id)
        mark = len(self.lines)
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        i = self._id
        return self.wait_for(lambda e: e.get("ev") == "reply" and e.get("id") == i, timeout, mark)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_state(self, state, call=None, timeout=10.0, start=0):
        return self.wait_for(lambda e: e.get("ev") == "state" and e.get("state") == state and
                             (call is None or e.get("call") == call), timeout, start)

    def states(self, call=0):
        with self.cond:
            return [e["state"] for e in self.lines if e.get("ev") == "state" and
                    e.get("call") == call]

    def status(self):
        return self.cmd("status")

    def wait_registered(self, timeout=10.0, value=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status()["registered"] == value:
                return True
            time.sleep(0.1)
        raise TimeoutError("registered != %s: %r" % (value, self.status()))

    def stop(self, graceful=True):
        if self.proc.poll() is None and graceful:
            try:
                self.cmd("stop", timeout=8)
            except (TimeoutError, RuntimeError, BrokenPipeError, OSError):
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

