"""Smoke test of the PESQ bench (tools/ata/pesq_bench.py): one espeak-ng sentence over
a clean path, the virtual phone <-> sim ATA <-> Kamailio <-> baresip, one call per
direction, each end recorded by a clocked player (the phone's earpiece; baresip's
playout through aubridge), scored against the G.711 ceiling. The figures (several
runs, impairment, baresip<->baresip, pacing) are the bench's:
`.venv/bin/python -m ata.pesq_bench`."""
import pathlib
import shutil
import tempfile
import warnings

import numpy as np

from ata import pesq_bench
from conftest import require_tool

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (deprecated in 3.11, still an independent G.711)

# The bench holds 0.05 as a mean over runs of long speech. Here a 2.4 s sentence
# is scored three times per call and the best must be within 0.1: a host stall on a
# shared 2-core machine (one late packet concealed, about 0.4 on 2.4 s) hits one
# occurrence, while a broken path (wrong law, gaps, one-way audio) spoils all three;
# test_smoke_bound_fails_on_a_broken_path checks that it does.
SMOKE_MARGIN = 0.1
SMOKE_OCCURRENCES = 3
HINT = "run `make setup` (tools/setup.sh installs espeak-ng, sox, kamailio, baresip-core; " \
       "requirements.txt pins pesq)"


def require_bench_tools():
    for tool in ("espeak-ng", "sox", "kamailio", "baresip"):
        require_tool(tool, HINT)
    try:
        import pesq  # noqa: F401
    except ImportError:
        require_tool("pesq (PyPI)", HINT)


def test_offline_ulaw_is_g711():
    x = np.arange(-32768, 32768, dtype=np.int16)
    codes = pesq_bench.ulaw_encode(x)
    want = np.frombuffer(audioop.lin2ulaw(x.tobytes(), 2), np.uint8)
    assert np.array_equal(codes, want)
    back = pesq_bench.ulaw_decode(np.arange(256))
    assert np.array_equal(back, np.frombuffer(audioop.ulaw2lin(bytes(range(256)), 2), "<i2"))


def test_alignment_finds_a_delayed_copy_and_slips():
    rng = np.random.default_rng(3)
    ref = (rng.standard_normal(8000) * 3000).astype(np.int16)
    rec = np.concatenate([np.zeros(1234, np.int16), ref, np.zeros(4000, np.int16)])
    (start, corr), = pesq_bench.find_occurrences(ref, rec, 12000, 0, 1)
    assert start == 1234 and corr > 0.99, (start, corr)
    assert pesq_bench.slips(ref, rec, 1234) == 0
    slipped = np.concatenate([rec[:1234 + 4000], np.zeros(160, np.int16), rec[1234 + 4000:]])
    assert pesq_bench.slips(ref, slipped, 1234) == 1


def _best_gap(speech, rec, ceiling):
    """(rows, ceiling - best occurrence's score) as the smoke test judges a recording."""
    unit = pesq_bench.padded(speech, pesq_bench.PAD_S)
    rows = pesq_bench.score_recording(speech, rec, len(unit), SMOKE_OCCURRENCES)
    return rows, ceiling - max(sc for _, _, sc, _ in rows)


def test_smoke_bound_fails_on_a_broken_path(tmp_path):
    """Offline: the ceiling's own recording passes; a lost frame every second, or the
    mu-law codes decoded as A-law, miss the bound in every occurrence."""
    require_bench_tools()
    speech = pesq_bench.make_speech(tmp_path, pesq_bench.SENTENCES[:1])
    unit = pesq_bench.padded(speech, pesq_bench.PAD_S)
    codes = pesq_bench.ulaw_encode(np.tile(unit, SMOKE_OCCURRENCES + 2))
    good = pesq_bench.ulaw_decode(codes)
    ref = pesq_bench.padded(speech, pesq_bench.SCORE_PAD_S)
    ceiling = pesq_bench.pesq_nb(ref, pesq_bench.ulaw_decode(pesq_bench.ulaw_encode(ref)))
    rows, gap = _best_gap(speech, good, ceiling)
    assert len(rows) == SMOKE_OCCURRENCES and gap <= SMOKE_MARGIN, (rows, ceiling)
    gappy = good.copy()
    for k in range(0, len(gappy), 8000):            # one 20 ms frame zeroed per second
        gappy[k + 4000:k + 4160] = 0
    rows, gap = _best_gap(speech, gappy, ceiling)
    assert gap > SMOKE_MARGIN, (rows, ceiling)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        alaw = np.frombuffer(audioop.alaw2lin(codes.astype(np.uint8).tobytes(), 2), "<i2")
    rows, gap = _best_gap(speech, alaw, ceiling)
    assert not rows or gap > SMOKE_MARGIN, (rows, ceiling)


def test_clean_call_best_of_three_within_0_1_of_the_ceiling_each_way():
    require_bench_tools()
    # not tmp_path: Kamailio's control socket lives in the work folder, and a Unix
    # socket path must fit 104 bytes (pytest's folders run past that)
    out = pathlib.Path(tempfile.mkdtemp(prefix="pesq-"))
    try:
        fig = pesq_bench.measure(out, pesq_bench.SENTENCES[:1], reps=SMOKE_OCCURRENCES,
                                 runs=1, impaired=False, b2b=False, pacing=False,
                                 log=lambda text: None)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    ceiling = fig["ceiling"]
    assert 3.5 < ceiling < 4.5, ceiling
    report = pesq_bench.report(fig)
    for d in pesq_bench.DIRECTIONS:
        run, = fig["runs"]["ata/clean"][d]
        rows = run["rows"]
        # every occurrence present: no one-way audio, no long gap
        assert len(rows) == SMOKE_OCCURRENCES, "speech missing %s:\n%s" % (d, report)
        best = max(sc for _, _, sc, _ in rows)
        assert ceiling - best <= SMOKE_MARGIN, report
