"""Call soak: many calls through the sim ATA, Kamailio and baresip, in both directions,
answered, refused (486), cancelled and hung up from either side, with the ATA's heap,
SIP transactions, dialogs and calls read from its console after every batch. A leak
shows as a count that does not come back to its baseline or a heap that keeps growing.

    python -m ata.soak --calls 200 --batch 50     (make bench runs this)

The far end (baresip 1002) answers by hand, so each call's outcome is chosen here.
"""
import argparse
import json
import pathlib
import re
import sys
import tempfile
import time

from ata import peers, sip_clock
from ata.phone import VirtualPhone
from ata.sim import SimProcess

# Each call in the soak is one of these, in turn.
KINDS = ("out_answered", "in_answered", "out_busy", "in_cancelled", "out_cancelled",
         "in_far_hangs_up")
_DIAL = "1002#"      # "#" sends at once (the digit timers have their own tests)
# The UA's first OPTIONS keep-alive goes 30 s after it starts (lib/sip/ua.py), in real
# time, and its first use allocates for good (~4 KB): the baseline waits for it, or
# it lands in the first batch and looks like growth.
_FIRST_KEEPALIVE_S = 32


def _config(kam_port):
    return {
        "sip": {"server": "127.0.0.1", "port": kam_port, "user": "1001",
                "password": "secret1", "sip_port": peers.free_udp_port(), "expires": 300},
        "rtp": {"port": peers.free_udp_range(2)[0]},
        "line": {"country": "US", "interdigit_ms": 1000},
        "sim": {"phone_port": peers.free_tcp_port()},
    }


