"""Assembling reports: one run's sections, the comparison of several, run names, and the files written."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from seqkit.reports.build import (build_document, comparison_section, config_differences, run_sections, summary_section,
                                  unique_names, write_report, yaml_value)
from seqkit.reports.document import Code, Document, Figure, Section, Table, Text, figures
from seqkit.reports.plots import line_plot
from seqkit.reports.run_dir import load_run

WER_RECORDS = [{"id": "u1", "speaker": "s1", "ref": "a b c", "hyp": "a x c d"},
               {"id": "u2", "speaker": "s2", "ref": "d e", "hyp": "d e"}]
SAMPLE = {"prompt": "\n", "temperature": 0.8, "seed": 0, "checkpoint": "last.ckpt", "text": "to be"}
EVERY_RUN = ["Training curves", "Throughput, device and precision", "Checkpoint", "Config"]


def titles(sections: list[Section]) -> list[str]:
    return [s.title for s in sections]


def test_summary_names_run_task_checkpoint_and_headline(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "r", checkpoints={"best.ckpt": 10, "last.ckpt": 10})
    evaluate(run, ckpt="best.ckpt", wer=WER_RECORDS)
    (table,) = summary_section(load_run(run)).blocks
    assert table.rows == [["run directory", str(run)], ["task", "speech-to-text (seqkit.tasks.speech_to_text.SpeechToText)"],
                          ["checkpoint used", str(run / "checkpoints" / "best.ckpt")],
                          ["WER", "40.00%"], ["CER", "37.50%"], ["sub / del / ins", "1 / 0 / 1"]]
    bare = make_run(tmp_path / "bare", task="")  # a config without model.class_path
    assert summary_section(load_run(bare)).blocks[0].rows[1:] == [
        ["task", "unknown task (no model.class_path)"], ["checkpoint used", "none (no evaluation recorded)"]]


@pytest.mark.parametrize("task, task_titles, says", [
    ("speech", ["Evaluation"], "no wer_report.json in"),
    ("classification", ["Evaluation"], "no accuracy_report.json in"),
    ("language_model", ["Loss and bits per character", "Samples"], "no validation or test loss recorded"),
    ("my.pkg.Model", ["Evaluation"], "model class 'my.pkg.Model' is not a seqkit task: no task sections"),
])
def test_run_sections_are_the_tasks_between_summary_and_the_common_ones(tmp_path: Path, make_run, task, task_titles,
                                                                        says) -> None:
    sections = run_sections(load_run(make_run(tmp_path / "r", task=task)))
    assert titles(sections) == ["Summary", *task_titles, *EVERY_RUN]
    assert sections[1].blocks[0].text.startswith(says)


def test_language_model_sections_show_the_samples_given(tmp_path: Path, make_run) -> None:
    sections = run_sections(load_run(make_run(tmp_path / "r", task="language_model")), [SAMPLE])
    assert Code("\nto be") in sections[2].blocks


@pytest.mark.parametrize("value, shown", [
    (None, "null"), (True, "true"), (False, "false"), ({"a": 1, "b": None}, "{a: 1, b: null}"), ([1, "x"], "[1, x]"),
    ({}, "{}"), (0.1, "0.1"), ("bf16-mixed", "bf16-mixed"), (16, "16"),
])
def test_config_values_are_written_as_yaml_writes_them(value, shown) -> None:
    assert yaml_value(value) == shown


def test_config_differences_list_only_keys_that_differ(tmp_path: Path, make_run) -> None:
    a = make_run(tmp_path / "a", model_args={"dropout": 0.1, "hidden": 16})
    b = make_run(tmp_path / "b", model_args={"dropout": 0.1, "hidden": 32, "extra": None})
    c = make_run(tmp_path / "c", model_args={"dropout": 0.1, "hidden": 16, "layers": [1, 2]},
                 trainer={"accelerator": "auto", "devices": "auto", "precision": "bf16-mixed", "max_epochs": 2})
    header, rows = config_differences([load_run(p) for p in (a, b, c)])
    assert header == ["config key", "a", "b", "c"]
    assert rows == [["model.init_args.extra", "(absent)", "null", "(absent)"],  # absent is not null
                    ["model.init_args.hidden", "16", "32", "16"],
                    ["model.init_args.layers", "(absent)", "(absent)", "[1, 2]"],
                    ["trainer.precision", "null", "null", "bf16-mixed"]]


def test_comparison_of_headlines_checkpoints_and_throughput(tmp_path: Path, make_run, evaluate) -> None:
    speech = make_run(tmp_path / "speech", info={"examples": 48, "audio_seconds": 12345.678})
    evaluate(speech, wer=WER_RECORDS)
    lm = make_run(tmp_path / "lm", task="language_model", info={"examples": 48, "characters": 1000})
    evaluate(lm, stage="validate", metrics={"val_loss": 1.23456, "val_bpc": 1.78112})
    old = make_run(tmp_path / "old")
    metrics, differences = comparison_section([load_run(p) for p in (speech, lm, old)]).blocks
    assert metrics.header == ["run", "task", "WER", "CER", "sub / del / ins", "validate loss (nats/char)", "bits/char",
                              "checkpoint", "training throughput"]
    assert metrics.rows == [
        ["speech", "speech-to-text", "40.00%", "37.50%", "1 / 0 / 1", "-", "-", "last.ckpt", "1,543.2 audio s/s"],
        ["lm", "character language model", "-", "-", "-", "1.2346", "1.7811", "last.ckpt", "6.0 examples/s"],
        ["old", "speech-to-text", "-", "-", "-", "-", "-", "-", "not recorded"]]
    assert differences.caption == "config differences (1 keys)" and differences.rows[0][0] == "model.class_path"


def test_comparison_of_identical_configs_says_so(tmp_path: Path, make_run) -> None:
    runs = [load_run(make_run(tmp_path / name)) for name in ("a", "b")]
    assert comparison_section(runs).blocks[1] == Text("the configs are identical", note=True)


@pytest.mark.parametrize("paths, names", [
    (["a", "b/version_0"], ["a", "b/version_0"]),  # already told apart: left as they are
    (["x/a/run", "x/b/run"], ["a/run", "b/run"]),
    (["p/a/version_0", "q/a/version_0"], ["p/a/version_0", "q/a/version_0"]),  # as deep as it takes
])
def test_runs_of_the_same_name_are_named_by_their_paths(tmp_path: Path, make_run, paths, names) -> None:
    runs = [load_run(make_run(tmp_path / p)) for p in paths]
    unique_names(runs)
    assert [run.name for run in runs] == names


def test_the_same_run_twice_is_named_by_its_whole_path(tmp_path: Path, make_run) -> None:
    path = make_run(tmp_path / "r")
    runs = [load_run(path), load_run(path)]
    unique_names(runs)
    assert [run.name for run in runs] == [path.resolve().as_posix()] * 2  # one leading "/", not "//"


def test_document_of_one_run_is_its_sections(tmp_path: Path, make_run) -> None:
    run = load_run(make_run(tmp_path / "r", task="language_model"))
    doc = build_document([run], {str(run.path): [SAMPLE]})
    assert (doc.title, doc.subtitle) == ("seqkit report: r", str(run.path))
    assert titles(doc.sections) == ["Summary", "Loss and bits per character", "Samples", *EVERY_RUN]
    assert Code("\nto be") in doc.sections[2].blocks  # its samples, found by its path


def test_document_of_several_runs_compares_then_reports_each(tmp_path: Path, make_run) -> None:
    paths = [make_run(tmp_path / part / "run", task="language_model") for part in ("a", "b")]
    doc = build_document([load_run(p) for p in paths], {str(paths[1]): [SAMPLE]})
    assert (doc.title, doc.subtitle) == ("seqkit report: 2 runs", f"{paths[0]}, {paths[1]}")
    assert titles(doc.sections) == ["Comparison", "Run a/run", "Run b/run"]
    assert titles(doc.sections[1].children) == ["Summary", "Loss and bits per character", "Samples", *EVERY_RUN]
    samples = [s.children[2].blocks for s in doc.sections[1:]]
    assert Code("\nto be") not in samples[0] and Code("\nto be") in samples[1]  # each run gets its own


def test_report_is_written_as_html_and_markdown_with_its_figures(tmp_path: Path, make_run) -> None:
    metrics = [{"epoch": 0, "step": 4, "train_loss": 3.5}, {"epoch": 0, "step": 5, "val_wer": 0.9}]
    doc = build_document([load_run(make_run(tmp_path / "r", metrics=metrics))])
    html_path, md_path = write_report(doc, tmp_path / "out" / "sub" / "report.html")  # folders made as needed
    assert md_path == tmp_path / "out" / "sub" / "report.md"
    shown = {f.name: f.png for f in figures(doc)}
    written = {p.stem: p.read_bytes() for p in (html_path.parent / "report_figures").iterdir()}
    assert set(shown) == {"r-loss", "r-metric"} and written == shown
    markdown, html = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    assert markdown.startswith("# seqkit report: r\n") and "![loss per step (train_loss)](report_figures/r-loss.png)" in markdown
    assert html.startswith("<!DOCTYPE html>") and f"data:image/png;base64,{base64.b64encode(shown['r-loss']).decode()}" in html


def test_figures_of_the_same_name_get_files_of_their_own(tmp_path: Path) -> None:
    pngs = [line_plot({"train_loss": ([1, 2], [y, 1.0])}, "step", "loss", "t") for y in (2.0, 3.0)]
    doc = Document("t", [Section("a", [Figure("run-loss", pngs[0], "first")]),
                         Section("b", [Figure("run-loss", pngs[1], "second")])])
    _, md_path = write_report(doc, tmp_path / "report.html")
    assert [(tmp_path / "report_figures" / name).read_bytes() for name in ("run-loss.png", "run-loss-2.png")] == pngs
    assert "![second](report_figures/run-loss-2.png)" in md_path.read_text(encoding="utf-8")


def test_a_report_without_figures_writes_no_figure_folder(tmp_path: Path) -> None:
    html_path, md_path = write_report(Document("t", [Section("s", [Table(["k"], [["v"]])])]), tmp_path / "report.html")
    assert html_path.is_file() and md_path.read_text(encoding="utf-8") == "# t\n\n## s\n\n| k |\n|---|\n| v |\n"
    assert not (tmp_path / "report_figures").exists()


def test_figures_an_earlier_report_wrote_are_removed(tmp_path: Path) -> None:
    png = line_plot({"train_loss": ([1, 2], [2.0, 1.0])}, "step", "loss", "t")
    write_report(Document("t", [Section("a", [Figure("old", png, "old"), Figure("kept", png, "kept")])]), tmp_path / "report.html")
    write_report(Document("t", [Section("a", [Figure("kept", png, "kept")])]), tmp_path / "report.html")
    assert sorted(p.name for p in (tmp_path / "report_figures").iterdir()) == ["kept.png"]
    write_report(Document("t", [Section("a", [Text("no figures now")])]), tmp_path / "report.html")
    assert list((tmp_path / "report_figures").iterdir()) == []


def test_a_markdown_name_for_the_html_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    # report.md for the HTML would give both files one name: the Markdown would overwrite the HTML.
    with pytest.raises(ValueError, match=r"report.md: name the HTML file"):
        write_report(Document("t", [Section("s", [Text("x")])]), tmp_path / "out" / "report.md")
    assert not (tmp_path / "out").exists()
