"""tools/synth_actions.py: real encoded videos, one motion per class, UCF101-like layout."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import av
import numpy as np
import pytest

from seqkit.data.video import decode_video

SPLIT_COUNTS = {"train": 1, "val": 0, "test": 1}  # per class


@pytest.fixture(scope="module")
def tool(load_script) -> ModuleType:
    return load_script("tools/synth_actions.py")


def _args(out: Path, seed: int = 0) -> list[str]:
    counts = [f"--{split}={n}" for split, n in SPLIT_COUNTS.items()]
    return ["--out", str(out), *counts, "--size", "32", "--frames", "8", "--seed", str(seed), "--quiet"]


@pytest.fixture(scope="module")
def corpus(tool: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("actions")
    assert tool.main(_args(out)) == 0
    return out


def _manifest(out: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]


def test_layout_and_manifests(tool: ModuleType, corpus: Path) -> None:
    assert len(tool.CLASSES) == 9
    for split, per_class in SPLIT_COUNTS.items():
        records = _manifest(corpus, split)
        assert sorted(r["label"] for r in records) == sorted(tool.CLASSES * per_class)
        for record in records:
            assert record["video"] == f"{split}/{record['label']}/{record['id']}.mp4"
        assert sorted(p.relative_to(corpus).as_posix() for p in (corpus / split).glob("*/*.mp4")) == sorted(r["video"] for r in records)
    train_seeds = {r["seed"] for r in _manifest(corpus, "train")}
    assert not train_seeds & {r["seed"] for r in _manifest(corpus, "test")}  # splits share no video


def test_videos_decode_to_the_requested_frames(corpus: Path) -> None:
    for record in _manifest(corpus, "test"):
        frames, times = decode_video(corpus / record["video"])
        assert frames.shape == (8, 32, 32, 3)
        assert np.allclose(times, np.arange(8) / 12, atol=1e-3)
    with av.open(str(corpus / record["video"])) as container:
        assert container.streams.video[0].codec_context.name in ("h264", "mpeg4")


def _moving_fraction(frames: np.ndarray) -> float:
    """Share of pixels whose luma, at some time, differs a lot from the first frame's."""
    grey = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114]) / 255
    return float((np.abs(grey - grey[0]).max(axis=0) > 0.2).mean())


def test_classes_differ_in_motion(tool: ModuleType, tmp_path: Path) -> None:
    moving = {}
    for label in tool.CLASSES:
        path = tmp_path / f"{label}.mp4"
        video, _ = tool.render_video(label, seed=3, size=64, frames=16)
        tool.write_video(path, video, fps=12, codec=tool.pick_codec())
        moving[label] = _moving_fraction(decode_video(path)[0])
    assert moving["still"] < 0.002  # noise and compression only
    assert all(moving[label] > 0.01 for label in tool.CLASSES if label != "still")


def test_motion_plans_match_their_class(tool: ModuleType) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        plans = {label: tool.plan_motion(label, rng, 64, 16) for label in tool.CLASSES}
        steps = {label: np.diff(p["centres"], axis=0) for label, p in plans.items()}
        assert (steps["move_left"][:, 0] < 0).all() and (steps["move_left"][:, 1] == 0).all()
        assert (steps["move_right"][:, 0] > 0).all() and (steps["move_up"][:, 1] < 0).all()  # y grows downwards
        assert (steps["move_down"][:, 1] > 0).all() and (steps["move_down"][:, 0] == 0).all()
        assert (steps["bounce"][:, 0] == 0).all() and (steps["bounce"][:, 1] > 0).any() and (steps["bounce"][:, 1] < 0).any()
        assert (np.diff(plans["grow"]["radii"]) > 0).all() and (np.diff(plans["shrink"]["radii"]) < 0).all()
        assert abs(plans["rotate"]["angles"][-1] - plans["rotate"]["angles"][0]) >= np.pi / 2
        for label in ("rotate", "still", "grow", "shrink"):
            assert (steps[label] == 0).all()
        for plan in plans.values():  # the object stays inside the frame
            assert (plan["centres"] - plan["radii"][:, None] >= 0).all() and (plan["centres"] + plan["radii"][:, None] <= 64).all()


def test_scenes_and_objects_are_drawn_per_video(tool: ModuleType) -> None:
    videos = [tool.render_video("still", seed=seed, size=32, frames=2) for seed in range(6)]
    assert len({params["shape"] for _, params in videos}) > 1
    assert len({tuple(params["colour"]) for _, params in videos}) == 6
    backgrounds = [video[0, 0, 0] for video, _ in videos]  # a corner pixel: the scene
    assert len({tuple(pixel) for pixel in backgrounds}) == 6
    same_scene = [tool.render_video(label, seed=7, size=32, frames=2)[0][0] for label in ("move_left", "grow")]
    assert not np.array_equal(*same_scene)  # one seed, two classes: the object is placed per class


def test_mpeg4_fallback_encodes_real_video(tool: ModuleType, tmp_path: Path) -> None:
    video, _ = tool.render_video("move_right", seed=1, size=32, frames=6)
    tool.write_video(tmp_path / "v.mp4", video, fps=12, codec="mpeg4")
    decoded = decode_video(tmp_path / "v.mp4")[0]
    assert decoded.shape == video.shape
    assert np.abs(decoded.astype(int) - video).mean() < 8  # close to what was drawn


def test_same_seed_same_corpus_and_rerun_is_skipped(tool: ModuleType, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert tool.main(_args(tmp_path)) == 0
    assert _manifest(tmp_path, "train") == _manifest(corpus, "train")
    capsys.readouterr()
    assert tool.main(_args(tmp_path)) == 0
    assert "already complete" in capsys.readouterr().out
    assert tool.main(_args(tmp_path, seed=1)) == 0
    assert "wrote 18 videos" in capsys.readouterr().out
    assert _manifest(tmp_path, "train") != _manifest(corpus, "train")
