"""DTMF talk-off, short version (the 30-minute count is in `make bench`): over two
minutes of espeak-ng speech in several voices and a minute of synthetic music, made
here, dsp.dtmf must report no more false digits than spandsp's dtmf_rx."""
import numpy as np
import pytest

from ata import bench
from ata.dtmf_cmd import detect_raw



def test_no_more_false_digits_than_spandsp(tmp_path):
    exe = bench.build_spandsp_ref(tmp_path / "spandsp_ref")
    speech = bench.make_speech(tmp_path / "speech", 120)
    assert sum(len(x) for x in speech) >= 120 * 8000
    sig = np.concatenate(speech + [bench.make_music(60, seed=11)])
    raw = tmp_path / "talkoff.raw"
    sig.astype("<i2").tofile(raw)
    ours = detect_raw([(raw, 0, len(sig))])[0]
    theirs = bench.spandsp_digits(exe, raw)
    print("false digits: dsp.dtmf %d %s, spandsp %d %s" % (len(ours), ours, len(theirs), theirs))
    assert len(ours) <= len(theirs), (ours, theirs)


def test_spandsp_reference_detects_real_digits(tmp_path):
    # the comparison above only means something if the reference hears digits at all
    exe = bench.build_spandsp_ref(tmp_path / "spandsp_ref")
    import dtmf_signals as S
    x, truth = S.sequence("123A", 70, 70)
    raw = tmp_path / "digits.raw"
    S.to_pcm(x).astype("<i2").tofile(raw)
    assert [t[2] for t in bench.spandsp_digits(exe, raw)] == list("123A")


def test_missing_corpus_text_is_an_error(tmp_path, monkeypatch):
    # no silent stand-in text: a missing licence file stops the corpus with a hint
    monkeypatch.setattr(bench, "LICENSES", tmp_path / "no-licences")
    with pytest.raises(RuntimeError, match="base-files"):
        bench.make_speech(tmp_path / "speech", 10)
