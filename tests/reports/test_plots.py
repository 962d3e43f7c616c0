"""The report's figures, rendered for real and read back as pixels (matplotlib's Agg output is deterministic)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from matplotlib.image import imread

from seqkit.reports.accuracy import build_accuracy_report, write_accuracy_report
from seqkit.reports.plots import bar_plot, confusion_png, line_plot

BAR = (76, 114, 176)  # bar_plot's colour, #4c72b0
FIRST_LINE = (31, 119, 180)  # matplotlib's first line colour, C0
SERIES = {"train_loss": ([10, 20, 30], [2.0, 1.0, 0.5])}


def size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def coloured(png: bytes, colour: tuple[int, int, int]) -> np.ndarray:
    """A mask of the pixels of ``colour``."""
    rgb = (imread(io.BytesIO(png))[..., :3] * 255).round().astype(int)
    return np.abs(rgb - colour).sum(-1) < 10


def bars(mask: np.ndarray, axis: int) -> list[int]:
    """The lengths of the bars of ``mask``: runs of rows (axis 1) or columns (axis 0) holding bar pixels."""
    lines = np.where(mask.any(axis))[0]
    return [int(mask.take(run, axis=1 - axis).sum(axis).max()) for run in np.split(lines, np.where(np.diff(lines) > 1)[0] + 1)]


def test_line_plot_is_a_png_at_the_report_size() -> None:
    assert size(line_plot(SERIES, "step", "loss", "run: loss")) == (675, 306)  # 7.5 x 3.4 in at 90 dpi


def test_a_series_of_one_point_is_still_drawn() -> None:
    # A validation run once: a line of one point is invisible unless it has a marker.
    assert coloured(line_plot({"val_wer": ([10], [0.5])}, "step", "WER", "t"), FIRST_LINE).sum() > 0


def test_log_scale_only_when_every_value_is_positive() -> None:
    linear = line_plot(SERIES, "step", "loss", "t")
    assert line_plot(SERIES, "step", "loss", "t", log_y=True) != linear
    with_zero = {"train_loss": ([10, 20, 30], [2.0, 1.0, 0.0])}  # a zero has no logarithm: stay linear
    assert line_plot(with_zero, "step", "loss", "t", log_y=True) == line_plot(with_zero, "step", "loss", "t")


def test_series_are_named_in_a_legend_only_when_there_are_several() -> None:
    points = ([10, 20], [1.0, 0.5])
    assert line_plot({"a": points}, "step", "y", "t") == line_plot({"b": points}, "step", "y", "t")
    other = ([10, 20], [2.0, 1.5])
    assert line_plot({"a": points, "c": other}, "step", "y", "t") != line_plot({"b": points, "c": other}, "step", "y", "t")


def test_horizontal_bars_list_the_first_label_on_top_with_lengths_in_proportion() -> None:
    png = bar_plot(["a", "b"], [0.25, 1.0], "WER (%)", "WER per speaker")
    top, bottom = bars(coloured(png, BAR), axis=1)
    assert top / bottom == pytest.approx(0.25, abs=0.01)


def test_vertical_bars_go_left_to_right() -> None:
    png = bar_plot(["0-2 s", "2-4 s", "4-6 s"], [0.5, 1.0, 0.25], "WER (%)", "WER by duration", horizontal=False)
    assert size(png) == (675, 306)
    left, middle, right = bars(coloured(png, BAR), axis=0)
    assert (left / middle, right / middle) == (pytest.approx(0.5, abs=0.01), pytest.approx(0.25, abs=0.01))


def test_horizontal_bar_plot_grows_with_its_labels() -> None:
    assert size(bar_plot(["a", "b"], [0.1, 0.2], "x", "t")) == (675, 180)  # at least 2 in tall
    assert size(bar_plot([f"s{i}" for i in range(40)], [0.1] * 40, "x", "t")) == (675, 1098)  # 0.28 in a bar + 1 in


def test_counts_are_written_on_the_bars() -> None:
    for horizontal in (True, False):
        plain = bar_plot(["a", "b"], [0.25, 1.0], "x", "t", horizontal=horizontal)
        assert bar_plot(["a", "b"], [0.25, 1.0], "x", "t", counts=[3, 4], horizontal=horizontal) != plain


def test_confusion_figure_is_the_one_seqkit_test_saves(tmp_path) -> None:
    records = [{"id": "1", "label": 0, "probs": [0.8, 0.1, 0.1]}, {"id": "2", "label": 1, "probs": [0.6, 0.3, 0.1]},
               {"id": "3", "label": 2, "probs": [0.1, 0.1, 0.8]}]
    report = build_accuracy_report(records, ["a", "b", "c"])
    _, _, saved, _ = write_accuracy_report(report, tmp_path, records)
    png = confusion_png(report)
    assert png == saved.read_bytes()
    assert size(png) == (400, 400)  # at least 4 in square, at 100 dpi
