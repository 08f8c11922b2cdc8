# One FXS port as a board hands it to the firmware: the SLIC driver, how its hook
# switch is watched (edges from a pin interrupt, or a timer that samples it), the two
# I2S audio streams, and how to make a flag that the timer, pin and I2S callbacks set
# for a task to wait on. Also where a board's pin map is read from (board.json).


def board_spec():
    """The board's board.json: on the filesystem beside main.py, or in the ROMFS image
    at /rom (a board built with its code in flash)."""
    import json
    try:
        f = open("board.json")
    except OSError:
        f = open("/rom/board.json")
    with f:
        return json.load(f)


class Port:
    def __init__(self, slic, hook_timer, i2s_rx, i2s_tx, new_flag, hard_timers=False,
                 hook_pin=None, hard_pin_irq=False, ticks_ms=None):
        """hard_timers: the board's timer callbacks may run in the interrupt.
        hook_pin: SHK as a machine.Pin whose irq() gives its edges: the line then
        takes edges with their times (firmware/hook.py EdgeDetector) and hook_timer is
        not used; None: hook_timer samples SHK every 2 ms (HookDetector).
        hard_pin_irq: pass hard=True to hook_pin.irq() (a port whose pin interrupts
        can run the handler in the interrupt; the ESP32's are always scheduled).
        ticks_ms: the clock the pin handler stamps edges with (time.ticks_ms on a
        board; the sim's virtual clock)."""
        self.slic = slic
        self.hard_timers = hard_timers
        self.hook_timer = hook_timer
        self.hook_pin = hook_pin
        self.hard_pin_irq = hard_pin_irq
        self.ticks_ms = ticks_ms
        self.i2s_rx = i2s_rx
        self.i2s_tx = i2s_tx
        self.new_flag = new_flag
