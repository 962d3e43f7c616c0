"""Transcriber: batches of waveforms and long recordings in windows through a tiny (untrained) CTC model.

An untrained model's outputs are arbitrary but deterministic, so each check compares the
transcriber with the same model run another way (alone, whole, greedily).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from seqkit.data.audio import load_audio
from seqkit.data.tokenizer import CharTokenizer, SentencePieceTokenizer
from seqkit.decoding.beam import BeamSearchDecoder
from seqkit.decoding.greedy import greedy_decode
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.cmvn import SpeakerCMVN, UtteranceCMVN
from seqkit.features.spectral import LogMelFilterbank
from seqkit.inference.chunking import model_geometry
from seqkit.inference.reader import BlockReader, TensorReader
from seqkit.inference.transcriber import Transcriber
from seqkit.tasks.speech_to_text import SpeechToText

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["yes no", "no yes yes"]
# A phoneme tokenizer's plain-data state, as a checkpoint holds it (no CMUdict lookup needed).
PHONEMES = {"kind": "phoneme", "tokens": ["<blank>", " ", "EH", "N", "OW", "S", "Y"],
            "words": {"yes": ["Y", "EH", "S"], "no": ["N", "OW"]}, "counts": {"yes": 3, "no": 2},
            "extra": {}, "lowercase": True, "strip_punctuation": True}


def speech_task(tokenizer: dict | None = None, normalizer=None) -> SpeechToText:
    """A random-weight 8 kHz CTC model (char tokenizer of TEXTS unless given), in evaluation mode."""
    torch.manual_seed(0)
    return SpeechToText(
        tokenizer=tokenizer or CharTokenizer().fit(TEXTS).state(),
        features=LogMelFilterbank(sample_rate=8000, n_mels=16),
        normalizer=normalizer or UtteranceCMVN(),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=16, num_layers=1, stack_frames=2),
    ).eval()


@pytest.fixture(scope="module")
def task() -> SpeechToText:
    return speech_task()


@pytest.fixture(scope="module")
def waves() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(n, generator=generator) * 0.1 for n in (4000, 9000, 6500)]


def test_batch_size_must_be_positive_and_the_rate_is_the_models(task) -> None:
    with pytest.raises(ValueError, match="batch size must be >= 1, got 0"):
        Transcriber(task, batch_size=0)
    assert Transcriber(task).sample_rate == 8000


def test_each_waveform_gets_its_own_frames_whatever_the_batch(task, waves) -> None:
    labels = Transcriber(task).frames(waves)
    log_probs = Transcriber(task, beam=BeamSearchDecoder()).frames(waves)  # beam search keeps (T, V)
    for wave, kept, scores in zip(waves, labels, log_probs):
        # Trimmed to the model's own frame count: no padded frame is decoded.
        assert kept.dtype == torch.int64 and kept.shape == (task.output_frames(wave.numel() / 8000),)
        assert scores.shape == (kept.numel(), task.tokenizer.vocab_size) and scores.dtype == torch.float32
        torch.testing.assert_close(scores.logsumexp(-1), torch.zeros(kept.numel()), atol=1e-5, rtol=0)
        assert torch.equal(scores.argmax(-1), kept)
        alone = Transcriber(task, beam=BeamSearchDecoder()).frames([wave])[0]
        torch.testing.assert_close(scores, alone, atol=1e-5, rtol=0)  # padding never reaches a shorter one


def test_greedy_texts_are_the_collapsed_best_paths(task, waves) -> None:
    texts = Transcriber(task).transcribe(waves)
    with torch.no_grad():
        log_probs, lengths = task(torch.nn.utils.rnn.pad_sequence(waves, batch_first=True),
                                  torch.tensor([w.numel() for w in waves]))
    paths = greedy_decode(log_probs, lengths, task.tokenizer.blank_id)
    assert texts == [task.tokenizer.decode(ids) for ids in paths]
    assert any(texts)  # the premise: not all blank


def test_beam_search_reads_lexicon_words_and_each_recording_alone(task, waves, tmp_path: Path) -> None:
    beam = BeamSearchDecoder(beam_size=8)
    beam.prepare(task.tokenizer, TEXTS, tmp_path)
    transcriber = Transcriber(task, beam=beam)
    texts = transcriber.transcribe(waves)
    assert any(texts) and all(set(text.split()) <= {"yes", "no"} for text in texts)
    # Each sequence decoded over its own frames only: batched equals one by one.
    assert texts == [transcriber.transcribe([wave])[0] for wave in waves]


def test_phonemes_are_the_greedy_ones_whatever_the_decoder(waves) -> None:
    phoneme_task = speech_task(PHONEMES)
    greedy = Transcriber(phoneme_task)
    pieces = SentencePieceTokenizer(vocab_size=12).fit(TEXTS).state()
    assert greedy.reads_phonemes and not any(Transcriber(speech_task(t)).reads_phonemes for t in (None, pieces))
    phones = greedy.phonemes(greedy.frames(waves))
    assert phones == greedy.phonemes(Transcriber(phoneme_task, beam=BeamSearchDecoder()).frames(waves))
    assert any(phones)
    # Phonemes only, no blank or word boundary; decode reads the same frames as words.
    assert all(set(p.split()) <= {"EH", "N", "OW", "S", "Y"} for p in phones)
    assert all(set(text.split()) <= {"yes", "no"} for text in greedy.decode(greedy.frames(waves)))


@pytest.fixture(scope="module")
def by_speaker(waves) -> SpeechToText:
    """A per-speaker CMVN model whose speakers have different statistics: ann quiet, bob loud."""
    task = speech_task(normalizer=SpeakerCMVN())
    with torch.no_grad():
        for speaker, gain in (("ann", 1.0), ("bob", 20.0)):
            wave = waves[1] * gain
            task.normalizer.accumulate(*task.features(wave[None], torch.tensor([wave.numel()])), [speaker])
    task.normalizer.finish()
    return task


def test_each_row_is_normalised_by_its_own_speaker(by_speaker, waves) -> None:
    transcriber = Transcriber(by_speaker, beam=BeamSearchDecoder())
    both = transcriber.frames(waves[:2], ["ann", "bob"])
    torch.testing.assert_close(both[0], transcriber.frames([waves[0]], ["ann"])[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(both[1], transcriber.frames([waves[1]], ["bob"])[0], atol=1e-5, rtol=0)
    assert not torch.allclose(both[1], transcriber.frames([waves[1]], ["ann"])[0], atol=1e-3)  # the premise
    with pytest.raises(ValueError, match="SpeakerCMVN needs each utterance's speaker"):
        transcriber.frames(waves)


def test_every_window_of_a_long_recording_is_its_speakers(by_speaker) -> None:
    transcriber = Transcriber(by_speaker, beam=BeamSearchDecoder(), batch_size=2)
    wave = torch.randn(8000 * 5, generator=torch.Generator().manual_seed(2)) * 0.1
    frames = transcriber.long_frames(TensorReader(wave, 8000), 2.0, 0.5, speaker="bob")  # 3 windows, 2 batches
    assert frames.shape[0] == model_geometry(by_speaker).frames(wave.numel())
    ann = transcriber.long_frames(TensorReader(wave, 8000), 2.0, 0.5, speaker="ann")
    assert not torch.allclose(frames, ann, atol=1e-3)
    with pytest.raises(ValueError, match="needs each utterance's speaker"):
        transcriber.long_frames(TensorReader(wave, 8000), 2.0, 0.5)


@pytest.fixture(scope="module")
def resampled_file(tmp_path_factory) -> Path:
    """7 s of noise at 11,025 Hz: read at 8 kHz, window starts must fall on multiples of 320 samples."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, (np.random.default_rng(3).standard_normal(11025 * 7) * 0.1).astype(np.float32), 11025)
    return path


