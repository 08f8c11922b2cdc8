"""The `ata` command: one entry point for the host-side tools."""
import importlib
import sys

COMMANDS = {
    "sim": ("ata.sim", "run the firmware on the sim board with a config"),
    "phone": ("ata.phone_cli", "the virtual phone, interactive"),
    "demo": ("ata.demo", "boot the sim against Kamailio and baresip and place a call"),
    "build": ("ata.build", "compile lib/, firmware/ and boards/ to .mpy; --check also type-checks"),
    "dtmf": ("ata.dtmf_cmd", "detect DTMF digits in an 8 kHz mono 16-bit WAV"),
    "bench": ("ata.bench", "instruction counts and heap figures beside spandsp"),
    "deploy": ("ata.deploy", "copy a board's build (changed files only) and config.json over its REPL"),
    "flash": ("ata.deploy:flash_main", "write a MicroPython image to an ESP32 with esptool"),
    "ota": ("ata.ota", "signed update bundles: keygen, sign, verify, serve, push (docs/ota.md)"),
}


def usage():
    lines = ["usage: ata COMMAND [ARGS]", "", "commands:"]
    for name, (_, text) in COMMANDS.items():
        lines.append("  %-7s %s" % (name, text))
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    entry = COMMANDS.get(argv[0])
    if entry is None:
        print("ata: unknown command %r\n\n%s" % (argv[0], usage()), file=sys.stderr)
        return 2
    name, _, func = entry[0].partition(":")
    module = importlib.import_module(name)
    return getattr(module, func or "main")(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
