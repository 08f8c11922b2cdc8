"""The virtual analog phone: what hangs on an AG1171 line, driven by tests and people.

It connects to the sim board's phone link (docs/phone-protocol.md), sees ring
voltage only while RM is high and F/R toggles, drives SHK with its hook switch and
rotary dial (with contact bounce), plays audio into the line in step with the
sim's codec clock and records everything it hears with sim timestamps.
"""
import socket
import struct
import threading
import time

import numpy as np

from . import signals

MSG_PIN, MSG_AUDIO, MSG_HOOK, MSG_HOOK_ACK = 0x50, 0x41, 0x48, 0x4B
FRAME_SAMPLES = 160

# Call-waiting caller ID (GR-30 / ETSI EN 300 659-2): the exchange's CPE Alerting
# Signal is 2130 + 2750 Hz; a phone with CIDCW answers it with a DTMF key (ACK)
# 55-65 ms long, within 100 ms of the CAS's end.
CAS_HZ = (2130.0, 2750.0)
CAS_SHARE = 0.2           # each of the two frequencies holds this share of a frame's energy
CAS_MIN_ENERGY = 160 * 300.0 ** 2   # a frame quieter than about -40 dBm0 is no CAS
ACK_MS = 60
ACK_LEVEL_DBM0 = -8.0


def goertzel_power(frame, hz, rate=8000):
    """Power of one frequency in a frame (Goertzel), on the same scale as sum(x^2)*n/2."""
    w = 2.0 * np.pi * hz / rate
    coeff = 2.0 * np.cos(w)
    s1 = s2 = 0.0
    for x in frame.astype(np.float64):
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def is_cas(frame):
    """True when a 20 ms frame is the CAS dual tone (both frequencies strong in it)."""
    x = frame.astype(np.float64)
    energy = float(np.dot(x, x))
    if energy < CAS_MIN_ENERGY:
        return False
    n = len(x)
    # a pure sine of energy E gives a Goertzel power of about E * n / 2 at its frequency
    return all(goertzel_power(frame, hz) / (energy * n / 2) > CAS_SHARE for hz in CAS_HZ)


class _AckSource:
    """The ACK key, then back to what the phone was playing."""

    def __init__(self, key, then):
        self.seq = signals.SequenceSource(signals.dtmf_blocks(key, ACK_MS, 0, ACK_LEVEL_DBM0))
        self.then = then

    def read(self, count):
        if self.seq.done:
            return self.then.read(count) if self.then is not None else \
                np.zeros(count, np.int16)
        return self.seq.read(count)


class RingBurst:
    def __init__(self, start_us, end_us, toggles):
        self.start_us = start_us
        self.end_us = end_us          # None while the burst goes on
        self.toggles = toggles        # F/R toggle times (us) inside the burst

    @property
    def on_ms(self):
        return None if self.end_us is None else (self.end_us - self.start_us) / 1000

    @property
    def frequency_hz(self):
        t = self.toggles
        if len(t) < 3:
            return None
        return (len(t) - 1) / 2 / ((t[-1] - t[0]) / 1e6)

    def __repr__(self):
        return "RingBurst(%s..%s, %s Hz)" % (self.start_us, self.end_us, self.frequency_hz)


