"""Stateful SIP fuzzing of the firmware's call control and UserAgent (issue 8).

10,000 datagrams (SIP_FUZZ_COUNT) from tests/sip_statefuzz.py, in batches, to
firmware/callctl.py + lib/sip running on the unix port with a real UDP socket and
real RTP sockets (tests/sip_cc_driver.py: a model line instead of the SLIC, a media
stub instead of I2S). After each batch the calls are hung up, the timers are run to
expiry (the driver moves the SIP stack's clock forward), and then:
- transactions, dialogs and calls are back at zero, the line idle, the heap at its
  baseline (within a small allowance for caches that fill once),
- no handler raised (`errors` stays 0),
- a clean call from the PBX rings the line, is answered and hung up; OPTIONS is
  answered; a dialled call reaches the PBX.
The seed is printed (set SIP_FUZZ_SEED to replay one). The same firmware on the sim
board with the virtual phone gets a smaller batch in test_sip_firmware_fuzz below.
"""
import os
import random
import time

import pytest

from conftest import ROOT
from ata import peers, signals, sip_clock
from ata.phone import VirtualPhone
from simfix import base_config, deep_merge, start_sim
from sip_host import UaProc
from sip_raw import RawPeer, branch, invite
from sip_statefuzz import WARP_MS, Fuzzer, alive, settle

pytestmark = pytest.mark.interop

CC_DRIVER = str(ROOT / "tests" / "sip_cc_driver.py")
COUNT = int(os.environ.get("SIP_FUZZ_COUNT", "10000"))
BATCHES = 5
# The first batches are the warm-up (interned strings, tables at their busiest size,
# first-use buffers: +6-10 KB over a warm-up call, seed-dependent). The plateau comes in
# the second batch, or for some seeds the third (seed 1485235088: 255.5, 256.3, 259.1,
# 259.9, 260.5 KB; then at 5,000 datagrams a batch 258.5, 259.6, 259.6, 261.0, 259.0:
# flat), so the baseline is the higher of those two, and the last two batches must end
# within HEAP_DRIFT of it: a leak of 20 bytes a call (~200 calls a batch) adds 8 KB by
# the last.
HEAP_DRIFT = 4 * 1024
HEAP_SLACK = 16 * 1024        # the sim: its second round against its first


def _seed():
    s = os.environ.get("SIP_FUZZ_SEED")
    return int(s) if s else random.SystemRandom().randrange(1, 2 ** 31)


def _errors(proc):
    return [e["text"] for e in proc.lines if e.get("ev") == "log"]


