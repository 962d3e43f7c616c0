"""load_task and its checks: a seqkit checkpoint rebuilds its trained task; what does not fit is refused.

Malicious checkpoints (pickle payloads, crafted class paths) are in test_checkpoint_safety.py;
this file covers the ordinary paths and the class checks that file does not.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.commands.checkpoint import UntrustedCheckpointError, check_class_path, load_task, task_hparams
from seqkit.decoding.beam import BeamSearchDecoder
from seqkit.tasks.sequence_classification import SequenceClassifier
from tiny_models import CLASSIFIER


def _saved(ckpt: Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=True)


def _variant(ckpt: Path, tmp_path: Path, **hparams) -> Path:
    """``ckpt`` with some hyper-parameters changed."""
    checkpoint = _saved(ckpt)
    checkpoint["hyper_parameters"].update(hparams)
    path = tmp_path / "variant.ckpt"
    torch.save(checkpoint, path)
    return path


def test_load_task_rebuilds_the_trained_classifier_for_inference(ramps) -> None:
    ckpt, held_out = ramps
    task = load_task(ckpt)
    assert type(task) is SequenceClassifier and task.labels == ["down", "up"]
    assert not any(module.training for module in task.modules())  # dropout and augmentation off
    saved = _saved(ckpt)["state_dict"]
    assert task.state_dict().keys() == saved.keys()
    assert all(torch.equal(value, saved[key]) for key, value in task.state_dict().items())
    files = sorted(held_out.glob("*.npy"))
    series = [torch.from_numpy(np.load(f)) for f in files]
    with torch.no_grad():
        logits = task(torch.nn.utils.rnn.pad_sequence(series, batch_first=True), torch.tensor([len(s) for s in series]))
    right = sum(task.labels[i] == f.stem.split("_")[1] for i, f in zip(logits.argmax(-1).tolist(), files))
    assert right >= 18  # the trained weights, in the architecture they were trained in


def test_link_targets_the_task_does_not_take_are_dropped(ramps, tmp_path: Path) -> None:
    ckpt, _ = ramps
    # The CLI stores every data link's target, as None where the data module has none.
    checkpoint = _saved(ckpt)
    checkpoint["hyper_parameters"].update(tokenizer=None, carry_state=None)
    class_path, kept = task_hparams(checkpoint)
    assert class_path == CLASSIFIER
    assert kept.keys() == _saved(ckpt)["hyper_parameters"].keys() - {"_class_path"}
    assert "_class_path" in checkpoint["hyper_parameters"]  # the checkpoint itself is left as it was
    torch.save(checkpoint, tmp_path / "linked.ckpt")
    assert type(load_task(tmp_path / "linked.ckpt")) is SequenceClassifier


def test_a_checkpoint_without_a_class_path_is_not_seqkits(tmp_path: Path) -> None:
    path = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"labels": ["a", "b"]}}, path)
    assert task_hparams(_saved(path)) == (None, {"labels": ["a", "b"]})
    with pytest.raises(ValueError, match=r"plain\.ckpt was not written by `seqkit fit` \(no _class_path"):
        load_task(path)
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*missing\.ckpt not found"):
        load_task(tmp_path / "missing.ckpt")


def test_weights_that_do_not_fit_the_stored_config_are_refused(ramps, tmp_path: Path) -> None:
    ckpt, _ = ramps
    encoder = _saved(ckpt)["hyper_parameters"]["encoder"]
    narrower = {**encoder, "init_args": {**encoder["init_args"], "hidden_size": 8}}
    with pytest.raises(RuntimeError, match="size mismatch for encoder"):
        load_task(_variant(ckpt, tmp_path, encoder=narrower))
    checkpoint = _saved(ckpt)
    del checkpoint["state_dict"]["head.proj.weight"]
    torch.save(checkpoint, tmp_path / "partial.ckpt")
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*head\.proj\.weight"):
        load_task(tmp_path / "partial.ckpt")


@pytest.mark.parametrize("class_path", ["seqkit.tasks.renamed.Task", "seqkit.tasks.sequence_classification.Renamed"])
def test_a_task_class_that_no_longer_exists_is_named_with_the_checkpoint(ramps, tmp_path: Path, class_path: str) -> None:
    ckpt, _ = ramps
    with pytest.raises(ValueError, match=rf"variant\.ckpt: class_path '{re.escape(class_path)}' cannot be imported"):
        load_task(_variant(ckpt, tmp_path, _class_path=class_path))


def test_a_class_path_deep_in_a_part_is_checked(ramps, tmp_path: Path) -> None:
    ckpt, _ = ramps
    # A list inside a part's init_args, two levels below the task's arguments.
    augment = {"class_path": "torch.nn.Sequential",
               "init_args": {"args": [{"class_path": "torch.nn.Identity"}, {"class_path": "os.system"}]}}
    with pytest.raises(UntrustedCheckpointError, match="'os.system' is outside the trusted modules"):
        load_task(_variant(ckpt, tmp_path, augment=augment))


@pytest.mark.parametrize(("class_path", "task", "message"), [
    ("seqkitx.models.Part", False, "outside the trusted modules"),  # a look-alike prefix is another package
    ("seqkit.features.spectral.LogMelFilterbank", True, "is not a LightningModule"),
    ("seqkit.commands.checkpoint.load_task", False, "is not a seqkit class"),  # seqkit's functions are not parts
    ("torch.utils.data.DataLoader", False, "is not a seqkit class"),  # a torch class, but no module or optimizer
    ("lightning.pytorch.callbacks.ModelCheckpoint", False, "is not a seqkit class"),
])
def test_class_paths_of_the_wrong_kind_are_refused(class_path: str, task: bool, message: str) -> None:
    with pytest.raises(UntrustedCheckpointError, match=message):
        check_class_path(class_path, task=task)


def test_seqkit_classes_that_are_not_modules_are_parts() -> None:
    assert check_class_path("seqkit.decoding.beam.BeamSearchDecoder") is BeamSearchDecoder
    assert check_class_path(CLASSIFIER, task=True) is SequenceClassifier


def test_a_trusted_users_module_still_gives_classes_only(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_parts.py").write_text("class Part:\n    pass\n\ndef build():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SEQKIT_TRUSTED_MODULES", "other_pkg, my_parts,")
    assert check_class_path("my_parts.Part").__name__ == "Part"
    with pytest.raises(UntrustedCheckpointError, match="'my_parts.build' is not a seqkit class"):
        check_class_path("my_parts.build")
    with pytest.raises(UntrustedCheckpointError, match="is not a LightningModule"):
        check_class_path("my_parts.Part", task=True)
