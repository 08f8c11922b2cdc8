# Scheduled pulls (ota.interval_h): the wait is the interval plus a random spread, a
# pull that falls due in a call waits until the line is idle, and none starts without
# a URL. The scheduler's sleep is replaced by one that records what it was asked for.
import asyncio

from check import eq

from ota import agent

H2_MS = 2 * 3600000


class _Done(Exception):
    pass


def _updater(url, busy_script):
    """An Updater whose start() is recorded; busy() answers from busy_script (a list
    of reasons consumed one per call; empty: idle)."""
    log = []
    u = agent.Updater({"interval_h": 2, "url": url}, None, "1.0.0", "sim", log.append,
                      lambda: busy_script.pop(0) if busy_script else None,
                      None, None, None)
    starts = []
    u.start = lambda url=None: starts.append(len(busy_script))
    return u, starts, log


def _run(u, sleeps_allowed):
    waits = []

    async def sleep_ms(ms):
        if len(waits) == sleeps_allowed:
            raise _Done()
        waits.append(ms)

    try:
        asyncio.run(u.schedule(sleep_ms))
    except _Done:
        pass
    return waits


def test_pull_after_the_interval_and_only_once_the_call_is_over():
    u, starts, log = _updater("http://h/b.ota", ["in a call", "in a call", "in a call"])
    waits = _run(u, 5)
    eq(H2_MS <= waits[0] <= H2_MS + H2_MS // 10, True, "first wait %d" % waits[0])
    eq(waits[1:4], [60000, 60000, 60000], "rechecks while the line is busy")
    # busy_script left when each pull started: 0, the call was over; then, an
    # interval later, the next (the line idle at once)
    eq(H2_MS <= waits[4] <= H2_MS + H2_MS // 10, True, "next interval %d" % waits[4])
    eq(starts, [0, 0], "a pull after each interval, none while busy")
    eq(log, ["ota: scheduled pull (every 2 h)"] * 2, "logged")


def test_no_url_no_pull():
    u, starts, log = _updater("", [])
    waits = _run(u, 3)
    eq(len(waits), 3, "keeps waiting")
    eq(starts, [], "nothing pulled without a URL")


def test_spread_is_random_and_within_a_tenth():
    vals = [agent._spread_ms(H2_MS) for _ in range(50)]
    eq(all(0 <= v < H2_MS // 10 for v in vals), True, "within a tenth: %r" % vals[:5])
    eq(len(set(vals)) > 40, True, "random, not one fixed offset: %d distinct" % len(set(vals)))
