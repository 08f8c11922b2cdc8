# The sim's phone link takes one phone at a time: a second phone is refused while the
# first is connected, and a phone that connects right after the last one hung up its
# link is taken, though the link reads the socket only at codec ticks (the last
# phone's end is read when the new one comes: a board-mode test run's next test
# connects within milliseconds of the last one's close).
from phonelink import PhoneLink
from check import eq
from phonerig import listening, plug


def _link_and_server():
    srv, addr = listening()
    logs = []
    return PhoneLink("127.0.0.1", 0, log=logs.append), srv, addr, logs


def test_a_second_phone_is_refused_while_the_first_is_connected():
    link, srv, addr, logs = _link_and_server()
    phones = []
    try:
        phones.append(plug(link, srv, addr))
        first = link.writer
        phones.append(plug(link, srv, addr))
        eq(link.writer is first, True, "the first phone keeps the link")
        eq("phone: second connection refused" in logs, True, "logged: %r" % logs)
    finally:
        for p in phones:
            p.close()
        srv.close()
        link._drop()


def test_a_phone_right_after_the_last_one_hung_up_is_taken():
    link, srv, addr, logs = _link_and_server()
    phone = None
    try:
        plug(link, srv, addr).close()   # no codec tick in between: the link has not read it
        phone = plug(link, srv, addr)
        eq("phone: second connection refused" in logs, False, "logged: %r" % logs)
        eq(logs.count("phone: connected"), 2, "connections taken: %r" % logs)
        eq(link.writer is not None, True, "the new phone has the link")
    finally:
        if phone is not None:
            phone.close()
        srv.close()
        link._drop()
