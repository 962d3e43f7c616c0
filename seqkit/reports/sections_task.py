"""Sections of each task: speech (WER), classification (accuracy), language model (loss, samples)."""

from __future__ import annotations

import math

import numpy as np

from seqkit.reports.document import Alignment, Code, Figure, Section, Table, Text
from seqkit.reports.markdown import percent
from seqkit.reports.plots import bar_plot, confusion_png
from seqkit.reports.run_dir import Evaluation, Run
from seqkit.reports.wer import error_rate

MAX_SPEAKERS = 40  # plotted; the table lists all
MAX_WORST = 10
MAX_MISCLASSIFIED = 50
MAX_CONFUSIONS = 20


def _slug(run: Run) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in run.name)


def _no_report(run: Run, name: str) -> list[Section]:
    where = run.evaluation.path if run.evaluation else run.path / "test"
    return [Section("Evaluation", [Text(f"no {name} in {where}: run `seqkit test --config {run.path}/config.yaml "
                                        f"--ckpt_path {run.path}/checkpoints/CKPT` to write it", note=True)])]


# ---- speech ------------------------------------------------------------------------------


def length_bins(utterances: list[dict], bins: int = 6) -> tuple[str, list[dict]]:
    """WER of utterances grouped by duration (or reference words when a duration is missing).

    Edges are quantiles, so bins hold similar numbers of utterances; each bin's WER is its
    summed errors over its summed reference words.
    """
    by_duration = all(u.get("duration") is not None for u in utterances)
    key = "duration" if by_duration else "ref_words"
    values = np.array([float(u[key]) for u in utterances])
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        members = [u for u, i in zip(utterances, index) if i == b]
        if not members:
            continue
        errors, words = sum(u["errors"] for u in members), sum(u["ref_words"] for u in members)
        # Labelled by what the bin holds: quantile edges would overlap and round across bins.
        low, high = min(float(u[key]) for u in members), max(float(u[key]) for u in members)
        digits = 1 if by_duration else 0
        low_text, high_text = f"{low:.{digits}f}", f"{high:.{digits}f}"
        span = low_text if low_text == high_text else f"{low_text}-{high_text}"
        unit = " s" if by_duration else (" word" if span == "1" else " words")
        label = span + unit
        rows.append({"bin": label, "utterances": len(members), "ref_words": words, "errors": errors,
                     "wer": error_rate(errors, words)})
    return ("duration" if by_duration else "reference words"), rows


def speech_sections(run: Run) -> list[Section]:
    evaluation = run.evaluation
    if evaluation is None or evaluation.wer is None:
        return _no_report(run, "wer_report.json")
    report, slug = evaluation.wer, _slug(run)
    t = report["totals"]
    totals = Section("Word and character error rates", [Table(["metric", "value"], [
        ["WER", f"{percent(t['wer'])} ({t['errors']} / {t['ref_words']} words)"],
        ["CER", f"{percent(t['cer'])} ({t['char_errors']} / {t['ref_chars']} characters)"],
        ["substitutions", t["substitutions"]], ["deletions", t["deletions"]], ["insertions", t["insertions"]],
        ["correct words", t["hits"]],
        ["utterances (with errors)", f"{t['utterances']} ({t['utterances_with_errors']}, SER {percent(t['sentence_error_rate'])})"],
        ["audio", f"{t['duration'] / 60:.1f} min" if t.get("duration") is not None else "not recorded"],
    ])])

    speakers = report["speakers"]
    per_speaker = Section("WER per speaker")
    shown = speakers[:MAX_SPEAKERS]
    if shown:
        per_speaker.blocks.append(Figure(f"{slug}-wer-speaker", bar_plot(
            [s["speaker"] or "(none)" for s in shown], [s["wer"] for s in shown], "WER (%)",
            f"WER per speaker{' (worst ' + str(len(shown)) + ')' if len(speakers) > len(shown) else ''}",
            counts=[s["ref_words"] for s in shown]), "WER per speaker"))
    per_speaker.blocks.append(Table(["speaker", "utterances", "words", "sub", "del", "ins", "WER"], [
        [s["speaker"], s["utterances"], s["ref_words"], s["substitutions"], s["deletions"], s["insertions"], percent(s["wer"])]
        for s in speakers]))

    by_length = Section("WER by utterance length")
    if report["utterances"]:
        unit, bins = length_bins(report["utterances"])
        if unit != "duration":
            by_length.blocks.append(Text("the report records no durations: utterances are grouped by reference words", note=True))
        by_length.blocks.append(Figure(f"{slug}-wer-length", bar_plot(
            [b["bin"] for b in bins], [b["wer"] for b in bins], "WER (%)", f"WER by {unit}",
            counts=[b["utterances"] for b in bins], horizontal=False), f"WER by {unit}"))
        by_length.blocks.append(Table([unit, "utterances", "words", "errors", "WER"],
                                      [[b["bin"], b["utterances"], b["ref_words"], b["errors"], percent(b["wer"])] for b in bins]))

    utterances = {u["id"]: u for u in report["utterances"]}
    worst = Section(f"Worst {min(MAX_WORST, len(report['worst']))} utterances", [
        Text("each column is one aligned word, reference above hypothesis; substitutions in orange, "
             "deletions in red, insertions in green (*** marks the missing side)")])
    for w in report["worst"][:MAX_WORST]:
        u = utterances.get(w["id"])
        if u is not None:
            worst.blocks.append(Alignment(f"{u['id']} (speaker {u['speaker'] or '-'}): WER {percent(u['wer'])}, "
                                          f"{u['substitutions']} sub, {u['deletions']} del, {u['insertions']} ins", u["alignment"]))
    if not report["worst"]:
        worst.blocks.append(Text("no utterance has an error", note=True))

    confusions = Section("Top word confusions", [
        Table(["reference", "recognised as", "count"], [[s["ref"], s["hyp"], s["count"]] for s in report["substitutions"][:MAX_CONFUSIONS]],
              caption="substitutions"),
        Table(["word", "count"], [[d["word"], d["count"]] for d in report["deletions"][:MAX_CONFUSIONS]], caption="deleted words"),
        Table(["word", "count"], [[d["word"], d["count"]] for d in report["insertions"][:MAX_CONFUSIONS]], caption="inserted words"),
    ])
    return [totals, per_speaker, by_length, worst, confusions]


