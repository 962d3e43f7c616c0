"""The report's figures as PNG bytes (matplotlib, headless)."""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def line_plot(series: dict[str, tuple[Sequence[float], Sequence[float]]], xlabel: str, ylabel: str,
              title: str, log_y: bool = False) -> bytes:
    """One line per ``name -> (x, y)``; a series of one point is drawn as a marker."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for name, (x, y) in series.items():
        ax.plot(x, y, label=name, marker="o" if len(x) < 30 else None, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log_y and all(v > 0 for _, y in series.values() for v in y):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return _png(fig)


def bar_plot(labels: Sequence[str], values: Sequence[float], xlabel: str, title: str,
             counts: Sequence[int] | None = None, horizontal: bool = True) -> bytes:
    """Bars of ``values`` (rates in [0, ..]) shown as percentages; ``counts`` annotate each bar."""
    percent = [100 * v for v in values]
    if horizontal:
        fig, ax = plt.subplots(figsize=(7.5, max(2.0, 0.28 * len(labels) + 1.0)))
        positions = np.arange(len(labels))
        ax.barh(positions, percent, color="#4c72b0")
        ax.set_yticks(positions, labels, fontsize=8 if len(labels) > 20 else 10)
        ax.invert_yaxis()  # first label on top
        ax.set_xlabel(xlabel)
        if counts is not None:
            for y, (p, n) in enumerate(zip(percent, counts)):
                ax.text(p, y, f" n={n}", va="center", fontsize=7)
    else:
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        positions = np.arange(len(labels))
        ax.bar(positions, percent, color="#4c72b0")
        ax.set_xticks(positions, labels, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
        ax.set_ylabel(xlabel)
        if counts is not None:
            for x, (p, n) in enumerate(zip(percent, counts)):
                ax.text(x, p, f"n={n}", ha="center", va="bottom", fontsize=7)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x" if horizontal else "y")
    return _png(fig)


def confusion_png(report: dict) -> bytes:
    """The accuracy report's row-normalised confusion heatmap (the same figure ``seqkit test`` saves)."""
    from seqkit.reports.accuracy import plot_confusion

    buffer = io.BytesIO()
    plot_confusion(report, buffer)
    return buffer.getvalue()
