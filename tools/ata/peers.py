"""Real SIP peers on loopback for tests and the demo: Kamailio, baresip, sipp.

Every peer gets ports chosen at run time and its own work folder, is started as a
child of the calling process, waits until it is ready, and is stopped by PID.
Nothing here kills by name. See shared docs peers.md for the facts behind the
configuration lines.
"""
import json
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import subprocess
import atexit
import math
import struct
import time
import wave

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The example registrar config that ours is derived from (users, qop, port and
# control socket substituted). Fallback: the copy shipped in the repo's tools.
_EXAMPLE_CANDIDATES = [
    ROOT.parent / "shared" / "examples" / "kamailio.cfg",
    pathlib.Path(__file__).resolve().parent / "kamailio.cfg",
]

READY_TIMEOUT_S = 10.0       # how long start() waits for a peer to answer
STOP_TIMEOUT_S = 10.0        # SIGTERM, then SIGKILL after this long


def _port_band():
    """Ports tests and tools hand to peers: below the kernel's ephemeral range (so no
    outgoing socket of anyone's is ever given one by the kernel meanwhile) and above
    the firmware's default RTP range (rtp.port_min..port_max, 10000-20000, both ends
    included: 20000 itself is the range's)."""
    try:
        lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo - 20001 >= 4000:
        return 20001, lo - 1
    return hi + 1, 65535


_BAND = _port_band()
_GIVEN = set()       # handed out by this process: never handed out twice


def _free_both(port, host):
    """True if `port` binds for UDP and for TCP right now. Peers such as baresip listen
    on both with one sip_listen, and a TCP listener on a 'free UDP port' was seen to
    kill a baresip start ('tcp: sock_bind: Address already in use')."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_udp_range(count=20, host="127.0.0.1"):
    """(first, last) of `count` consecutive even-aligned ports, each free for UDP and
    TCP now and never handed out before by this process."""
    lo, hi = _BAND
    for _ in range(500):
        step = 2 if count > 1 else 1     # ranges start even (RTP's even/odd pairs)
        base = random.randrange(lo + (lo & 1), hi - count, step)
        ports = range(base, base + count)
        if any(p in _GIVEN for p in ports):
            continue
        if all(_free_both(p, host) for p in ports):
            _GIVEN.update(ports)
            return base, base + count - 1
    raise RuntimeError("no free port range of %d in %d-%d" % (count, lo, hi))


def free_udp_port(host="127.0.0.1"):
    """A port free now for UDP and TCP, out of the kernel's ephemeral range, unique
    within this process."""
    return free_udp_range(1, host)[0]


free_tcp_port = free_udp_port   # the same checks: both protocols, one band


_LIVE = set()   # peers started and not yet stopped: stopped at interpreter exit


@atexit.register
def _stop_all():
    for peer in list(_LIVE):
        try:
            peer.stop()
        except Exception:  # best effort at exit; keep stopping the others
            pass


def write_tone_wav(path, seconds=120.0, freq_hz=440.0, level=0.3, rate=8000):
    """Write an 8 kHz mono 16-bit sine WAV (baresip's ausine needs 48 kHz)."""
    n = int(seconds * rate)
    period = rate / math.gcd(int(freq_hz), rate)
    cycle = [int(32767 * level * math.sin(2 * math.pi * freq_hz * i / rate))
             for i in range(int(period))]
    one = struct.pack("<%dh" % len(cycle), *cycle)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        full, rest = divmod(n, len(cycle))
        w.writeframes(one * full + one[:rest * 2])
    return path


def _stop_proc(proc, timeout=STOP_TIMEOUT_S):
    """Stop one child and everything it forked, then reap it.

    Peers are started with start_new_session=True, so each leads its own process
    group: Kamailio's workers (and anything a peer forks) get the same SIGTERM and,
    after `timeout`, SIGKILL. The group is signalled even when the leader has
    already exited, because orphaned workers can outlive it and hold its port.
    """
    if proc is None:
        return
    try:
        pgid = os.getpgid(proc.pid) if proc.poll() is None else proc.pid
    except ProcessLookupError:
        pgid = proc.pid
    own = pgid == os.getpgrp()   # never signal our own group (not started with a session)
    def _signal(sig):
        try:
            if own:
                proc.send_signal(sig)
            else:
                os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    _signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal(signal.SIGKILL)
        proc.wait(timeout)
    if not own:
        # Workers of the group that ignored SIGTERM or outlived the leader.
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _group_alive(pgid):
            _signal(signal.SIGKILL)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def sip_ping(host, port, timeout=0.3, method="OPTIONS", uri=None):
    """Send one OPTIONS (no user part) and return the status code or None."""
    uri = uri or "sip:%s:%d" % (host, port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        branch = "z9hG4bK-ping%d" % random.randrange(1 << 30)
        msg = ("%s %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:ping@127.0.0.1>;tag=p%d\r\n"
               "To: <%s>\r\n"
               "Call-ID: ping-%d@127.0.0.1\r\n"
               "CSeq: 1 %s\r\n"
               "Content-Length: 0\r\n\r\n") % (method, uri, lport, branch, lport, uri,
                                              random.randrange(1 << 30), method)
        s.settimeout(timeout)
        try:
            s.sendto(msg.encode(), (host, port))
            data, _ = s.recvfrom(65535)
        except OSError:
            return None
        m = re.match(rb"SIP/2.0 (\d{3})", data)
        return int(m.group(1)) if m else None


class _Peer:
    """What every peer process shares: its log, and use as a context manager."""

    def log_tail(self, n=4000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Kamailio(_Peer):
    """Kamailio registrar + proxy with digest auth on 127.0.0.1:<port>.

    users: {user: password}; qop: challenge with qop="auth"; nonce_expire: seconds
    until a nonce is stale (stale=true challenges); min_expires with
    min_expires_423=True makes short REGISTERs get 423 Interval Too Brief.
    """

    def __init__(self, workdir, port=None, users=None, qop=False, nonce_expire=300,
                 min_expires=None, min_expires_423=False, max_expires=3600,
                 auth_id_must_match=True):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_udp_port()
        self.users = dict(users or {"1001": "secret1", "1002": "secret2"})
        self.qop = qop
        self.nonce_expire = nonce_expire
        self.min_expires = min_expires
        self.min_expires_423 = min_expires_423
        self.max_expires = max_expires
        # False: an auth ID (htable key) may differ from the user it registers/calls as
        self.auth_id_must_match = auth_id_must_match
        self.proc = None
        self.cfg_path = self.workdir / "kamailio.cfg"
        self.ctl = self.workdir / "kamailio_ctl"
        self.log_path = self.workdir / "kamailio.log"
        self._log = None

    # -- configuration
    def config_text(self):
        src = None
        for c in _EXAMPLE_CANDIDATES:
            if c.exists():
                src = c.read_text()
                break
        if src is None:
            raise FileNotFoundError("kamailio example config not found")
        text = src
        # Never alias 127.0.0.1 (wildcard port); our own name with our own port.
        text = re.sub(r'^alias=.*$', 'alias="localhost:%d"' % self.port, text, flags=re.M)
        text = text.replace("unix:/path/to/run/kamailio_ctl", "unix:%s" % self.ctl)
        size = max(4, (len(self.users) - 1).bit_length() + 1)
        text = re.sub(r'"users=>size=\d+;"', '"users=>size=%d;"' % size, text)
        init = "".join('    $sht(users=>%s) = "%s";\n' % (u, p) for u, p in self.users.items())
        text = re.sub(r'(event_route\[htable:mod-init\] \{\n)(.*?)(\})',
                      lambda m: m.group(1) + init + m.group(3), text, flags=re.S)
        flag = '"1"' if self.qop else '"0"'
        text = re.sub(r'(www_challenge\("\$td", )"\d"', r'\g<1>' + flag, text)
        text = re.sub(r'(proxy_challenge\("\$fd", )"\d"', r'\g<1>' + flag, text)
        text = re.sub(r'modparam\("auth", "nonce_expire", \d+\)',
                      'modparam("auth", "nonce_expire", %d)' % self.nonce_expire, text)
        text = re.sub(r'modparam\("registrar", "max_expires", \d+\)',
                      'modparam("registrar", "max_expires", %d)' % self.max_expires, text)
        if not self.auth_id_must_match:
            text = re.sub(r'^\s*if \(\$au != \$[tf]U\).*\n', '', text, flags=re.M)
        extra = []
        if self.min_expires is not None:
            extra.append('modparam("registrar", "min_expires", %d)' % self.min_expires)
            if self.min_expires_423:
                extra.append('modparam("registrar", "min_expires_mode", 1)')
        if extra:
            text = text.replace('modparam("rr", "enable_full_lr", 1)',
                                'modparam("rr", "enable_full_lr", 1)\n' + "\n".join(extra))
        return text

    def write_config(self):
        self.cfg_path.write_text(self.config_text())
        return self.cfg_path

    # -- life cycle
    def start(self):
        self.write_config()
        self._log = open(self.log_path, "ab")
        cmd = ["kamailio", "-DD", "-E", "-f", str(self.cfg_path),
               "-l", "udp:127.0.0.1:%d" % self.port, "-Y", str(self.workdir),
               "-w", str(self.workdir), "-m", "32", "-M", "4"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir,
                                     start_new_session=True)
        _LIVE.add(self)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kamailio exited %s: %s" % (self.proc.returncode, self.log_tail()))
            if sip_ping("127.0.0.1", self.port) == 200:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("kamailio not ready: " + self.log_tail())

    def stop(self):
        _LIVE.discard(self)
        _stop_proc(self.proc)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None


    # -- inspection
    def kamcmd(self, *args):
        r = subprocess.run(["kamcmd", "-s", "unix:%s" % self.ctl] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.stdout + r.stderr

    def ul_dump(self):
        return self.kamcmd("ul.dump")

    def contacts(self, user):
        """Contact URIs registered now for `user` (parsed from ul.dump)."""
        out = self.ul_dump()
        found = []
        cur = None
        for line in out.splitlines():
            m = re.search(r"AoR:\s*(\S+)", line, re.I)
            if m:
                cur = m.group(1).split("@")[0]
                continue
            m = re.search(r"Address:\s*(\S+)", line)
            if m and cur == user:
                found.append(m.group(1))
        return found

    def registered(self, user):
        return bool(self.contacts(user))

    def clear(self, user):
        return self.kamcmd("ul.rm", "location", "s:%s" % user)


class Baresip(_Peer):
    """A headless baresip phone registered at 127.0.0.1:<registrar_port>.

    audio_wav: 8 kHz mono WAV it sends (longer than the call: baresip hangs up at its
    end); None sends a 440 Hz sine. record_dir: where sndfile writes `*-dec.wav`
    (received) and `*-enc.wav` (sent). registrar_port None: no registration
    (direct-IP calls to its sip_port).

    plc: load baresip's `plc` filter (spandsp's concealment of lost frames), as its
    users do. sndfile is loaded first: decoding runs the filters last-loaded first,
    so `*-dec.wav` holds the concealed frames.
    clocked_record: record what a player would play. Source and player are one
    `aubridge` device, whose thread pulls a frame from the receive buffer every
    20 ms (the player's clock, as a sound card would) and feeds it to the source:
    `*-enc.wav` is that playout, underruns and overruns included (`*-dec.wav` is
    written on packet arrival, before any buffer). The price: the call sends the
    playout back (an echo); audio_wav is not played.
    jitter_buffer (frames) / audio_buffer (ms): (min, max) written into the config;
    None leaves baresip's built-in default.
    sip_trace: baresip -s, every SIP message it sends and receives in its log.
    """

    def __init__(self, workdir, user, password, registrar_port, sip_port=None,
                 rtp_range=None, audio_wav=None, record_dir=None, answermode="auto",
                 regint=3600, codecs="PCMU,PCMA", plc=False, clocked_record=False,
                 jitter_buffer=None, audio_buffer=None, sip_trace=False):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.password = password
        self.registrar_port = registrar_port
        self.sip_port = sip_port or free_udp_port()
        self.rtp_range = rtp_range or free_udp_range(20)
        self.audio_wav = audio_wav
        self.record_dir = pathlib.Path(record_dir) if record_dir else None
        self.answermode = answermode
        self.regint = regint
        self.codecs = codecs
        self.plc = plc
        self.clocked_record = clocked_record
        self.jitter_buffer = jitter_buffer
        self.audio_buffer = audio_buffer
        self.sip_trace = sip_trace            # baresip -s: every SIP message in its log
        if clocked_record and not record_dir:
            raise ValueError("clocked_record needs a record_dir")
        self.ctrl_port = free_tcp_port()
        self.proc = None
        self.sock = None
        self._buf = b""
        self._events = []
        self._token = 0
        self.log_path = self.workdir / "baresip.log"
        self._log = None

    def write_config(self):
        wav = self.audio_wav
        if not wav:
            wav = self.workdir / "tone440.wav"
            if not wav.exists():
                write_tone_wav(wav)
        src = "aufile,%s" % wav
        srcmod = "module aufile.so\n"
        player = "aubridge,idle-%s" % self.user
        if self.clocked_record:
            src = player = "aubridge,play-%s" % self.user
            # menu plays ringback on audio_player: on the same aubridge device, and
            # stopping it at answer stops the device's clock thread for the call too
            srcmod = "ringback_disabled yes\n"
        rec = ""
        if self.record_dir:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            rec = "module sndfile.so\nsnd_path %s\n" % self.record_dir
        if self.plc:
            rec += "module plc.so\n"
        bufs = ""
        if self.jitter_buffer:
            bufs += "jitter_buffer_delay %d-%d\n" % tuple(self.jitter_buffer)
        if self.audio_buffer:
            bufs += "audio_buffer %d-%d\n" % tuple(self.audio_buffer)
        cfg = (
            "poll_method epoll\n"
            "sip_listen 127.0.0.1:%d\n"
            "net_interface 127.0.0.1\n"
            "dns_server 127.0.0.1:53\n"
            # An aubridge device nobody opens never starts its thread: nothing plays,
            # and sndfile still records the decoded audio. (`alsa,null` busy-loops:
            # about one core per baresip during a call, load that shows up as jitter.)
            "audio_player %s\n"
            "audio_source %s\n"
            "audio_alert alsa,null\n"
            "ausrc_srate 8000\nauplay_srate 8000\nausrc_channels 1\nauplay_channels 1\n"
            "%s"
            "rtp_ports %d-%d\n"
            "rtp_timeout 0\n"
            "module_path /usr/lib/baresip/modules\n"
            "%s"
            "module alsa.so\n"
            "module aubridge.so\n"
            "%s"
            "%s"
            "module cons.so\n"
            "cons_listen 127.0.0.1:%d\n"
            "module_app account.so\n"
            "module_app menu.so\n"
            "module_app ctrl_tcp.so\n"
            "ctrl_tcp_listen 127.0.0.1:%d\n"
        ) % (self.sip_port, player, src, bufs, self.rtp_range[0], self.rtp_range[1],
             self._codec_modules(),
             srcmod, rec,
             free_tcp_port(), self.ctrl_port)
        (self.workdir / "config").write_text(cfg)
        if self.registrar_port:
            acc = ("<sip:%s@127.0.0.1:%d>;auth_user=%s;auth_pass=%s;answermode=%s;"
                   "audio_codecs=%s;regint=%d\n") % (
                       self.user, self.registrar_port, self.user, self.password,
                       self.answermode, self.codecs, self.regint)
        else:
            acc = ("<sip:%s@127.0.0.1:%d>;answermode=%s;audio_codecs=%s;regint=0\n") % (
                self.user, self.sip_port, self.answermode, self.codecs)
        (self.workdir / "accounts").write_text(acc)
        (self.workdir / "contacts").write_text("")

    def _codec_modules(self):
        # only the codecs asked for are loaded: an account's audio_codecs list that
        # names none of the loaded codecs silently falls back to all of them
        c = self.codecs.upper()
        mods = ""
        if "PCMU" in c or "PCMA" in c:
            mods += "module g711.so\n"
        if "G722" in c:
            mods += "module g722.so\n"
        return mods

    def start(self, wait_registered=True):
        self.write_config()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["baresip", "-f", str(self.workdir), "-v"] +
                                     (["-s"] if self.sip_trace else []),
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir,
                                     start_new_session=True)
        _LIVE.add(self)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("baresip exited: " + self.log_tail())
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5)
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("baresip ctrl_tcp not ready: " + self.log_tail())
        if wait_registered and self.registrar_port:
            while time.monotonic() < deadline:
                if re.search(r"\{0/UDP/v4\} 200 OK|200 OK \(", self.log_tail(20000)):
                    return self
                if self.proc.poll() is not None:
                    raise RuntimeError("baresip exited: " + self.log_tail())
                time.sleep(0.05)
            raise RuntimeError("baresip did not register: " + self.log_tail())
        return self

    def stop(self):
        _LIVE.discard(self)
        if self.sock is not None and self.proc is not None and self.proc.poll() is None:
            try:
                self._send({"command": "quit", "params": "", "token": "quit"})
                self.proc.wait(3)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        _stop_proc(self.proc, timeout=3)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None


    @property
    def uri(self):
        return "sip:%s@127.0.0.1:%d" % (self.user, self.sip_port)

    # -- ctrl_tcp: netstring JSON on one connection for commands and events
    def _send(self, obj):
        assert self.sock is not None, "baresip not started"
        data = json.dumps(obj).encode()
        self.sock.sendall(b"%d:%s," % (len(data), data))

    def _read_one(self, timeout):
        """Next JSON message or None on time-out."""
        assert self.sock is not None, "baresip not started"
        deadline = time.monotonic() + timeout
        while True:
            m = re.match(rb"(\d+):", self._buf)
            if m:
                n = int(m.group(1))
                start = m.end()
                if len(self._buf) >= start + n + 1:
                    body = self._buf[start:start + n]
                    self._buf = self._buf[start + n + 1:]
                    return json.loads(body)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise ConnectionError("baresip ctrl_tcp closed")
            self._buf += chunk

    def command(self, cmd, params="", timeout=5.0):
        """Run one command; return its response dict (events seen meanwhile are kept)."""
        self._token += 1
        tok = "t%d" % self._token
        self._send({"command": cmd, "params": params, "token": tok})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._read_one(deadline - time.monotonic())
            if msg is None:
                break
            if msg.get("event"):
                self._events.append(msg)
            elif msg.get("token") == tok:
                return msg
        raise TimeoutError("baresip: no response to %s" % cmd)

    def wait_event(self, etype, timeout=10.0):
        """Wait for an event of type `etype` (e.g. CALL_ESTABLISHED); return it."""
        for i, ev in enumerate(self._events):
            if ev.get("type") == etype:
                return self._events.pop(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._read_one(deadline - time.monotonic())
            if msg is None:
                break
            if not msg.get("event"):
                continue
            if msg.get("type") == etype:
                return msg
            self._events.append(msg)
        raise TimeoutError("baresip: no %s event within %ss; seen %r" % (
            etype, timeout, [e.get("type") for e in self._events]))

    def events(self):
        """Events received so far and not consumed by wait_event (drains quickly)."""
        while True:
            msg = self._read_one(0.01)
            if msg is None:
                break
            if msg.get("event"):
                self._events.append(msg)
        return list(self._events)

    def dial(self, uri):
        return self.command("dial", uri)

    def hangup(self):
        return self.command("hangup", "")

    def accept(self):
        return self.command("accept", "")

    def recordings(self, kind="dec"):
        """Recorded WAV paths: kind "dec" (received) or "enc" (sent)."""
        if not self.record_dir:
            return []
        return sorted(self.record_dir.glob("*-%s.wav" % kind))


def run_sipp(scenario_xml, remote, local_port=None, workdir=None, users_csv=None,
             calls=1, timeout_s=15, extra_args=(), values=None, background=False):
    """Run sipp once against `remote` ("127.0.0.1:5060"; None: sipp waits as a UAS).

    Returns (exit code, stdout+stderr, messages log) or, with background=True, the
    Popen (the caller waits for it). `values`: {name: value} passed as -key name value.
    """
    workdir = pathlib.Path(workdir or ".")
    workdir.mkdir(parents=True, exist_ok=True)
    local_port = local_port or free_udp_port()
    cmd = ["sipp", "-sf", str(scenario_xml), "-i", "127.0.0.1", "-p", str(local_port),
           "-m", str(calls), "-nostdin", "-timeout", "%ds" % timeout_s,
           "-timeout_error", "-trace_msg", "-message_file", str(workdir / "sipp_messages.log"),
           "-trace_err", "-error_file", str(workdir / "sipp_errors.log"),
           "-mp", str(free_udp_port())]
    if users_csv:
        cmd += ["-inf", str(users_csv)]
    for k, v in (values or {}).items():
        cmd += ["-key", k, str(v)]
    cmd += list(extra_args)
    if remote:
        cmd.append(remote)
    if background:
        return subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    r = subprocess.run(cmd, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout_s + 20)
    log = ""
    for name in ("sipp_messages.log", "sipp_errors.log"):
        p = workdir / name
        if p.exists():
            log += p.read_text(errors="replace")
    return r.returncode, r.stdout + r.stderr, log


def have(tool):
    return shutil.which(tool) is not None


__all__ = ["free_udp_port", "free_tcp_port", "free_udp_range", "Kamailio", "Baresip",
           "run_sipp", "sip_ping", "have"]
