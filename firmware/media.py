# Media pipeline of one line: every 20 ms frame from the I2S codec clock, the
# phone's audio goes to DTMF detection and (in a call) G.711 -> RTP; the earpiece
# gets a call-progress tone, or the far end's audio from RTP -> G.711 (with loss
# concealment), or silence. Buffers are made once; the frame path never allocates.
# A three-way conference (start_conference) adds a second RTP leg, mixed here by
# conference.py: the phone and the two far ends each hear the other two.
from array import array

import micropython
from micropython import const
from dsp import g711
from dsp.dtmf import DtmfDetector
from dsp.tone import ToneGen, dtmf_freqs, pair_steps
from dsp.tone import _zero as zero_fill  # array('h')[:] = ... allocates; this does not
from rtp import AUDIO, EVENT_CHARS, LOST
from rtp.roomy import roomy

FRAME_SAMPLES = 160      # 20 ms at 8 kHz
_N = const(160)          # the same, folded into the per-frame code
_TX_RING = 4             # earpiece frames prepared ahead of the codec, at most
_PREROLL = 2             # frames queued before the earpiece starts (again): a late
                         # frame then shifts the stream instead of cutting a gap in it

_DTMF_LEVEL_DBM0 = -10   # per tone, for keys the far end sends as RFC 4733 events
RTCP_FRAMES = 5          # RTCP looked after every 5th frame (100 ms): reports go every
                         # few seconds, and a report read 100 ms late changes nothing,
                         # while a look costs ~4.5 k x86 instructions (a socket poll)

_UNITY = 4096           # gain 1.0 in Q12
GAIN_DB_MAX = 12         # line.rx_gain_db / tx_gain_db: -12..+12 dB in whole dB


def gain_q12(db):
    """Gain `db` (whole dB) as a Q12 multiplier: round(4096 * 10^(db/20)); at +12 dB
    3.98 (16306), so a sample times it stays within 32 bits."""
    if not -GAIN_DB_MAX <= db <= GAIN_DB_MAX:
        raise ValueError("gain %r dB: -%d..%d" % (db, GAIN_DB_MAX, GAIN_DB_MAX))
    return int(_UNITY * 10 ** (db / 20) + 0.5)


@micropython.viper
def apply_gain(src: ptr16, dst: ptr16, n: int, q: int):
    """dst[i] = src[i] * q / 4096, rounded, saturated to int16 (no wrap). src may be dst."""
    end = uint(src) + uint(n + n)
    while uint(src) < end:
        x = int(src[0])
        if x & 0x8000:
            x -= 0x10000            # ptr16 loads are unsigned: sign-extend
        y = (x * q + 2048) >> 12    # arithmetic shift: rounds half up on both signs
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        dst[0] = y
        src = ptr16(uint(src) + 2)
        dst = ptr16(uint(dst) + 2)


@micropython.viper
def decode_with(data: ptr8, pcm: ptr16, n: int, tbl: ptr16):
    """G.711 decode through a 256-entry table of samples (a law's, gain included)."""
    end = uint(data) + uint(n)
    while uint(data) < end:
        pcm[0] = tbl[data[0]]
        data = ptr8(uint(data) + 1)
        pcm = ptr16(uint(pcm) + 2)


def _roomy_leg(rtp, plc):
    """A call leg's objects get attribute tables with room (rtp/roomy.py)."""
    roomy(rtp)
    roomy(rtp.jb)
    if plc is not None:
        roomy(plc)


_ENCODERS = {0: g711.ulaw_encode, 8: g711.alaw_encode}
_DECODERS = {0: g711.ulaw_decode, 8: g711.alaw_decode}


