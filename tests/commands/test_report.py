"""``seqkit report`` on tiny real runs of each task, trained and tested in-process by the real CLI.

The figures in the reports are checked against the JSON reports and metrics that
``seqkit test`` / ``validate`` wrote; the HTML is opened in headless Chromium.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tiny_models import write_ts

from seqkit.cli import main as seqkit_main
from seqkit.commands.checkpoint import load_task
from seqkit.commands.report import main as report_main
from seqkit.reports.markdown import percent

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
CLASSES = ("a", "b", "c", "d", "e", "f")  # > 5: the report has top-5


class Page(HTMLParser):
    """Headings, table rows (cell texts), image sources and tag names of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.rows: list[list[str]] = []
        self.images: list[dict] = []
        self.tags: set[str] = set()
        self._heading: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = []
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        for part in (self._heading, self._cell):
            if part is not None:
                part.append(data)


def manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory, load_script) -> Path:
    root = tmp_path_factory.mktemp("speech")
    corpus = root / "corpus"
    assert load_script("tools/synth_digits.py").main(
        ["--out", str(corpus), "--train", "24", "--dev", "6", "--test", "10", "--seed", "1", "--quiet"]) == 0
    seqkit_main(["fit", "--config", str(REPO / "configs/speech_to_text/digits_bigru.yaml"),
                 "--data.train_manifest", str(corpus / "train.jsonl"), "--data.val_manifest", str(corpus / "dev.jsonl"),
                 "--data.test_manifest", str(corpus / "test.jsonl"), "--data.num_workers", "0",
                 "--model.init_args.encoder.init_args.hidden_size", "16", "--model.init_args.warmup_steps", "2",
                 "--trainer.max_epochs", "2", "--trainer.default_root_dir", str(root / "runs"), *QUIET])
    run = root / "runs" / "version_0"
    seqkit_main(["test", "--config", str(run / "config.yaml"), "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), *QUIET])
    return run


@pytest.fixture(scope="module")
def speech_report(speech_run: Path) -> tuple[str, "Page"]:
    return report(str(speech_run))


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("classification")
    write_ts(root / "train.ts", 72, seed=0, labels=CLASSES)
    write_ts(root / "test.ts", 36, seed=1, labels=CLASSES)
    seqkit_main(["fit", "--config", str(REPO / "configs/classification/gunpoint_bigru.yaml"),
                 "--data.init_args.train_file", str(root / "train.ts"), "--data.init_args.test_file", str(root / "test.ts"),
                 "--model.init_args.encoder.init_args.hidden_size", "16",
                 "--model.init_args.encoder.init_args.stack_frames", "1",
                 "--trainer.max_epochs", "3", "--trainer.default_root_dir", str(root / "runs"), *QUIET])
    run = root / "runs" / "version_0"
    seqkit_main(["test", "--config", str(run / "config.yaml"), "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), *QUIET])
    return run


@pytest.fixture(scope="module")
def lm_run(trained) -> Path:  # the tiny language-model run of conftest.py
    run, best = trained
    seqkit_main(["validate", "--config", str(run / "config.yaml"), "--ckpt_path", str(best), *QUIET])
    return run


def report(*args: str) -> tuple[str, Page]:
    out = Path(args[args.index("--out") + 1]) if "--out" in args else Path(args[0]) / "report.html"
    assert report_main(list(args)) == 0
    text = out.read_text(encoding="utf-8")
    return text, Page(text)


def assert_self_contained(text: str, page: Page) -> None:
    assert "script" not in page.tags and "<script" not in text  # nothing to run, nothing fetched
    assert "http://" not in text and "https://" not in text
    assert page.images
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        assert base64.b64decode(image["src"][len(prefix):])[:8] == b"\x89PNG\r\n\x1a\n"


def test_speech_report_matches_the_wer_report(speech_run: Path, speech_report: tuple[str, Page]) -> None:
    text, page = speech_report
    wer = json.loads((speech_run / "test" / "wer_report.json").read_text())
    t = wer["totals"]
    for title in ("Summary", "Word and character error rates", "WER per speaker", "WER by utterance length",
                  "Top word confusions", "Training curves", "Throughput, device and precision", "Checkpoint", "Config"):
        assert title in page.headings
    assert any(h.startswith("Worst ") for h in page.headings)
    assert_self_contained(text, page)
    assert ["WER", percent(t["wer"])] in page.rows and ["CER", percent(t["cer"])] in page.rows
    for name in ("substitutions", "deletions", "insertions"):
        assert [name, str(t[name])] in page.rows
    for s in wer["speakers"]:
        assert [s["speaker"], str(s["utterances"]), str(s["ref_words"]), str(s["substitutions"]), str(s["deletions"]),
                str(s["insertions"]), percent(s["wer"])] in page.rows

    # Test records carry durations now, so lengths are binned by duration, and every utterance is in one bin.
    durations = {u["id"]: u["duration"] for u in manifest(speech_run.parent.parent / "corpus" / "test.jsonl")}
    assert all(u["duration"] == pytest.approx(durations[u["id"]], abs=1e-3) for u in wer["utterances"])
    header = page.rows.index(["duration", "utterances", "words", "errors", "WER"])
    bins = [r for r in page.rows[header + 1:] if r[0].endswith(" s")]
    assert sum(int(r[1]) for r in bins) == t["utterances"] and sum(int(r[3]) for r in bins) == t["errors"]

    # The worst utterances, their alignments coloured by operation.
    shown = wer["worst"][:10]
    by_id = {u["id"]: u for u in wer["utterances"]}
    assert all(w["id"] in text for w in shown)
    assert text.count('class="w S"') == sum(by_id[w["id"]]["substitutions"] for w in shown)
    assert text.count('class="w D"') == sum(by_id[w["id"]]["deletions"] for w in shown)
    assert text.count('class="w I"') == sum(by_id[w["id"]]["insertions"] for w in shown)

    # The Markdown beside it links the same figures, written next to it.
    markdown = (speech_run / "report.md").read_text()
    figures = sorted((speech_run / "report_figures").glob("*.png"))
    assert len(figures) == len(page.images) and all(f"report_figures/{f.name}" in markdown for f in figures)
    assert f"| WER | {percent(t['wer'])} |" in markdown


def test_every_run_records_device_precision_and_throughput(speech_run: Path, speech_report: tuple[str, Page]) -> None:
    corpus = speech_run.parent.parent / "corpus"
    fit = json.loads((speech_run / "run_info.json").read_text())
    assert fit["stage"] == "fit" and fit["precision"] and fit["device"] and fit["world_size"] == 1
    assert fit["epochs"] == 2 and fit["train_examples"] == 2 * 24  # every training utterance, every epoch
    assert fit["train_audio_seconds"] == pytest.approx(2 * sum(u["duration"] for u in manifest(corpus / "train.jsonl")), rel=1e-3)
    assert fit["audio_seconds_per_second"] == pytest.approx(fit["train_audio_seconds"] / fit["train_seconds"], rel=1e-2)  # seconds rounded to ms
    assert 0 < fit["train_seconds"] <= fit["wall_seconds"]
    test = json.loads((speech_run / "test" / "run_info.json").read_text())
    assert test["stage"] == "test" and test["test_examples"] == 10
    assert test["test_audio_seconds"] == pytest.approx(sum(u["duration"] for u in manifest(corpus / "test.jsonl")), rel=1e-3)
    _, page = speech_report
    assert ["device", fit["device"]] in page.rows and ["precision", fit["precision"]] in page.rows
    assert ["audio seconds per second", f"{fit['audio_seconds_per_second']:,.1f}"] in page.rows


def test_classification_report_matches_the_accuracy_report(classification_run: Path) -> None:
    text, page = report(str(classification_run))
    accuracy = json.loads((classification_run / "test" / "accuracy_report.json").read_text())
    t = accuracy["totals"]
    for title in ("Accuracy", "Confusion matrix", "Per-class precision, recall and F1", "Training curves", "Config"):
        assert title in page.headings
    assert any(h.startswith("Misclassified examples") for h in page.headings)
    assert_self_contained(text, page)
    assert ["top-1 accuracy", f"{percent(t['accuracy'])} ({t['correct']} / {t['examples']})"] in page.rows
    assert ["top-5 accuracy", percent(t["top5_accuracy"])] in page.rows  # 6 classes
    assert ["mean-class accuracy", percent(t["mean_class_accuracy"])] in page.rows
    for c in accuracy["per_class"]:
        assert [c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])] in page.rows
    ids = {row[0] for row in page.rows}
    assert {m["id"] for m in accuracy["misclassified"][:50]} <= ids
    assert any("confusion" in image["alt"] for image in page.images)
    assert ["checkpoint used", str(classification_run / "checkpoints" / "last.ckpt")] in page.rows


def test_language_model_report_shows_loss_bits_and_samples(lm_run: Path, tmp_path: Path) -> None:
    text, page = report(str(lm_run))
    metrics = (lm_run / "validate" / "metrics.csv").read_text().splitlines()
    values = dict(zip(metrics[0].split(","), metrics[-1].split(",")))
    loss, bpc = float(values["val_loss"]), float(values["val_bpc"])
    assert ["seqkit validate", f"{loss:.4f}", f"{bpc:.4f}", f"{math.exp(loss):.3f}"] in page.rows
    assert "Loss and bits per character" in page.headings and "Samples" in page.headings
    assert "this run has no samples" in text
    info = json.loads((lm_run / "validate" / "run_info.json").read_text())
    assert info["stage"] == "validate" and info["validate_characters"] > 0 and info["characters_per_second"] > 0
    assert_self_contained(text, page)

    out = tmp_path / "with_samples.html"
    text, _ = report(str(lm_run), "--out", str(out), "--samples", "2", "--sample-length", "40")
    best = sorted((lm_run / "checkpoints").glob("best-*.ckpt"))[0]  # the validated checkpoint
    task = load_task(best)
    for seed in (0, 1):  # the very texts the model samples with these seeds
        assert task.generate("\n", 40, 0.8, None, seed) in out.with_suffix(".md").read_text()
    assert "this run has no samples" not in text


@pytest.fixture(scope="module")
def comparison(speech_run: Path, classification_run: Path, lm_run: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("comparison") / "compare.html"
    assert report_main([str(speech_run), str(classification_run), str(lm_run), "--out", str(out)]) == 0
    return out


def test_comparison_of_several_runs(comparison: Path, speech_run: Path, classification_run: Path, lm_run: Path) -> None:
    page = Page(comparison.read_text(encoding="utf-8"))
    assert page.headings[1] == "Comparison"
    header = next(r for r in page.rows if r[:2] == ["run", "task"])
    rows = [dict(zip(header, r)) for r in page.rows if len(r) == len(header) and r[:2] != ["run", "task"]][:3]
    # All three are runs/version_0: named by as much of their path as tells them apart.
    names = [f"{p.parent.parent.name}/runs/version_0" for p in (speech_run, classification_run, lm_run)]
    assert [r["run"] for r in rows] == names
    wer = json.loads((speech_run / "test" / "wer_report.json").read_text())["totals"]["wer"]
    accuracy = json.loads((classification_run / "test" / "accuracy_report.json").read_text())["totals"]["accuracy"]
    bpc = float((lm_run / "validate" / "metrics.csv").read_text().splitlines()[-1].split(",")[2])  # epoch,step,val_bpc,...
    assert rows[0]["WER"] == percent(wer) and rows[0]["accuracy"] == "-"
    assert rows[1]["accuracy"] == percent(accuracy) and rows[1]["WER"] == "-"
    assert rows[2]["bits/char"] == f"{bpc:.4f}"
    first = page.rows.index(["config key", *names])
    diffs = {r[0]: r[1:] for r in page.rows[first + 1:] if len(r) == 4 and "." in r[0]}
    assert diffs["model.class_path"] == ["seqkit.tasks.speech_to_text.SpeechToText",
                                         "seqkit.tasks.sequence_classification.SequenceClassifier",
                                         "seqkit.tasks.language_model.CharLanguageModel"]
    assert all(len(set(values)) > 1 for values in diffs.values())  # only keys that differ
    assert "trainer.accumulate_grad_batches" not in diffs  # 1 in all three
    for name in names:
        assert f"Run {name}" in page.headings  # then every run's own report


def test_an_older_run_says_what_it_does_not_record(classification_run: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(classification_run, old, ignore=shutil.ignore_patterns("run_info.json", "report*"))
    text, page = report(str(old))
    assert text.count("not recorded") == 2  # training and evaluation
    assert ["trainer.precision", "null (32-true)"] in page.rows  # what config.yaml asked for is still shown
    # A moved run: the evaluated checkpoint is found in its own checkpoints/ folder.
    assert ["checkpoint used", str(old / "checkpoints" / "last.ckpt")] in page.rows


def test_bad_run_directories_are_named(tmp_path: Path, classification_run: Path, capsys) -> None:
    assert report_main([str(tmp_path)]) == 2
    assert f"{tmp_path / 'config.yaml'}: missing" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(classification_run, broken, ignore=shutil.ignore_patterns("*.ckpt"))
    lines = (broken / "metrics.csv").read_text().splitlines()
    lines[2] = "oops" + lines[2][lines[2].index(","):]  # the epoch column of line 3
    (broken / "metrics.csv").write_text("\n".join(lines) + "\n")
    assert report_main([str(broken)]) == 2
    assert f"{broken / 'metrics.csv'}:3:" in capsys.readouterr().err


def test_an_out_path_for_markdown_is_refused(classification_run: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        report_main([str(classification_run), "--out", str(tmp_path / "report.md")])
    assert "name the HTML file" in capsys.readouterr().err and not (tmp_path / "report.md").exists()


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium; tools/setup_env.sh does it as root)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    return path


def test_report_opens_in_headless_chromium(chromium: str, comparison: Path) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(comparison.as_uri(), wait_until="load")
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
            headings = page.eval_on_selector_all("h2, h3", "els => els.map(e => e.textContent)")
        finally:
            browser.close()
    assert not problems, problems
    assert len(images) >= 9 and all(complete and width > 0 for _, complete, width in images), images
    for title in ("Comparison", "WER per speaker", "WER by utterance length", "Top word confusions", "Confusion matrix",
                  "Per-class precision, recall and F1", "Loss and bits per character", "Samples", "Training curves",
                  "Throughput, device and precision"):
        assert title in headings, (title, headings)
