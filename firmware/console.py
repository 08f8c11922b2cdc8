# Serial console: one command per line for live introspection while calls run.
# `py EXPR` evaluates Python against the running objects (the REPL of the ATA).
import json
import sys

HELP = """commands:
  status            line, SIP, media and board state
  config            the running configuration (secrets hidden)
  calls             the current call and its RTP statistics
  ring [stop]       ring the phone with the country cadence, or stop
  dial NUMBER       place a call as if NUMBER had been dialled (for testing a PBX)
  hangup            end the current call
  py EXPR           evaluate Python with the running objects (app, line, sip, media)
  fault TASK        make a supervised task fail now (tests recovery; see status)
  shutdown          end calls, un-register and stop the firmware
  help              this text"""

PROMPT = "ata> "


class Console:
    def __init__(self, app, stream=None):
        self.app = app
        self.stream = stream
        self.namespace = {"app": app}
        for name in ("line", "sip", "media", "board", "calls", "cfg"):
            self.namespace[name] = getattr(app, name, None)

    async def run(self):
        import asyncio
        reader = asyncio.StreamReader(self.stream or sys.stdin)
        self.out(PROMPT, end="")
        while True:
            raw = await reader.readline()
            if not raw:
                return              # console closed (sim: stdin ended)
            line = raw.decode().strip()
            if line == "shutdown":
                return
            try:
                self.command(line)
            except Exception as e:  # a console typo must never stop the ATA
                self.out("error: %r" % (e,))
            self.out(PROMPT, end="")

    def out(self, text, end="\n"):
        sys.stdout.write(text + end)

    def command(self, line):
        if not line:
            return
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        app = self.app
        if word == "help":
            self.out(HELP)
        elif word == "status":
            for name, st in app.status():
                self.out("%s: %s" % (name, json.dumps(st)))
        elif word == "config":
            import config
            self.out(json.dumps(config.redacted(app.cfg)))
        elif word == "calls":
            self.out(json.dumps(app.calls.status()))
        elif word == "ring":
            if rest == "stop":
                app.line.stop_ring()
                self.out("ring: stopped")
            else:
                self.out("ring: %s" % ("started" if app.line.ring() else "line busy"))
        elif word == "dial":
            app.calls.line_event("number", rest)
            self.out("dial: %s" % rest)
        elif word == "hangup":
            app.calls.hangup()
            self.out("hangup: done")
        elif word == "fault":
            app.supervisor.inject(rest)          # tests supervision: the task fails now
            self.out("fault: injected into %s" % rest)
        elif word == "py":
            self.out(repr(eval(rest, self.namespace)))
        else:
            self.out("unknown command %r (try help)" % word)