# ---- classification ----------------------------------------------------------------------


def classification_sections(run: Run) -> list[Section]:
    evaluation = run.evaluation
    if evaluation is None or evaluation.accuracy is None:
        return _no_report(run, "accuracy_report.json")
    report, slug = evaluation.accuracy, _slug(run)
    t = report["totals"]
    rows = [["top-1 accuracy", f"{percent(t['accuracy'])} ({t['correct']} / {t['examples']})"]]
    if "top5_accuracy" in t:
        rows.append(["top-5 accuracy", percent(t["top5_accuracy"])])
    else:
        rows.append(["top-5 accuracy", f"not applicable: {len(report['classes'])} classes (top-5 needs more than 5)"])
    rows.append(["mean-class accuracy", percent(t["mean_class_accuracy"])])
    if "group_totals" in report:
        g = report["group_totals"]
        rows.append(["group-level accuracy (clip probabilities averaged)", f"{percent(g['accuracy'])} ({g['correct']} / {g['examples']})"])
    accuracy = Section("Accuracy", [Table(["metric", "value"], rows)])
    confusion = Section("Confusion matrix", [
        Figure(f"{slug}-confusion", confusion_png(report), "row-normalised confusion matrix (rows: true class)"),
        Table(["true", "predicted", "count"], [[p["true"], p["predicted"], p["count"]] for p in report["most_confused"]],
              caption="most confused pairs"),
    ])
    per_class = Section("Per-class precision, recall and F1", [Table(
        ["class", "precision", "recall", "F1", "support"],
        [[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]] for c in report["per_class"]])])
    wrong = report["misclassified"]
    misclassified = Section(f"Misclassified examples ({len(wrong)} of {t['examples']})")
    if wrong:
        misclassified.blocks.append(Table(["id", "true", "top-3 predictions"], [
            [m["id"], m["true"], ", ".join(f"{p['class']} {p['prob']:.2f}" for p in m["top3"])] for m in wrong[:MAX_MISCLASSIFIED]]))
        if len(wrong) > MAX_MISCLASSIFIED:
            misclassified.blocks.append(Text(f"... and {len(wrong) - MAX_MISCLASSIFIED} more in {evaluation.path / 'accuracy_report.json'}", note=True))
    else:
        misclassified.blocks.append(Text("none: every example is classified correctly", note=True))
    return [accuracy, confusion, per_class, misclassified]


# ---- language model ------------------------------------------------------------------------


def _evaluation_rows(evaluation: Evaluation) -> list[list[str]]:
    rows = []
    for stage in ("test", "val"):
        if f"{stage}_loss" in evaluation.metrics:
            loss = evaluation.metrics[f"{stage}_loss"]
            bpc = evaluation.metrics.get(f"{stage}_bpc", loss / math.log(2))
            rows.append([f"seqkit {evaluation.stage}", f"{loss:.4f}", f"{bpc:.4f}", f"{math.exp(loss):.3f}"])
    return rows


def language_model_sections(run: Run, samples: list[dict] | None = None) -> list[Section]:
    rows = [r for e in run.evaluations for r in _evaluation_rows(e)]
    val = [(row["step"], row["val_loss"]) for row in run.metrics
           if "val_loss" in row and "step" in row and math.isfinite(row["val_loss"])]
    if val:
        step, loss = min(val, key=lambda p: p[1])
        rows.append([f"best validation in training (step {step:.0f})", f"{loss:.4f}", f"{loss / math.log(2):.4f}", f"{math.exp(loss):.3f}"])
    loss = Section("Loss and bits per character")
    if rows:
        loss.blocks.append(Table(["measured by", "loss (nats/char)", "bits per character", "perplexity (per char)"], rows))
    else:
        loss.blocks.append(Text("no validation or test loss recorded", note=True))
    section = Section("Samples")
    if samples:
        for sample in samples:
            section.blocks.append(Text(f"prompt {sample['prompt']!r}, temperature {sample['temperature']}, seed {sample['seed']}:"))
            section.blocks.append(Code(sample["prompt"] + sample["text"]))
    else:
        section.blocks.append(Text("this run has no samples: `seqkit report RUN --samples N` generates N from the "
                                   "evaluated checkpoint (or `seqkit generate --ckpt CKPT --prompt TEXT`)", note=True))
    return [loss, section]
