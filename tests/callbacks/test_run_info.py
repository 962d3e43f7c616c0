"""RunInfo: run_info.json of each stage, with the device, versions, wall time and what was processed.

A tiny sequence classifier runs real (1-2 epoch) stages; a callback that sleeps in validation
makes the validation time that training time must leave out.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import CSVLogger

from seqkit.callbacks.run_info import RunInfo, device_name
from seqkit.data.sequences import SequenceDataModule
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.frames import PrecomputedFeatures
from seqkit.tasks.sequence_classification import SequenceClassifier
from tiny_models import ListedSequences

pytestmark = pytest.mark.usefixtures("one_thread")

SIZES = {"fit": 8, "validate": 6, "test": 5, "predict": 7}
STEPS_PER_SECOND = 10  # the series' rate, for their "audio seconds"


def _series(count: int) -> ListedSequences:
    generator = torch.Generator().manual_seed(count)
    lengths = [int(n) for n in torch.randint(3, 12, (count,), generator=generator)]
    return ListedSequences([{"id": f"x{i}", "inputs": torch.randn(n, 1, generator=generator), "label": i % 2}
                            for i, n in enumerate(lengths)])


class _SeriesData(SequenceDataModule):
    labels = ["a", "b"]

    def __init__(self) -> None:
        super().__init__(batch_size=4)
        self.sets = {split: _series(count) for split, count in SIZES.items()}

    def dataset(self, split: str) -> ListedSequences:
        return self.sets[split]

    def seconds(self, split: str) -> float:
        return sum(self.sets[split].lengths) / STEPS_PER_SECOND


class _TimedClassifier(SequenceClassifier):
    """Also counts seconds, as speech tasks do: a tensor summed on the device, fractional."""

    def batch_amounts(self, batch: dict) -> dict:
        return {**super().batch_amounts(batch), "audio_seconds": batch["lengths"].sum() / STEPS_PER_SECOND}


def _task() -> _TimedClassifier:
    torch.manual_seed(0)
    return _TimedClassifier(labels=["a", "b"], features=PrecomputedFeatures(input_size=1),
                            encoder=partial(RNNEncoder, cell="gru", hidden_size=4, num_layers=1), warmup_steps=1)


class _SlowValidation(Callback):
    def on_validation_batch_end(self, *args, **kwargs) -> None:
        time.sleep(0.15)


def _run(root: Path, stage: str, **kwargs) -> tuple[dict, float, L.Trainer]:
    """``stage`` run with a CSV logger; its run_info.json and the seconds the run took from outside."""
    trainer = L.Trainer(accelerator="cpu", default_root_dir=root, logger=CSVLogger(root, name=stage), enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **kwargs)
    start = time.perf_counter()
    getattr(trainer, stage)(_task(), _SeriesData())
    elapsed = time.perf_counter() - start
    return json.loads((root / stage / "version_0" / "run_info.json").read_text()), elapsed, trainer


def test_the_device_is_named_with_its_threads() -> None:
    name = device_name(L.Trainer(accelerator="cpu"))
    assert name.startswith("cpu: ") and name.endswith(f" ({torch.get_num_threads()} threads)")
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    assert name[len("cpu: "):].startswith(models[0] if models else platform.processor() or platform.machine())


def test_fit_records_training_throughput_without_validation_time(tmp_path) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    info, elapsed, trainer = _run(tmp_path, "fit", max_epochs=2, callbacks=[_SlowValidation()])
    assert info["stage"] == "fit" and before <= datetime.fromisoformat(info["started_at"]) <= datetime.now(timezone.utc)
    assert info["device"] == device_name(trainer) and info["accelerator"] == "cpu" and info["precision"] == "32-true"
    assert (info["world_size"], info["num_nodes"]) == (1, 1)
    assert info["versions"] == {"torch": torch.__version__, "lightning": L.__version__, "python": platform.python_version()}
    assert (info["epochs"], info["steps"]) == (2, trainer.global_step) and trainer.global_step == 4
    # Every training example of both epochs, none of validation's; counts stay integers.
    assert info["train_examples"] == 2 * SIZES["fit"] and isinstance(info["train_examples"], int)
    assert info["train_audio_seconds"] == pytest.approx(2 * _SeriesData().seconds("fit"))  # fractional, not truncated
    # Two validation epochs of two batches slept 0.6 s: wall time has them, training time not.
    assert info["wall_seconds"] - info["train_seconds"] >= 0.6 - 0.01
    assert 0 < info["train_seconds"] and info["wall_seconds"] <= elapsed
    # The rates come from the exact time, the file's seconds are rounded to the millisecond.
    for rate, amount in (("examples_per_second", "train_examples"), ("audio_seconds_per_second", "train_audio_seconds")):
        assert abs(info[rate] * info["train_seconds"] - info[amount]) <= info[rate] * 0.0005 * 1.01


@pytest.mark.parametrize("stage", ["validate", "test", "predict"])
def test_evaluation_stages_record_their_own_examples(tmp_path, stage: str) -> None:
    info, elapsed, _ = _run(tmp_path, stage)
    assert info["stage"] == stage and "epochs" not in info and "train_examples" not in info
    assert info[f"{stage}_examples"] == SIZES[stage]
    assert info[f"{stage}_audio_seconds"] == pytest.approx(_SeriesData().seconds(stage))
    assert 0 < info[f"{stage}_seconds"] == info["wall_seconds"] <= elapsed  # timed from this stage's start
    wall = info["wall_seconds"]  # rounded to the millisecond; the rate is of the exact time
    assert SIZES[stage] / (wall + 5e-4) <= info["examples_per_second"] <= SIZES[stage] / (wall - 5e-4)


def test_a_module_without_a_run_directory_gets_no_file(tmp_path) -> None:
    trainer = L.Trainer(accelerator="cpu", default_root_dir=tmp_path, logger=CSVLogger(tmp_path), max_steps=2,
                        limit_val_batches=1, enable_progress_bar=False, enable_model_summary=False, callbacks=[RunInfo()])
    trainer.fit(BoringModel())  # Lightning's own demo module: no run_dir, no batch_amounts
    assert trainer.global_step == 2 and not list(tmp_path.rglob("run_info.json"))
