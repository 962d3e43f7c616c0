import json

import pytest

from seqkit.reports.accuracy import build_accuracy_report, format_summary, write_accuracy_report

NAMES = ["a", "b", "c"]


def _record(example_id, label, probs, group=None):
    return {"id": example_id, "group": group or example_id, "label": label, "probs": probs}


def test_totals_per_class_and_confusions_by_hand():
    records = [
        _record("1", 0, [0.8, 0.1, 0.1]),  # a -> a
        _record("2", 0, [0.2, 0.7, 0.1]),  # a -> b
        _record("3", 1, [0.1, 0.8, 0.1]),  # b -> b
        _record("4", 2, [0.1, 0.6, 0.3]),  # c -> b
        _record("5", 2, [0.1, 0.1, 0.8]),  # c -> c
    ]
    report = build_accuracy_report(records, NAMES)
    totals = report["totals"]
    assert totals["correct"] == 3 and totals["examples"] == 5
    assert totals["accuracy"] == pytest.approx(0.6)
    assert totals["mean_class_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert "top5_accuracy" not in totals  # only with more than 5 classes
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 1, 1]]
    b = report["per_class"][1]
    assert b["precision"] == pytest.approx(1 / 3) and b["recall"] == 1.0 and b["support"] == 1
    assert b["f1"] == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert {(p["true"], p["predicted"]) for p in report["most_confused"]} == {("a", "b"), ("c", "b")}
    wrong = {m["id"]: m for m in report["misclassified"]}
    assert set(wrong) == {"2", "4"}
    assert [p["class"] for p in wrong["4"]["top3"]] == ["b", "c", "a"]
    assert "group_totals" not in report


def test_top5_with_more_than_five_classes():
    names = [str(i) for i in range(7)]
    probs = [0.3, 0.25, 0.2, 0.1, 0.08, 0.05, 0.02]
    records = [_record("x", 4, probs), _record("y", 6, probs)]  # 4 is 5th best, 6 is last
    totals = build_accuracy_report(records, names)["totals"]
    assert totals["accuracy"] == 0.0 and totals["top5_accuracy"] == 0.5


def test_group_level_accuracy_averages_clip_probabilities():
    records = [
        _record("v1-0", 0, [0.4, 0.6, 0.0], "v1"),  # clip wrong
        _record("v1-1", 0, [0.9, 0.1, 0.0], "v1"),  # clip right; mean favours a
        _record("v2-0", 1, [0.6, 0.4, 0.0], "v2"),
        _record("v2-1", 1, [0.55, 0.45, 0.0], "v2"),
    ]
    report = build_accuracy_report(records, NAMES)
    assert report["totals"]["accuracy"] == pytest.approx(0.25)
    assert report["group_totals"]["examples"] == 2 and report["group_totals"]["correct"] == 1
    assert "video-level" in format_summary(report)


def test_written_files(tmp_path):
    records = [_record("1", 0, [0.9, 0.05, 0.05]), _record("2", 2, [0.5, 0.2, 0.3])]
    report = build_accuracy_report(records, NAMES)
    json_path, md_path, png_path, predictions_path = write_accuracy_report(report, tmp_path, records)
    assert json.loads(json_path.read_text())["totals"]["correct"] == 1
    assert [json.loads(line) for line in predictions_path.read_text().splitlines()] == records
    markdown = md_path.read_text()
    assert "## Per class" in markdown and "## Misclassified examples (1)" in markdown and "confusion_matrix.png" in markdown
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_records_are_an_error():
    with pytest.raises(ValueError, match="no test examples"):
        build_accuracy_report([], NAMES)
