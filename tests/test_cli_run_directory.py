"""Where runs go (``run_directory``) and which checkpoint ``--ckpt_path last`` means."""

from __future__ import annotations

import os
from pathlib import Path

from seqkit.cli import latest_checkpoint, run_directory


def _touch(path: Path, mtime: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.utime(path, ns=(mtime, mtime))
    return path


def test_fit_starts_the_next_free_version(tmp_path: Path) -> None:
    assert run_directory("fit", tmp_path, None) == (tmp_path, "version_0")
    (tmp_path / "version_0").mkdir()
    (tmp_path / "version_7").mkdir()
    (tmp_path / "version_x").mkdir()
    assert run_directory("fit", tmp_path, str(tmp_path / "version_0" / "checkpoints" / "last.ckpt")) == (tmp_path, "version_8")


def test_evaluating_a_runs_checkpoint_writes_beside_it(tmp_path: Path) -> None:
    ckpt = tmp_path / "version_3" / "checkpoints" / "best.ckpt"
    assert run_directory("test", tmp_path / "elsewhere", str(ckpt)) == (tmp_path / "version_3", "test")


def test_last_is_the_newest_checkpoint_of_any_version(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    _touch(tmp_path / "version_0" / "checkpoints" / "last.ckpt", 1_000)
    newest = _touch(tmp_path / "version_1" / "checkpoints" / "epoch=1-step=40.ckpt", 3_000)
    _touch(tmp_path / "version_1" / "checkpoints" / "last.ckpt", 2_000)  # the epoch before the step checkpoint
    _touch(tmp_path / "version_2" / "notes.ckpt", 9_000)  # not in a checkpoints folder
    assert latest_checkpoint(tmp_path) == str(newest)
