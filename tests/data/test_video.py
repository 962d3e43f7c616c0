"""seqkit.data.video: decoding, frame sampling, the decoded-frame cache and the folder layouts."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from seqkit.data import video as video_module
from seqkit.data.video import FrameSampling, VideoDataset, VideoDecodeError, VideoFolderDataModule, decode_video

pytestmark = pytest.mark.usefixtures("one_thread")


def write_video(path: Path, frames: int = 12, fps: int = 6, size: int = 32, codec: str = "libx264") -> Path:
    """A video whose frame i is uniformly grey at level 10 * i, so decoded frames tell their index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = np.full((size, size, 3), 10 * index, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def frame_index(frames: np.ndarray) -> list[int]:
    """Index of each frame (T, H, W, 3) written by :func:`write_video`."""
    return [int(round(float(f.mean()) / 10)) for f in frames]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4")


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "libx264"), (".avi", "mpeg4"), (".webm", "libvpx")])
def test_decodes_every_frame_with_timestamps(tmp_path: Path, suffix: str, codec: str) -> None:
    frames, times = decode_video(write_video(tmp_path / f"v{suffix}", codec=codec))
    assert frames.shape == (12, 32, 32, 3) and frames.dtype == np.uint8
    assert frame_index(frames) == list(range(12))
    assert np.allclose(times, np.arange(12) / 6, atol=1e-3)


def test_decoding_resizes(clip: Path) -> None:
    assert decode_video(clip, size=(16, 24))[0].shape == (12, 16, 24, 3)


def test_uniform_sampling_spreads_frames_over_the_video() -> None:
    times = np.arange(24) / 12
    assert FrameSampling("uniform", frames=4).indices(times)[0].tolist() == [3, 9, 15, 21]
    assert FrameSampling("uniform", frames=4).indices(times[:2])[0].tolist() == [0, 0, 1, 1]  # short: repeats
    clips = FrameSampling("uniform", frames=2, clips=3).indices(times)
    assert [c.tolist() for c in clips] == [[2, 6], [10, 14], [18, 22]]


def test_fps_sampling_follows_the_timestamps() -> None:
    times = np.arange(24) / 12  # 2 s at 12 fps
    assert FrameSampling("fps", frames=100, fps=4).indices(times)[0].tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
    assert FrameSampling("fps", frames=3, fps=4).indices(times)[0].tolist() == [6, 9, 12]  # capped: the middle
    clips = FrameSampling("fps", frames=100, fps=2, clips=2).indices(times)
    assert [c.tolist() for c in clips] == [[0, 6], [12, 18]]
    irregular = np.array([0.0, 0.1, 0.5, 0.55, 0.9])  # variable frame rate: the frame on screen at t
    assert FrameSampling("fps", frames=100, fps=4).indices(irregular)[0].tolist() == [0, 1, 2, 3, 4]
    assert FrameSampling("fps", frames=100, fps=4).clip_lengths(2.0) == [8]


def test_examples_are_float_frames_with_the_video_as_group(clip: Path) -> None:
    dataset = VideoDataset([("a/clip", clip, 2)], FrameSampling("uniform", frames=3, clips=2))
    assert len(dataset) == 2 and dataset.lengths == [3, 3]
    first, second = dataset[0], dataset[1]
    assert first["inputs"].shape == (3, 3, 32, 32) and first["inputs"].dtype == torch.float32
    assert 0.0 <= first["inputs"].min() and first["inputs"].max() <= 1.0
    assert (first["id"], first["group"], first["label"]) == ("a/clip#0", "a/clip", 2)
    assert (second["id"], second["group"]) == ("a/clip#1", "a/clip")
    as_uint8 = (second["inputs"] * 255).permute(0, 2, 3, 1).numpy()
    assert frame_index(as_uint8) == [7, 9, 11]  # uniform over the second half


def test_fps_lengths_come_from_the_header(clip: Path) -> None:
    dataset = VideoDataset([("clip", clip, 0)], FrameSampling("fps", frames=100, fps=3))
    assert dataset.lengths == [6] and dataset[0]["inputs"].shape[0] == 6


