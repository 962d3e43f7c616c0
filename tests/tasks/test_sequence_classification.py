"""The classification task trains on real (synthetic) sequences and reports exact metrics."""

import json
from functools import partial

import lightning as L
import pytest
import torch

from seqkit.data.sequences import SequenceDataModule, SequenceDataset
from seqkit.encoders.pretrained import EncoderInitError
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.frames import PrecomputedFeatures
from seqkit.heads.classification import ClassificationHead
from seqkit.tasks.sequence_classification import SequenceClassifier


class _Slopes(SequenceDataset):
    """Noisy ramps of random length: rising, falling or flat.  No single step tells the class."""

    def __init__(self, count: int, seed: int):
        generator = torch.Generator().manual_seed(seed)
        self.items, self.lengths = [], []
        for index in range(count):
            label = index % 3
            length = int(torch.randint(6, 20, (1,), generator=generator))
            slope = (0.3, -0.3, 0.0)[label]
            offset = torch.randn(1, generator=generator)
            steps = offset + slope * torch.arange(length) + 0.1 * torch.randn(length, generator=generator)
            self.items.append({"id": f"x{index:03d}", "inputs": steps.unsqueeze(-1), "label": label})
            self.lengths.append(length)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


class _SlopeData(SequenceDataModule):
    labels = ["up", "down", "flat"]
    input_size = 1

    def dataset(self, split):
        return _Slopes(150 if split == "fit" else 60, seed={"fit": 0, "validate": 1, "test": 2}[split])


def _model(pooling="mean", bidirectional=True, hidden_size=16, encoder_init=None):
    return SequenceClassifier(
        labels=_SlopeData.labels,
        features=PrecomputedFeatures(input_size=1),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=hidden_size, num_layers=1, bidirectional=bidirectional),
        head=partial(ClassificationHead, pooling=pooling),
        optimizer=partial(torch.optim.AdamW, lr=0.02),
        warmup_steps=5,
        encoder_init=encoder_init,
    )


