"""Character LM end to end: `seqkit fit` on a tiny text, `seqkit validate` (loss and bits/char), `seqkit generate`."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest
import torch

from seqkit.cli import main as seqkit_main
from seqkit.commands.generate import main as generate_main

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "language_model" / "tinyshakespeare_lstm.yaml"
WORDS = "to be or not that is the question whether tis nobler in the mind".split()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(run directory, best checkpoint) of a few steps of the recipe's model, shrunk."""
    root = tmp_path_factory.mktemp("charlm")
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + "." for _ in range(300)]
    text = root / "text.txt"
    text.write_text("\n".join(lines) + "\n")
    seqkit_main([  # in-process: a subprocess would spend most of its time importing torch and Lightning
        "fit", "--config", str(CONFIG),
        "--data.init_args.train_file", str(text), "--data.init_args.window", "32", "--data.init_args.batch_size", "8",
        "--model.init_args.encoder.init_args.hidden_size", "32",
        "--trainer.max_steps", "30", "--trainer.val_check_interval", "15",
        "--trainer.default_root_dir", str(root / "runs"), "--trainer.enable_progress_bar", "false",
    ])
    run_dir = root / "runs" / "version_0"
    best = sorted((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert best, "no best-val_loss checkpoint written"
    return run_dir, best[0]


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
