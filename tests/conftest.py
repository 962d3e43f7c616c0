"""Shared test fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest
import torch

from tiny_models import one_thread_only, train_digits_ctc, train_ramps_classifier, write_ramps

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def command_line_of_its_own(monkeypatch):
    """CLI code under test sees its own arguments, not pytest's (LightningCLI warns when both are there)."""
    monkeypatch.setattr(sys, "argv", ["seqkit"])


@pytest.fixture(scope="session")
def load_script() -> Callable[[str], ModuleType]:
    """Import a script of tools/ or recipes/ (not packages) by its path under the repo."""

    def load(relative_path: str) -> ModuleType:
        path = REPO / relative_path
        name = path.stem if path.parent.name == "tools" else f"{path.parent.name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # registered before running, so its dataclasses resolve
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: intra-op threads only add spin-wait overhead on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits_corpus(tmp_path_factory, load_script) -> Path:
    """200 training and 8 held-out utterances of synthesised connected digits (about 1 s to make)."""
    out = tmp_path_factory.mktemp("digits_infer")
    tool = load_script("tools/synth_digits.py")
    assert tool.main(["--out", str(out), "--train", "200", "--dev", "8", "--test", "0", "--seed", "3", "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def digits_ckpt(digits_corpus: Path, tmp_path_factory) -> Path:
    """A digits CTC model trained on :func:`digits_corpus` (inference commands and alignment tools)."""
    with one_thread_only():
        return train_digits_ctc(digits_corpus / "train.jsonl", tmp_path_factory.mktemp("ckpt") / "digits.ckpt")


@pytest.fixture(scope="session")
def speaker_ckpt(digits_ckpt: Path, tmp_path_factory) -> Path:
    """:func:`digits_ckpt` with per-speaker CMVN in place of its global CMVN: both standardise the
    same features, so the weights still read digits (they were not trained for it)."""
    checkpoint = torch.load(digits_ckpt, map_location="cpu", weights_only=True)
    checkpoint["hyper_parameters"]["normalizer"] = {"class_path": "seqkit.features.cmvn.SpeakerCMVN"}
    checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("normalizer.")}
    path = tmp_path_factory.mktemp("speaker_ckpt") / "speaker.ckpt"
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope="session")
def ramps(tmp_path_factory) -> tuple[Path, Path]:
    """A rising/falling ramp classifier of ``.npy`` series (about 1 s to train), and 20 held-out ramps."""
    root = tmp_path_factory.mktemp("ramps")
    with one_thread_only():
        ckpt = train_ramps_classifier(root / "train", root / "ramps.ckpt")
    write_ramps(root / "test", 20, seed=7)
    return ckpt, root / "test"
