"""`ata phone`: the virtual phone for a person at a terminal.

Connects to a running sim (`ata sim`) and takes commands: lift and replace the
handset, rotary- or touch-tone-dial, flash, play a tone or a WAV into the line,
and report what the phone sees and hears.
"""
import argparse
import shlex

from . import signals
from .phone import VirtualPhone

HELP = """commands:
  off | on                 lift / replace the handset
  dial DIGITS [PPS [BREAK]]  rotary-dial (default 10 pulses/s, 60 % break)
  dtmf DIGITS              touch-tone dial
  flash [MS]               hook flash (default 300 ms)
  tone HZ [HZ2] [DBM0]     play a tone into the line;  wav FILE  play a WAV;  quiet
  listen [MS]              what the earpiece hears: level and strongest frequencies
  rings                    ring bursts seen: on time and frequency
  save FILE.wav            save everything heard so far
  help | quit"""

def describe_audio(x):
    if len(x) == 0:
        return "nothing heard"
    peaks = signals.spectrum_peaks(x, 2)
    level = signals.dbm0(x)
    if level < -50:
        return "silence (%.1f dBm0)" % level
    return "%.1f dBm0, strongest %s" % (level, ", ".join(
        "%.0f Hz (%+.0f dB)" % (f, rel) for f, rel in peaks))

def command(phone, words):
    cmd, args = words[0], words[1:]
    if cmd == "off":
        phone.off_hook()
        return "off-hook"
    if cmd == "on":
        phone.on_hook()
        return "on-hook"
    if cmd == "dial":
        pps = float(args[1]) if len(args) > 1 else 10.0
        brk = float(args[2]) if len(args) > 2 else 0.6
        phone.dial_pulse(args[0], pps=pps, break_ratio=brk, bounce_ms=3)
        return "dialled %s" % args[0]
    if cmd == "dtmf":
        phone.dial_dtmf(args[0])
        return "sent %s" % args[0]
    if cmd == "flash":
        phone.flash(int(args[0]) if args else 300)
        return "flash"
    if cmd == "tone":
        nums = [float(a) for a in args]
        level = nums.pop() if len(nums) > 1 and nums[-1] <= 0 else -10.0
        phone.play_tone(nums, level)
        return "playing %s Hz at %.0f dBm0" % ("+".join("%g" % f for f in nums), level)
    if cmd == "wav":
        phone.play_wav(args[0])
        return "playing %s" % args[0]
    if cmd == "quiet":
        phone.silence()
        return "quiet"
    if cmd == "listen":
        ms = int(args[0]) if args else 500
        start = phone.sim_now_us
        phone.sleep_sim(ms)
        return describe_audio(phone.recording(start))
    if cmd == "rings":
        if not phone.bursts:
            return "no ringing seen"
        return "\n".join("ring %d: %s ms at %s Hz" % (
            i + 1, "%.0f" % b.on_ms if b.on_ms else "(ringing)",
            "%.2f" % b.frequency_hz if b.frequency_hz else "?") for i, b in enumerate(phone.bursts))
    if cmd == "save":
        signals.write_wav(args[0], phone.recording())
        return "saved %s" % args[0]
    if cmd == "help":
        return HELP
    return "unknown command %r (try help)" % cmd

def main(argv):
    ap = argparse.ArgumentParser(prog="ata phone", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7001, help="the sim's phone port (sim.phone_port)")
    args = ap.parse_args(argv)
    phone = VirtualPhone(args.host, args.port).connect()
    print("phone: connected to %s:%d; on-hook. Type help." % (args.host, args.port))
    try:
        while True:
            try:
                line = input("phone> ")
            except EOFError:
                break
            words = shlex.split(line)
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                break
            try:
                print(command(phone, words))
            except (ValueError, IndexError, TimeoutError) as e:
                print("error: %s" % e)
            if phone.ringing:
                print("(the phone is ringing)")
    finally:
        phone.close()
    return 0