class VirtualPhone:
    def __init__(self, host="127.0.0.1", port=7001):
        self.addr = (host, port)
        self.sock = None
        self.lock = threading.Lock()
        self.cond = threading.Condition()
        self.pins = {"R": 0, "F": 1}
        self.pin_log = []             # (t_us, letter, level)
        self.bursts = []              # RingBurst, in order
        self.heard = []               # (t_us, int16 frame) from the earpiece
        self.hook = 0
        self.hook_log = []            # (sim t_us the change took effect, level)
        self.source = None            # object with read(n) -> int16 array; None = silence
        self.sim_now_us = 0
        self.cas_ack = None           # DTMF key ("D" or "A") to answer a CAS with; None: none
        self.cas_heard = []           # sim times (us) a CAS started
        self.acks_sent = []           # sim times (us) an ACK started
        self._in_cas = False
        self._acks = []
        self._reader = None
        self.closed = False

    # -- connection -----------------------------------------------------------------
    def connect(self, timeout=10.0):
        end = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(self.addr, timeout=2)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.wait_for(lambda: self.sim_now_us > 0, 5, "first audio frame from the sim")
        return self

    def close(self):
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        if self._reader is not None:
            self._reader.join(2)

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def _send(self, kind, payload):
        with self.lock:
            self.sock.sendall(struct.pack(">BH", kind, len(payload)) + payload)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _read_loop(self):
        try:
            while True:
                kind, n = struct.unpack(">BH", self._recv_exact(3))
                body = self._recv_exact(n)
                with self.cond:
                    self._handle(kind, body)
                    self.cond.notify_all()
        except (EOFError, OSError):
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _handle(self, kind, body):
        if kind == MSG_PIN:
            letter, level, t = struct.unpack(">BBQ", body)
            self._pin(chr(letter), level, t)
        elif kind == MSG_AUDIO:
            t = struct.unpack(">Q", body[:8])[0]
            self.sim_now_us = max(self.sim_now_us, t)
            frame = np.frombuffer(body[8:], dtype="<i2").copy()
            self.heard.append((t, frame))
            self._cas_check(t, frame)
            src = self.source
            out = src.read(FRAME_SAMPLES) if src is not None else np.zeros(FRAME_SAMPLES, np.int16)
            self._send(MSG_AUDIO, np.asarray(out, dtype="<i2").tobytes())
        elif kind == MSG_HOOK_ACK:
            self._acks.append(struct.unpack(">Q", body)[0])

    def _cas_check(self, t, frame):
        """Listen for the CAS; with cas_ack set, answer it when it ends (a CIDCW phone)."""
        cas = is_cas(frame)
        if cas and not self._in_cas:
            self.cas_heard.append(t)
        elif self._in_cas and not cas and self.cas_ack:
            self.acks_sent.append(t)
            src = self.source
            if isinstance(src, _AckSource):
                src = src.then
            self.source = _AckSource(self.cas_ack, src)
        self._in_cas = cas

    def _pin(self, letter, level, t):
        self.pin_log.append((t, letter, level))
        self.pins[letter] = level
        # Ring voltage: F/R toggling while RM is high. A burst starts at RM's rise.
        if letter == "R":
            if level:
                self.bursts.append(RingBurst(t, None, []))
            elif self.bursts and self.bursts[-1].end_us is None:
                b = self.bursts[-1]
                b.end_us = t
                if len(b.toggles) < 2:
                    self.bursts.pop()         # RM without ring signal: no ring heard
        elif letter == "F" and self.pins["R"] and self.bursts:
            self.bursts[-1].toggles.append(t)

    # -- state ---------------------------------------------------------------------
    def wait_for(self, predicate, timeout, what="condition"):
        end = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("phone: timed out waiting for %s" % what)
                if self.closed:
                    raise ConnectionError("phone: link closed waiting for %s" % what)
                self.cond.wait(min(left, 0.1))

    @property
    def ringing(self):
        """Ring voltage on the line now (a burst in progress with the signal toggling)."""
        b = self.bursts[-1] if self.bursts else None
        return b is not None and b.end_us is None and len(b.toggles) >= 2

    def wait_ringing(self, timeout=10):
        self.wait_for(lambda: self.ringing, timeout, "ringing")

    def sleep_sim(self, ms):
        """Wait until the sim's clock has advanced by ms (robust on a loaded host)."""
        target = self.sim_now_us + ms * 1000
        self.wait_for(lambda: self.sim_now_us >= target, ms / 1000 * 5 + 5, "sim time")

    # -- hook switch and rotary dial ----------------------------------------------------
    def _hook_schedule(self, steps):
        """steps: [(offset_ms, level)] from now; returns the sim time they start at."""
        payload = b"".join(struct.pack(">IB", int(off * 1000), lvl) for off, lvl in steps)
        with self.cond:
            n = len(self._acks)
        self._send(MSG_HOOK, payload)
        self.wait_for(lambda: len(self._acks) > n, 5, "hook acknowledgement")
        base = self._acks[n]
        for off, lvl in steps:
            self.hook_log.append((base + int(off * 1000), lvl))
        if steps:
            self.hook = steps[-1][1]
        end_ms = steps[-1][0] if steps else 0
        return base, end_ms

    @staticmethod
    def _edge(t_ms, level, bounce_ms):
        """An edge to `level` at t_ms with bounce_ms of 1 ms chatter after it."""
        steps = [(t_ms, level)]
        for i in range(1, int(bounce_ms)):
            steps.append((t_ms + i, level if i % 2 == 0 else 1 - level))
        if bounce_ms:
            steps.append((t_ms + bounce_ms, level))
        return steps

    def off_hook(self, bounce_ms=0):
        """Lift the handset; returns the sim time (us) it happened."""
        return self._hook_schedule(self._edge(0, 1, bounce_ms))[0]

    def on_hook(self, bounce_ms=0):
        return self._hook_schedule(self._edge(0, 0, bounce_ms))[0]

    def flash(self, ms=300, bounce_ms=0):
        base, end = self._hook_schedule(self._edge(0, 0, bounce_ms) + self._edge(ms, 1, bounce_ms))
        self.sleep_sim(end + 50)
        return base

    def dial_pulse(self, digits, pps=10.0, break_ratio=0.6, bounce_ms=0.0, interdigit_ms=800,
                   wait=True):
        """Rotary-dial `digits` (0 = ten pulses). Returns the sim time dialing began."""
        period = 1000.0 / pps
        brk = period * break_ratio
        steps = []
        t = 0.0
        for d in str(digits):
            pulses = 10 if d == "0" else int(d)
            for _ in range(pulses):
                steps += self._edge(t, 0, bounce_ms)
                steps += self._edge(t + brk, 1, bounce_ms)
                t += period
            t += interdigit_ms
        base, end = self._hook_schedule(steps)
        if wait:
            self.sleep_sim(t)
        return base

    # -- audio ---------------------------------------------------------------------------
    def play(self, source):
        self.source = source

    def play_tone(self, freqs, level_dbm0=-10.0):
        self.source = signals.ToneSource(freqs if isinstance(freqs, (list, tuple)) else (freqs,),
                                         level_dbm0)

    def play_wav(self, path, loop=True):
        self.source = signals.WavSource(path, loop)

    def silence(self):
        self.source = None

    def dial_dtmf(self, digits, on_ms=80, off_ms=80, level_dbm0=-10.0, wait=True):
        src = signals.SequenceSource(signals.dtmf_blocks(digits, on_ms, off_ms, level_dbm0))
        self.source = src
        if wait:
            self.wait_for(lambda: src.done, 5 + len(digits) * (on_ms + off_ms) / 200, "DTMF sent")
        return src

    def recording(self, since_us=0, until_us=None):
        """What the phone heard between two sim times, as one int16 array."""
        with self.cond:
            frames = [f for t, f in self.heard
                      if t >= since_us and (until_us is None or t < until_us)]
        return np.concatenate(frames) if frames else np.zeros(0, np.int16)

    def first_sound_after(self, since_us, threshold_dbm0=-40.0):
        """Sim time (us) of the first earpiece frame louder than threshold after since_us."""
        with self.cond:
            for t, f in self.heard:
                if t >= since_us and signals.dbm0(f) > threshold_dbm0:
                    return t
        return None
