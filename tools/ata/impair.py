"""Application-level UDP impairment relay for one media stream (RTP) on loopback.

Two sockets: side A faces one endpoint, side B the other. A datagram arriving on A
goes out of B to the B endpoint, and back: a datagram arriving on B goes out of A to
where A's traffic last came from (so symmetric-RTP endpoints work unchanged). Each
direction can drop (loss %), delay (base ± uniform jitter), hold some packets back
past later ones (reorder %) and duplicate them. It runs in a thread of the calling
process; no root, no netem.

Each direction draws from its own generator, seeded from (seed, direction), and
draws the same four numbers for every datagram whatever happens to it. So with one
seed the n-th datagram of a direction meets the same fate in every run, however
the other direction's traffic interleaves: two systems measured with the same seed
see the identical loss and delay pattern per direction.

    relay = Relay(b_addr=("127.0.0.1", 4000), loss=5, delay_ms=30, jitter_ms=10)
    relay.start()   # endpoint A now sends to relay.a_port instead of 4000
    ...
    relay.stop(); print(relay.stats)

Command line: python -m ata.impair --to 127.0.0.1:4000 --loss 5 --delay 30 --jitter 10
"""
import argparse
import heapq
import random
import selectors
import socket
import threading
import time

MAX_DATAGRAM = 65535
REORDER_HOLD_MS = 45.0  # extra delay of a reordered packet: more than two 20 ms frames


class Direction:
    """The impairment applied to one direction, and what it did."""

    def __init__(self, loss=0.0, delay_ms=0.0, jitter_ms=0.0, reorder=0.0, duplicate=0.0,
                 keep_order=False, rng=None):
        self.loss = loss / 100.0
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.reorder = reorder / 100.0
        self.duplicate = duplicate / 100.0
        self.keep_order = keep_order  # jitter without overtaking (like one queue)
        self.received = 0
        self.dropped = 0
        self.forwarded = 0
        self.reordered = 0
        self.duplicated = 0
        self.delays_ms = []  # per forwarded datagram, as held (the host adds to it)
        self.drawn_ms = []   # per datagram not dropped, the delay drawn for it
        self._last_due = 0.0
        self.rng = rng or random.Random()

    def plan(self, now):
        """Due times (seconds) for one arriving datagram: [] when dropped."""
        self.received += 1
        # four draws per datagram, always: the pattern of datagram n does not depend
        # on what happened to the ones before it
        u_loss, u_jit, u_reo, u_dup = (self.rng.random() for _ in range(4))
        if u_loss < self.loss:
            self.dropped += 1
            return []
        d = self.delay_ms + self.jitter_ms * (2.0 * u_jit - 1.0)
        if u_reo < self.reorder:
            d += REORDER_HOLD_MS
            self.reordered += 1
        d = max(d, 0.0)
        self.drawn_ms.append(d)
        due = now + d / 1000.0
        if self.keep_order and due < self._last_due:
            due = self._last_due
        self._last_due = max(self._last_due, due)
        out = [due]
        if u_dup < self.duplicate:
            out.append(due + 0.001)
            self.duplicated += 1
        return out

    def summary(self):
        return {"received": self.received, "dropped": self.dropped,
                "forwarded": self.forwarded, "reordered": self.reordered,
                "duplicated": self.duplicated}


def direction_rng(seed, name):
    """The generator of one direction: a string seed is hashed (SHA-512) by
    random.Random, so (seed, "a_to_b") and (seed, "b_to_a") give unrelated streams;
    None: unseeded."""
    return random.Random(None if seed is None else "%s/%s" % (seed, name))


