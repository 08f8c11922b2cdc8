# One FXS port of the ATA: its media pipeline, line controller and call control (its
# own SIP account), built from that port's config (config "ports", firmware/
# cfgports.py) on the board's port. Port 1 logs as the firmware always has; the
# others' lines start "[n] " and their supervised tasks are named with n after them
# (line2, media2, sip_rx2, ...), so each port's can be told apart.


def port_log(log, n):
    if n == 1:
        return log
    tag = "[%d] " % n

    def log_n(msg):
        log(tag + msg)
    return log_n


class FxsPort:
    def __init__(self, n, cfg, board_port, ip, log, on_call=None):
        import country
        from callctl import CallControl
        from line import Line
        from media import Media
        self.n = n
        self.cfg = cfg
        self.log = log = port_log(log, n)
        self.suffix = "" if n == 1 else str(n)
        self.media = Media(board_port, log)
        self.media.on_call = on_call
        self.calls = CallControl(cfg, ip, log)
        self.sip = self.calls.ua
        self.line = Line(board_port, country.plan(cfg["line"]["country"]), cfg["line"],
                         self.media, self.calls.line_event, log)
        self.calls.attach(self.line, self.media)
        self.tasks = []               # names of this port's supervised tasks

    def supervise(self, sup):
        """The port's tasks (and its SIP user agent's, when it starts) under sup."""
        def spawn(name, run):
            name += self.suffix
            self.tasks.append(name)
            return sup.spawn(name, run)
        self.sip.spawn = spawn
        self.media.start()
        self.line.start()
        spawn("media", self.media.run)
        spawn("line", self.line.run)

    def ready(self, ip):
        s = self.cfg["sip"]
        self.log("ready: SIP %s@%s:%d from %s:%d" % (s["user"], s["server"], s["port"], ip,
                                                    s["sip_port"]))

    def busy(self):
        """Why this port's line is busy (a call, off hook, ringing), or None."""
        call = self.calls.status()["call"]
        if call is not None:
            return "a call is in progress (%s)" % call
        st = self.line.status()
        if st.get("hook") == "off":
            return "the handset is off hook"
        if st.get("ringing"):
            return "the phone is ringing"
        return None

    def make_safe(self, crashed, log):
        """Ring off, tones off, the call ended, the line back to what the hook says;
        each step runs even when another fails."""
        for what, step in (("call", self.calls.hangup), ("media", self.media.stop_all),
                           ("line", self.line.recover)):
            try:
                step()
            except Exception as e:  # noqa: the next step must still run
                log("supervisor: safe %s after %s failed: %r" % (what, crashed, e))

    def status(self):
        """(name, status) pairs for the console: port 1's as they always were, the
        others' named with n after them (line2, sip2, media2, calls2)."""
        x = self.suffix
        out = [("line" + x, self.line.status()), ("sip" + x, self.sip.status()),
               ("media" + x, self.media.status())]
        if x:
            out.append(("calls" + x, self.calls.status()))
        return out
