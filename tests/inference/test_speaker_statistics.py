"""Per-speaker statistics for inference: block spans, speaker grouping, and statistics read in blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from seqkit.commands.checkpoint import load_task
from seqkit.data.audio import load_audio
from seqkit.inference import speaker_statistics
from seqkit.inference.inputs import InputItem
from seqkit.inference.speaker_statistics import block_bounds, collect_speaker_statistics, speakers_of


@pytest.mark.parametrize("total, block, align", [(100, 30, 1), (95, 30, 3), (10, 30, 1), (91, 30, 1), (120, 30, 7)])
def test_block_bounds_cover_the_recording_once_with_aligned_starts(total: int, block: int, align: int) -> None:
    bounds = block_bounds(total, block, align)
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(bounds, bounds[1:]))
    assert all(start % align == 0 for start, _ in bounds)
    if len(bounds) > 1:  # no short tail: it joins the block before
        assert min(stop - start for start, stop in bounds) >= block // align * align // 2


def test_short_tail_joins_the_last_block() -> None:
    assert block_bounds(100, 30, 1) == [(0, 30), (30, 60), (60, 100)]  # a tail of 10 < 15
    assert block_bounds(105, 30, 1) == [(0, 30), (30, 60), (60, 90), (90, 105)]  # 15 is half a block: kept
    assert block_bounds(20, 30, 1) == [(0, 20)]  # shorter than a block: whole
    assert block_bounds(100, 30, 7) == [(0, 28), (28, 56), (56, 84), (84, 100)]  # blocks of whole align steps


def test_speakers_come_from_the_option_then_the_manifest_then_the_recording() -> None:
    items = [InputItem(id="a", path="a.wav", speaker="ann"), InputItem(id="b", path="b.wav"), InputItem(id="c", path="b.wav")]
    assert speakers_of(items, "zoe") == ["zoe"] * 3
    mixed = speakers_of(items, None)
    assert mixed[0] == "ann"
    assert len(set(mixed)) == 3  # the same file listed twice is still two recordings, never pooled by accident


def test_statistics_read_in_blocks_match_the_whole_recording(
    speaker_ckpt: Path, digits_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waves = [load_audio(str(p), 16000) for p in sorted((digits_corpus / "wav").glob("train_*.wav"))[:12]]
    long = torch.cat(waves)  # (S,) ~15 s
    path = tmp_path / "long.flac"
    sf.write(path, long.numpy(), 16000)
    task = load_task(speaker_ckpt)
    with torch.no_grad():
        feats = task.features(load_audio(str(path), 16000).unsqueeze(0), torch.tensor([long.numel()]))[0][0].double()
    monkeypatch.setattr(speaker_statistics, "BLOCK_SECONDS", 2.0)  # ~8 blocks
    unreadable = tmp_path / "broken.wav"
    unreadable.write_bytes(b"RIFF not audio")
    items = [InputItem(id="long", path=str(path)), InputItem(id="broken", path=str(unreadable)),
             InputItem(id="missing", path=str(tmp_path / "missing.wav"))]
    count = collect_speaker_statistics(task, items, ["ann", "bob", "cid"])
    assert count == 1 and set(task.normalizer.stats) == {"ann"}  # unreadable ones are left to the decoding pass
    mean, std = task.normalizer.stats["ann"]
    # Block edges change a few frames of ~1,500: the statistics move by a small fraction of a std.
    torch.testing.assert_close(mean.double(), feats.mean(0), atol=0.02 * float(feats.std(0).min()), rtol=0)
    torch.testing.assert_close(std.double(), feats.std(0, unbiased=False), rtol=0.01, atol=0)


def test_a_model_without_per_speaker_cmvn_is_refused(digits_ckpt: Path) -> None:
    with pytest.raises(ValueError, match="does not normalise by speaker"):
        collect_speaker_statistics(load_task(digits_ckpt), [], [])


def test_silence_only_recording_gets_statistics_without_nan(speaker_ckpt: Path, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    task = load_task(speaker_ckpt)
    collect_speaker_statistics(task, [InputItem(id="s", path=str(path))], ["s"])
    mean, std = task.normalizer.stats["s"]
    assert torch.isfinite(mean).all() and (std > 0).all()
