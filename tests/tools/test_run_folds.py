"""tools/run_folds.py, against a stand-in ``seqkit`` that fakes runs and accuracy reports."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

# Stands in for `seqkit`: logs its arguments; `fit` makes ROOT/version_N/checkpoints/last.ckpt,
# `test` writes RUN/test/accuracy_report.json with an accuracy that depends on the speaker.
FAKE_SEQKIT = """\
import json, sys
from pathlib import Path
args = sys.argv[1:]
with open(LOG, "a") as log:
    log.write(json.dumps(args) + "\\n")
value = lambda flag: args[args.index(flag) + 1]
if args[0] == "fit":
    root = Path(value("--trainer.default_root_dir"))
    run = root / f"version_{len(list(root.glob('version_*')))}"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_text("")
    (run / "config.yaml").write_text(json.dumps(args))  # what the fit was given, as seqkit saves its config
    (run / "seed").write_text(value("--seed_everything") if "--seed_everything" in args else "")
else:
    run = Path(value("--ckpt_path")).parent.parent
    assert value("--config") == str(run / "config.yaml")
    fitted = json.loads((run / "config.yaml").read_text())
    flag = "--data.init_args.test_speaker"
    speaker = fitted[fitted.index(flag) + 1] if flag in fitted else None
    (run / "test").mkdir()
    seed = (run / "seed").read_text()
    if not seed:
        correct = {"ann": 450, "bob": 500}[speaker]
        totals = {"accuracy": correct / 500, "correct": correct, "examples": 500, "mean_class_accuracy": 0.0}
        (run / "test" / "accuracy_report.json").write_text(json.dumps({"totals": totals}))
    else:  # two examples of class 1; seed 0 gets x wrong, seed 1 gets y wrong, their mean neither
        probs = {"0": {"x": [0.6, 0.4], "y": [0.2, 0.8]}, "1": {"x": [0.1, 0.9], "y": [0.6, 0.4]}}[seed]
        totals = {"accuracy": 0.5, "correct": 1, "examples": 2, "mean_class_accuracy": 0.5}
        (run / "test" / "accuracy_report.json").write_text(json.dumps({"classes": ["a", "b"], "totals": totals}))
        lines = [json.dumps({"id": i, "group": i, "label": 1, "probs": p}) for i, p in probs.items()]
        (run / "test" / "test_predictions.jsonl").write_text("\\n".join(lines) + "\\n")
"""


@pytest.fixture()
def fake_seqkit(tmp_path: Path) -> tuple[str, Path]:
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "fake_seqkit.py"
    script.write_text(f"LOG = {str(log)!r}\n" + FAKE_SEQKIT)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", log


def test_folds_fit_then_test_the_new_run_and_average(load_script, fake_seqkit, tmp_path: Path, capsys) -> None:
    driver = load_script("tools/run_folds.py")
    seqkit, log = fake_seqkit
    out = tmp_path / "runs"
    (out / "bob" / "version_0").mkdir(parents=True)  # an older run: the new one is version_1
    argv = ["--config", "c.yaml", "--arg", "data.init_args.test_speaker", "--values", "ann", "bob", "--out", str(out),
            "--seqkit", seqkit, "--", "--trainer.max_epochs", "2"]
    assert driver.main(argv) == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[0] for c in calls] == ["fit", "test", "fit", "test"]
    assert calls[0][-2:] == ["--trainer.max_epochs", "2"]
    # The test replays the fit's saved config (its overrides included) on the new run's checkpoint.
    ann_run = out / "ann" / "version_0"
    assert calls[1] == ["test", "--config", str(ann_run / "config.yaml"), "--ckpt_path", str(ann_run / "checkpoints" / "last.ckpt")]
    assert calls[3][calls[3].index("--ckpt_path") + 1] == str(out / "bob" / "version_1" / "checkpoints" / "last.ckpt")
    summary = json.loads((out / "folds.json").read_text())
    assert [f["fold"] for f in summary["folds"]] == ["ann", "bob"]
    assert summary["mean_accuracy"] == pytest.approx(0.95)
    printed = capsys.readouterr().out
    assert "ann           90.00% (450 / 500)" in printed and "mean          95.00%" in printed


def test_seeds_make_each_fold_an_ensemble(load_script, fake_seqkit, tmp_path: Path, capsys) -> None:
    driver = load_script("tools/run_folds.py")
    seqkit, log = fake_seqkit
    out = tmp_path / "runs"
    argv = ["--config", "c.yaml", "--arg", "data.init_args.test_speaker", "--values", "ann", "--out", str(out),
            "--seqkit", seqkit, "--seeds", "0", "1"]
    assert driver.main(argv) == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[0] for c in calls] == ["fit", "test", "fit", "test"]
    assert [c[c.index("--seed_everything") + 1] for c in calls[::2]] == ["0", "1"]
    assert calls[2][calls[2].index("--trainer.default_root_dir") + 1] == str(out / "ann" / "seed_1")
    fold = json.loads((out / "folds.json").read_text())["folds"][0]
    assert fold["accuracy"] == 1.0 and [m["accuracy"] for m in fold["members"]] == [0.5, 0.5]
    assert (out / "ann" / "ensemble" / "accuracy_report.md").is_file()
    printed = capsys.readouterr().out
    assert "100.00% (2 / 2)  ensemble of 50.00, 50.00" in printed and "single runs   50.00% (mean of 2)" in printed


def test_without_folds_the_config_split_is_ensembled_under_out(load_script, fake_seqkit, tmp_path: Path, monkeypatch) -> None:
    driver = load_script("tools/run_folds.py")
    seqkit, log = fake_seqkit
    out = tmp_path / "runs"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    argv = ["--config", "c.yaml", "--out", str(out), "--seqkit", seqkit, "--seeds", "0", "1", "--jobs", "2"]
    assert driver.main(argv) == 0  # the two seeds' fits side by side
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert not any("--data.init_args.test_speaker" in c for c in calls)
    roots = {c[c.index("--trainer.default_root_dir") + 1] for c in calls if c[0] == "fit"}
    assert roots == {str(out / "seed_0"), str(out / "seed_1")}
    fold = json.loads((out / "folds.json").read_text())["folds"][0]
    assert fold["fold"] == "config split" and fold["accuracy"] == 1.0 and fold["run"] == str(out / "ensemble")
    with pytest.raises(SystemExit):
        driver.main(["--config", "c.yaml", "--out", str(out), "--arg", "data.init_args.fold"])


def test_jobs_run_folds_side_by_side_and_keep_their_order(load_script, fake_seqkit, tmp_path: Path, monkeypatch) -> None:
    driver = load_script("tools/run_folds.py")
    seqkit, log = fake_seqkit
    monkeypatch.setenv("OMP_NUM_THREADS", "0")  # recorded, so what the driver sets is undone afterwards
    monkeypatch.delenv("OMP_NUM_THREADS")
    out = tmp_path / "runs"
    argv = ["--config", "c.yaml", "--arg", "data.init_args.test_speaker", "--values", "ann", "bob", "--out", str(out),
            "--seqkit", seqkit, "--jobs", "2"]
    assert driver.main(argv) == 0
    summary = json.loads((out / "folds.json").read_text())
    assert [(f["fold"], f["correct"]) for f in summary["folds"]] == [("ann", 450), ("bob", 500)]
    assert len(log.read_text().splitlines()) == 4
    assert os.environ["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
