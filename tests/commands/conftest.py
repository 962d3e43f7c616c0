"""A tiny character language-model run, for the commands that read one (validate, generate, report)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from seqkit.cli import main as seqkit_main

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
