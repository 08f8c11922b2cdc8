# MicroPython bench driver for `ata bench`: runs one DSP function over every 20 ms
# frame of a raw 16-bit file, REPS times. callgrind counts the instructions of two REPS
# values and `ata bench` divides the difference by the frames, so start-up and loading
# cancel. Mode "none" is the same loop without the DSP call (its cost is subtracted).
#   micropython bench/mpy_bench.py MODE FILE.raw REPS [alloc]
# With "alloc": prints the heap bytes allocated per frame in steady state (gc off).
import gc
import sys
from array import array

FRAME = 160


def _load(path):
    with open(path, 'rb') as f:
        data = f.read()
    return array('h', data)


def _setup(mode, pcm):
    # Returns fn(frame_memoryview) doing one frame's work.
    codes = bytearray(FRAME)
    out = array('h', bytes(2 * FRAME))
    if mode == 'none':
        return lambda fr: None
    if mode in ('dtmf', 'dtmf_ref'):
        if mode == 'dtmf':
            from dsp.dtmf import DtmfDetector
        else:
            from dsp.dtmf_ref import DtmfDetector
        det = DtmfDetector()
        p = det.process
        return lambda fr: p(fr, FRAME)
    if mode.startswith('ulaw') or mode.startswith('alaw'):
        if mode.endswith('_ref'):
            import dsp.g711_ref as g
        else:
            import dsp.g711 as g
        law = mode[:4]
        if '_enc' in mode:
            enc = getattr(g, law + '_encode')
            return lambda fr: enc(fr, codes, FRAME)
        dec = getattr(g, law + '_decode')
        # decode input: the low byte of each sample as a code, like the C reference
        allcodes = bytearray(len(pcm))
        for i in range(len(pcm)):
            allcodes[i] = pcm[i] & 0xFF
        return ('dec', dec, memoryview(allcodes), out)
    if mode in ('tone', 'tone_ref'):
        if mode == 'tone':
            from dsp.tone import ToneGen
        else:
            from dsp.tone_ref import ToneGen
        g = ToneGen()
        g.set(350, 440, -13)     # US dial tone, like the C reference
        f = g.fill
        return lambda fr: f(out, FRAME)
    raise ValueError(mode)


def main():
    mode = sys.argv[1]
    pcm = _load(sys.argv[2])
    reps = int(sys.argv[3])
    alloc = len(sys.argv) > 4 and sys.argv[4] == 'alloc'
    nf = len(pcm) // FRAME
    fn = _setup(mode, pcm)
    if isinstance(fn, tuple):
        # decoders: frames are slices of the code buffer
        _, dec, mv, out = fn
        frames = [mv[i * FRAME:(i + 1) * FRAME] for i in range(nf)]
        fn = lambda fr: dec(fr, out, FRAME)
    else:
        base = memoryview(pcm)
        frames = [base[i * FRAME:(i + 1) * FRAME] for i in range(nf)]
    if alloc:
        for fr in frames:       # warm up: first-use allocations are not steady state
            fn(fr)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for fr in frames:
            fn(fr)
        b = gc.mem_alloc()
        gc.enable()
        print('alloc_per_frame', (b - a) / nf)
        return
    for _ in range(reps):
        for fr in frames:
            fn(fr)


main()
