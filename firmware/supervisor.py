# Supervision of the firmware's long-running tasks (line, media, SIP, registration,
# console): an exception in one is logged with its traceback, the line is made safe
# (ring off, tones off, call ended with BYE), and the task starts again after a
# back-off. The line is never left dead while SIP says registered.
import io
import sys

import asyncio

BACKOFF_MIN_MS = 50      # first restart delay; doubles per crash in a row
BACKOFF_MAX_MS = 5000    # a task that keeps crashing restarts this often at most
STABLE_MS = 30000        # a task that ran this long without crashing starts over at MIN
_TRACE_LINES = 12        # traceback lines kept in the log per crash


class Fault(Exception):
    """Raised in a task by inject() (console `fault TASK`): tests supervision."""


class Supervisor:
    def __init__(self, log, make_safe):
        self.log = log
        self.make_safe = make_safe      # fn(task_name): ring, tones, call, line to safe
        self.tasks = {}                 # name -> asyncio.Task
        self.restarts = {}              # name -> restarts so far
        self.last_crash = None          # "name: exception" of the latest crash
        self._fault = {}                # name -> True: inject() cancelled it as a fault

    def spawn(self, name, run):
        """Run run() (a coroutine function) as a supervised task named `name`. A normal
        return ends it; an exception restarts it."""
        self.restarts.setdefault(name, 0)
        self.tasks[name] = asyncio.create_task(self._keep(name, run))
        return self.tasks[name]

    async def _keep(self, name, run):
        import time
        delay = BACKOFF_MIN_MS
        while True:
            started = time.ticks_ms()
            try:
                await run()
                self.tasks.pop(name, None)
                return
            except asyncio.CancelledError:
                if not self._fault.pop(name, False):
                    raise                       # a real cancel: stop supervising
                err = Fault("injected fault")
            except Exception as e:  # noqa: the point of a supervisor
                err = e
            self._crashed(name, err)
            if time.ticks_diff(time.ticks_ms(), started) >= STABLE_MS:
                delay = BACKOFF_MIN_MS
            try:
                await asyncio.sleep_ms(delay)
            except asyncio.CancelledError:
                # A task cancelled inside wait_for() is woken a second time when its
                # inner task ends: that echo of an injected fault is not a stop.
                if not isinstance(err, Fault):
                    raise
                await asyncio.sleep_ms(delay)
            delay = min(delay * 2, BACKOFF_MAX_MS)
            self.log("supervisor: %s restarted (%d)" % (name, self.restarts[name]))

    def _crashed(self, name, err):
        self.restarts[name] += 1
        self.last_crash = "%s: %r" % (name, err)
        self.log("supervisor: %s crashed: %r" % (name, err))
        trace = io.StringIO()
        sys.print_exception(err, trace)
        for line in trace.getvalue().splitlines()[-_TRACE_LINES:]:
            self.log("supervisor:   " + line)
        try:
            self.make_safe(name)
        except Exception as e:  # noqa: making safe must not take the supervisor down
            self.log("supervisor: making the line safe failed: %r" % (e,))

    def inject(self, name):
        """Make the task `name` fail where it waits now, as an exception there would."""
        task = self.tasks.get(name)
        if task is None:
            raise ValueError("no task %r (tasks: %s)" % (name, ", ".join(sorted(self.tasks))))
        self._fault[name] = True
        asyncio.create_task(self._cancel(task))   # a task cannot cancel itself (console)

    async def _cancel(self, task):
        task.cancel()

    def status(self):
        return {"tasks": sorted(self.tasks), "restarts": dict(self.restarts),
                "last_crash": self.last_crash}
