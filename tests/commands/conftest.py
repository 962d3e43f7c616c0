"""Fixtures of the inference-command tests: a synthesised digits corpus and a digits CTC model trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiny_models import one_thread_only, train_digits_ctc


@pytest.fixture(scope="session")
def digits_corpus(tmp_path_factory, load_script) -> Path:
    """200 training and 8 held-out utterances of synthesised connected digits (about 1 s to make)."""
    out = tmp_path_factory.mktemp("digits_infer")
    tool = load_script("tools/synth_digits.py")
    assert tool.main(["--out", str(out), "--train", "200", "--dev", "8", "--test", "0", "--seed", "3", "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def digits_ckpt(digits_corpus: Path, tmp_path_factory) -> Path:
    with one_thread_only():
        return train_digits_ctc(digits_corpus / "train.jsonl", tmp_path_factory.mktemp("ckpt") / "digits.ckpt")
