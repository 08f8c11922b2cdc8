"""`ata sim`: run the firmware on the sim board with a config.

The firmware runs on the MicroPython unix port in its own run folder. Its console
is a pty (a serial port look-alike, path printed and linked as RUN/console) fed
by a relay that never blocks the firmware: like a UART driver's ring buffer, it
holds output for a slow reader up to a bound, then drops the oldest. Input reaches
the firmware byte for byte (the REPL's raw mode and mpremote need that); output gets
the "\n" -> "\r\n" a board's stdout does. The run folder is the firmware's working
directory: it stands in for the board's flash filesystem (`mpremote fs ls` lists it).
The virtual phone connects to the phone port of the config.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading
import time
import tty

from . import paths

_CONSOLE_BUFFER = 65536   # bytes of console output held for a slow reader, at most


def _more_phone_ports(raw, first):
    """The phone ports of a config's second and later FXS ports (config "ports"; the
    firmware's default: the first + n - 1; docs/config.md)."""
    ports = raw.get("ports") if isinstance(raw, dict) else None
    out = []
    for i, entry in enumerate(ports[1:] if isinstance(ports, list) else [], 1):
        sim = entry.get("sim") if isinstance(entry, dict) else None
        own = sim.get("phone_port") if isinstance(sim, dict) else None
        out.append(own if isinstance(own, int) else first + i)
    return out


