"""Accuracy report for classification: totals, per-class P/R/F1, confusions, misclassified examples.

Built from per-example records ``{"id", "group", "label", "probs"}`` gathered from every
rank, so every figure is a ratio of summed counts over the whole test set.  When several
examples share a ``group`` (clips of one video), a group-level section averages their
probabilities, which is how video-level accuracy is defined.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from seqkit.reports.markdown import percent, table

PREDICTIONS_FILE = "test_predictions.jsonl"


def _scores(labels: np.ndarray, probs: np.ndarray, num_classes: int) -> dict:
    """Totals and the confusion matrix (rows = true class, columns = predicted)."""
    predicted = probs.argmax(1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    support = confusion.sum(1)
    recall = np.divide(np.diag(confusion), support, out=np.zeros(num_classes), where=support > 0)
    scores = {
        "examples": int(len(labels)),
        "correct": int((predicted == labels).sum()),
        "accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
        # Mean over the classes present in the test set of their recall.
        "mean_class_accuracy": float(recall[support > 0].mean()) if support.any() else 0.0,
        "confusion": confusion,
    }
    if num_classes > 5:
        top5 = np.argsort(-probs, axis=1)[:, :5]
        scores["top5_accuracy"] = float((top5 == labels[:, None]).any(1).mean())
    return scores


def _per_class(confusion: np.ndarray, names: list[str]) -> list[dict]:
    rows = []
    for index, name in enumerate(names):
        true_positive = int(confusion[index, index])
        predicted = int(confusion[:, index].sum())
        support = int(confusion[index].sum())
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": name, "precision": precision, "recall": recall, "f1": f1, "support": support})
    return rows


def _confused_pairs(confusion: np.ndarray, names: list[str], top_n: int) -> list[dict]:
    pairs = [
        {"true": names[i], "predicted": names[j], "count": int(confusion[i, j])}
        for i in range(len(names))
        for j in range(len(names))
        if i != j and confusion[i, j] > 0
    ]
    return sorted(pairs, key=lambda p: (-p["count"], p["true"], p["predicted"]))[:top_n]


def _totals(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if k != "confusion"}


def build_accuracy_report(records: list[dict], names: list[str], top_n: int = 20) -> dict:
    """``records``: one per example, ``probs`` over ``names`` (index = label id)."""
    if not records:
        raise ValueError("no test examples to report on")
    labels = np.array([r["label"] for r in records], dtype=np.int64)
    probs = np.array([r["probs"] for r in records], dtype=np.float64)
    scores = _scores(labels, probs, len(names))
    misclassified = []
    for record, row in zip(records, probs):
        top = np.argsort(-row)[:3]
        if top[0] != record["label"]:
            misclassified.append(
                {
                    "id": record["id"],
                    "true": names[record["label"]],
                    "top3": [{"class": names[i], "prob": round(float(row[i]), 4)} for i in top],
                }
            )
    report = {
        "classes": names,
        "totals": _totals(scores),
        "per_class": _per_class(scores["confusion"], names),
        "confusion_matrix": scores["confusion"].tolist(),
        "most_confused": _confused_pairs(scores["confusion"], names, top_n),
        "misclassified": misclassified,
    }
    groups: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        groups[record.get("group", record["id"])].append(index)
    if any(len(members) > 1 for members in groups.values()):
        keys = sorted(groups)
        group_probs = np.stack([probs[groups[k]].mean(0) for k in keys])  # average clip probabilities
        group_labels = np.array([labels[groups[k][0]] for k in keys])
        report["group_totals"] = _totals(_scores(group_labels, group_probs, len(names)))
    return report


def format_summary(report: dict) -> str:
    t = report["totals"]
    line = f"accuracy {percent(t['accuracy'])} ({t['correct']} / {t['examples']}), mean-class {percent(t['mean_class_accuracy'])}"
    if "top5_accuracy" in t:
        line += f", top-5 {percent(t['top5_accuracy'])}"
    if "group_totals" in report:
        g = report["group_totals"]
        line += f"\nvideo-level (clip probabilities averaged): {percent(g['accuracy'])} ({g['correct']} / {g['examples']})"
    return line


def format_markdown(report: dict) -> str:
    t = report["totals"]
    rows = [["accuracy (top-1)", f"{percent(t['accuracy'])} ({t['correct']} / {t['examples']})"],
            ["mean-class accuracy", percent(t["mean_class_accuracy"])]]
    if "top5_accuracy" in t:
        rows.append(["top-5 accuracy", percent(t["top5_accuracy"])])
    if "group_totals" in report:
        g = report["group_totals"]
        rows.append(["group-level accuracy (averaged clip probabilities)", f"{percent(g['accuracy'])} ({g['correct']} / {g['examples']})"])
    out = ["# Accuracy report", "", "## Totals", "", *table(["metric", "value"], rows)]
    out += ["", "## Per class", ""]
    out += table(
        ["class", "precision", "recall", "F1", "support"],
        [[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]] for c in report["per_class"]],
    )
    out += ["", "## Confusion matrix (rows: true, columns: predicted)", "", "![confusion matrix](confusion_matrix.png)", ""]
    out += table(["true \\ predicted", *report["classes"]], [[name, *row] for name, row in zip(report["classes"], report["confusion_matrix"])])
    out += ["", "## Most confused pairs", ""]
    out += table(["true", "predicted", "count"], [[p["true"], p["predicted"], p["count"]] for p in report["most_confused"]])
    out += ["", f"## Misclassified examples ({len(report['misclassified'])})", ""]
    out += table(
        ["id", "true", "top-3 predictions"],
        [[m["id"], m["true"], ", ".join(f"{p['class']} {p['prob']:.2f}" for p in m["top3"])] for m in report["misclassified"]],
    )
    return "\n".join(out).rstrip() + "\n"


def plot_confusion(report: dict, path: Path) -> None:
    """Row-normalised confusion matrix as a PNG heatmap."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    names = report["classes"]
    counts = np.array(report["confusion_matrix"], dtype=np.float64)
    rows = counts.sum(1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = max(4.0, 0.45 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(normalised, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=90)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(names) <= 20:
        for i in range(len(names)):
            for j in range(len(names)):
                if counts[i, j]:
                    ax.text(j, i, f"{normalised[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if normalised[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_accuracy_report(report: dict, out_dir: Path, records: list[dict]) -> tuple[Path, Path, Path, Path]:
    """Write ``accuracy_report.{json,md}``, ``confusion_matrix.png`` and the per-example
    ``records`` the report was built from (``test_predictions.jsonl``: every class's
    probability, so runs can be ensembled later) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = out_dir / "accuracy_report.json", out_dir / "accuracy_report.md", out_dir / "confusion_matrix.png"
    predictions_path = out_dir / PREDICTIONS_FILE
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    plot_confusion(report, png_path)
    with open(predictions_path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return json_path, md_path, png_path, predictions_path
