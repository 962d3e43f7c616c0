"""tools/bench_transcribe.py: one row per batch size and per way of reading the long recording."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_prints_audio_wall_rtf_and_speed(load_script, capsys) -> None:
    tool = load_script("tools/bench_transcribe.py")
    config = REPO / "configs" / "speech_to_text" / "digits_bigru.yaml"  # smaller than the reference: a quick run
    args = ["--config", str(config), "--seconds", "4", "--utterance-seconds", "1", "--long-seconds", "6",
            "--chunk-seconds", "2", "--overlap-seconds", "0.5", "--threads", "1"]
    assert tool.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:28].strip(): line[28:].split() for line in lines[2:]}
    assert list(rows) == ["batch 1 (1 s utts)", "batch 8 (1 s utts)", "6 s file, whole", "6 s file, 2 s chunks"]
    for audio, wall, rtf, speed in rows.values():
        assert abs(float(rtf) - float(wall) / float(audio)) < 2e-3  # wall is printed to 0.01 s
        assert float(speed[:-1]) > 0
    assert [float(r[0]) for r in rows.values()] == [4.0, 4.0, 6.0, 6.0]