class SimProcess:
    def __init__(self, config, run_dir=None, heapsize=None, echo=False, romfs=None,
                 mpy_tree=None, heap_trace_ms=None, flash=False, frozen=False,
                 micropython=None):
        """config: a path to a JSON file or a dict. romfs: run the firmware's code from
        this ROMFS image mounted at /rom (`ata build --romfs`); mpy_tree: from this .mpy
        tree (`ata build`); flash: main.py and the code from the run folder, the
        board's flash filesystem (what `ata deploy` wrote there); frozen: the code is
        frozen into the MicroPython binary (`micropython`, a unix build of one's own;
        board.json is then put in the run folder, as a frozen board keeps it on its
        filesystem); default: from source. micropython: the binary (default the
        venv's). heap_trace_ms: print the live heap that often (tools/ata/simboot.py)."""
        self.flash = flash
        self.micropython = micropython or paths.MICROPYTHON
        self.boot = (["--romfs", str(romfs)] if romfs else
                     ["--tree", str(mpy_tree)] if mpy_tree else
                     ["--frozen"] if frozen else [])
        if heap_trace_ms and self.boot:
            self.boot += ["--heap-trace", str(heap_trace_ms)]
        self.run_dir = pathlib.Path(run_dir or paths.BUILD / "sim" / ("%d-%d" % (os.getpid(), time.time_ns() % 10**6)))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if frozen:
            shutil.copy(paths.ROOT / "boards" / "sim" / "board.json", self.run_dir / "board.json")
        if flash:
            self.boot = ["--tree", str(self.run_dir.resolve())] + self.boot[2:]
        if isinstance(config, dict):
            self.config_path = self.run_dir / "config.json"
            self.config_path.write_text(json.dumps(config, indent=1))
            raw = config
        else:
            self.config_path = pathlib.Path(config).resolve()
            try:
                raw = json.loads(self.config_path.read_text())
            except (OSError, ValueError):
                raw = {}           # the firmware itself reports what is wrong
        sim = raw.get("sim", {}) if isinstance(raw, dict) else {}
        self.phone_port = sim.get("phone_port", 7001) if isinstance(sim, dict) else 7001
        self.phone_ports = [self.phone_port] + _more_phone_ports(raw, self.phone_port)
        self.heapsize = heapsize
        self.echo = echo
        self.proc = None
        self.console_path = self.run_dir / "console"
        self.log_path = self.run_dir / "console.log"
        self._log = []
        self._tx = bytearray()          # console output the pty has not taken yet
        self._tx_lock = threading.Lock()
        self._eof = False
        self._cond = threading.Condition()
        self._resetting = False
        self._stopping = False
        self._threads = []              # relays and watchdog: joined before the pty closes
        self.watchdog_resets = 0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, wait_ready=True, timeout=20):
        cmd = [self.micropython]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        if self.boot:        # code from an image or .mpy tree: simboot.py mounts it first
            cmd += [str(paths.ROOT / "tools" / "ata" / "simboot.py")] + self.boot
        main = (self.run_dir.resolve() / "main.py") if self.flash else paths.ROOT / "firmware" / "main.py"
        cmd += [str(main), "--config", str(self.config_path)]
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        if self.console_path.is_symlink() or self.console_path.exists():
            self.console_path.unlink()
        self.console_path.symlink_to(os.ttyname(self.slave))
        env = paths.micropython_env()
        if self.boot:        # only what a board has: frozen modules, then the image/tree
            env["MICROPYPATH"] = ".frozen"
        self._logfile = open(self.log_path, "wb")
        self._launch = lambda: subprocess.Popen(cmd, cwd=self.run_dir, env=env,
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, bufsize=0)
        self.proc = self._launch()
        for target in (self._pump_out, self._pump_in, self._watchdog):
            self._thread(target)
        if wait_ready:
            self.wait_log(r"ready:|CONFIG ERROR", timeout)
        return self

    def _thread(self, target):
        t = threading.Thread(target=target, daemon=True)
        self._threads.append(t)
        t.start()

    def _watchdog(self):
        """The board's watchdog, outside the firmware as on a chip: the firmware's
        vmachine.WDT feeds it through the file `wdt` (its timeout in ms, fed at each
        write). Starved, it kills the firmware and starts it again: a reset."""
        wdt = self.run_dir / "wdt"
        while self.proc is not None and self.proc.poll() is None and not self._stopping:
            time.sleep(0.1)
            try:
                timeout_s = int(wdt.read_text().split()[0]) / 1000
                age = time.time() - wdt.stat().st_mtime
            except (OSError, ValueError, IndexError):
                continue
            if age <= timeout_s:
                continue
            old = self.proc
            self._resetting = True
            old.kill()
            old.wait()
            wdt.unlink()
            self.watchdog_resets += 1
            note = "\n[sim] watchdog: no feed for %.1f s, board reset\n" % age
            with self._cond:
                self._log.append(note)
                self._cond.notify_all()
            self._logfile.write(note.encode())
            self.proc = self._launch()
            self._resetting = False
            self._thread(self._pump_out)

    def _pump_out(self):
        proc = self.proc
        while True:
            data = os.read(proc.stdout.fileno(), 4096)
            if not data:
                if self._resetting or proc is not self.proc:
                    return             # the watchdog reset the board: a new pump runs
                break
            self._logfile.write(data)
            self._logfile.flush()
            if self.echo:
                sys.stdout.write(data.decode(errors="replace"))
                sys.stdout.flush()
            with self._tx_lock:
                # a board's stdout turns "\n" into "\r\n" (MicroPython's cooked
                # output); the unix port writes "\n": this is that step, nothing more
                self._tx += data.replace(b"\n", b"\r\n")
                if len(self._tx) > _CONSOLE_BUFFER:   # nobody reads: drop the oldest,
                    del self._tx[:len(self._tx) - _CONSOLE_BUFFER]   # like a UART's ring
            self._flush_console()
            with self._cond:
                self._log.append(data.decode(errors="replace"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _flush_console(self):
        """Write what the pty takes now; the rest waits for the reader."""
        with self._tx_lock:
            try:
                n = os.write(self.master, self._tx) if self._tx else 0
            except (BlockingIOError, OSError):
                n = 0
            del self._tx[:n]

    def _pump_in(self):
        """Console input, byte for byte, to the firmware process that runs now. One
        pump for the board's whole life: with one per process, the pump of a process
        the watchdog had just killed could still sit in its select() when the new
        firmware's console was already up, take mpremote's Ctrl-A and hand it to the
        dead process: the new firmware never saw it ("could not enter raw repl")."""
        import select
        while not self._stopping:
            proc = self.proc
            if proc is None:
                return
            if proc.poll() is not None and not self._resetting and proc is self.proc:
                return                  # the firmware ended (not a reset): no one to feed
            try:
                r, w, _ = select.select([self.master], [self.master] if self._tx else [], [], 0.2)
            except (OSError, ValueError):
                return                  # stop() closed the pty
            if w:
                self._flush_console()
            if not r:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                continue
            try:            # byte-exact: the REPL's raw mode (mpremote) needs every byte
                self.proc.stdin.write(data)
            except (OSError, ValueError):
                # the firmware is stopping, or being reset: what is typed into a board
                # while it resets is lost there too
                continue

    def send(self, line):
        """Type a console line directly (without the pty)."""
        self.proc.stdin.write((line + "\n").encode())

    def log_text(self):
        with self._cond:
            return "".join(self._log)

    def wait_log(self, pattern, timeout=10, start=0):
        """Wait for a regex in the console output; returns the match."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search("".join(self._log)[start:])
                if m:
                    return m
                if self._eof:
                    raise RuntimeError("sim exited (%s) before %r:\n%s"
                                       % (self.proc.returncode, pattern, "".join(self._log)[-3000:]))
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("sim: no %r within %ss:\n%s"
                                       % (pattern, timeout, "".join(self._log)[-3000:]))
                self._cond.wait(min(left, 0.2))

    def stop(self, timeout=8):
        if self.proc is None:
            return None
        self._stopping = True
        if self.proc.poll() is None:
            # Ask by command, not only by EOF: a forked helper process (pytest-embedded
            # forks its listener) may hold a copy of the stdin pipe open.
            try:
                self.proc.stdin.write(b"shutdown\n")
                self.proc.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        # The relays use the pty's raw descriptor numbers: closed under a relay still
        # in its select(), the number is soon reused by an unrelated pipe (the next
        # test's subprocess) and the relay would read that pipe's first output. Seen:
        # the first line of `ata build` and of a micropython -c run went missing.
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(5)
        if any(t.is_alive() for t in self._threads):
            return self.proc.returncode     # a relay hangs on: leave its descriptors open
        for fd in (self.master, self.slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = None     # closed once: a second close could hit a reuse
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    ap = argparse.ArgumentParser(prog="ata sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="firmware config (JSON, see docs/config.md)")
    ap.add_argument("--run-dir", help="folder for the console link, logs and state")
    ap.add_argument("--heapsize", help="MicroPython heap, e.g. 96k (the ESP32 budget)")
    ap.add_argument("--romfs", metavar="IMG", help="run the code from this ROMFS image "
                    "mounted at /rom, as a board does (ata build --romfs: build/boards/sim.romfs)")
    args = ap.parse_args(argv)
    sim = SimProcess(args.config, run_dir=args.run_dir, heapsize=args.heapsize, echo=True,
                     romfs=args.romfs)
    sim.start(wait_ready=False)
    print("sim: run folder %s" % sim.run_dir)
    print("sim: console %s -> %s" % (sim.console_path, os.ttyname(sim.slave)))
    for n, port in enumerate(sim.phone_ports, 1):
        print("sim: %sphone port 127.0.0.1:%d  (connect with: ata phone --port %d)"
              % ("line %d " % n if len(sim.phone_ports) > 1 else "", port, port))
    sys.stdout.flush()
    try:
        rc = sim.proc.wait()
    except KeyboardInterrupt:
        rc = sim.stop()
    if rc:
        print("sim: firmware exited with %s" % rc)
    return rc or 0
