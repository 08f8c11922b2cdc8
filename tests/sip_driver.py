# MicroPython driver for lib/sip interop tests: runs one UserAgent, JSON lines on stdio.
# argv[1]: JSON config for UserAgent plus driver keys:
#   "auto": what to do with an incoming call: "answer" (180 then 200), "ring" (180 only),
#           "none", or a status code to reject with (e.g. 486)
#   "rtp_port": port put in our SDP (default 40000)
# stdin commands (one JSON object a line): {"cmd": "status"|"invite"|"answer"|"ringing"|
#   "reject"|"hangup"|"hold"|"resume"|"busy"|"stop", "call": n, ...}
# stdout: {"ev": "ready"|"incoming"|"state"|"reply"|"log", ...}
import asyncio
import json
import sys
import time

import sip
from sip import sdp

CFG = json.loads(sys.argv[1])
AUTO = CFG.pop("auto", "answer")
RTP_PORT = CFG.pop("rtp_port", 40000)
VERBOSE = CFG.pop("verbose", False)
HANGUP_ON = CFG.pop("hangup_on", None)   # hang up a call when it reaches this state
calls = []


class WarpClock:
    """`time` as the SIP stack sees it: ticks_ms() ahead by `offset` ("warp" command), so
    tests run timers to expiry without waiting; sockets and asyncio keep real time."""

    def __init__(self):
        self.offset = 0

    def ticks_ms(self):
        return time.ticks_add(time.ticks_ms(), self.offset)

    def ticks_add(self, a, b):
        return time.ticks_add(a, b)

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)


CLOCK = WarpClock()


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")


def log(text):
    if VERBOSE:
        out({"ev": "log", "text": text})


def watch(call):
    n = len(calls)
    calls.append(call)

    def on_state(c, state, detail):
        out({"ev": "state", "call": n, "state": state, "detail": detail,
             "remote_sdp": c.remote_sdp})
        if state == HANGUP_ON:
            c.hangup()
    call.on_state = on_state
    return n


def my_sdp(direction="sendrecv"):
    return sdp.offer(CFG.get("local_ip", "127.0.0.1"), RTP_PORT, "4711", direction=direction)


def on_incoming(call):
    n = watch(call)
    out({"ev": "incoming", "call": n, "from": call.remote_uri, "remote_sdp": call.remote_sdp,
         "caller": [call.caller_name, call.caller_number]})
    if AUTO == "none":
        return
    if isinstance(AUTO, int):
        call.reject(AUTO)
        return
    call.ringing()
    if AUTO == "answer":
        offer = sdp.parse(call.remote_sdp) if call.remote_sdp else None
        if offer is None:
            call.answer(my_sdp())
            return
        ans = sdp.answer(offer, CFG.get("local_ip", "127.0.0.1"), RTP_PORT)
        if ans is None:
            call.reject(488)
        else:
            call.answer(ans[0])


def command(ua, cmd):
    c = cmd.get("cmd")
    n = cmd.get("call", len(calls) - 1)
    call = calls[n] if 0 <= n < len(calls) else None
    if c == "status":
        return ua.status()
    if c == "invite":
        call = ua.invite(cmd["target"], cmd.get("sdp") or my_sdp())
        return {"call": watch(call)}
    if c == "warp":
        CLOCK.offset += int(cmd["ms"])
        ua.wake_timers()           # the UA sleeps until its soonest timer, in real time
        return {"offset": CLOCK.offset}
    if c == "heap":
        import gc
        gc.collect()
        return {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
    if c == "inject":
        # make a handler raise (tests that a handler bug answers 500 and frees state)
        from sip import call as call_mod
        orig = call_mod.Call.incoming

        def raising(ua_, req, addr, stx):
            orig(ua_, req, addr, stx)
            raise RuntimeError("injected")
        call_mod.Call.incoming = staticmethod(raising)
        return {"ok": True}
    if c == "no_room_for_retry":
        # the next challenged INVITE's retry finds no heap (MemoryError), once
        from sip import call as call_mod
        orig_send = call_mod.Call._send_invite

        def no_room(self, auth, cseq):
            if auth:
                call_mod.Call._send_invite = orig_send
                raise MemoryError("injected: no room for the INVITE")
            return orig_send(self, auth, cseq)
        call_mod.Call._send_invite = no_room
        return {"ok": True}
    if c == "busy":
        ua.busy = bool(cmd.get("value", True))
        return {"busy": ua.busy}
    if call is None:
        return {"error": "no such call"}
    if c == "answer":
        return {"ok": call.answer(cmd.get("sdp") or my_sdp())}
    if c == "ringing":
        call.ringing()
    elif c == "reject":
        call.reject(cmd.get("code", 486))
    elif c == "hangup":
        call.hangup()
    elif c == "hold":
        return {"ok": call.hold()}
    elif c == "resume":
        return {"ok": call.resume()}
    elif c == "info":
        return {"state": call.state, "remote_sdp": call.remote_sdp, "held": call.held}
    elif c == "refer":
        def on_refer(c_, code, final):
            out({"ev": "refer", "call": n, "code": code, "final": final})
        other = cmd.get("replaces_call")
        rep = None
        if other is not None:     # attended: Replaces names our dialog with that call
            from sip.refer import replaces
            d = calls[other].dialog
            rep = replaces(d.call_id, d.remote_tag, d.local_tag)
        return {"ok": call.refer(cmd["target"], rep, on_refer)}
    else:
        return {"error": "unknown command"}
    return {"state": call.state}


async def main():
    import sip.call
    import sip.register
    import sip.transaction
    import sip.ua
    import sip.wire
    for mod in (sip.ua, sip.transaction, sip.call, sip.register, sip.wire):
        mod.time = CLOCK
    ua = sip.UserAgent(CFG, on_incoming=on_incoming, log=log)
    await ua.start()
    out({"ev": "ready"})
    reader = asyncio.StreamReader(sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            cmd = json.loads(line)
        except ValueError:
            out({"ev": "reply", "error": "bad json"})
            continue
        if cmd.get("cmd") == "stop":
            await ua.stop()
            out({"ev": "reply", "id": cmd.get("id"), "stopped": True})
            break
        try:
            res = command(ua, cmd)
        except Exception as e:  # report to the test instead of dying
            res = {"error": repr(e)}
        res["ev"] = "reply"
        res["id"] = cmd.get("id")
        out(res)


asyncio.run(main())