class Soak:
    def __init__(self, workdir, log=print):
        self.dir = pathlib.Path(workdir)
        self.log = log
        self.kam = self.far = self.sim = self.phone = None
        self.t_up = None                  # when the ATA registered (time.monotonic)

    # -- set-up ------------------------------------------------------------------
    def start(self):
        self.kam = peers.Kamailio(self.dir / "kamailio").start()
        wav = self.dir / "far.wav"
        peers.write_tone_wav(wav, seconds=3000, freq_hz=440)
        self.far = peers.Baresip(self.dir / "baresip", "1002", "secret2", self.kam.port,
                                 audio_wav=wav, answermode="manual").start()
        cfg = _config(self.kam.port)
        self.sim = SimProcess(cfg, run_dir=self.dir / "sim").start()
        self.sim.wait_log("sip: registered", 15)
        self.t_up = time.monotonic()
        sip_clock.install(self.sim)           # wait_quiet() moves it past timer J
        self.phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        return self

    def stop(self):
        rc = None
        if self.phone is not None:
            self.phone.close()
        if self.sim is not None:
            rc = self.sim.stop()
        if self.far is not None:
            self.far.stop()
        if self.kam is not None:
            self.kam.stop()
        return rc

    # -- console -------------------------------------------------------------------
    def _mark(self):
        return len(self.sim.log_text())

    def _after(self, pattern, mark, timeout=10):
        return self.sim.wait_log(pattern, timeout, start=mark)

    def counts(self):
        """The ATA's SIP tables, line state and heap after a full collection."""
        mark = self._mark()
        self.sim.send("status")
        sip = json.loads(self._after(r"sip: (\{[^\n]*\})", mark, 5).group(1))
        line = json.loads(self._after(r"line: (\{[^\n]*\})", mark, 5).group(1))
        media = json.loads(self._after(r"media: (\{[^\n]*\})", mark, 5).group(1))
        heap = min(self._heap() for _ in range(3))
        return {"transactions": sip["transactions"], "dialogs": sip["dialogs"],
                "calls": sip["calls"], "pending": sip["pending"], "line": line["state"],
                "in_call": media["in_call"], "heap": heap}

    def _heap(self):
        """Live heap after a full collection. The collector scans the stack
        conservatively, so a dead object a stale stack word points at survives one
        collection and not the next: the least of a few samples, taken apart, is the
        heap the ATA really holds (single samples moved by +-800 bytes with no trend
        over 150 calls)."""
        self.phone.sleep_sim(200)
        mark = self._mark()
        self.sim.send("py 'heap=%d' % [__import__('gc').collect(), "
                      "__import__('gc').mem_alloc()][1]")
        return int(self._after(r"heap=(\d+)", mark, 5).group(1))

    # -- one call of each kind ---------------------------------------------------------
    def _idle(self, mark):
        """The phone is on-hook and the ATA's line says idle."""
        self._after(r"-> idle", mark, 10)

    def _dial_out(self):
        mark = self._mark()
        self.phone.off_hook()
        self._after(r"idle -> dialtone", mark, 5)
        self.phone.dial_dtmf(_DIAL, on_ms=70, off_ms=70, level_dbm0=-8)
        self.far.wait_event("CALL_INCOMING", 15)

    def _hang_up_phone(self):
        mark = self._mark()
        self.phone.on_hook()
        self._idle(mark)

    def out_answered(self):
        self._dial_out()
        mark = self._mark()
        self.far.accept()
        self._after(r"call: confirmed", mark, 10)
        self.phone.sleep_sim(300)
        self._hang_up_phone()
        self.far.wait_event("CALL_CLOSED", 10)

    def out_busy(self):
        self._dial_out()
        mark = self._mark()
        self.far.hangup()                     # baresip refuses the ringing call
        self._after(r"call: failed", mark, 10)
        self._hang_up_phone()
        self.far.wait_event("CALL_CLOSED", 10)

    def out_cancelled(self):
        self._dial_out()
        mark = self._mark()
        self.phone.on_hook()                  # the caller gives up: CANCEL
        self._idle(mark)
        self.far.wait_event("CALL_CLOSED", 10)

    def _ring_in(self):
        mark = self._mark()
        self.far.dial("sip:1001@127.0.0.1:%d" % self.kam.port)
        self._after(r"idle -> ringing", mark, 15)

    def in_answered(self):
        self._ring_in()
        mark = self._mark()
        self.phone.off_hook()
        self._after(r"call: confirmed", mark, 10)
        self.far.wait_event("CALL_ESTABLISHED", 10)
        self.phone.sleep_sim(300)
        self._hang_up_phone()
        self.far.wait_event("CALL_CLOSED", 10)

    def in_cancelled(self):
        self._ring_in()
        mark = self._mark()
        self.far.hangup()                     # the caller gives up: CANCEL
        self._after(r"ringing -> idle", mark, 10)
        self.far.wait_event("CALL_CLOSED", 10)

    def in_far_hangs_up(self):
        self._ring_in()
        mark = self._mark()
        self.phone.off_hook()
        self._after(r"call: confirmed", mark, 10)
        self.far.wait_event("CALL_ESTABLISHED", 10)
        self.phone.sleep_sim(200)
        mark = self._mark()
        self.far.hangup()                     # BYE from the far end: busy tone
        self._after(r"call: ended", mark, 10)
        self.far.wait_event("CALL_CLOSED", 10)
        self._hang_up_phone()

    def one(self, n):
        getattr(self, KINDS[n % len(KINDS)])()
        self.phone.sleep_sim(200)              # settle: transactions finish their timers

    def run(self, calls, batch):
        """Runs `calls` calls; returns the counts at the start and after each batch."""
        # one warm-up round of every kind: first use of a path allocates for good
        for n in range(len(KINDS)):
            self.one(n)
        left = self.t_up + _FIRST_KEEPALIVE_S - time.monotonic()
        if left > 0:
            self.phone.sleep_sim(int(left * 1000))
        rows = [dict(wait_quiet(self), calls_done=0)]
        self.log("soak: baseline %s" % json.dumps(rows[0]))
        for n in range(calls):
            self.one(n)
            if (n + 1) % batch == 0 or n + 1 == calls:
                rows.append(dict(wait_quiet(self), calls_done=n + 1))
                self.log("soak: after %d calls %s" % (n + 1, json.dumps(rows[-1])))
        return rows


def wait_quiet(soak, warps=3):
    """The counts once the SIP transactions the last calls left have finished their
    timers (RFC 3261 timer J: 32 s on UDP): the SIP clock is moved past them
    (ata.sip_clock) at most `warps` times; what is still held after that is a leak,
    and the counts say so."""
    for i in range(warps + 1):
        c = soak.counts()
        if c["transactions"] == 0 or i == warps:
            return c
        sip_clock.warp(soak.sim)
        soak.phone.sleep_sim(200)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--batch", type=int, default=50)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ata-soak-") as d:
        s = Soak(d)
        try:
            s.start()
            t0 = time.monotonic()
            rows = s.run(a.calls, a.batch)
            took = time.monotonic() - t0
        finally:
            s.stop()
    print("calls  transactions  dialogs  calls  line   heap bytes")
    for r in rows:
        print("%5s  %12d  %7d  %5d  %-5s  %10d" % (r["calls_done"], r["transactions"],
                                                   r["dialogs"], r["calls"], r["line"], r["heap"]))
    print("%d calls (%s) in %.0f s" % (a.calls, ", ".join(KINDS), took))
    return 0


if __name__ == "__main__":
    sys.exit(main())