class Relay:
    def __init__(self, b_addr, a_addr=None, host="127.0.0.1", a_port=0, b_port=0,
                 loss=0.0, delay_ms=0.0, jitter_ms=0.0, reorder=0.0, duplicate=0.0,
                 keep_order=False, both_ways=True, seed=None):
        """b_addr: the endpoint behind side B. a_addr: the endpoint behind side A.
        Either one None: learned from the datagrams arriving on its side (until then
        the other side's datagrams are dropped uncounted, drawing nothing). The
        impairment applies A->B and, with both_ways, B->A too."""
        self.b_addr = b_addr
        self._learn_b = b_addr is None
        self.a_addr = a_addr
        self.sock_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock_a.bind((host, a_port))
        self.sock_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock_b.bind((host, b_port))
        for s in (self.sock_a, self.sock_b):
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.a_port = self.sock_a.getsockname()[1]
        self.b_port = self.sock_b.getsockname()[1]
        kw = dict(loss=loss, delay_ms=delay_ms, jitter_ms=jitter_ms, reorder=reorder,
                  duplicate=duplicate, keep_order=keep_order)
        self.a_to_b = Direction(rng=direction_rng(seed, "a_to_b"), **kw)
        self.b_to_a = (Direction(rng=direction_rng(seed, "b_to_a"), **kw) if both_ways
                       else Direction())
        self._queue = []  # (due, n, socket, data, address)
        self._n = 0
        self._stop = threading.Event()
        self._thread = None
        self._wake_r, self._wake_w = socket.socketpair()

    # The thread ---------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, name="impair", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._wake_w.send(b"x")
        if self._thread:
            self._thread.join(5)
        for s in (self.sock_a, self.sock_b, self._wake_r, self._wake_w):
            s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock_a, selectors.EVENT_READ, "a")
        sel.register(self.sock_b, selectors.EVENT_READ, "b")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        while not self._stop.is_set():
            now = time.monotonic()
            self._flush(now)
            timeout = None
            if self._queue:
                timeout = max(0.0, self._queue[0][0] - now)
            for key, _ in sel.select(timeout):
                if key.data == "wake":
                    return
                self._drain(key.data)
        sel.close()

    def _drain(self, side):
        sock = self.sock_a if side == "a" else self.sock_b
        while True:
            try:
                data, src = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP unreachable reported on the socket
                return
            now = time.monotonic()
            if side == "a":
                self.a_addr = src
                if self.b_addr is None:
                    continue  # nobody to send it to yet
                direction, out_sock, dest = self.a_to_b, self.sock_b, self.b_addr
            else:
                if self._learn_b:
                    self.b_addr = src
                if self.a_addr is None:
                    continue  # nobody to send it to yet
                direction, out_sock, dest = self.b_to_a, self.sock_a, self.a_addr
            for due in direction.plan(now):
                self._n += 1
                heapq.heappush(self._queue, (due, self._n, out_sock, data, dest, direction,
                                             now))

    def _flush(self, now):
        q = self._queue
        while q and q[0][0] <= now:
            due, _, sock, data, dest, direction, arrived = heapq.heappop(q)
            try:
                sock.sendto(data, dest)
                direction.forwarded += 1
                direction.delays_ms.append((time.monotonic() - arrived) * 1000.0)
            except OSError:
                pass

    @property
    def stats(self):
        return {"a_to_b": self.a_to_b.summary(), "b_to_a": self.b_to_a.summary()}


def _hostport(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ata.impair", description=__doc__.split("\n")[0])
    ap.add_argument("--to", required=True, type=_hostport, help="HOST:PORT of endpoint B")
    ap.add_argument("--listen", type=_hostport, default=("127.0.0.1", 0),
                    help="HOST:PORT for side A (endpoint A sends here)")
    ap.add_argument("--b-port", type=int, default=0, help="local port of side B")
    ap.add_argument("--loss", type=float, default=0.0, help="percent dropped")
    ap.add_argument("--delay", type=float, default=0.0, help="ms one-way")
    ap.add_argument("--jitter", type=float, default=0.0, help="± ms, uniform")
    ap.add_argument("--reorder", type=float, default=0.0, help="percent held back")
    ap.add_argument("--duplicate", type=float, default=0.0, help="percent duplicated")
    ap.add_argument("--one-way", action="store_true", help="impair A->B only")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    relay = Relay(args.to, host=args.listen[0], a_port=args.listen[1], b_port=args.b_port,
                  loss=args.loss, delay_ms=args.delay, jitter_ms=args.jitter,
                  reorder=args.reorder, duplicate=args.duplicate,
                  both_ways=not args.one_way, seed=args.seed)
    relay.start()
    print("impair: A side 127.0.0.1:%d  B side 127.0.0.1:%d -> %s:%d" % (
        relay.a_port, relay.b_port, args.to[0], args.to[1]), flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    relay.stop()
    print(relay.stats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
