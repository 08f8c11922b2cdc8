# asyncio's wait for I/O without a heap frame at every task switch.
#
# MicroPython's event loop calls IOQueue.wait_io_event before it runs each task (with
# a timeout of 0 when a task is due). That method's frame needs more than 11 words
# (its for loop keeps four slots for the iterator), and MicroPython without a Python
# stack, as on the ESP32 and the unix port, puts such a frame on the heap at every
# call and frees it on return: 144 bytes on x64 per task switch. gc.mem_alloc() and
# heap_lock do not see it, but gc.threshold counts it, so with early collections on
# the loop itself set the pace of collections (~2.5 switches a 20 ms frame idle on
# the sim, ~360 B a frame). The same work, in two functions whose frames fit in 11
# words, allocates nothing. Installed by application.boot; a port whose asyncio
# differs (no IOQueue, no two-argument next()) keeps its own.
import asyncio
import select

_NOT_OUT = ~select.POLLOUT
_NOT_IN = ~select.POLLIN


def _woken(q, s, ev):
    """The tasks waiting on stream s that event ev wakes go to the run queue, as the
    stock method does; s leaves the poller when no task waits on it any more.
    (asyncio.core._task_queue is looked up each time: new_event_loop replaces it.)"""
    sm = q.map[id(s)]
    if ev & _NOT_OUT and sm[0] is not None:       # readable, or an error
        asyncio.core._task_queue.push(sm[0])
        sm[0] = None
    if ev & _NOT_IN and sm[1] is not None:        # writable, or an error
        asyncio.core._task_queue.push(sm[1])
        sm[1] = None
    if sm[0] is None and sm[1] is None:
        q._dequeue(s)
    elif sm[0] is None:
        q.poller.modify(s, select.POLLOUT)
    else:
        q.poller.modify(s, select.POLLIN)


def wait_io_event(self, dt):
    """IOQueue.wait_io_event: poll for up to dt ms and wake the tasks whose streams
    are ready. ipoll gives one tuple it reuses, and next() with a default ends the
    loop without raising StopIteration (an exception object each time)."""
    ready = self.poller.ipoll(dt)
    while True:
        e = next(ready, None)
        if e is None:
            return
        _woken(self, e[0], e[1])


def install():
    """Puts wait_io_event in asyncio's IOQueue; False (nothing changed) when this
    MicroPython's asyncio has none or its next() takes no default."""
    core = getattr(asyncio, "core", None)
    queue = getattr(core, "IOQueue", None)
    if queue is None or not hasattr(queue, "wait_io_event"):
        return False
    try:
        next(iter(()), None)
    except TypeError:
        return False
    queue.wait_io_event = wait_io_event
    return True