@pytest.mark.usefixtures("one_thread")
def test_trains_tests_and_reports(tmp_path, capsys):
    L.seed_everything(0)
    model, data = _model(), _SlopeData(batch_size=16)
    trainer = L.Trainer(max_epochs=12, default_root_dir=tmp_path, enable_progress_bar=False, logger=L.pytorch.loggers.CSVLogger(tmp_path, name="run"))
    trainer.fit(model, data)
    [result] = trainer.test(model, data)  # the final weights (the CLI e2e test covers checkpoints)
    assert result["test_acc"] >= 0.9
    run = tmp_path / "run" / "version_0"
    # Tested after the fit in the same process: beside the fit, in RUN/test as `seqkit test` writes.
    assert json.loads((run / "run_info.json").read_text())["stage"] == "fit"
    assert json.loads((run / "test" / "run_info.json").read_text())["test_examples"] == 60
    report = json.loads((run / "test" / "accuracy_report.json").read_text())
    # The torchmetrics value (summed counts) and the report (gathered records) agree exactly.
    assert report["totals"]["accuracy"] == pytest.approx(result["test_acc"])
    assert report["totals"]["mean_class_accuracy"] == pytest.approx(result["test_mean_class_acc"], abs=1e-6)
    assert report["totals"]["examples"] == 60
    assert (run / "test" / "confusion_matrix.png").exists()
    checkpoints = run / "checkpoints"
    # last.ckpt holds the final epoch, not a copy of the best (Lightning 2.6's save_last).
    assert torch.load(checkpoints / "last.ckpt", weights_only=False)["epoch"] == 11
    assert len(list(checkpoints.glob("best-*.ckpt"))) == 1
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("pooling", ["max", "last", "attention"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_every_pooling_is_blind_to_padding(pooling, bidirectional):
    torch.manual_seed(0)
    model = _model(pooling, bidirectional).eval()
    x = torch.randn(1, 7, 1)
    batch = torch.randn(2, 12, 1) * 50
    batch[0, :7] = x[0]
    with torch.no_grad():
        torch.testing.assert_close(model(batch, torch.tensor([7, 12]))[0], model(x, torch.tensor([7]))[0])


def test_needs_two_classes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        SequenceClassifier(labels=["only"], features=PrecomputedFeatures(input_size=1), encoder=partial(RNNEncoder, hidden_size=4))


def test_input_stats_standardize_raw_inputs_and_travel_in_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    stats = {"mean": [100.0], "std": [20.0]}
    kwargs = dict(labels=_SlopeData.labels, features=PrecomputedFeatures(input_size=1),
                  encoder=partial(RNNEncoder, cell="gru", hidden_size=8, num_layers=1))
    model = SequenceClassifier(**kwargs, input_stats=stats).eval()
    plain = SequenceClassifier(**kwargs)
    plain.load_state_dict(model.state_dict())  # the statistics are hyper-parameters, not weights
    raw = 100 + 20 * torch.randn(2, 9, 1)
    lengths = torch.tensor([9, 5])
    with torch.no_grad():
        torch.testing.assert_close(model(raw, lengths), plain.eval()(((raw - 100) / 20), lengths))
        padded = raw.clone()
        padded[1, 5:] = 1e6  # padding never reaches the encoder
        torch.testing.assert_close(model(padded, lengths), model(raw, lengths))
    trainer = L.Trainer(logger=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    saved = torch.load(tmp_path / "m.ckpt", weights_only=False)
    assert saved["hyper_parameters"]["input_stats"] == stats
    assert not any("standardizer" in key for key in saved["state_dict"])
    restored = SequenceClassifier(**kwargs, input_stats=saved["hyper_parameters"]["input_stats"])
    restored.load_state_dict(saved["state_dict"])
    restored.eval()
    with torch.no_grad():
        torch.testing.assert_close(restored(raw, lengths), model(raw, lengths))


def test_the_vocabulary_builds_the_subword_table_again_from_a_checkpoint():
    from seqkit.features.embedding import TokenEmbedding

    torch.manual_seed(0)
    words = ["<pad>", "<unk>", "watch", "watching", "unwatchable", "dull"]

    def build():
        return SequenceClassifier(
            labels=["neg", "pos"], features=TokenEmbedding(embedding_dim=6, char_ngrams=[3, 4]),
            encoder=partial(RNNEncoder, cell="lstm", hidden_size=4, num_layers=1),
            input_size=len(words), vocabulary={"words": words},
        ).eval()

    model = build()
    state = model.state_dict()
    assert "features.ngram_embedding.weight" in state and not any("ngram_table" in key for key in state)
    restored = build()
    restored.load_state_dict(state)
    ids, lengths = torch.tensor([[4, 2, 5], [3, 0, 0]]), torch.tensor([3, 1])
    with torch.no_grad():
        torch.testing.assert_close(restored(ids, lengths), model(ids, lengths))


class _Levels(SequenceDataset):
    """A level above or below the speaker's own (a large per-speaker offset, like a channel)."""

    def __init__(self, offsets: dict[str, float], per_speaker: int, seed: int):
        generator = torch.Generator().manual_seed(seed)
        self.items, self.lengths = [], []
        for speaker, offset in offsets.items():
            for index in range(per_speaker):
                label = index % 2
                length = int(torch.randint(6, 20, (1,), generator=generator))
                level = offset + (1.0 if label == 0 else -1.0)
                steps = level + 0.2 * torch.randn(length, 1, generator=generator)
                self.items.append({"id": f"{speaker}-{index}", "inputs": steps, "label": label, "speaker": speaker})
                self.lengths.append(length)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


class _LevelData(SequenceDataModule):
    labels = ["high", "low"]
    input_size = 1

    def dataset(self, split):
        if split == "test":  # new speakers, with offsets far outside the training ones
            return _Levels({"new1": 9.0, "new2": -7.0}, 20, seed=2)
        return _Levels({"a": -2.0, "b": 0.5, "c": 3.0}, 30 if split == "fit" else 10, seed={"fit": 0, "validate": 1}[split])


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("normalizer, accuracy", [("speaker", (0.95, 1.0)), ("utterance", (0.0, 0.75))])
def test_speaker_cmvn_takes_statistics_from_each_stages_speakers(normalizer, accuracy, tmp_path):
    from seqkit.features.cmvn import SpeakerCMVN, UtteranceCMVN

    L.seed_everything(0)
    norm = SpeakerCMVN() if normalizer == "speaker" else UtteranceCMVN()
    model = SequenceClassifier(
        labels=_LevelData.labels,
        features=PrecomputedFeatures(input_size=1),
        normalizer=norm,
        encoder=partial(RNNEncoder, cell="gru", hidden_size=16, num_layers=1),
        optimizer=partial(torch.optim.AdamW, lr=0.02),
        warmup_steps=5,
    )
    trainer = L.Trainer(max_epochs=8, default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    trainer.fit(model, _LevelData(batch_size=16))
    if normalizer == "speaker":
        assert sorted(norm.stats) == ["a", "b", "c"]  # fit's and validation's speakers
    [result] = trainer.test(model, _LevelData(batch_size=16))
    # Per utterance, the level is gone (chance); per speaker it is what tells the classes apart.
    assert accuracy[0] <= result["test_acc"] <= accuracy[1], result
    if normalizer == "speaker":
        assert sorted(norm.stats) == ["new1", "new2"]
        assert norm.stats["new1"][0].item() == pytest.approx(9.0, abs=0.1)


class _FirstWeights(L.Callback):
    def on_train_start(self, trainer, module):
        self.state = {key: value.clone() for key, value in module.state_dict().items()}


@pytest.mark.usefixtures("one_thread")
def test_fit_starts_the_encoder_from_another_models_checkpoint(tmp_path):
    L.seed_everything(0)
    source = _model()
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    trainer.fit(source, _SlopeData(batch_size=16))
    # Tensors and plain data, as `seqkit fit` writes (these test models' hparams are modules).
    torch.save({"state_dict": source.state_dict(), "hyper_parameters": {}}, tmp_path / "source.ckpt")
    target, first = _model(encoder_init=str(tmp_path / "source.ckpt")), _FirstWeights()
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        callbacks=[first], enable_checkpointing=False)
    trainer.fit(target, _SlopeData(batch_size=16))
    for key, value in source.state_dict().items():
        if key.startswith("encoder."):
            assert torch.equal(first.state[key], value), key
    assert not torch.equal(first.state["head.proj.weight"], source.state_dict()["head.proj.weight"])  # its own head

    # A resumed fit keeps its own weights and no longer needs the file it started from.
    trainer.save_checkpoint(tmp_path / "target.ckpt")
    (tmp_path / "source.ckpt").rename(tmp_path / "moved.ckpt")
    resumed, first = _model(encoder_init=str(tmp_path / "source.ckpt")), _FirstWeights()
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        callbacks=[first], enable_checkpointing=False)
    trainer.fit(resumed, _SlopeData(batch_size=16), ckpt_path=tmp_path / "target.ckpt", weights_only=False)
    assert all(torch.equal(first.state[key], value) for key, value in target.state_dict().items())

    (tmp_path / "moved.ckpt").rename(tmp_path / "source.ckpt")
    narrower = _model(hidden_size=8, encoder_init=str(tmp_path / "source.ckpt"))
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    with pytest.raises(EncoderInitError, match="source.ckpt: its encoder does not fit"):
        trainer.fit(narrower, _SlopeData(batch_size=16))
