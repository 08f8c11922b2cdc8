# micropython-lib style manifest of the slic package. The files are listed: this
# manifest.py sits inside the package folder and is no module of it.
metadata(version="0.1.0", description="SLIC drivers (AG1171), their ring sources (timer, ESP32 RMT, RP2040 PIO), the PIO hook adapter and the FXS port a board hands over")

package(
    "slic",
    files=("__init__.py", "ag1171.py", "pio_hook.py", "pio_ring.py", "port.py", "rmt_ring.py"),
    base_path="..",
)
