"""Videos as labelled frame sequences: PyAV decoding, frame sampling, a decoded-frame cache.

Any container and codec FFmpeg reads (mp4, avi, webm, ...) decodes through PyAV into RGB
frames, resized on the way if ``size`` is set.  A video gives ``clips`` examples: it is
cut into ``clips`` equal windows, each sampled by one of

* ``uniform``: ``frames`` frames spread evenly over the window (every example has exactly
  ``frames`` steps; a window shorter than that repeats frames);
* ``fps``: one frame every ``1 / fps`` seconds of the window, by the frames' timestamps
  (the length follows the duration; at most ``frames`` steps, the window's middle).

With ``clips > 1`` every example carries ``group`` = the video id, so video-level accuracy
can average its clips.  Decoding every frame is the slow part, so with ``cache_dir`` the
sampled frames of each clip are kept as uint8 ``.npy`` files keyed by the video's path,
size, modification time and the sampling settings: after the first epoch no video is
decoded again, and an edited video or new settings simply miss the cache.  Decoding runs
in ``__getitem__``, hence in the DataLoader workers.

Two folder layouts are read by :class:`VideoFolderDataModule` (the class of a video is
always the name of the folder holding it):

* split folders, as ``tools/synth_actions.py`` writes: ``root/{train,val,test}/<class>/<video>.<ext>``;
* split files, as UCF101 ships: ``root/<class>/<video>.<ext>`` plus lists of paths
  relative to ``root``, one per line, optionally followed by a label index
  (``trainlist01.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``), which is
  ignored: the folder decides the class.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

import av
import numpy as np
import torch

from seqkit.data.paths import expand_data_path
from seqkit.data.sequences import SequenceDataModule, SequenceDataset

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".mpg", ".mpeg")
SPLIT_FOLDERS = {"fit": "train", "validate": "val", "test": "test", "predict": "test"}
CACHE_VERSION = 1  # bump when decoding changes, so older cache files are never read


class VideoDecodeError(RuntimeError):
    """A video that cannot be read, has no video stream or no frames; the message names it."""


def decode_video(path: str | Path, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of ``path`` as RGB, and its timestamp in seconds from the first frame.

    Returns frames (N, H, W, 3) uint8, resized to ``size`` = (height, width) if given, and
    times (N,) float64.
    """
    height, width = size if size is not None else (None, None)
    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1  # parallelism comes from DataLoader workers
            rate = float(stream.average_rate or stream.guessed_rate or 25)  # for frames without a pts
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24", width=width, height=height))
                times.append(frame.time if frame.time is not None else len(times) / rate)
    except av.error.FFmpegError as err:
        raise VideoDecodeError(f"cannot decode {path}: {err}") from err
    if not frames:
        raise VideoDecodeError(f"{path}: the video has no frames")
    times_array = np.asarray(times, dtype=np.float64)
    return np.stack(frames), times_array - times_array[0]


