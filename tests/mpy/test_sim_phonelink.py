# The sim's phone link takes one phone at a time: a second phone is refused while the
# first is connected, and a phone that connects right after the last one hung up its
# link is taken, though the link reads the socket only at codec ticks (the last
# phone's end is read when the new one comes: a board-mode test run's next test
# connects within milliseconds of the last one's close).
import asyncio
import socket

from phonelink import PhoneLink
from check import eq
from test_sim_hardware_heap import _listening


def _accepted(srv):
    side, _ = srv.accept()
    side.setblocking(False)
    return asyncio.StreamWriter(side, {})


def _serve(link, stream):
    try:
        link._serve(stream, stream).send(None)    # no awaits: it completes at once
    except StopIteration:
        pass


def _link_and_server():
    srv, addr = _listening()
    logs = []
    return PhoneLink("127.0.0.1", 0, log=logs.append), srv, addr, logs


def test_a_second_phone_is_refused_while_the_first_is_connected():
    link, srv, addr, logs = _link_and_server()
    a, b = socket.socket(), socket.socket()
    try:
        a.connect(addr)
        _serve(link, _accepted(srv))
        first = link.writer
        b.connect(addr)
        _serve(link, _accepted(srv))
        eq(link.writer is first, True, "the first phone keeps the link")
        eq("phone: second connection refused" in logs, True, "logged: %r" % logs)
    finally:
        a.close()
        b.close()
        srv.close()
        link._drop()


def test_a_phone_right_after_the_last_one_hung_up_is_taken():
    link, srv, addr, logs = _link_and_server()
    a, b = socket.socket(), socket.socket()
    try:
        a.connect(addr)
        _serve(link, _accepted(srv))
        a.close()                   # no codec tick in between: the link has not read it
        b.connect(addr)
        _serve(link, _accepted(srv))
        eq("phone: second connection refused" in logs, False, "logged: %r" % logs)
        eq(logs.count("phone: connected"), 2, "connections taken: %r" % logs)
        eq(link.writer is not None, True, "the new phone has the link")
    finally:
        b.close()
        srv.close()
        link._drop()
