"""`ata ota push BUNDLE --port PORT`: serve one bundle from this host and tell the
device, over its console, to pull it; show a progress bar and the update's steps.

The bundle's folder is served over HTTP (ata ota serve's server, on a free port) at
--host-ip (default: this host's address on its default route; 127.0.0.1 for the
sim). The device is told `ota("http://HOST:PORT/NAME")` at its console (a serial
port, or the sim's pty: RUN/console). The bar counts the bytes the server sent;
the device's log lines (`ota: ...`) name the steps. Waits for the outcome of the
probation (marked good / valid, or rolled back) unless --no-wait.

Exit status: 0 installed (and, when waited for, kept); 1 refused or failed before
the switch; 2 rolled back; 3 timed out waiting.
"""
import argparse
import pathlib
import re
import socket
import sys
import threading
import time

from . import ota_serve

_DONE_SWITCH = re.compile(r"ota: (\S+ installed in slot \w+|firmware \S+ set to boot from \w+)")
_KEPT = re.compile(r"ota: (\S+ marked good|firmware \S+ marked valid)[^\r\n]*")
_BACK = re.compile(r"ota: ([^\r\n]*(rolling back|rolled back)[^\r\n]*)")
_FAIL = re.compile(r"ota: ((refused|download failed|failed)[^\r\n]*)")
_BAR = 30


def default_host_ip():
    """This host's address toward the default route (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))      # TEST-NET-1: only picks the route
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


class _Bar:
    def __init__(self, out):
        self.out = out
        self.last = None
        self.lock = threading.Lock()

    def __call__(self, name, have, total):
        pct = 100 * have // total if total else 100
        with self.lock:
            if pct == self.last:
                return
            self.last = pct
            n = _BAR * pct // 100
            self.out.write("\rpush: [%s%s] %3d%% %d/%d KB " % ("#" * n, "." * (_BAR - n), pct,
                                                           have // 1024, total // 1024))
            if pct == 100:
                self.out.write("\n")
            self.out.flush()


def push(bundle, port, host_ip=None, wait=True, timeout_s=900, out=sys.stdout):
    import serial
    bundle = pathlib.Path(bundle).resolve()
    if not bundle.is_file():
        raise FileNotFoundError(bundle)
    host_ip = host_ip or default_host_ip()
    srv = ota_serve.Server(bundle.parent, "0.0.0.0", 0, progress=_Bar(out), quiet=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://%s:%d/%s" % (host_ip, srv.server_address[1], bundle.name)
    con = serial.Serial(port, 115200, timeout=0.1)
    try:
        con.write(b"\x03")                 # Ctrl-C: an empty line at the prompt
        time.sleep(0.1)
        con.reset_input_buffer()
        out.write("push: %s -> %s\n" % (url, port))
        out.flush()
        con.write(("ota(%r)\r" % url).encode())
        text = ""
        shown = 0
        switched = False
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            text += con.read(4096).decode(errors="replace")
            for line in text[shown:].splitlines(True):
                if not line.endswith("\n"):
                    break
                shown += len(line)
                m = re.search(r"ota: [^\r\n']*", line)
                if m and "ota: download " not in line:
                    out.write("push: device: %s\n" % m.group(0))
                    out.flush()
                if _FAIL.search(line) and not switched:
                    return 1
                if _DONE_SWITCH.search(line):
                    switched = True
                    if not wait:
                        return 0
                if switched and _KEPT.search(line):
                    return 0
                if switched and _BACK.search(line):
                    return 2
        out.write("push: no outcome within %d s (`ota status` at the console)\n" % timeout_s)
        return 3
    finally:
        con.close()
        srv.shutdown()
        srv.server_close()


def main(argv):
    ap = argparse.ArgumentParser(prog="ata ota push", description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--port", required=True, help="the device's console: a serial port or "
                    "the sim's RUN/console")
    ap.add_argument("--host-ip", help="address the device reaches this host at "
                    "(default: the default route's)")
    ap.add_argument("--no-wait", action="store_true", help="return once the device switched, "
                    "without waiting for its probation's outcome")
    ap.add_argument("--timeout", type=int, default=900, help="seconds to wait (default 900)")
    a = ap.parse_args(argv)
    return push(a.bundle, a.port, a.host_ip, not a.no_wait, a.timeout)