def test_a_recording_shorter_than_a_window_is_read_whole(task, resampled_file: Path) -> None:
    transcriber = Transcriber(task, beam=BeamSearchDecoder())
    whole = load_audio(str(resampled_file), 8000)  # (S,) the whole file resampled at once
    frames = transcriber.long_frames(BlockReader(str(resampled_file), 8000), 10.0, 2.0)
    torch.testing.assert_close(frames, transcriber.frames([whole])[0], atol=1e-4, rtol=0)


def test_long_recordings_go_in_aligned_windows_with_progress_per_batch(task, resampled_file: Path) -> None:
    calls: list[tuple[int, int]] = []
    reader = BlockReader(str(resampled_file), 8000)
    assert (reader.total, reader.align) == (56000, 320)
    transcriber = Transcriber(task, batch_size=2)
    # Windows of 2 s (16,000 samples) overlapping by 0.5 s (4,000, rounded down to 3,840 for the
    # alignment): 5 windows.  A start off the 320-sample grid would make the reader refuse it.
    frames = transcriber.long_frames(reader, 2.0, 0.5, lambda done, total: calls.append((done, total)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert frames.shape == (model_geometry(task).frames(reader.total),)
    one_at_a_time = Transcriber(task, batch_size=1).long_frames(BlockReader(str(resampled_file), 8000), 2.0, 0.5)
    assert torch.equal(frames, one_at_a_time)
    assert transcriber.transcribe_long(reader, 2.0, 0.5) == transcriber.decode([frames])[0]
