# One FXS port as a board hands it to the firmware: the SLIC driver, the timer that
# samples its hook switch, the two I2S audio streams, and how to make a flag that
# the timer and I2S callbacks set for a task to wait on.


class Port:
    def __init__(self, slic, hook_timer, i2s_rx, i2s_tx, new_flag, hard_timers=False):
        """hard_timers: the board's timer callbacks may run in the interrupt."""
        self.slic = slic
        self.hard_timers = hard_timers
        self.hook_timer = hook_timer
        self.i2s_rx = i2s_rx
        self.i2s_tx = i2s_tx
        self.new_flag = new_flag
