# Transaction layer: a raising timer callback ends its own transaction once (it used to
# raise on every tick, forever: timer H with a route set that could not be used).
import time

from check import eq, raises

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


def _request(method, branch):
    req = M.Message(method, "sip:1002@127.0.0.1")
    req.branch = branch
    req.cseq_method = method
    req.cseq_num = 1
    req.call_id = "c-" + branch
    for k, v in (("via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + branch),
                 ("from", "<sip:1001@127.0.0.1>;tag=a"), ("to", "<sip:1002@127.0.0.1>"),
                 ("call-id", req.call_id), ("cseq", "1 " + method)):
        req.add(k, v)
    return req


def _answer(req, status):
    r = M.Message(status=status, reason="X")
    r.branch = req.branch
    r.cseq_method = req.cseq_method
    for k in ("via", "from", "call-id", "cseq"):
        r.add(k, req.get(k))
    r.add("to", req.get("to") + ";tag=b")
    return r


def test_a_finished_transaction_keeps_only_what_answers_retransmissions():
    # After its final response a transaction lingers (timers D, K, 64*T1) to absorb
    # retransmissions; what it holds then is heap a back-to-back call needs.
    sent = []
    layer = TxLayer(lambda data, addr: sent.append(data))
    up = []
    hear = lambda tx, msg: up.append(msg.status)     # noqa: E731
    # a non-INVITE: request and callbacks go with the final; a repeat is absorbed
    bye = layer.request(_request("BYE", "z9hG4bKb1"), ("127.0.0.1", 5060), hear, hear)
    bye.receive(_answer(bye.req, 200))
    eq((bye.req, bye.data, bye.on_response, bye.on_timeout), (None,) * 4, "BYE after 200")
    bye.receive(_answer(_request("BYE", "z9hG4bKb1"), 200))
    eq(up, [200], "the repeated 200 is not passed up")
    # an INVITE answered 407: the ACK stays (re-sent for a repeated 407), the rest goes
    inv = layer.request(_request("INVITE", "z9hG4bKi1"), ("127.0.0.1", 5060), hear, hear)
    first = _request("INVITE", "z9hG4bKi1")
    inv.receive(_answer(first, 407))
    eq((inv.req, inv.data, inv.on_response), (None,) * 3, "INVITE after 407")
    eq(inv.ack is not None and inv.ack.startswith(b"ACK "), True, "its ACK is kept")
    n = len(sent)
    inv.receive(_answer(first, 407))
    eq((len(sent), sent[-1]), (n + 1, inv.ack), "a repeated 407 is ACKed again")
    inv.receive(_answer(first, 200))
    eq((len(sent), up), (n + 1, [200, 407]), "a 2xx on a branch answered 407: dropped")
    # an INVITE answered 200: its repeats go up to the call until the call releases it
    ok = layer.request(_request("INVITE", "z9hG4bKi2"), ("127.0.0.1", 5060), hear, hear)
    second = _request("INVITE", "z9hG4bKi2")
    ok.receive(_answer(second, 200))
    eq((ok.req, ok.data), (None, None), "INVITE after 200: the request goes")
    ok.receive(_answer(second, 200))
    eq(up, [200, 407, 200, 200], "a repeated 2xx goes up (the call re-ACKs it)")
    ok.release((b"ACK sip:1002@127.0.0.1 SIP/2.0\r\n\r\n", ("127.0.0.1", 5060)))
    eq((ok.on_response, ok.on_timeout), (None, None), "released: no call held")
    n = len(sent)
    ok.receive(_answer(second, 200))
    eq((len(sent), sent[-1][:4], len(up)), (n + 1, b"ACK ", 4),
       "after release the transaction re-ACKs the 2xx itself")
    # a server transaction: a non-INVITE keeps its answer, not the request
    stx = layer.new_server(M.parse(INVITE.replace(b"INVITE", b"OPTIONS")), ("127.0.0.1", 5062))
    stx.respond(_answer(stx.req, 200))
    eq(stx.req, None, "OPTIONS answered: the request goes")
    n = len(sent)
    stx.retransmitted()
    eq((len(sent), sent[-1]), (n + 1, stx.last), "its answer is repeated")
    # an INVITE's callbacks are called for its ACK once and then dropped
    stx = layer.new_server(M.parse(INVITE.replace(b"z9hG4bKh1", b"z9hG4bKh9")),
                           ("127.0.0.1", 5062))
    acks = []
    stx.on_ack = lambda tx, ack: acks.append(ack)
    stx.on_no_ack = lambda tx: acks.append("none")
    stx.respond(_answer(stx.req, 200))
    stx.ack_received("ack")
    stx.ack_received("again")
    eq((acks, stx.on_ack, stx.on_no_ack), (["ack"], None, None), "one on_ack, then none")


def test_a_final_response_the_user_agent_cannot_act_on_fails_its_request():
    # Handling a 407 means building and sending the INVITE again; with no heap for it
    # the call used to wait for ever (the transaction ended silently by timer D).
    layer = TxLayer(lambda data, addr: None)
    gave_up = []

    def no_room(tx, msg):
        raise MemoryError("allocating 853 bytes")
    for status in (407, 200, 180):
        req = _request("INVITE", "z9hG4bKf%d" % status)
        tx = layer.request(req, ("127.0.0.1", 5060), no_room, gave_up.append)
        raises(MemoryError, tx.receive, _answer(_request("INVITE", req.branch), status))
    eq(len(gave_up), 2, "the 407 and the 200 give their requests up, a 180 does not")
    eq(gave_up[0].final, 407, "the 407's first")