def test_cache_hit_avoids_a_second_decode(clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_decode = video_module.decode_video
    monkeypatch.setattr(video_module, "decode_video", lambda *a, **k: calls.append(a) or real_decode(*a, **k))
    sampling = FrameSampling("uniform", frames=4, clips=2)
    dataset = VideoDataset([("clip", clip, 0)], sampling, cache_dir=tmp_path / "cache")
    first = dataset[0]["inputs"]
    assert len(calls) == 1
    assert torch.equal(dataset[0]["inputs"], first) and len(calls) == 1
    dataset[1]  # the other clip was cached by the same decode
    assert len(calls) == 1
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2 and not list((tmp_path / "cache").glob("*.tmp"))
    VideoDataset([("clip", clip, 0)], sampling, cache_dir=tmp_path / "cache")[0]  # another epoch / worker
    assert len(calls) == 1
    VideoDataset([("clip", clip, 0)], FrameSampling("uniform", frames=5), cache_dir=tmp_path / "cache")[0]
    assert len(calls) == 2  # other settings: another key


def test_edited_video_misses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "v.mp4")
    dataset = VideoDataset([("v", path, 0)], FrameSampling(frames=2), cache_dir=tmp_path / "cache")
    before = dataset[0]["inputs"]
    write_video(path, frames=6)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later mtime, whatever the clock resolution
    assert not torch.equal(dataset[0]["inputs"], before)


def test_unreadable_video_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        decode_video(bad)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        VideoDataset([("broken", bad, 0)], FrameSampling())[0]
    with pytest.raises(VideoDecodeError, match="missing.mp4"):
        decode_video(tmp_path / "missing.mp4")


def test_zero_frame_video_error_names_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.avi"
    with av.open(str(empty), "w") as container:  # a header and a video stream, no frame
        stream = container.add_stream("mpeg4", rate=6)
        stream.width = stream.height = 16
        container.start_encoding()
    with pytest.raises(VideoDecodeError, match=r"empty\.avi.*no frames"):
        decode_video(empty)


def test_split_folder_layout(tmp_path: Path) -> None:
    for split, name in [("train", "walk/a"), ("train", "walk/b"), ("train", "run/c"), ("test", "run/d")]:
        write_video(tmp_path / split / f"{name}.mp4", frames=4)
    (tmp_path / "train" / "walk" / "notes.txt").write_text("not a video")
    data = VideoFolderDataModule(str(tmp_path), frames=3, batch_size=2)
    assert data.labels == ["run", "walk"] and data.input_size == 3
    assert data.has_split("fit") and data.has_split("test") and not data.has_split("validate")
    assert data.val_dataloader() == []
    train = data.dataset("fit")
    assert [(v[0], v[2]) for v in train.videos] == [("train/run/c", 0), ("train/walk/a", 1), ("train/walk/b", 1)]
    batch = next(iter(data.test_dataloader()))
    assert batch["inputs"].shape == (1, 3, 3, 32, 32) and batch["labels"].tolist() == [0]
    assert batch["groups"] == ["test/run/d"]


def test_split_file_layout_decodes_in_workers(tmp_path: Path) -> None:
    for name in ("Walk/v_Walk_g01.avi", "Walk/v_Walk_g02.avi", "Run/v_Run_g01.avi"):
        write_video(tmp_path / name, frames=4, codec="mpeg4")
    (tmp_path / "trainlist01.txt").write_text("Walk/v_Walk_g01.avi 2\nRun/v_Run_g01.avi 1\n\n")
    (tmp_path / "testlist01.txt").write_text("Walk/v_Walk_g02.avi\n")
    data = VideoFolderDataModule(
        str(tmp_path), train_list=str(tmp_path / "trainlist01.txt"), test_list=str(tmp_path / "testlist01.txt"),
        frames=2, size=(16, 16), batch_size=4, num_workers=1,
    )
    assert data.labels == ["Run", "Walk"]
    batch = next(iter(data.train_dataloader()))
    assert batch["inputs"].shape == (2, 2, 3, 16, 16)
    assert sorted(zip(batch["ids"], batch["labels"].tolist())) == [("Run/v_Run_g01", 0), ("Walk/v_Walk_g01", 1)]


def test_missing_listed_video_names_the_list_line(tmp_path: Path) -> None:
    write_video(tmp_path / "Walk" / "a.mp4", frames=2)
    (tmp_path / "list.txt").write_text("Walk/a.mp4 1\nWalk/gone.mp4 1\n")
    with pytest.raises(FileNotFoundError, match=r"list\.txt:2: .*gone\.mp4"):
        VideoFolderDataModule(str(tmp_path), train_list=str(tmp_path / "list.txt"))
