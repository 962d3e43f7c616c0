"""SeqkitTask's shared machinery, through a tiny sequence classifier: run directory,
checkpoints (the run's and the user's), per-example records, learning-rate schedule, input sizes."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from seqkit.callbacks.run_info import RunInfo
from seqkit.data.sequences import SequenceDataModule
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.frames import PrecomputedFeatures
from seqkit.features.video import FrameDifference
from seqkit.tasks.base import RunCheckpoint, bind_input_size, user_checkpoints
from seqkit.tasks.sequence_classification import SequenceClassifier
from tiny_models import ListedSequences

pytestmark = pytest.mark.usefixtures("one_thread")


def _noise(count: int, seed: int) -> ListedSequences:
    """Random sequences (T, 1) with alternating labels; ids run opposite to length."""
    generator = torch.Generator().manual_seed(seed)
    return ListedSequences([{"id": f"x{count - index:02d}", "inputs": torch.randn(3 + index, 1, generator=generator),
                             "label": index % 2} for index in range(count)])


class _NoiseData(SequenceDataModule):
    labels = ["a", "b"]
    input_size = 1

    def __init__(self, validate: bool = True) -> None:
        super().__init__(batch_size=4)
        self.validate = validate

    def has_split(self, split: str) -> bool:
        return split != "validate" or self.validate

    def dataset(self, split: str) -> ListedSequences:
        return _noise(8 if split == "fit" else 6, seed=len(split))


def _task(**kwargs) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(labels=_NoiseData.labels, features=PrecomputedFeatures(input_size=1),
                              encoder=partial(RNNEncoder, cell="gru", hidden_size=4, num_layers=1),
                              **{"warmup_steps": 1, **kwargs})


def _trainer(root, **kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", default_root_dir=root, enable_progress_bar=False, enable_model_summary=False,
                     num_sanity_val_steps=0, **{"max_epochs": 2, **kwargs})


def test_features_sized_by_the_data_take_its_size() -> None:
    features = PrecomputedFeatures()
    bind_input_size(features, 3)
    assert features.input_size == features.output_size == 3
    bind_input_size(features, 0)  # no size from the data: the features' own stands
    assert features.input_size == 3
    bind_input_size(FrameDifference(input_size=3), 0)  # fixed-size features, nothing to compare with


@pytest.mark.parametrize(("features", "size", "message"), [
    (PrecomputedFeatures(input_size=3), 2, r"PrecomputedFeatures\.input_size=3 but the data has 2"),
    (PrecomputedFeatures(), 0, "PrecomputedFeatures needs an input size: the data module provides input_size"),
    (FrameDifference(input_size=3), 1, r"FrameDifference\.input_size=3 but the data has 1"),
])
def test_sizes_that_disagree_with_the_data_are_refused(features, size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bind_input_size(features, size)


class _MyCheckpoint(ModelCheckpoint):
    pass


def test_user_checkpoints_are_those_configured_beyond_the_default(tmp_path) -> None:
    assert user_checkpoints(L.Trainer(default_root_dir=tmp_path)) == []  # Lightning's own default
    assert user_checkpoints(L.Trainer(default_root_dir=tmp_path, callbacks=[ModelCheckpoint()])) == []  # the same
    mine = [ModelCheckpoint(dirpath=tmp_path), ModelCheckpoint(filename="x"), ModelCheckpoint(monitor="val_acc"),
            ModelCheckpoint(save_top_k=-1), ModelCheckpoint(save_last=True), ModelCheckpoint(every_n_train_steps=500),
            ModelCheckpoint(every_n_epochs=2), ModelCheckpoint(train_time_interval=timedelta(hours=1)),
            _MyCheckpoint()]  # a subclass is the user's even with default settings
    for checkpoint in mine:  # one a trainer: Lightning refuses two with the same state key
        trainer = L.Trainer(default_root_dir=tmp_path, callbacks=[checkpoint, RunCheckpoint(filename="last")])
        assert user_checkpoints(trainer) == [checkpoint]


def test_fit_writes_last_best_and_the_users_own_checkpoints(tmp_path) -> None:
    logger = CSVLogger(tmp_path, name="run")
    every_step = ModelCheckpoint(dirpath=tmp_path / "mine", filename="{step}", every_n_train_steps=1, save_top_k=-1)
    trainer = _trainer(tmp_path, logger=logger, callbacks=[every_step], log_every_n_steps=1)
    trainer.fit(_task(), _NoiseData())
    run = tmp_path / "run" / "version_0"
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert len(names) == 2 and names[1] == "last.ckpt"
    epoch, accuracy = re.fullmatch(r"best-(\d+)-(\d\.\d{4})\.ckpt", names[0]).groups()
    best = torch.load(run / "checkpoints" / names[0], weights_only=False)
    assert int(epoch) == best["epoch"] and 0 <= float(accuracy) <= 1
    # The user's checkpoint survives configure_callbacks (which replaces callbacks of the types it returns).
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == [f"step={s}.ckpt" for s in (1, 2, 3, 4)]
    assert "lr-AdamW" in (run / "metrics.csv").read_text().splitlines()[0]  # the learning-rate monitor
    assert (run / "run_info.json").is_file()


def test_without_validation_or_logger_only_last_is_kept(tmp_path) -> None:
    trainer = _trainer(tmp_path, logger=False)
    trainer.fit(_task(), _NoiseData(validate=False))
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["last.ckpt"]
    assert [c.monitor for c in trainer.callbacks if isinstance(c, RunCheckpoint)] == [None]  # nothing to rank by
    assert not any(isinstance(c, (RunInfo, LearningRateMonitor)) for c in trainer.callbacks)


def test_evaluation_saves_no_checkpoint_and_records_each_epoch_afresh(tmp_path) -> None:
    trainer = _trainer(tmp_path, logger=CSVLogger(tmp_path, name="test"))
    task = _task()
    for _ in range(2):  # a second test of the same task reports its examples once, not twice
        trainer.test(task, _NoiseData())
        report = json.loads((tmp_path / "test" / "version_0" / "accuracy_report.json").read_text())
        assert report["totals"]["examples"] == 6
    assert not any(isinstance(c, RunCheckpoint) for c in trainer.callbacks)
    assert any(isinstance(c, RunInfo) for c in trainer.callbacks)
    assert not list(tmp_path.rglob("*.ckpt"))


def test_predictions_are_written_once_each_sorted_by_id(tmp_path, capsys) -> None:
    trainer = _trainer(tmp_path, logger=False)
    task = _task()
    for _ in range(2):
        batches = trainer.predict(task, _NoiseData())
    served = [r["id"] for batch in batches for r in batch]
    assert served != sorted(served)  # the premise: the loader's order is by length, not id
    path = tmp_path / "predictions.jsonl"  # no logger: the root directory
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in records] == sorted(served)
    assert all(sorted(r["labels"]) == ["a", "b"] and sum(r["probs"]) == pytest.approx(1, abs=1e-5) for r in records)
    assert f"predictions: {path}" in capsys.readouterr().out


class _RemoteLogger(Logger):
    """A logger that keeps nothing on disk, as a tracking service's."""

    name, version = "remote", 0

    def log_metrics(self, metrics, step=None) -> None:
        pass

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