def test_stateful_fuzz_callctl_unix_port(capsys):
    seed = _seed()
    with capsys.disabled():
        print("\nstateful SIP fuzz: seed %d, %d datagrams in %d batches (SIP_FUZZ_SEED=%d to "
              "replay)" % (seed, COUNT, BATCHES, seed))
    peer, stranger = RawPeer(), RawPeer()
    cfg = {"sip": {"server": "127.0.0.1", "port": peer.port, "user": "1001",
                   "password": "secret1", "sip_port": peers.free_udp_port(), "expires": 3600}}
    proc = UaProc(cfg, driver=CC_DRIVER, args=["--no-rate-limit"])
    t0 = time.monotonic()
    try:
        fz = Fuzzer(seed, proc, peer, stranger, proc.port)
        fz.polite = True
        fz.wait_for(lambda m: m.method == "REGISTER", 5)
        fz.polite = False
        alive(proc, fz, peer)                 # warm-up: every code path imported once
        settle(proc, fz)
        warm = proc.cmd("heap")["alloc"]
        heaps = []
        for b in range(BATCHES):
            fz.run(COUNT // BATCHES)
            st = settle(proc, fz)
            heap = proc.cmd("heap")["alloc"]
            heaps.append(heap)
            errs = _errors(proc)
            assert st["counters"]["errors"] == 0 and not errs, (
                "seed %d batch %d: %r %r" % (seed, b, st["counters"], errs[:5]))
            assert b < 3 or heap <= max(heaps[1], heaps[2]) + HEAP_DRIFT, "seed %d: heap " \
                "grows %r (after the warm-up call: %d)" % (seed, heaps, warm)
            alive(proc, fz, peer)
            settle(proc, fz)
        st = proc.status()
        took = time.monotonic() - t0
        with capsys.disabled():
            print("stateful SIP fuzz: seed %d, %d datagrams sent in %.0f s; heap after a warm-up "
                  "call %d, after each batch %r; UA sent %r; counters %r"
                  % (seed, fz.sent, took, warm, heaps, fz.seen, st["counters"]))
        assert fz.sent >= COUNT
        assert proc.proc.poll() is None, proc.stderr_text()
    finally:
        proc.stop()
        peer.close()
        stranger.close()


SIM_COUNT = int(os.environ.get("SIP_FUZZ_SIM_COUNT", "300"))


def test_stateful_fuzz_firmware_on_sim(tmp_path, capsys):
    """A smaller batch through the whole firmware on the sim board; then a call from the
    PBX rings the virtual phone, is answered and hung up, and off-hook gives dial tone."""
    seed = _seed()
    with capsys.disabled():
        print("\nstateful SIP fuzz on the sim: seed %d, %d datagrams" % (seed, SIM_COUNT))
    peer, stranger = RawPeer(), RawPeer()
    # a call left ringing (the fuzzer never cancels it) ends at the ring time-out
    cfg = deep_merge(base_config(peer.port), {"sip": {"expires": 3600, "ring_timeout_s": 10}})
    sim = start_sim(cfg, tmp_path / "sim")
    phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
    try:
        sip_clock.install(sim)
        fz = Fuzzer(seed, _SimCommands(sim, phone), peer, stranger, cfg["sip"]["sip_port"])
        fz.polite = True
        fz.wait_for(lambda m: m.method == "REGISTER", 10)
        fz.polite = False
        heaps = []
        for _ in range(2):
            fz.run(SIM_COUNT // 2)
            fz.polite = True
            fz.proc.cmd("hangup")
            st = _sim_quiet(sim, fz)
            assert st["counters"]["errors"] == 0, "seed %d: %r" % (seed, st)
            heaps.append(_sim_heap(sim))
            # aliveness: a clean call rings the phone, off-hook answers, on-hook hangs up
            data, call_id = invite(peer, cfg["sip"]["sip_port"])
            peer.sock.sendto(data, ("127.0.0.1", cfg["sip"]["sip_port"]))
            phone.wait_ringing(10)
            phone.off_hook()
            fz.proc.off = True
            ok = fz.wait_for(lambda m: m.status == 200 and m.get("call-id") == call_id, 5)
            assert ok is not None, "seed %d: answered call gave no 200" % seed
            ack = ("ACK sip:1001@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s"
                   "\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0"
                   "\r\n\r\n") % (cfg["sip"]["sip_port"], peer.port, branch(), ok.get("from"),
                                  ok.get("to"), call_id)
            peer.sock.sendto(ack.encode(), ("127.0.0.1", cfg["sip"]["sip_port"]))
            phone.sleep_sim(300)
            fz.proc.cmd("hangup")
            assert fz.wait_for(lambda m: m.method == "BYE" and m.get("call-id") == call_id, 5)
            phone.sleep_sim(1500)
            t_off = phone.off_hook()
            phone.sleep_sim(1200)
            heard = phone.recording(t_off + 300_000)
            phone.on_hook()
            peaks = sorted(f for f, rel in signals.spectrum_peaks(heard, 2) if rel > -6)
            assert peaks and all(abs(a - b) <= 3 for a, b in zip(peaks, (350, 440))), (
                "seed %d: no dial tone after the fuzz: %r" % (seed, peaks))
            phone.sleep_sim(1500)
            fz.polite = False
        with capsys.disabled():
            print("stateful SIP fuzz on the sim: seed %d, %d datagrams, heap after each "
                  "round %r, UA sent %r" % (seed, fz.sent, heaps, fz.seen))
        assert heaps[1] <= heaps[0] + HEAP_SLACK, "seed %d: sim heap grows %r" % (seed, heaps)
    finally:
        phone.close()
        rc = sim.stop()
        peer.close()
        stranger.close()
    log = sim.log_text()
    assert "Traceback" not in log and "error handling" not in log, log[-3000:]
    assert rc == 0, log[-2000:]


def _sim_status(sim):
    import json
    import re
    mark = len(sim.log_text())
    sim.send("status")
    m = sim.wait_log(r"sip: (\{.*\})\r?\n", 10, start=mark)
    return json.loads(m.group(1))


def _sim_heap(sim):
    """Bytes allocated on the sim's heap after a collection (console `py`)."""
    mark = len(sim.log_text())
    sim.send("py (__import__('gc').collect(), __import__('gc').mem_alloc())[1]")
    return int(sim.wait_log(r"\n(\d+)\r?\n", 10, start=mark).group(1))


def _sim_quiet(sim, fz, warps=3, timeout=60):
    """Wait (answering the UA politely) until the sim's SIP state is back at zero: at
    most `warps` jumps of the SIP clock (ata.sip_clock) past every RFC 3261 timer (B/D/F/H/J, the
    CANCEL bound), as settle() does on the unix port; a transaction still held after
    them is a leak."""
    deadline = time.monotonic() + timeout
    for i in range(warps + 1):
        for _ in range(8):
            fz.pump(0.1)
            st = _sim_status(sim)
            if st["calls"] == 0 and st["dialogs"] == 0 and st["transactions"] == 0:
                return st
        if i < warps:
            sip_clock.warp(sim, WARP_MS)
            fz.proc.cmd("hangup")
        if time.monotonic() > deadline or i == warps:
            mark = len(sim.log_text())
            sim.send("py [(c.state, c.incoming, c.call_id, c.dialog is not None) for c in "
                     "app.sip.calls.values()], [(k, t.state, t.req.cseq_method) for k, t in "
                     "app.sip.tx.client.items()], [(k, t.state, t.status) for k, t in "
                     "app.sip.tx.server.items()]")
            sim.wait_log(r"\]\)\r?\n", 10, start=mark)
            raise AssertionError("sim SIP state not back at zero: %r\n%s"
                                 % (st, sim.log_text()[mark:]))


class _SimCommands:
    """The fuzzer's driver commands on the sim, done with the virtual phone: dial is
    off-hook and touch-tone digits ended by #, answer is off-hook while it rings,
    hang-up is on-hook for longer than a flash."""

    def __init__(self, sim, phone):
        self.sim = sim
        self.phone = phone
        self.off = False

    def cmd(self, name, **kw):
        ph = self.phone
        if name == "dial":
            if self.off:
                return {"error": "off-hook"}
            self.off = True
            ph.off_hook()
            ph.sleep_sim(300)
            ph.dial_dtmf(kw["number"][:2] + "#", on_ms=70, off_ms=70, level_dbm0=-8)
            return {"ok": True}
        if name == "hangup":
            if self.off:
                self.off = False
                ph.on_hook()
                ph.sleep_sim(1100)           # longer than line.hangup_ms
            return {"ok": True}
        if name == "answer":
            if ph.ringing and not self.off:
                self.off = True
                ph.off_hook()
                ph.sleep_sim(100)
                return {"ok": True}
            return {"error": "not ringing"}
        if name == "warp":                   # timers fire mid-flight, as on the unix port
            sip_clock.warp(self.sim, kw["ms"])
            return {"ok": True}
        return {}
