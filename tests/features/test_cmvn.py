"""Utterance, speaker and global CMVN over valid frames; global statistics travel in the state_dict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from seqkit.features.cmvn import GlobalCMVN, SpeakerCMVN, UtteranceCMVN


def _padded(lengths: list[int], dim: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features with a non-zero mean and non-unit scale per dimension; padding is garbage."""
    generator = torch.Generator().manual_seed(seed)
    feats = 50 * torch.randn(len(lengths), max(lengths), dim, generator=generator)  # garbage everywhere
    for b, n in enumerate(lengths):
        scale = torch.arange(1, dim + 1, dtype=torch.float32) * 3
        feats[b, :n] = torch.randn(n, dim, generator=generator) * scale + 10 * (b + 1)
    return feats, torch.tensor(lengths)


@pytest.mark.parametrize("normalize_variance", [True, False])
def test_utterance_cmvn_over_valid_frames(normalize_variance) -> None:
    lengths = [20, 7, 13]
    feats, lens = _padded(lengths)
    out = UtteranceCMVN(normalize_variance)(feats, lens)
    assert out.shape == feats.shape
    for b, n in enumerate(lengths):
        valid = out[b, :n]
        torch.testing.assert_close(valid.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
        if normalize_variance:
            # Population variance (divide by n), up to the 1e-5 epsilon.
            torch.testing.assert_close(valid.var(0, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
        else:
            torch.testing.assert_close(valid, feats[b, :n] - feats[b, :n].mean(0), atol=1e-4, rtol=0)
        assert torch.all(out[b, n:] == 0)


def test_utterance_cmvn_alone_equals_batched() -> None:
    lengths = [9, 3]
    feats, lens = _padded(lengths, seed=1)
    cmvn = UtteranceCMVN()
    batched = cmvn(feats, lens)
    for b, n in enumerate(lengths):
        alone = cmvn(feats[b : b + 1, :n], lens[b : b + 1])
        torch.testing.assert_close(batched[b, :n], alone[0], atol=1e-6, rtol=1e-6)


def test_utterance_cmvn_zero_length_is_all_zero_and_finite() -> None:
    feats, _ = _padded([5, 5])
    out = UtteranceCMVN()(feats, torch.tensor([5, 0]))
    assert torch.isfinite(out).all()
    assert torch.all(out[1] == 0)


def _write_stats(path: Path, mean: list[float], std: list[float]) -> Path:
    path.write_text(json.dumps({"mean": mean, "std": std}))
    return path


def test_global_cmvn_from_stats_file(tmp_path: Path) -> None:
    mean, std = [1.0, -2.0, 3.0], [2.0, 0.5, 4.0]
    cmvn = GlobalCMVN(str(_write_stats(tmp_path / "cmvn.json", mean, std)))
    feats, lens = _padded([6, 2], dim=3)
    out = cmvn(feats, lens)
    expected = (feats - torch.tensor(mean)) / (torch.tensor(std) + 1e-5)
    torch.testing.assert_close(out[0], expected[0], atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(out[1, :2], expected[1, :2], atol=1e-5, rtol=1e-6)
    assert torch.all(out[1, 2:] == 0)


def test_global_cmvn_expands_seqkit_data(tmp_path: Path, monkeypatch) -> None:
    _write_stats(tmp_path / "stats.json", [0.5], [2.0])
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    cmvn = GlobalCMVN("${SEQKIT_DATA}/stats.json")
    torch.testing.assert_close(cmvn.mean, torch.tensor([0.5]))


class _Model(nn.Module):
    def __init__(self, stats_file: str) -> None:
        super().__init__()
        self.cmvn = GlobalCMVN(stats_file)


def test_global_cmvn_without_stats_file_loads_from_state_dict(tmp_path: Path) -> None:
    """A checkpoint loads on a machine where the stats file is gone: the buffers come from it."""
    stats = _write_stats(tmp_path / "cmvn.json", [1.0, 2.0], [3.0, 4.0])
    trained = _Model(str(stats))
    state = trained.state_dict()
    assert set(state) == {"cmvn.mean", "cmvn.std"}

    elsewhere = _Model(str(tmp_path / "missing" / "cmvn.json"))
    assert elsewhere.cmvn.mean.numel() == 0
    elsewhere.load_state_dict(state)  # strict: shapes adopted from the checkpoint
    torch.testing.assert_close(elsewhere.cmvn.mean, torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(elsewhere.cmvn.std, torch.tensor([3.0, 4.0]))
    # Still registered buffers (saved again, moved with .to()), not plain attributes.
    assert set(elsewhere.state_dict()) == {"cmvn.mean", "cmvn.std"}
    feats, lens = _padded([3], dim=2)
    torch.testing.assert_close(elsewhere.cmvn(feats, lens), trained.cmvn(feats, lens))


def test_global_cmvn_state_dict_round_trips_through_torch_save(tmp_path: Path) -> None:
    stats = _write_stats(tmp_path / "cmvn.json", [0.0, 1.0, 2.0], [1.0, 1.0, 2.0])
    torch.save(_Model(str(stats)).state_dict(), tmp_path / "ckpt.pt")
    restored = _Model(str(tmp_path / "nope.json"))
    restored.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    torch.testing.assert_close(restored.cmvn.std, torch.tensor([1.0, 1.0, 2.0]))


def test_global_cmvn_with_stats_file_rejects_mismatched_checkpoint(tmp_path: Path) -> None:
    stats = _write_stats(tmp_path / "cmvn.json", [0.0, 0.0], [1.0, 1.0])
    model = _Model(str(stats))
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict({"cmvn.mean": torch.zeros(3), "cmvn.std": torch.ones(3)})


def test_global_cmvn_without_stats_raises_clearly(tmp_path: Path) -> None:
    cmvn = GlobalCMVN(str(tmp_path / "missing.json"))
    feats, lens = _padded([3], dim=2)
    with pytest.raises(RuntimeError, match="no statistics.*compute_cmvn"):
        cmvn(feats, lens)


def test_channel_standardizer_uses_the_given_statistics_and_zeroes_padding() -> None:
    from seqkit.features.cmvn import ChannelStandardizer

    standardize = ChannelStandardizer([1.0, 10.0], [2.0, 5.0])
    x = torch.tensor([[[3.0, 20.0], [1.0, 10.0], [9.0, 9.0]]])  # (1, 3, 2), last step padding
    out = standardize(x, torch.tensor([2]))
    torch.testing.assert_close(out, torch.tensor([[[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]]))
    assert "mean" not in standardize.state_dict()  # rebuilt from its arguments, not loaded
    with pytest.raises(ValueError, match="3 channels"):
        standardize(torch.zeros(1, 2, 3), torch.tensor([2]))
    with pytest.raises(ValueError, match="one value per channel"):
        ChannelStandardizer([1.0], [1.0, 2.0])


def test_speaker_cmvn_uses_each_speakers_frames_over_all_their_utterances() -> None:
    feats, lengths = _padded([5, 3, 7, 4])
    speakers = ["a", "b", "a", "b"]
    norm = SpeakerCMVN()
    norm.accumulate(feats[:2], lengths[:2], speakers[:2])  # statistics may come in several batches
    norm.accumulate(feats[2:], lengths[2:], speakers[2:])
    norm.finish()
    for speaker, rows in (("a", [0, 2]), ("b", [1, 3])):
        frames = torch.cat([feats[r, : lengths[r]] for r in rows]).double()  # valid frames only
        mean, std = norm.stats[speaker]
        assert torch.allclose(mean.double(), frames.mean(0), atol=1e-4)
        assert torch.allclose(std.double(), frames.std(0, unbiased=False), rtol=1e-4)
    out = norm(feats, lengths, speakers)
    for speaker, rows in (("a", [0, 2]), ("b", [1, 3])):
        normalized = torch.cat([out[r, : lengths[r]] for r in rows])
        assert torch.allclose(normalized.mean(0), torch.zeros(4), atol=1e-4)  # zero mean, unit variance per speaker,
        assert torch.allclose(normalized.std(0, unbiased=False), torch.ones(4), atol=1e-3)
        assert not torch.allclose(out[rows[0], : lengths[rows[0]]].mean(0), torch.zeros(4), atol=0.1)  # not per utterance
    for b, n in enumerate(lengths.tolist()):
        assert out[b, n:].abs().sum() == 0


def test_speaker_cmvn_needs_speakers_with_statistics() -> None:
    feats, lengths = _padded([3, 2])
    norm = SpeakerCMVN()
    norm.accumulate(feats, lengths, ["a", "a"])
    norm.finish()
    with pytest.raises(KeyError, match=r"\['z'\]"):
        norm(feats, lengths, ["a", "z"])
    with pytest.raises(ValueError, match="needs each utterance's speaker"):
        norm(feats, lengths)
    norm.reset()
    with pytest.raises(KeyError, match="no statistics"):
        norm(feats, lengths, ["a", "a"])