def test_the_run_directory_is_the_first_loggers(tmp_path) -> None:
    task = _task()
    assert task.run_dir() is None  # not attached to a trainer
    cases = [(False, tmp_path), (CSVLogger(tmp_path, name="csv"), tmp_path / "csv" / "version_0"),
             ([TensorBoardLogger(tmp_path, name="tb"), CSVLogger(tmp_path, name="csv")], tmp_path / "tb" / "version_0"),
             (_RemoteLogger(), None)]
    for logger, expected in cases:
        task.trainer = L.Trainer(default_root_dir=tmp_path, logger=logger)
        assert task.run_dir() == expected


def test_evaluating_after_a_fit_writes_beside_it_and_keeps_its_run_info(tmp_path) -> None:
    trainer, task = _trainer(tmp_path, logger=CSVLogger(tmp_path, name="run")), _task()
    trainer.fit(task, _NoiseData())
    trainer.test(task, _NoiseData())
    run = tmp_path / "run" / "version_0"
    assert json.loads((run / "run_info.json").read_text())["stage"] == "fit"
    assert json.loads((run / "test" / "run_info.json").read_text())["stage"] == "test"
    assert (run / "test" / "accuracy_report.json").is_file() and not (run / "accuracy_report.json").exists()


class _LearningRates(Callback):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize(("decay", "factors"), [("cosine", [0.5, 1.0, 1.0, 0.525]), ("constant", [0.5, 1.0, 1.0, 1.0])])
def test_warmup_is_capped_at_half_the_run_and_the_rate_moves_every_step(tmp_path, decay: str, factors: list[float]) -> None:
    rates = _LearningRates()
    task = _task(optimizer=partial(torch.optim.AdamW, lr=0.01), warmup_steps=100, lr_decay=decay)
    _trainer(tmp_path, logger=False, enable_checkpointing=False, callbacks=[rates]).fit(task, _NoiseData(validate=False))
    # 2 epochs of 2 batches: 4 steps, warmup capped at 2, cosine over the other 2 (0.05 + 0.95 * (1 + cos(pi / 2)) / 2).
    assert rates.rates == pytest.approx([0.01 * f for f in factors])
