"""Sections every run gets: headline numbers, training curves, throughput, checkpoints and config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from seqkit.reports.document import Code, Figure, Text
from seqkit.reports.plots import line_plot
from seqkit.reports.run_dir import load_run
from seqkit.reports.sections_run import (NOT_RECORDED, checkpoints_section, config_section, curves_section, headline,
                                         throughput_section)

# As a speech fit logs them: the learning rate, training loss and validation metrics in rows of their own.
METRICS = [
    {"lr-AdamW": 0.001, "step": 4}, {"epoch": 0, "step": 4, "train_loss": 3.5},
    {"epoch": 0, "step": 5, "val_loss": math.nan, "val_wer": math.nan, "val_cer": 0.6},  # a diverged first validation
    {"lr-AdamW": 0.0005, "step": 9}, {"epoch": 1, "step": 9, "train_loss": 2.5},
    {"epoch": 1, "step": 11, "val_loss": 2.0, "val_wer": 0.7, "val_cer": 0.4},
]
WER_RECORDS = [{"id": "u1", "speaker": "s1", "ref": "a b c", "hyp": "a x c d"},
               {"id": "u2", "speaker": "s2", "ref": "d e", "hyp": "d e"}]


def notes(section) -> list[str]:
    return [b.text for b in section.blocks if isinstance(b, Text) and b.note]


def test_headline_of_a_speech_test_is_its_wer_report(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "r", metrics=METRICS)
    evaluate(run, wer=WER_RECORDS)
    # 1 substitution and 1 insertion over 5 words; 3 character errors over 8 characters.
    assert headline(load_run(run)) == {"WER": "40.00%", "CER": "37.50%", "sub / del / ins": "1 / 0 / 1"}


@pytest.mark.parametrize("probs, expected", [
    ([0.5, 0.3, 0.2], {"accuracy": "50.00%", "mean-class accuracy": "50.00%"}),
    ([0.5, 0.2, 0.1, 0.08, 0.06, 0.04, 0.02],  # top-5 needs more than 5 classes
     {"accuracy": "50.00%", "top-5": "100.00%", "mean-class accuracy": "50.00%"}),
])
def test_headline_of_a_classification_test_is_its_accuracy(tmp_path: Path, make_run, evaluate, probs, expected) -> None:
    names = [f"c{i}" for i in range(len(probs))]
    records = [{"id": "x", "label": 0, "probs": probs}, {"id": "y", "label": 1, "probs": probs}]  # c0 right, c1 wrong
    run = make_run(tmp_path / "r", task="classification")
    evaluate(run, accuracy=(records, names))
    assert headline(load_run(run)) == expected


def test_headline_of_a_loss_only_evaluation_names_stage_and_unit(tmp_path: Path, make_run, evaluate) -> None:
    lm = make_run(tmp_path / "lm", task="language_model", metrics=METRICS)
    evaluate(lm, stage="validate", metrics={"val_loss": 1.23456, "val_bpc": 1.78112})
    assert headline(load_run(lm)) == {"validate loss (nats/char)": "1.2346", "bits/char": "1.7811"}
    speech = make_run(tmp_path / "speech")  # tested before seqkit test wrote wer_report.json
    evaluate(speech, metrics={"test_loss": 0.5, "test_wer": 0.25})
    assert headline(load_run(speech)) == {"test loss": "0.5000"}  # a CTC loss is not per character


@pytest.mark.parametrize("column, values, expected", [
    ("val_wer", [math.nan, 0.5, 0.25], "25.00%"),  # a NaN is no best value
    ("val_acc", [0.6, 0.8, 0.7], "80.00%"),  # the highest accuracy
    ("val_loss", [2.0, 1.5, 1.75], "1.5000"),
])
def test_without_evaluation_the_best_validation_of_training_is_shown(tmp_path: Path, make_run, column, values, expected) -> None:
    # A worse val_loss beside: the task's own metric comes first.
    rows = [{"epoch": i, "step": 10 * i, "val_loss": 9.0, column: v} for i, v in enumerate(values)]
    assert headline(load_run(make_run(tmp_path / "r", metrics=rows))) == {f"best {column} (training log)": expected}
    assert headline(load_run(make_run(tmp_path / "empty"))) == {}


def test_curves_plot_the_logged_series_per_group(tmp_path: Path, make_run) -> None:
    run = load_run(make_run(tmp_path / "my run.v2", metrics=METRICS))
    section = curves_section(run)
    assert [(f.name, f.alt) for f in section.blocks] == [
        ("my_run_v2-loss", "loss per step (train_loss, val_loss)"),
        ("my_run_v2-metric", "validation metric per step (val_cer, val_wer)"),
        ("my_run_v2-lr", "learning rate per step (lr-AdamW)"),
    ]
    # The very figures of these points (NaN dropped), labels and scales.
    loss, metric, lr = (f.png for f in section.blocks)
    assert loss == line_plot({"train_loss": ([4, 9], [3.5, 2.5]), "val_loss": ([11], [2.0])}, "step", "loss",
                             "my run.v2: loss", log_y=True)
    assert metric == line_plot({"val_cer": ([5, 11], [0.6, 0.4]), "val_wer": ([11], [0.7])}, "step", "validation metric",
                               "my run.v2: validation metric")
    assert lr == line_plot({"lr-AdamW": ([4, 9], [0.001, 0.0005])}, "step", "learning rate", "my run.v2: learning rate")


def test_curves_say_what_is_not_logged(tmp_path: Path, make_run) -> None:
    rows = [{"epoch": 0, "step": 4, "train_loss": 3.5}, {"epoch": 0, "step": 5, "val_wer": math.nan}]
    section = curves_section(load_run(make_run(tmp_path / "r", metrics=rows)))
    assert [type(b) for b in section.blocks] == [Figure, Text, Text]
    assert notes(section) == ["no validation metric in metrics.csv", "no learning rate in metrics.csv"]
    bare = make_run(tmp_path / "bare")
    assert notes(curves_section(load_run(bare))) == [f"no metrics.csv in {bare}: nothing to plot"]


def test_throughput_of_a_fit_and_of_its_test(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "r", info={"examples": 48, "audio_seconds": 12345.678})
    evaluate(run, info={"examples": 12, "characters": 5000})
    fit, test = throughput_section(load_run(run)).blocks  # no "requested in config.yaml": run_info says it all
    common = [["device", "cpu: Test CPU (1 threads)"], ["precision", "32-true"], ["world size (processes) / nodes", "1 / 1"],
              ["torch / lightning", "2.5.1 / 2.6.6"], ["started (UTC)", "2026-01-02T03:04:05+00:00"]]
    assert fit.caption == "training (seqkit fit)" and fit.rows == common + [
        ["fit wall time", "10.0 s"], ["training time (without validation)", "8.0 s"], ["epochs / steps", "2 / 12"],
        ["examples processed", "48"], ["examples per second", "6.0"],
        ["audio seconds processed", "12,345.7"], ["audio seconds per second", "1,543.2"]]
    assert test.caption == "evaluation (seqkit test)" and test.rows == common + [
        ["test wall time", "10.0 s"], ["examples processed", "12"], ["examples per second", "1.5"],
        ["characters processed", "5,000"], ["characters per second", "625.0"]]


def test_a_rate_not_measured_is_left_out(tmp_path: Path, make_run) -> None:
    run = make_run(tmp_path / "r", info={"examples": 48})
    info = json.loads((run / "run_info.json").read_text())
    info["examples_per_second"] = None  # what RunInfo writes for a stage that took no time
    (run / "run_info.json").write_text(json.dumps(info))
    rows = throughput_section(load_run(run)).blocks[0].rows
    assert rows[-1] == ["examples processed", "48"] and not any("per second" in row[0] for row in rows)


@pytest.mark.parametrize("precision, shown", [(None, "null (32-true)"), ("bf16-mixed", "bf16-mixed")])
def test_an_unrecorded_run_shows_what_its_config_asked_for(tmp_path: Path, make_run, evaluate, precision, shown) -> None:
    run = make_run(tmp_path / "r", trainer={"accelerator": "cpu", "devices": 1, "precision": precision})
    evaluate(run)
    section = throughput_section(load_run(run))
    assert notes(section) == [f"training (seqkit fit): {NOT_RECORDED}", f"evaluation (seqkit test): {NOT_RECORDED}"]
    configured = section.blocks[-1]
    assert configured.caption == "requested in config.yaml"
    assert configured.rows == [["trainer.accelerator", "cpu"], ["trainer.devices", 1], ["trainer.precision", shown]]


def test_the_evaluated_checkpoint_is_named_and_marked(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "r", checkpoints={"best.ckpt": 2_500_000, "last.ckpt": 1000})
    evaluate(run, ckpt="/old/place/r/checkpoints/best.ckpt")  # evaluated before the run was moved here
    text, table = checkpoints_section(load_run(run)).blocks
    assert text == Text(f"evaluated (test): {run / 'checkpoints' / 'best.ckpt'}")
    assert table.rows == [["best.ckpt", "2.5 MB", "yes"], ["last.ckpt", "0.0 MB", ""]]


def test_checkpoint_section_says_what_is_missing(tmp_path: Path, make_run, evaluate) -> None:
    never_tested = load_run(make_run(tmp_path / "a"))
    assert notes(checkpoints_section(never_tested)) == [
        "no evaluation in this run (no test/ or validate/ folder): run "
        "`seqkit test --config RUN/config.yaml --ckpt_path RUN/checkpoints/X.ckpt`"]
    no_ckpt_path = make_run(tmp_path / "b", checkpoints={})
    evaluate(no_ckpt_path, stage="validate", ckpt=None)
    assert notes(checkpoints_section(load_run(no_ckpt_path))) == ["the validate config records no ckpt_path",
                                                                   "no checkpoints in checkpoints/"]


def test_config_is_shown_as_saved(tmp_path: Path, make_run) -> None:
    run = make_run(tmp_path / "r")
    section = config_section(load_run(run))
    assert section.blocks == [Text(f"{run / 'config.yaml'}, as `seqkit fit` saved it:"),
                              Code((run / "config.yaml").read_text(), "yaml")]
    assert section.blocks[1].text.startswith("# lightning.pytorch==2.6.6\n")  # comments and all, not re-dumped
