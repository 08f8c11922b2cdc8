# The sim's Flag (vmachine.Flag), which the media pipeline and the line wait on for
# the codec's and the hook's callbacks: ThreadSafeFlag's behaviour (a set before the
# wait is not lost, the wait clears it, a cancelled waiter leaves), and per wake no
# more than a chip's ThreadSafeFlag.wait allocates in a way that searches the heap:
# the one generator its wait() makes.
import asyncio
import micropython

from vmachine import Flag
from check import eq
from test_iowait import _installed


async def _set_before_wait():
    f = Flag()
    f.set()
    await f.wait()                       # returns at once: the set was kept
    eq(f.state, False, "cleared by the wait")


def test_a_set_before_the_wait_is_kept():
    asyncio.run(_set_before_wait())


async def _woken_by_a_callback():
    f = Flag()
    woke = []

    async def waiter():
        await f.wait()
        woke.append(1)

    t = asyncio.create_task(waiter())
    await asyncio.sleep_ms(5)
    eq(woke, [], "asleep until set")
    f.set()                              # as the codec's callback sets it
    await asyncio.sleep_ms(0)
    await asyncio.sleep_ms(0)
    eq(woke, [1], "woken by the set")
    await t


def test_a_set_wakes_the_waiter():
    asyncio.run(_woken_by_a_callback())


async def _timeout_then_wait():
    f = Flag()
    try:
        await asyncio.wait_for_ms(f.wait(), 10)     # the line's wait, when nothing comes
        raise AssertionError("no timeout")
    except asyncio.TimeoutError:
        pass
    eq(f.waiter, None, "the cancelled waiter left")
    f.set()                              # must not push the cancelled task again
    await asyncio.sleep_ms(5)
    await f.wait()                       # the kept set, for the next waiter
    eq(f.state, False, "cleared")


def test_a_cancelled_waiter_leaves():
    asyncio.run(_timeout_then_wait())


_CYCLES = 50


async def _cycles(f, n):
    """The media task's loop: wait for the flag that another task then sets."""
    for _ in range(n):
        await f.wait()


async def _setter(f, n):
    for _ in range(n):
        await asyncio.sleep_ms(0)
        f.set()


async def _per_wake():
    f = Flag()
    t0 = micropython.mem_total()
    gen = f.wait()                       # what one wait() makes: its generator
    one = micropython.mem_total() - t0
    gen = None
    waiter = asyncio.create_task(_cycles(f, _CYCLES + 1))
    setter = asyncio.create_task(_setter(f, _CYCLES + 1))
    await asyncio.sleep_ms(0)            # both made and started
    t0 = micropython.mem_total()
    for _ in range(_CYCLES):
        await asyncio.sleep_ms(0)
    used = micropython.mem_total() - t0
    await waiter
    await setter
    return one, used


def test_a_wake_allocates_one_generator():
    one, used = _installed(_per_wake)    # as the firmware runs: task switches allocate nothing
    if one <= 0:
        raise AssertionError("a wait() allocated nothing: the count is blind")
    if used > _CYCLES * one:
        raise AssertionError("%d wakes allocated %d bytes, more than one wait()'s "
                             "generator (%d bytes) each" % (_CYCLES, used, one))
    if used < (_CYCLES // 2) * one:
        raise AssertionError("%d bytes in %d wakes: the waiter did not run" % (used, _CYCLES))
