"""``seqkit classify`` with tiny classifiers trained for the purpose: .npy series and audio files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqkit import cli
from seqkit.commands import classify

from tiny_models import one_thread_only, train_digits_ctc, train_ramps_classifier, train_tones_classifier


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    with one_thread_only():
        code = classify.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tones")
    with one_thread_only():
        ckpt = train_tones_classifier(root / "train", root / "tones.ckpt")
    return ckpt, root / "train"


def test_npy_top_k_jsonl(capsys, ramps: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, test = ramps
    files = sorted(str(p) for p in test.glob("*.npy"))
    output = tmp_path / "out.jsonl"
    code, _, err = run(capsys, "--ckpt", str(ckpt), *files, "--top-k", "2", "--output", str(output), "--batch-size", "6")
    assert code == 0 and "classified 20 input(s)" in err
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["path"] for r in records] == files  # input order, though batched by size
    for record in records:
        assert sorted(record["labels"]) == ["down", "up"]
        assert record["probs"] == sorted(record["probs"], reverse=True)
        assert sum(record["probs"]) == pytest.approx(1, abs=1e-4)
    right = sum(r["labels"][0] == Path(r["path"]).stem.split("_")[1] for r in records)
    assert right >= 18, records  # trained: held-out ramps are classified


def test_audio_files_tsv_through_the_seqkit_command(capsys, tones: tuple[Path, Path]) -> None:
    ckpt, folder = tones
    files = sorted(str(p) for p in folder.glob("*.wav"))[:12]
    with one_thread_only(), pytest.raises(SystemExit) as exit_info:
        cli.main(["classify", "--ckpt", str(ckpt), *files])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[0] for row in rows] == files and all(len(row) == 2 for row in rows)  # top-1 by default
    right = sum(row[1].split(":")[0] == Path(row[0]).stem.split("_")[1] for row in rows)
    assert right >= 11, rows


def test_manifest_input(capsys, tones: tuple[Path, Path]) -> None:
    ckpt, folder = tones
    manifest = folder / "m.jsonl"
    names = sorted(p.name for p in folder.glob("*.wav"))[:3]
    manifest.write_text("".join(json.dumps({"id": n[:-4], "audio": n, "duration": 0.5, "text": ""}) + "\n" for n in names))
    code, out, _ = run(capsys, "--ckpt", str(ckpt), "--manifest", str(manifest), "--format", "jsonl", "--top-k", "5")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [n[:-4] for n in names]
    assert all(len(r["labels"]) == 2 for r in records)  # top-k capped at the number of classes


def test_inputs_the_checkpoint_cannot_take_are_named(capsys, ramps: tuple[Path, Path], tones: tuple[Path, Path], tmp_path: Path) -> None:
    ramps_ckpt, ramps_test = ramps
    tones_ckpt, tones_folder = tones
    npy = sorted(ramps_test.glob("*.npy"))[0]
    wav = sorted(tones_folder.glob("*.wav"))[0]
    code, out, err = run(capsys, "--ckpt", str(tones_ckpt), str(npy), str(wav))
    assert code == 1 and out.startswith(str(wav))
    assert f"{npy}: this checkpoint's features (MFCC) take audio, not .npy arrays" in err
    code, _, err = run(capsys, "--ckpt", str(ramps_ckpt), str(wav))
    assert code == 1 and f"{wav}: this checkpoint's features (PrecomputedFeatures) take .npy arrays" in err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 3), np.float32))
    code, _, err = run(capsys, "--ckpt", str(ramps_ckpt), str(wrong))
    assert code == 1 and f"{wrong}: 3 features per step, the model takes 2" in err
    code, _, err = run(capsys, "--ckpt", str(ramps_ckpt), str(tmp_path / "none.npy"))
    assert code == 1 and "none.npy: file not found" in err


def test_a_speech_checkpoint_is_refused(capsys, digits_corpus: Path, tmp_path: Path) -> None:
    speech = train_digits_ctc(digits_corpus / "train.jsonl", tmp_path / "speech.ckpt", steps=0)  # only its kind matters
    code, _, err = run(capsys, "--ckpt", str(speech), str(tmp_path / "x.wav"))
    assert code == 2 and "not a sequence classifier" in err


def test_an_audio_classifier_that_normalises_by_speaker_pools_its_speakers(capsys, tmp_path: Path) -> None:
    with one_thread_only():
        ckpt = train_tones_classifier(tmp_path / "tones", tmp_path / "speaker.ckpt", by_speaker=True)
    files = sorted(str(p) for p in (tmp_path / "tones").glob("*.wav"))[:12]
    code, pooled, err = run(capsys, "--ckpt", str(ckpt), "--speaker", "lab", *files)
    assert code == 0 and "statistics of 1 speaker(s) (--speaker) from 12 recording(s)" in err
    right = sum(line.split("\t")[1].split(":")[0] == Path(line.split("\t")[0]).stem.split("_")[1] for line in pooled.splitlines())
    assert right >= 11, pooled
    code, alone, err = run(capsys, "--ckpt", str(ckpt), *files)  # each recording its own speaker: its own tone removed
    assert code == 0 and "(one per recording)" in err
    assert sum(line.split("\t")[1].split(":")[0] == Path(line.split("\t")[0]).stem.split("_")[1]
               for line in alone.splitlines()) <= 8

    manifest = tmp_path / "tones" / "m.jsonl"  # the same speaker named by a manifest
    manifest.write_text("".join(json.dumps({"id": Path(f).stem, "audio": Path(f).name, "duration": 0.5, "text": "",
                                            "speaker": "lab"}) + "\n" for f in files))
    code, out, err = run(capsys, "--ckpt", str(ckpt), "--manifest", str(manifest))
    assert code == 0 and "(the manifest's speakers)" in err
    assert [line.split("\t")[1] for line in out.splitlines()] == [line.split("\t")[1] for line in pooled.splitlines()]


def test_speaker_statistics_are_for_audio_classifiers_only(capsys, ramps: tuple[Path, Path], tmp_path: Path) -> None:
    import torch

    ckpt, test = ramps
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    checkpoint["hyper_parameters"]["normalizer"] = {"class_path": "seqkit.features.cmvn.SpeakerCMVN"}
    torch.save(checkpoint, tmp_path / "speaker.ckpt")
    code, _, err = run(capsys, "--ckpt", str(tmp_path / "speaker.ckpt"), *map(str, sorted(test.glob("*.npy"))[:2]))
    assert code == 2 and "normalises by speaker (SpeakerCMVN): classify computes speaker statistics for audio only" in err
    code, _, err = run(capsys, "--ckpt", str(ckpt), "--speaker", "x", *map(str, sorted(test.glob("*.npy"))[:2]))
    assert code == 2 and "--speaker is for a model that normalises by speaker" in err


def test_several_checkpoints_average_their_probabilities(capsys, ramps: tuple[Path, Path], tones: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    ckpt, test = ramps
    with one_thread_only():
        other = train_ramps_classifier(tmp_path / "train", tmp_path / "other.ckpt", seed=3)
    files = sorted(str(p) for p in test.glob("*.npy"))[:6]

    def probabilities(*ckpts: Path) -> list[dict]:
        output = tmp_path / "out.jsonl"
        repeated = [arg for path in ckpts for arg in ("--ckpt", str(path))]
        code, _, _ = run(capsys, *repeated, *files, "--top-k", "2", "--output", str(output))
        assert code == 0
        return [dict(zip(r["labels"], r["probs"])) for r in map(json.loads, output.read_text().splitlines())]

    first, second, both = probabilities(ckpt), probabilities(other), probabilities(ckpt, other)
    for a, b, mean in zip(first, second, both):
        assert mean["up"] == pytest.approx((a["up"] + b["up"]) / 2, abs=2e-6)
    assert any(abs(a["up"] - b["up"]) > 1e-3 for a, b in zip(first, second))  # the members differ
    code, _, err = run(capsys, "--ckpt", str(ckpt), "--ckpt", str(tones[0]), files[0])
    assert code == 2 and "classes" in err and str(tones[0]) in err


def test_text_files_give_one_input_a_line_and_name_bad_files(tmp_path: Path) -> None:
    text = tmp_path / "s.txt"
    text.write_bytes("a fine film\r\n\n  dull plot .  \n".encode())
    items = classify.sentences([str(text)])
    assert [(i.id, i.text) for i in items] == [(f"{text}:1", "a fine film"), (f"{text}:3", "dull plot .")]
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(classify.InputError, match=r"latin.txt: not UTF-8 text"):
        classify.sentences([str(tmp_path / "latin.txt")])
    with pytest.raises(classify.InputError, match=r"none.txt: file not found"):
        classify.sentences([str(tmp_path / "none.txt")])