class Media:
    def __init__(self, port, log=print):
        self.i2s_rx = port.i2s_rx
        self.i2s_tx = port.i2s_tx
        self.log = log
        self.tone = ToneGen()
        self.rx_bufs = (array("h", bytes(2 * FRAME_SAMPLES)), array("h", bytes(2 * FRAME_SAMPLES)))
        self.tx_bufs = [array("h", bytes(2 * FRAME_SAMPLES)) for _ in range(_TX_RING)]
        # The same buffers as memoryviews, made once: the concealer moves a frame
        # given as a view with memmoves instead of viper copies (rtp.plc).
        self.tx_views = [memoryview(b) for b in self.tx_bufs]
        self.silence = array("h", bytes(2 * FRAME_SAMPLES))
        self.payload_out = bytearray(FRAME_SAMPLES)
        self.payload_in = bytearray(FRAME_SAMPLES)
        # Line gains (line.rx_gain_db / tx_gain_db) as Q12 multipliers; 4096 (0 dB)
        # changes nothing. Cost, counted with callgrind on the unix port over
        # bench/media_mpy.py's call frame (324 k instructions at 0 dB): apply_gain
        # on 160 samples adds ~10 k (~65 per sample in viper). So the rx gain is a
        # per-call decode table instead (the law's 256 samples times the gain,
        # clipped): the concealer and the earpiece get gained samples from the
        # decode itself, ~0 per frame (324.5 k at rx +6 dB). The tx gain cannot be
        # a table (65536 entries), so it multiplies (334 k at tx +6 dB), into
        # mic_gained: the codec's buffer stays as the phone sent it.
        self.rx_q = _UNITY
        self.tx_q = _UNITY
        self.rx_table = None     # array('h', 256): the call's law, times rx_q
        self._rx_table_for = None   # (pt, rx_q) the table was made for
        self._rx_buf = None
        self.mic_gained = array("h", bytes(2 * FRAME_SAMPLES))
        self.mute_tx = False     # the phone's DTMF digit goes as SIP INFO: silence instead
        self._rx_fill = 0        # rx buffer the codec is filling
        self._rx_ready = -1      # rx buffer completed and waiting to be processed
        self._tx_head = 0        # next tx buffer to prepare
        self._tx_tail = 0        # next tx buffer to hand to the codec
        self._tx_count = 0
        self._tx_need = _PREROLL  # frames that must be ready before one is played
        self.flag = port.new_flag()     # ThreadSafeFlag on a board
        self.rtp = None
        self.plc = None
        self.encode = None
        self.decode = None
        self.sending = False
        self.dtmf = DtmfDetector(on_digit=self._dtmf_end, on_start=self._dtmf_start)
        self.dtmf_listening = False   # only while off-hook: saves the work on-hook
        self.on_dtmf = None      # fn(digit, down): down at its start, not down at its end
        self.cid = None          # caller-ID sender, made on first use (dsp.callerid is big)
        self._far_keys = None    # the 16 RFC 4733 keys' tones (pair_steps), made at the first call
        self.on_call = None      # fn(active): the board's, e.g. Wi-Fi power saving off
        self.counts = {"frames": 0, "overruns": 0, "underruns": 0}
        self.quiet_frames = 0    # codec frames not processed: quiet (see _rx_done)
        # Three-way conference: leg A is the call above (rtp, plc, encode/decode), leg
        # B and the mixer are conference.Conference's (made at the first conference).
        self.conf = None
        self.conf_rtp = None     # leg B's RtpSession in a conference (see stop_call)
        self.in_conference = False
        self.last_rtp = None     # the last call's RTP source-check counters
        self.rtcp_wait = 1       # frames until RTCP is looked after (conference.py too)
        roomy(self)              # attribute tables with room: see rtp/roomy.py

    # -- codec callbacks (interrupt context on a board: no allocation) -------------
    def _rx_done(self, _i2s):
        if (self.rtp is None and not self.dtmf_listening and not self.tone.active
                and (self.cid is None or not self.cid.active)):
            # Quiet (on-hook, no call, tone or caller ID): nothing to hear or say, so
            # the media task is not woken; the codec refills the same buffer and the
            # earpiece plays the silence buffer once the ring is empty (_tx_done).
            # Idle cost per frame: this test instead of a task switch and a frame.
            self.quiet_frames += 1
            if self._tx_count == 0:
                self._tx_need = _PREROLL     # the ring ran dry on purpose: no underrun
            self.i2s_rx.readinto(self.rx_bufs[self._rx_fill])
            return
        if self._rx_ready >= 0:
            self.counts["overruns"] += 1
        self._rx_ready = self._rx_fill
        self._rx_fill ^= 1
        self.i2s_rx.readinto(self.rx_bufs[self._rx_fill])
        self.flag.set()

    def _tx_done(self, _i2s):
        if self._tx_count >= self._tx_need:
            buf = self.tx_bufs[self._tx_tail]
            self._tx_tail = (self._tx_tail + 1) % _TX_RING
            self._tx_count -= 1
            self._tx_need = 1
        else:
            buf = self.silence
            if self._tx_need == 1:
                self.counts["underruns"] += 1
                self._tx_need = _PREROLL
        self.i2s_tx.write(buf)

    def start(self):
        self.i2s_rx.irq(self._rx_done)
        self.i2s_tx.irq(self._tx_done)
        self.i2s_rx.readinto(self.rx_bufs[0])
        self.i2s_tx.write(self.silence)

    async def run(self):
        while True:
            await self.flag.wait()
            ready = self._rx_ready
            if ready < 0:
                continue
            self._rx_ready = -1
            self.frame(self.rx_bufs[ready])

    # -- one 20 ms frame ---------------------------------------------------------------
    def frame(self, mic):
        # Per frame. Few locals on purpose: a function whose locals and stack exceed
        # 11 words gets its frame from the heap at every call (MicroPython without a
        # Python stack, as on the ESP32): an allocation, a search of the heap for room
        # and a free. So attributes are read twice rather than kept in more locals.
        self.counts["frames"] += 1
        # The detector hears the phone before the tx gain: a user's gain does not
        # change which digits are detected (nor their level/twist checks).
        if self.dtmf_listening:
            self.dtmf.process(mic, _N)
        rtp = self.rtp
        if rtp is not None:
            if self.in_conference:
                self.conf.frame(self, mic, rtp)     # the legs and the earpiece
                return
            if self.sending:
                if self.mute_tx:
                    mic = self.silence          # a digit sent as SIP INFO: not in the audio
                elif self.tx_q != _UNITY:
                    apply_gain(mic, self.mic_gained, _N, self.tx_q)
                    mic = self.mic_gained
                self.encode(mic, self.payload_out, _N)
                rtp.send(self.payload_out)
            else:
                rtp.send(None)   # on hold: nothing sent, but the RTP clock runs on
            rtp.receive()
            self.rtcp_wait -= 1
            if self.rtcp_wait <= 0:
                self.rtcp_wait = RTCP_FRAMES
                rtp.rtcp_tick()
        if self._tx_count >= _TX_RING:
            return               # the codec is behind: drop this earpiece frame
        head = self._tx_head
        cid = self.cid
        if cid is not None and cid.active:
            cid.fill(self.tx_bufs[head], _N)
        elif self.tone.active:
            self.tone.fill(self.tx_bufs[head], _N)
        elif rtp is not None:
            self._far_end(rtp, head)
        else:
            zero_fill(self.tx_bufs[head], 0, _N)
        self._tx_head = (head + 1) % _TX_RING
        self._tx_count += 1      # not from a local: the codec callback decrements it

    def _far_end(self, rtp, head):
        out = self.tx_views[head]
        kind = rtp.pull(self.payload_in)
        if kind == AUDIO:
            if self.rx_table is None:
                self.decode(self.payload_in, out, _N)
            else:
                decode_with(self.payload_in, out, _N, self.rx_table)   # rx gain in it
            if self.plc is not None:
                self.plc.good(out)
        elif kind == LOST and self.plc is not None:
            self.plc.conceal(out)
        else:
            zero_fill(out, 0, _N)
            if self.plc is not None:
                self.plc.good(out)   # keeps the concealer's delay line in step

    def _dtmf_start(self, digit, _start_ms):
        if self.on_dtmf is not None:
            self.on_dtmf(digit, True)

    def _dtmf_end(self, digit, _start_ms, _end_ms):
        if self.on_dtmf is not None:
            self.on_dtmf(digit, False)

    # -- control -------------------------------------------------------------------
    def set_gains(self, rx_db, tx_db):
        """line.rx_gain_db (the far end's audio to the earpiece; call-progress tones
        and caller ID keep their plan's levels) and line.tx_gain_db (the phone's
        microphone to the network, after the DTMF detector)."""
        self.rx_q = gain_q12(rx_db)
        self.tx_q = gain_q12(tx_db)
        self._rx_table_for = None
        if self.rtp is not None:
            self._make_rx_table(0 if self.decode is _DECODERS[0] else 8)

    def listen_dtmf(self, on):
        if on and not self.dtmf_listening:
            self.dtmf.reset()
        self.dtmf_listening = on

    def caller_id(self, prepare):
        """Send caller ID: prepare(tx) calls one of CallerIdTx's send_*() methods."""
        if self.cid is None:
            from dsp.callerid import CallerIdTx
            self.cid = CallerIdTx()
        prepare(self.cid)

    def caller_id_active(self):
        return self.cid is not None and self.cid.active

    def caller_id_stop(self):
        if self.cid is not None:
            self.cid.stop()

    def play_tone(self, spec):
        if spec is None:
            self.tone.stop()
        else:
            f1, f2, level, cadence = spec
            self.tone.set(f1, f2, level, cadence)

    def _make_rx_table(self, pt):
        """The call's decode table with the rx gain in it (None at 0 dB)."""
        if self.rx_q == _UNITY:
            self.rx_table = None
            return
        if self._rx_table_for == (pt, self.rx_q):
            return
        tbl = self._rx_buf
        if tbl is None:
            tbl = self._rx_buf = array("h", bytes(512))    # once; kept for later calls
        _DECODERS[pt](bytes(range(256)), tbl, 256)
        apply_gain(tbl, tbl, 256, self.rx_q)
        self.rx_table = tbl
        self._rx_table_for = (pt, self.rx_q)

    def _far_event(self, code, ended):
        """An RFC 4733 event from the far end: the phone hears the DTMF key."""
        if ended or code > 15:       # 16 is flash: nothing to hear
            self.tone.stop()
        else:
            self.tone.start_pair(self._far_keys, code)   # set() would allocate here

    def start_call(self, rtp, pt, plc=None):
        if self._far_keys is None:
            self._far_keys = pair_steps([dtmf_freqs(EVENT_CHARS[code]) for code in range(16)],
                                        _DTMF_LEVEL_DBM0)
        rtp.on_event = self._far_event
        if self.on_call is not None:
            self.on_call(True)
        self.encode = _ENCODERS[pt]
        self.decode = _DECODERS[pt]
        self._make_rx_table(pt)
        _roomy_leg(rtp, plc)     # (the session has all its attributes now)
        self.plc = plc
        self.rtp = rtp
        self.sending = True

    def start_conference(self, rtp2, pt2, plc2=None):
        """In a call (start_call's rtp is leg A), add leg B: rtp2 (its remote set),
        payload type pt2 (0 PCMU, 8 PCMA; may differ from leg A's) and its own
        concealer plc2. From the next frame on the phone hears A + B, leg A is sent
        the phone + B, leg B the phone + A. Leg B's RFC 4733 keys play to the phone
        as leg A's do. Allocates the mixer's buffers at the first conference only."""
        if self.rtp is None:
            raise ValueError("no call to add a conference leg to")
        if pt2 not in _ENCODERS:
            raise ValueError("payload type %r: 0 (PCMU) or 8 (PCMA)" % (pt2,))
        if self.in_conference:
            raise ValueError("already in a conference")
        if self.conf is None:
            from conference import Conference
            self.conf = Conference()
        rtp2.on_event = self._far_event
        _roomy_leg(rtp2, plc2)
        self.conf.start(rtp2, _ENCODERS[pt2], _DECODERS[pt2], plc2)
        self.conf_rtp = rtp2
        self.in_conference = True

    def stop_conference(self):
        """Back to the two-party call with leg A: returns leg B's RtpSession (not
        closed: the caller's), or None when no conference runs."""
        if not self.in_conference:
            return None
        self.in_conference = False
        self.conf_rtp = None
        return self.conf.stop()

    def stop_all(self):
        """Tones, caller ID and call media off (the supervisor's safe state)."""
        self.tone.stop()
        self.caller_id_stop()
        self.stop_call()

    def stop_call(self):
        """Ends the call's media; returns leg A's RtpSession (not closed). In a
        conference, leg B leaves the pipeline too, but its session stays in
        media.conf_rtp for the caller to close (and set to None)."""
        if self.in_conference:
            self.in_conference = False
            self.conf.stop()         # conf_rtp is left for the caller
        if self.rtp is not None and self.on_call is not None:
            self.on_call(False)
        self.sending = False
        self.mute_tx = False
        rtp = self.rtp
        self.rtp = None
        if rtp is not None:
            self.last_rtp = rtp.guard()
        return rtp

    def status(self):
        s = dict(self.counts)
        s["frames"] += self.quiet_frames     # every codec frame, processed or quiet
        s["tone"] = self.tone.active
        s["in_call"] = self.rtp is not None
        s["in_conference"] = self.in_conference
        # RTP from sources nobody signalled (dropped), oversize datagrams, the port:
        # this call's, or the last call's once it ended.
        s["rtp"] = self.rtp.guard() if self.rtp is not None else self.last_rtp
        if self.in_conference:
            s["conf_rtp"] = self.conf_rtp.guard()
        return s
