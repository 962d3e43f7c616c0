import json

import pytest

from seqkit.reports.accuracy import build_accuracy_report, write_accuracy_report
from seqkit.reports.ensemble import EnsembleError, average_runs, read_test_run, write_ensemble

NAMES = ["neg", "pos"]


def _test_dir(tmp_path, name, rows, names=NAMES):
    """A RUN/test folder as `seqkit test` writes it, from (id, label, probs) rows."""
    records = [{"id": i, "group": i, "label": label, "probs": probs} for i, label, probs in rows]
    out = tmp_path / name / "test"
    write_accuracy_report(build_accuracy_report(records, names), out, records)
    return out


def test_mean_of_probabilities_can_beat_every_member(tmp_path):
    # a gets x wrong, b gets y wrong; each is 50% right, their mean is right on both.
    a = _test_dir(tmp_path, "a", [("x", 1, [0.6, 0.4]), ("y", 1, [0.2, 0.8])])
    b = _test_dir(tmp_path, "b", [("y", 1, [0.6, 0.4]), ("x", 1, [0.1, 0.9])])  # other order: matched by id
    runs = [read_test_run(a), read_test_run(b)]
    assert [run.accuracy for run in runs] == [0.5, 0.5]
    records = average_runs(runs)
    assert [r["id"] for r in records] == ["x", "y"]
    assert records[0]["probs"] == pytest.approx([0.35, 0.65]) and records[1]["probs"] == pytest.approx([0.4, 0.6])
    result = write_ensemble([a, b], tmp_path / "ensemble")
    assert result["report"]["totals"]["correct"] == 2
    written = json.loads((tmp_path / "ensemble" / "members.json").read_text())
    assert [m["accuracy"] for m in written["members"]] == [0.5, 0.5] and written["ensemble"]["accuracy"] == 1.0
    assert (tmp_path / "ensemble" / "accuracy_report.md").is_file()
    assert len((tmp_path / "ensemble" / "test_predictions.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    "other, message",
    [
        ([("x", 1, [0.5, 0.5])], "tested other examples"),
        ([("x", 0, [0.5, 0.5]), ("y", 1, [0.5, 0.5])], "example 'x' has label 0"),
    ],
)
def test_runs_of_other_examples_or_labels_are_refused(tmp_path, other, message):
    a = _test_dir(tmp_path, "a", [("x", 1, [0.6, 0.4]), ("y", 1, [0.2, 0.8])])
    b = _test_dir(tmp_path, "b", other)
    with pytest.raises(EnsembleError, match=message) as error:
        average_runs([read_test_run(a), read_test_run(b)])
    assert str(b) in str(error.value)


def test_other_classes_and_missing_or_broken_files_are_named(tmp_path):
    a = _test_dir(tmp_path, "a", [("x", 1, [0.6, 0.4])])
    b = _test_dir(tmp_path, "b", [("x", 1, [0.6, 0.4])], names=["no", "yes"])
    with pytest.raises(EnsembleError, match="classes"):
        average_runs([read_test_run(a), read_test_run(b)])
    (b / "test_predictions.jsonl").unlink()  # a test folder from before the file was written
    with pytest.raises(EnsembleError, match="no test_predictions.jsonl"):
        read_test_run(b)
    (a / "test_predictions.jsonl").write_text('{"id": "x", "label": 1}\n')
    with pytest.raises(EnsembleError, match=r"test_predictions.jsonl:1: not a prediction record"):
        read_test_run(a)
