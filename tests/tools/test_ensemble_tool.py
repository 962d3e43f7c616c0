"""tools/ensemble.py on two test folders written by the report code."""

from seqkit.reports.accuracy import build_accuracy_report, write_accuracy_report


def test_prints_members_and_ensemble_and_writes_the_report(load_script, tmp_path, capsys):
    tool = load_script("tools/ensemble.py")
    dirs = []
    for name, probs_x in (("a", [0.6, 0.4]), ("b", [0.1, 0.9])):
        records = [{"id": "x", "group": "x", "label": 1, "probs": probs_x}]
        dirs.append(str(tmp_path / name / "test"))
        write_accuracy_report(build_accuracy_report(records, ["neg", "pos"]), tmp_path / name / "test", records)
    assert tool.main([*dirs, "--out", str(tmp_path / "ens")]) == 0
    printed = capsys.readouterr().out
    assert "  0.00%" in printed and "100.00%" in printed and "ensemble of 2: accuracy 100.00% (1 / 1)" in printed
    assert (tmp_path / "ens" / "confusion_matrix.png").is_file()
    assert tool.main([dirs[0], str(tmp_path), "--out", str(tmp_path / "bad")]) == 2
    assert "no accuracy_report.json" in capsys.readouterr().err
