"""tools/bench_loading.py on a few real WAV files (speeds are printed, not asserted)."""

import json

import numpy as np
import soundfile


def test_both_readers_timed_over_the_same_audio(load_script, tmp_path, capsys):
    tool = load_script("tools/bench_loading.py")
    lines = []
    for i in range(3):
        soundfile.write(tmp_path / f"u{i}.wav", np.zeros(8000 * (i + 1), dtype=np.float32), 8000)
        lines.append({"id": f"u{i}", "audio": f"u{i}.wav", "duration": float(i + 1), "text": "a", "speaker": "s"})
    lines.append({"id": "seg", "audio": "u2.wav", "start": 1.0, "duration": 1.0, "text": "a", "speaker": "s"})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "bench.json"
    assert tool.main(["--manifest", str(tmp_path / "m.jsonl"), "--rounds", "2", "--sample-rate", "8000", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["files"] == 4 and result["audio_seconds"] == 7.0 and len(result["rounds"]) == 2
    assert all(r["ratio"] == r["load_audio"] / r["soundfile"] > 0 for r in result["rounds"])
    assert "4 files, 7 s of audio" in capsys.readouterr().out
