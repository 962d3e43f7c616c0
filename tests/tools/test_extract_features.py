"""tools/extract_features.py: one .npy (T, F) per video in a mirror layout, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import av
import numpy as np
import pytest

from seqkit.features.video import FrameDifference

pytestmark = pytest.mark.usefixtures("one_thread")

VIDEOS = ["train/walk/a.mp4", "train/walk/b.mp4", "train/run/c.mp4", "test/run/d.mp4"]


@pytest.fixture(scope="module")
def tool(load_script) -> ModuleType:
    return load_script("tools/extract_features.py")


def _write_moving_square(path: Path, frames: int = 6, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(frames):
            image = np.full((size, size, 3), 60, np.uint8)
            image[12:20, 2 + 3 * t : 10 + 3 * t] = 230
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    for name in VIDEOS:
        _write_moving_square(root / name)
    return root


def _args(videos: Path, out: Path, *extra: str) -> list[str]:
    return ["--videos", str(videos), "--out", str(out), "--frames", "5", "--extractor-args", '{"grid": 2}', "--quiet", *extra]


def test_writes_one_npy_per_video_in_a_mirror_layout(tool: ModuleType, videos: Path, tmp_path: Path) -> None:
    assert tool.main(_args(videos, tmp_path / "out", "--batch-size", "3")) == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.npy"))
    assert written == sorted(name.replace(".mp4", ".npy") for name in VIDEOS)
    features = np.load(tmp_path / "out" / "train" / "walk" / "a.npy")
    assert features.shape == (5, FrameDifference(grid=2).output_size) and features.dtype == np.float32
    assert features[1:, :4].sum() > 0  # the square moves
    settings = json.loads((tmp_path / "out" / "extraction.json").read_text())
    assert settings["labels"] == ["run", "walk"] and settings["extractor_args"] == {"grid": 2}


def test_resumes_skipping_finished_files(tool: ModuleType, videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert tool.main(_args(videos, out)) == 0
    done = out / "train" / "walk" / "a.npy"
    stamp = done.stat().st_mtime_ns
    (out / "train" / "run" / "c.npy").unlink()  # as if killed before this one
    stale = out / "train" / "run" / ".c.npy.x1y2.tmp"
    stale.write_bytes(b"half a file")
    capsys.readouterr()
    assert tool.main(_args(videos, out)) == 0
    assert "wrote 1 feature files" in (printed := capsys.readouterr().out) and "(3 already there)" in printed
    assert done.stat().st_mtime_ns == stamp
    assert (out / "train" / "run" / "c.npy").is_file() and not stale.exists()


def test_refuses_to_mix_settings(tool: ModuleType, videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert tool.main(_args(videos, out)) == 0
    assert tool.main(_args(videos, out, "--frames", "4")) == 2
    assert "other settings" in capsys.readouterr().err


def test_unknown_extractor_is_a_clear_error(tool: ModuleType, videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert tool.main(_args(videos, tmp_path / "out", "--extractor", "seqkit.features.video.Nope")) == 2
    assert "cannot import extractor" in capsys.readouterr().err
