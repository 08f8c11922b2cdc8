# micropython-lib style manifest of the dsp package (freeze it, or install it with
# `mpremote mip install lib/dsp/package.json`). The *_ref.py modules are plain-Python
# references for the host's tests and bench: never on a device, so not listed here.
metadata(
    version="0.1.0",
    description="G.711, tone generation, DTMF detection and caller-ID modulation "
    "(viper) for 8 kHz telephony",
)

package(
    "dsp",
    files=("__init__.py", "g711.py", "tone.py", "dtmf.py", "fsk.py", "callerid.py"),
    base_path="..",
)
