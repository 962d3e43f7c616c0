"""SIGKILL a `seqkit fit` mid-epoch, resume from its last step checkpoint: the epoch is whole.

Two real CLI processes on a tiny synthesised corpus: a run killed by SIGKILL in its
second epoch, and that run resumed with ``--ckpt_path``.  The checkpoints of the killed
run load (writes are atomic), and the resumed run trains on exactly the batches of that
epoch that the checkpoint had not seen, in the order an uninterrupted run has them (the
data module's own loader, set to that epoch): no example twice, none skipped.  Its final
weights equal, bit for bit, those of a third, uninterrupted run with the same seed: the
optimizer, schedule and random-number states (dropout, SpecAugment) were all restored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqkit.data.speech import SpeechDataModule
from seqkit.data.tokenizer import CharTokenizer
from cli_runs import DIGITS_CONFIG as CONFIG
from cli_runs import REPO, SEQKIT, run

TRAIN = 120
MAX_BATCH_SECONDS = 8.0


def _log(path: Path) -> list[tuple[int, int, list[str]]]:
    rows = []
    for line in path.read_text().splitlines():
        epoch, step, ids = line.split("\t")
        rows.append((int(epoch), int(step), ids.split(",")))
    return rows


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("digits_kill")
    run([sys.executable, str(REPO / "tools" / "synth_digits.py"), "--out", str(out),
         "--train", str(TRAIN), "--dev", "10", "--test", "10", "--seed", "3", "--quiet"], cwd=REPO)
    return out


def test_sigkill_mid_epoch_then_resume_trains_the_rest_of_the_epoch_once(corpus: Path, tmp_path: Path) -> None:
    def fit_args(name: str, root: str | None = None) -> list[str]:
        return [*SEQKIT, "fit", "--config", str(CONFIG),
                "--data.train_manifest", str(corpus / "train.jsonl"), "--data.val_manifest", str(corpus / "dev.jsonl"),
                "--data.num_workers", "0", "--data.max_batch_seconds", str(MAX_BATCH_SECONDS),
                "--model.init_args.encoder.init_args.hidden_size", "32", "--trainer.max_epochs", "2",
                "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path / (root or name)),
                "--trainer.callbacks+=seqkit.callbacks.batch_log.BatchLog", "--trainer.callbacks.path", str(tmp_path / f"{name}.tsv")]

    # What an uninterrupted run trains on in epoch 1 (the config's seed 0 and 30 buckets).
    datamodule = SpeechDataModule(train_manifest=str(corpus / "train.jsonl"), tokenizer=CharTokenizer(),
                                  max_batch_seconds=MAX_BATCH_SECONDS, num_workers=0)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    loader.batch_sampler.set_epoch(1)
    whole_epoch_1 = [batch["ids"] for batch in loader]
    steps_per_epoch = len(whole_epoch_1)
    assert steps_per_epoch >= 8

    steps = tmp_path / "killed" / "version_0" / "checkpoints"
    killed = subprocess.Popen(
        [*fit_args("killed"), "--trainer.callbacks+=ModelCheckpoint",
         "--trainer.callbacks.every_n_train_steps", "2", "--trainer.callbacks.save_top_k", "-1",
         "--trainer.callbacks.filename", "{epoch}-{step}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    target = steps_per_epoch + (4 if steps_per_epoch % 2 == 0 else 3)  # an even step, a few into epoch 1
    deadline = time.monotonic() + 300
    while not list(steps.glob(f"epoch=1-step={target}.ckpt")):
        assert killed.poll() is None, f"the run ended before it could be killed:\n{killed.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, "no mid-epoch checkpoint within 300 s"
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL

    # The newest checkpoint on disk is whole: saving is atomic, a kill cannot leave half a file.
    newest = max(steps.glob("epoch=*-step=*.ckpt"), key=lambda p: int(p.stem.split("step=")[1]))
    state = torch.load(newest, map_location="cpu", weights_only=True)
    position = state["SpeechDataModule"]
    assert position["epoch"] == 1 and 0 < position["batches_done"] < steps_per_epoch

    # `--ckpt_path last` takes the newest checkpoint of the runs under the root: that one.
    resuming = run([*fit_args("resumed", root="killed"), "--ckpt_path", "last"], cwd=tmp_path)
    assert f"--ckpt_path last: {newest}" in resuming.stderr
    killed_log = [ids for epoch, _, ids in _log(tmp_path / "killed.tsv") if epoch == 1][: position["batches_done"]]
    resumed_log = [ids for epoch, _, ids in _log(tmp_path / "resumed.tsv") if epoch == 1]
    assert killed_log + resumed_log == whole_epoch_1
    seen = [i for ids in killed_log + resumed_log for i in ids]
    assert len(seen) == len(set(seen)) == TRAIN

    run(fit_args("uninterrupted"), cwd=tmp_path)
    resumed = _final_weights(tmp_path / "killed" / "version_1")
    uninterrupted = _final_weights(tmp_path / "uninterrupted" / "version_0")
    assert resumed.keys() == uninterrupted.keys()
    different = [name for name in resumed if not torch.equal(resumed[name], uninterrupted[name])]
    assert not different, f"weights differ from the uninterrupted run's: {different}"


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
