# iowait.wait_io_event in asyncio's IOQueue: the tasks waiting on streams wake as
# they do with the stock method (reads, writes, both on one stream, a cancelled
# waiter, a flag set from a callback), and a task switch allocates nothing, where
# the stock method's frame is put on the heap at each one. Counted with
# micropython.mem_total(), which sees those frames (freed on return, so gc.mem_alloc()
# and heap_lock miss them; gc.threshold counts them).
import asyncio
import micropython
import socket

import iowait
from check import eq
from test_rtp_send import _addr, free_port

_STOCK = asyncio.core.IOQueue.wait_io_event
_SWITCHES = 200


async def _spin(count):
    while count[1]:
        count[0] += 1
        await asyncio.sleep_ms(0)


async def _switches():
    """Bytes allocated over _SWITCHES task switches of three tasks that only yield
    (counted while they run: a task's end allocates its StopIteration)."""
    count = [0, True]                    # switches of the two, and whether they go on
    a = asyncio.create_task(_spin(count))
    b = asyncio.create_task(_spin(count))
    await asyncio.sleep_ms(0)            # both started: their coroutines are made
    t0 = micropython.mem_total()
    n0 = count[0]
    while count[0] - n0 < _SWITCHES:
        await asyncio.sleep_ms(0)
    used = micropython.mem_total() - t0
    count[1] = False
    await a
    await b
    return used


def _measure(method):
    asyncio.core.IOQueue.wait_io_event = method
    try:
        return asyncio.run(_switches())
    finally:
        asyncio.core.IOQueue.wait_io_event = _STOCK


def test_task_switches_allocate_nothing():
    stock = _measure(_STOCK)
    ours = _measure(iowait.wait_io_event)
    # the stock method's heap frame is what this removes: seen, or the count is blind
    if stock < _SWITCHES * 32:
        raise AssertionError("the stock wait allocated %d bytes in %d switches: "
                             "nothing to remove any more?" % (stock, _SWITCHES))
    eq(ours, 0, "bytes allocated in %d task switches (stock: %d)" % (_SWITCHES, stock))


def _udp_pair():
    """Two non-blocking UDP sockets on free loopback ports: (a, b, a's address)."""
    sock = []
    for _ in range(2):
        port = free_port(pair=False)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(_addr(port))
        s.setblocking(False)
        sock.append((s, _addr(port)))
    return sock[0][0], sock[1][0], sock[0][1]


async def _reader(sock, got):
    yield asyncio.core._io_queue.queue_read(sock)
    got.append(sock.recv(64))


async def _writer(sock, got):
    yield asyncio.core._io_queue.queue_write(sock)
    got.append("writable")


def _installed(scenario):
    """What the coroutine function scenario returns, run with iowait's method in
    IOQueue (the stock one put back after)."""
    eq(iowait.install(), True, "installed")
    try:
        return asyncio.run(scenario())
    finally:
        asyncio.core.IOQueue.wait_io_event = _STOCK


async def _read_and_write(one_stream):
    """A task waiting to read and one waiting to write, on two sockets or on one: the
    write wakes first; the reader's stream stays in the poller (on one socket, modified
    to POLLIN) until a datagram wakes the reader."""
    a, b, a_addr = _udp_pair()
    got = []
    r = asyncio.create_task(_reader(a, got))
    await asyncio.sleep_ms(0)
    w = asyncio.create_task(_writer(a if one_stream else b, got))
    await asyncio.sleep_ms(20)
    eq(got, ["writable"], "the writer woken, the reader waiting")
    eq(len(asyncio.core._io_queue.map), 1, "the reader's stream kept")
    b.sendto(b"ring", a_addr)
    await asyncio.sleep_ms(20)
    eq(got, ["writable", b"ring"], "the datagram wakes the reader")
    await r
    await w
    eq(len(asyncio.core._io_queue.map), 0, "streams left in the poller")
    a.close()
    b.close()


def test_reads_and_writes_wake_their_tasks():
    _installed(lambda: _read_and_write(False))


def test_reader_and_writer_on_one_stream():
    _installed(lambda: _read_and_write(True))


async def _cancelled_and_flag():
    s, other, s_addr = _udp_pair()
    flag = asyncio.ThreadSafeFlag()
    woke = []

    async def flagged():
        await flag.wait()
        woke.append("flag")

    t = asyncio.create_task(_reader(s, woke))
    f = asyncio.create_task(flagged())
    await asyncio.sleep_ms(10)
    t.cancel()
    await asyncio.sleep_ms(0)
    other.sendto(b"x", s_addr)        # nobody waits for it any more
    micropython.schedule(lambda _: flag.set(), None)   # as a board's soft callback sets it
    await asyncio.sleep_ms(20)
    eq(woke, ["flag"], "the flag's waiter woke, the cancelled reader did not")
    await f
    eq(len(asyncio.core._io_queue.map), 0, "streams left in the poller")
    s.close()
    other.close()


def test_cancelled_waiter_and_a_flag():
    _installed(_cancelled_and_flag)


def test_install_puts_it_in_place():
    try:
        eq(iowait.install(), True, "installed on this MicroPython")
        eq(asyncio.core.IOQueue.wait_io_event, iowait.wait_io_event, "IOQueue's method")
    finally:
        asyncio.core.IOQueue.wait_io_event = _STOCK
