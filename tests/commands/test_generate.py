"""Character LM end to end: `seqkit fit` on a tiny text, `seqkit validate` (loss and bits/char), `seqkit generate`."""

from __future__ import annotations

import math
import re

import pytest
import torch

from seqkit.cli import main as seqkit_main
from seqkit.commands.generate import main as generate_main

pytestmark = pytest.mark.usefixtures("one_thread")

def test_validate_reports_loss_and_bits_per_character(trained, capsys) -> None:
    run_dir, best = trained
    seqkit_main(["validate", "--config", str(run_dir / "config.yaml"), "--ckpt_path", str(best), "--trainer.enable_progress_bar", "false"])
    out = capsys.readouterr().out
    loss = float(re.search(r"val_loss\s+([0-9.]+)", out).group(1))
    bpc = float(re.search(r"val_bpc\s+([0-9.]+)", out).group(1))
    assert bpc == pytest.approx(loss / math.log(2), rel=1e-5)
    # The same number the best checkpoint was chosen by (best-EPOCH-VAL_LOSS.ckpt).
    assert loss == pytest.approx(float(best.stem.split("-")[-1]), abs=1e-4)
    tokens = torch.load(best, map_location="cpu", weights_only=True)["hyper_parameters"]["tokenizer"]["tokens"]
    assert loss < math.log(len(tokens))  # better than chance after 30 steps


def test_generate_prints_the_prompt_and_length_new_characters(trained, capsys) -> None:
    _, best = trained
    with pytest.raises(SystemExit) as done:
        seqkit_main(["generate", "--ckpt", str(best), "--prompt", "To be", "--length", "120", "--seed", "1"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("To be") and out.endswith("\n")
    assert len(out) - len("To be") - 1 == 120


def test_generate_is_deterministic_and_honours_its_options(trained, capsys) -> None:
    _, best = trained

    def generate(*options: str) -> str:
        assert generate_main(["--ckpt", str(best), "--prompt", "The", "--length", "60", *options]) == 0
        return capsys.readouterr().out

    assert generate("--seed", "3") == generate("--seed", "3")
    assert generate("--seed", "3") != generate("--seed", "4")
    assert generate("--temperature", "0") == generate("--top-k", "1", "--seed", "5")


def test_generate_names_an_unknown_prompt_character(trained, capsys) -> None:
    _, best = trained
    with pytest.raises(SystemExit) as done:
        generate_main(["--ckpt", str(best), "--prompt", "Zounds", "--length", "10"])
    assert done.value.code == 2
    assert "character 'Z' (U+005A)" in capsys.readouterr().err
