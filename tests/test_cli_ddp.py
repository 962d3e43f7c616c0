"""Real 2-process DDP on CPU (gloo) through the ``seqkit`` CLI.

Lightning's DDP launcher re-runs the command for rank 1, as ``torchrun`` or SLURM would run
one process per device.  Training for an epoch must finish on both ranks (the sampler gives
them equal batch counts, or the ranks would hang in an all-reduce), and the test metrics of
a 2-process run must equal the single-process ones: every utterance scored once, counts summed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from cli_runs import DIGITS_CONFIG as CONFIG
from cli_runs import REPO, SEQKIT, run

# An odd number of test utterances: the ranks cannot split them evenly.
TEST_UTTERANCES = 21


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("digits_ddp")
    run(
        [sys.executable, str(REPO / "tools" / "synth_digits.py"), "--out", str(out),
         "--train", "160", "--dev", "20", "--test", str(TEST_UTTERANCES), "--seed", "2", "--quiet"],
        cwd=REPO,
    )
    return out


def _logged(stdout: str, name: str) -> float:
    """A metric from the table Lightning prints after validate/test."""
    match = re.search(rf"{name}\s*[│|]?\s+([0-9.eE+-]+)", stdout)
    assert match, f"{name} not in the output:\n{stdout[-2000:]}"
    return float(match.group(1))


def test_ddp_fit_and_test_equal_single_process(small_corpus: Path, tmp_path: Path) -> None:
    common = [
        "--config", str(CONFIG),
        "--data.train_manifest", str(small_corpus / "train.jsonl"),
        "--data.val_manifest", str(small_corpus / "dev.jsonl"),
        "--data.test_manifest", str(small_corpus / "test.jsonl"),
        "--data.num_workers", "0",
        "--data.max_batch_seconds", "20",
        "--model.init_args.encoder.init_args.hidden_size", "32",
        "--trainer.enable_progress_bar", "false",
        "--trainer.accelerator", "cpu",
    ]
    ddp = ["--trainer.devices", "2", "--trainer.strategy", "ddp"]
    runs = tmp_path / "runs"
    run([*SEQKIT, "fit", *common, *ddp, "--trainer.max_epochs", "6", "--trainer.default_root_dir", str(runs)], cwd=tmp_path)
    checkpoint = runs / "version_0" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()

    results = {}
    for name, devices in [("single", ["--trainer.devices", "1"]), ("ddp", ddp)]:
        out = run([*SEQKIT, "test", *common, *devices, "--ckpt_path", str(checkpoint)], cwd=tmp_path).stdout
        report = json.loads((runs / "version_0" / "test" / "wer_report.json").read_text())  # the run's test/
        results[name] = (report, _logged(out, "test_wer"), _logged(out, "test_cer"))

    (single, single_wer, single_cer), (ddp_report, ddp_wer, ddp_cer) = results["single"], results["ddp"]
    # Every test utterance scored exactly once across the two ranks.
    assert sorted(u["id"] for u in ddp_report["utterances"]) == sorted(u["id"] for u in single["utterances"])
    assert len(ddp_report["utterances"]) == TEST_UTTERANCES
    assert ddp_report["totals"] == single["totals"]
    # The logged metrics, reduced from summed counts, equal the single-process ones exactly.
    assert (ddp_wer, ddp_cer) == (single_wer, single_cer)
    # ... and the report, from per-utterance alignments, agrees with them.
    assert single_wer == pytest.approx(single["totals"]["wer"], abs=1e-6)
    assert single_cer == pytest.approx(single["totals"]["cer"], abs=1e-6)
