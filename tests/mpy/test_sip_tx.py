# Transaction layer: a raising timer callback ends its own transaction once (it used to
# raise on every tick, forever: timer H with a route set that could not be used).
import time

from check import eq

from sip import message as M
from sip.transaction import TxLayer

INVITE = (b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKh1\r\n"
          b"From: <sip:2000@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: h1\r\n"
          b"CSeq: 1 INVITE\r\nContact: <sip:2000@127.0.0.1:5062>\r\nContent-Length: 0\r\n\r\n")


def test_timer_h_callback_raising_is_dropped_once():
    sent = []
    errors = []
    layer = TxLayer(lambda data, addr: sent.append(addr))
    layer.on_error = errors.append
    req = M.parse(INVITE)
    stx = layer.new_server(req, ("127.0.0.1", 5062))
    r = M.Message(status=200, reason="OK")
    for k in ("via", "from", "to", "call-id", "cseq"):
        r.add(k, req.get(k))
    stx.respond(r)                       # 2xx: retransmitted until the ACK (none comes)

    def no_ack(tx):
        raise ValueError("bad route set")
    stx.on_no_ack = no_ack
    now = time.ticks_ms()
    for step in range(1, 80):            # 79 x 1 s: past timer H (32 s) and on
        layer.tick(time.ticks_add(now, step * 1000))
    eq(len(errors), 1, "the raising callback is reported once")
    eq(layer.count(), 0, "and its transaction is gone")


def test_client_table_capped_and_pending_evicted():
    layer = TxLayer(lambda data, addr: None, None, None, client_limit=3, pending_limit=2)
    txs = []
    for i in range(5):
        req = M.Message("OPTIONS", "sip:x@127.0.0.1")
        req.branch = "z9hG4bKc%d" % i
        req.add("via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + req.branch)
        txs.append(layer.request(req, ("127.0.0.1", 5060)))
    eq([t is not None for t in txs], [True, True, True, False, False], "client cap")
    # three INVITEs answered 486 and never ACKed: the oldest answer is forgotten
    for i in range(3):
        req = M.parse(INVITE.replace(b"z9hG4bKh1", b"z9hG4bKp%d" % i))
        stx = layer.new_server(req, ("127.0.0.1", 5062))
        eq(stx is not None, True, "INVITE %d gets a transaction" % i)
        r = M.Message(status=486, reason="Busy")
        for k in ("via", "from", "to", "call-id", "cseq"):
            r.add(k, req.get(k))
        stx.respond(r)
    eq(layer.pending(), 2, "pending capped")


def test_next_ms_follows_every_timer():
    # The user agent's timer task sleeps next_ms(); each timer must show in it.
    layer = TxLayer(lambda data, addr: None)
    now = time.ticks_ms()
    eq(layer.next_ms(now), None, "no transaction: no timer")
    req = M.Message("OPTIONS", "sip:x@127.0.0.1")
    req.branch = "z9hG4bKn1"
    req.add("via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + req.branch)
    req.add("cseq", "1 OPTIONS")
    ctx = layer.request(req, ("127.0.0.1", 5060))
    ms = layer.next_ms(time.ticks_ms())
    eq(400 < ms <= 500, True, "timer E: T1 (%r ms)" % ms)
    eq(layer.next_ms(time.ticks_add(time.ticks_ms(), 600)) <= -100, True,
       "due 100 ms ago, seen as due")
    r = M.Message(status=200, reason="OK")
    r.add("cseq", "1 OPTIONS")
    ctx.receive(r)
    ms = layer.next_ms(time.ticks_ms())
    eq(4900 < ms <= 5000, True, "after the final response: timer K, T4 (%r ms)" % ms)
    # an INVITE we answer 486: timer G (T1) is sooner than K
    stx = layer.new_server(M.parse(INVITE), ("127.0.0.1", 5062))
    ms = layer.next_ms(time.ticks_ms())
    eq(4900 < ms <= 5000, True, "a proceeding INVITE adds only its 300 s bound (%r)" % ms)
    r = M.Message(status=486, reason="Busy")
    for k in ("via", "from", "to", "call-id", "cseq"):
        r.add(k, stx.req.get(k))
    stx.respond(r)
    ms = layer.next_ms(time.ticks_ms())
    eq(400 < ms <= 500, True, "timer G: T1 (%r ms)" % ms)
    layer.tick(time.ticks_add(time.ticks_ms(), 40000))   # past H, K: all gone
    eq(layer.next_ms(time.ticks_ms()), None, "every transaction ended: no timer")
