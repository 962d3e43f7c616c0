"""Reading run directories: metrics, bad files named, dotted config keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.reports.run_dir import RunError, flatten, last_values, load_run, read_metrics


def test_metrics_rows_keep_only_the_filled_cells(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,lr-AdamW,step,train_loss,val_wer\n,0.001,9,,\n0,,9,2.5,\n0,,19,,0.75\n")
    rows = read_metrics(path)
    assert rows == [{"lr-AdamW": 0.001, "step": 9.0}, {"epoch": 0.0, "step": 9.0, "train_loss": 2.5},
                    {"epoch": 0.0, "step": 19.0, "val_wer": 0.75}]
    assert last_values(rows) == {"lr-AdamW": 0.001, "step": 19.0, "epoch": 0.0, "train_loss": 2.5, "val_wer": 0.75}


def test_a_bad_cell_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_loss\n0,1,2.0\n0,2,nope\n")
    with pytest.raises(RunError, match=r"metrics.csv:3: column 'train_loss' holds 'nope'"):
        read_metrics(path)


def test_config_must_be_a_yaml_mapping(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="config.yaml: missing"):
        load_run(tmp_path)
    (tmp_path / "config.yaml").write_text("- a list\n")
    with pytest.raises(RunError, match="config.yaml: expected a mapping"):
        load_run(tmp_path)
    (tmp_path / "config.yaml").write_text("model: {class_path: seqkit.tasks.speech_to_text.SpeechToText}\n")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "wer_report.json").write_text('{"totals": {}}')
    with pytest.raises(RunError, match="wer_report.json: lacks utterances"):
        load_run(tmp_path)


def test_flatten_gives_dotted_paths() -> None:
    config = {"trainer": {"max_epochs": 3, "callbacks": [{"class_path": "X", "init_args": {"n": 1}}]},
              "model": {"init_args": {"dropout": 0.1, "empty": {}}}, "seed_everything": 0}
    assert flatten(config) == {"trainer.max_epochs": 3, "trainer.callbacks.0.class_path": "X",
                               "trainer.callbacks.0.init_args.n": 1, "model.init_args.dropout": 0.1,
                               "model.init_args.empty": {}, "seed_everything": 0}
