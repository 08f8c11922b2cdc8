"""`ata dtmf FILE.wav`: digits and times from a WAV made here; clear errors otherwise."""
import subprocess
import wave

import numpy as np
import pytest

from conftest import ROOT, VENV_BIN
import dtmf_signals as S
from ata import dtmf_cmd

ATA = str(VENV_BIN / "ata")



def _wav(path, pcm, rate=8000, channels=1, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


@pytest.fixture(scope="module")
def digits_wav(tmp_path_factory):
    x, truth = S.sequence("159#D0", 70, 80, lead_ms=100)
    path = _wav(tmp_path_factory.mktemp("cli") / "digits.wav",
                S.to_pcm(x).astype("<i2").tobytes())
    return path, truth


def test_prints_each_digit_with_times(digits_wav):
    path, truth = digits_wav
    r = subprocess.run([ATA, "dtmf", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [line.split() for line in r.stdout.splitlines()]
    assert [d for _, _, d in lines] == [d for _, _, d in truth], r.stdout
    for (s, e, _), (ts, te, _) in zip(lines, truth):
        assert abs(int(s) - ts) <= 16 and abs(int(e) - te) <= 16, (lines, truth)


def test_frame_size_does_not_change_the_result(digits_wav, capsys):
    path, _ = digits_wav
    outs = []
    for frame in ("160", "1", "333"):
        assert dtmf_cmd.main([str(path), "--frame", frame]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2] and outs[0].count("\n") == 6


def test_silence_prints_nothing(tmp_path, capsys):
    path = _wav(tmp_path / "quiet.wav", bytes(16000))
    assert dtmf_cmd.main([str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_extra_chunks_and_truncated_data(tmp_path, capsys):
    # a LIST chunk before the data and a data length beyond the end of the file
    x, _ = S.sequence("7", 80, 80)
    data = S.to_pcm(x).astype("<i2").tobytes()
    fmt = b"fmt " + (16).to_bytes(4, "little") + bytes.fromhex("0100 0100 401f0000 803e0000 0200 1000")
    lst = b"LIST" + (5).to_bytes(4, "little") + b"INFOx" + b"\0"
    body = b"WAVE" + fmt + lst + b"data" + (len(data) + 1000).to_bytes(4, "little") + data
    path = tmp_path / "odd.wav"
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    assert dtmf_cmd.main([str(path)]) == 0
    assert capsys.readouterr().out.split()[2::3] == ["7"]


@pytest.mark.parametrize("kind,message", [
    ("rate16k", "sample rate 16000 Hz, need 8000 Hz"),
    ("stereo", "2 channels, need mono"),
    ("8bit", "8-bit samples, need 16-bit"),
    ("ulaw", "not linear PCM (format tag 7)"),
    ("text", "not a WAV file"),
    ("empty", "not a WAV file"),
    ("missing", "cannot open"),
])
def test_rejects_other_files(tmp_path, kind, message):
    path = tmp_path / ("in-" + kind + ".wav")
    pcm = bytes(1600)
    if kind == "rate16k":
        _wav(path, pcm, rate=16000)
    elif kind == "stereo":
        _wav(path, pcm, channels=2)
    elif kind == "8bit":
        _wav(path, pcm, width=1)
    elif kind == "ulaw":
        src = _wav(tmp_path / "lin.wav", pcm)
        subprocess.run(["sox", str(src), "-e", "u-law", str(path)], check=True)
    elif kind == "text":
        path.write_text("1 2 3\n")
    elif kind == "empty":
        path.write_bytes(b"")
    r = subprocess.run([ATA, "dtmf", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert r.stdout == ""
    assert message in r.stderr and str(path) in r.stderr, r.stderr
