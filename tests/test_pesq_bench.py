"""Smoke test of the PESQ bench (tools/ata/pesq_bench.py): one espeak-ng sentence over
a clean path, the virtual phone <-> sim ATA <-> Kamailio <-> baresip, both ways, scored
against the G.711 ceiling. The full figures (impairment, baresip<->baresip, pacing)
are the bench's: `.venv/bin/python -m ata.pesq_bench`."""
import warnings

import numpy as np

from ata import pesq_bench

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (deprecated in 3.11, still an independent G.711)

# The bench holds the 0.05 figure over long speech. This 2.4 s smoke test catches a
# broken path (wrong law, gaps, one-way audio score below 2.5); one concealed frame
# on a loaded host already costs 0.4 here, so it must not be the place of that figure.
SMOKE_MARGIN = 0.6


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


def test_clean_call_scores_at_the_codec_ceiling(tmp_path):
    fig = pesq_bench.measure(tmp_path, pesq_bench.SENTENCES[:1], reps=1, impaired=False,
                             pacing=False, log=lambda text: None)
    ceiling = fig["ceiling"]
    assert 3.5 < ceiling < 4.5, ceiling
    clean = fig["ata_clean"]
    report = pesq_bench.report(fig)
    for d in ("to_far", "to_phone"):
        assert clean[d + "_rows"], "speech not found %s:\n%s" % (d, report)
        assert abs(ceiling - clean[d]) <= SMOKE_MARGIN, report
