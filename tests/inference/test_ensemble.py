"""EnsembleTranscriber: every member decodes, the transcript closest to the others is kept."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from seqkit.data.tokenizer import CharTokenizer
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.cmvn import UtteranceCMVN
from seqkit.features.spectral import LogMelFilterbank
from seqkit.inference.ensemble import EnsembleTranscriber, closest_to_the_others
from seqkit.inference.reader import TensorReader
from seqkit.inference.transcriber import Transcriber
from seqkit.tasks.speech_to_text import SpeechToText

STATE = CharTokenizer().fit(["yes no", "no yes yes"]).state()


def make_transcriber(seed: int, sample_rate: int = 8000) -> Transcriber:
    torch.manual_seed(seed)
    task = SpeechToText(
        tokenizer=STATE,
        features=LogMelFilterbank(sample_rate=sample_rate, n_mels=16),
        normalizer=UtteranceCMVN(),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=16, num_layers=1, stack_frames=2),
    ).eval()
    return Transcriber(task, batch_size=2)


def test_a_minority_error_is_outvoted() -> None:
    truth = "ken lo ken ken"
    assert closest_to_the_others(["ken lo ken ken ken", truth, truth]) == truth  # an insertion
    assert closest_to_the_others([truth, "ken ken ken ken", "lo lo ken ken", truth]) == truth
    assert closest_to_the_others(["a b", "a c"]) == "a b"  # a tie: the earlier member
    assert closest_to_the_others(["only one"]) == "only one"


def test_each_transcript_is_the_members_most_agreed_one() -> None:
    members = [make_transcriber(seed) for seed in (0, 1, 2)]
    waves = [torch.randn(n) for n in (4000, 6000, 9000)]
    per_member = [m.transcribe(waves) for m in members]
    assert len({tuple(texts) for texts in per_member}) > 1  # untrained members really differ
    ensemble = EnsembleTranscriber(members, ["a", "b", "c"])
    assert ensemble.hypotheses(waves) == [list(h) for h in zip(*per_member)]  # (recordings, members)
    assert ensemble.transcribe(waves) == [closest_to_the_others(list(h)) for h in zip(*per_member)]


def test_long_recordings_too_with_progress_over_all_members() -> None:
    members = [make_transcriber(seed) for seed in (0, 1, 2)]
    wave = torch.randn(8000 * 7)  # 7 s in windows of 2 s
    hypotheses = [m.transcribe_long(TensorReader(wave, 8000), 2.0, 0.5) for m in members]
    calls: list[tuple[int, int]] = []
    text = EnsembleTranscriber(members, ["a", "b", "c"]).transcribe_long(
        TensorReader(wave, 8000), 2.0, 0.5, lambda done, total: calls.append((done, total))
    )
    assert text == closest_to_the_others(hypotheses)
    assert calls[-1][0] == calls[-1][1] and len({total for _, total in calls}) == 1  # one bar, filled once
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_one_model_twice_is_the_model() -> None:
    member = make_transcriber(0)
    waves = [torch.randn(5000), torch.randn(7000)]
    assert EnsembleTranscriber([member, member], ["a", "a"]).transcribe(waves) == member.transcribe(waves)


def test_members_must_read_one_sample_rate() -> None:
    with pytest.raises(ValueError, match=r"a.ckpt, b.ckpt: .*same sample rate, got \[8000, 16000\]"):
        EnsembleTranscriber([make_transcriber(0), make_transcriber(1, sample_rate=16000)], ["a.ckpt", "b.ckpt"])