def probe_duration(path: str | Path) -> float:
    """Duration in seconds from the container's header, without decoding (when it has one)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
    except av.error.FFmpegError as err:
        raise VideoDecodeError(f"cannot read {path}: {err}") from err
    times = decode_video(path)[1]  # no duration in the header: time the frames themselves
    return float(times[-1] + (np.median(np.diff(times)) if len(times) > 1 else 0.0))


@dataclass(frozen=True)
class FrameSampling:
    """Which frames of a video make its examples (see the module docstring)."""

    mode: Literal["uniform", "fps"] = "uniform"
    frames: int = 16
    fps: float = 10.0
    clips: int = 1
    size: tuple[int, int] | None = None  # (height, width) to resize to; None keeps the video's

    def __post_init__(self) -> None:
        if self.mode not in ("uniform", "fps"):
            raise ValueError(f"sampling must be 'uniform' or 'fps', got {self.mode!r}")
        if self.frames < 1 or self.clips < 1 or self.fps <= 0:
            raise ValueError("frames and clips must be at least 1 and fps positive")

    def indices(self, times: np.ndarray) -> list[np.ndarray]:
        """Frame indices (T_k,) of each clip, from the frame timestamps ``times`` (N,)."""
        count = len(times)
        if self.mode == "uniform":
            edges = np.linspace(0.0, count, self.clips + 1)
            steps = (np.arange(self.frames) + 0.5) / self.frames  # segment centres
            return [np.minimum((lo + steps * (hi - lo)).astype(np.int64), count - 1) for lo, hi in zip(edges, edges[1:])]
        frame_step = float(np.median(np.diff(times))) if count > 1 else 1.0 / self.fps
        edges = np.linspace(0.0, times[-1] + frame_step, self.clips + 1)
        clips = []
        for lo, hi in zip(edges, edges[1:]):
            targets = lo + np.arange(max(1, int(np.ceil((hi - lo) * self.fps - 1e-6)))) / self.fps
            if len(targets) > self.frames:
                skip = (len(targets) - self.frames) // 2
                targets = targets[skip : skip + self.frames]
            # the frame on screen at each target time (1 us tolerance for rounded timestamps)
            clips.append(np.maximum(np.searchsorted(times, targets + 1e-6, side="right") - 1, 0))
        return clips

    def clip_lengths(self, duration: float) -> list[int]:
        """Steps each clip will have, without decoding: exact for ``uniform``, from the duration for ``fps``."""
        if self.mode == "uniform":
            return [self.frames] * self.clips
        window = duration / self.clips
        return [min(self.frames, max(1, int(np.ceil(window * self.fps - 1e-6))))] * self.clips


class VideoDataset(SequenceDataset):
    """Examples ``{"id", "inputs": (T, 3, H, W) float in [0, 1], "label", "group"}``, ``clips`` per video.

    ``videos`` holds (video id, path, label index).  ``id`` is the video id, followed by
    ``#k`` for clip k when there are several; ``group`` is always the video id.
    """

    def __init__(self, videos: Sequence[tuple[str, Path, int]], sampling: FrameSampling, cache_dir: str | Path | None = None) -> None:
        self.videos = [(video_id, Path(path), label) for video_id, path, label in videos]
        self.sampling = sampling
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        if sampling.mode == "uniform":
            self.lengths = [sampling.frames] * (len(self.videos) * sampling.clips)
        else:  # lengths only order the batches, so the header's duration is close enough
            self.lengths = [n for _, path, _ in self.videos for n in sampling.clip_lengths(probe_duration(path))]

    def __len__(self) -> int:
        return len(self.videos) * self.sampling.clips

    def __getitem__(self, index: int) -> dict:
        video_index, clip = divmod(index, self.sampling.clips)
        video_id, path, label = self.videos[video_index]
        frames = self.clip_frames(path, clip)  # (T, H, W, 3) uint8
        inputs = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)  # (T, C, H, W)
        example_id = video_id if self.sampling.clips == 1 else f"{video_id}#{clip}"
        return {"id": example_id, "inputs": inputs, "label": label, "group": video_id}

    def clip_frames(self, path: Path, clip: int) -> np.ndarray:
        """Frames (T, H, W, 3) uint8 of one clip: from the cache, else decoded (caching every clip)."""
        if self.cache_dir is None:
            return self._decode_clips(path)[clip]
        key = self._cache_key(path)
        cached = self.cache_dir / f"{key}_{clip}.npy"
        if cached.is_file():
            return np.load(cached)
        clips = self._decode_clips(path)
        for index, frames in enumerate(clips):
            save_npy_atomic(self.cache_dir / f"{key}_{index}.npy", frames)
        return clips[clip]

    def _decode_clips(self, path: Path) -> list[np.ndarray]:
        frames, times = decode_video(path, self.sampling.size)
        return [np.ascontiguousarray(frames[indices]) for indices in self.sampling.indices(times)]

    def _cache_key(self, path: Path) -> str:
        stat = path.stat()
        record = [CACHE_VERSION, str(path.resolve()), stat.st_size, stat.st_mtime_ns, asdict(self.sampling)]
        return hashlib.sha1(json.dumps(record).encode()).hexdigest()


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``.npy`` via a temporary file and rename: a reader (another worker) never sees a partial file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, array)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_split_file(list_path: Path, root: Path) -> list[Path]:
    """Video paths of a UCF101-style list: ``relative/path.ext [label index]`` per line."""
    videos = []
    for number, line in enumerate(list_path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        relative = parts[0] if len(parts) == 2 and parts[1].isdigit() else line
        path = root / relative
        if not path.is_file():
            raise FileNotFoundError(f"{list_path}:{number}: video not found: {path}")
        videos.append(path)
    return videos


def list_split_folder(folder: Path) -> list[Path]:
    """Every video under ``folder/<class>/``, sorted."""
    return sorted(p for p in folder.glob("*/*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


class VideoFolderDataModule(SequenceDataModule):
    """Labelled videos in split folders or with split files (see the module docstring).

    Give ``train_list`` / ``val_list`` / ``test_list`` (paths of UCF101-style lists; the
    videos in them are relative to ``root``) for the split-file layout; without them the
    splits are ``root/train``, ``root/val`` and ``root/test``.  ``labels`` are the class
    folder names of all splits, sorted; ``input_size`` is 3 (RGB channels).  ``size``
    (height, width) resizes while decoding; every video must come out the same size to
    be batched.  ``cache_dir`` keeps decoded clips (see the module docstring).
    ``num_buckets`` is 1 by default: ``uniform`` sampling makes every example the same
    length, and the batch sampler keeps equal lengths in dataset order within a bucket,
    which here is class order; one bucket is a full shuffle.
    """

    input_size = 3

    def __init__(
        self,
        root: str,
        train_list: str | None = None,
        val_list: str | None = None,
        test_list: str | None = None,
        sampling: Literal["uniform", "fps"] = "uniform",
        frames: int = 16,
        fps: float = 10.0,
        clips: int = 1,
        size: tuple[int, int] | None = None,
        cache_dir: str | None = None,
        batch_size: int = 16,
        num_buckets: int = 1,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_buckets, num_workers, seed)
        self.root = Path(expand_data_path(root))
        self.sampling = FrameSampling(sampling, frames, fps, clips, tuple(size) if size is not None else None)
        self.cache_dir = expand_data_path(cache_dir) if cache_dir is not None else None
        lists = {"train": train_list, "val": val_list, "test": test_list}
        if any(lists.values()):
            self.split_videos = {
                split: read_split_file(Path(expand_data_path(path)), self.root) for split, path in lists.items() if path
            }
        else:
            if not self.root.is_dir():
                raise FileNotFoundError(f"video folder not found: {self.root}")
            self.split_videos = {
                split: list_split_folder(self.root / split) for split in lists if (self.root / split).is_dir()
            }
        if not any(self.split_videos.values()):
            raise FileNotFoundError(f"no videos found for any split under {self.root}")
        self.labels = sorted({path.parent.name for paths in self.split_videos.values() for path in paths})

    def has_split(self, split: str) -> bool:
        return bool(self.split_videos.get(SPLIT_FOLDERS[split]))

    def dataset_videos(self, split: str) -> list[tuple[str, Path, int]]:
        """(video id, path, label index) of each video of ``split``; the id is its path under root, no extension."""
        name = SPLIT_FOLDERS[split]
        if not self.has_split(split):
            raise ValueError(f"no {name!r} videos: give {name}_list or create {self.root / name}")
        label_of = {label: index for index, label in enumerate(self.labels)}
        return [
            (path.relative_to(self.root).with_suffix("").as_posix(), path, label_of[path.parent.name])
            for path in self.split_videos[name]
        ]

    def dataset(self, split: str) -> VideoDataset:
        return VideoDataset(self.dataset_videos(split), self.sampling, self.cache_dir)
