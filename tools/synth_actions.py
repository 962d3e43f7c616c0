"""Synthesise a small action-recognition corpus of real encoded videos (UCF101-like layout).

Nine classes, each a motion of one shape over a still scene: ``move_left``,
``move_right``, ``move_up``, ``move_down``, ``rotate``, ``grow``, ``shrink``, ``bounce``
(a ball-like vertical bounce, 1.5-3 bounces per clip) and ``still``.  The background
(colour gradient, blurred texture, 0-3 motionless distractor shapes), the shape
(rectangle, triangle or ellipse, elongated so that its orientation shows), its colour, size,
orientation, speed and starting position, and the per-frame sensor noise are all drawn at
random, so no single frame tells the class: only the motion does.

The output is ``OUT/<split>/<class>/<split>_<index>.mp4`` (H.264 with libx264, MPEG-4
Part 2 if the PyAV wheel lacks it) plus one JSON-lines manifest per split,
``OUT/<split>.jsonl``, naming each video's class and the parameters it was drawn with.
Each split draws from its own seed stream, so train, val and test never share a video:

    python tools/synth_actions.py --out data/synth_actions --train 150 --val 20 --test 30

(counts are per class).  A rerun with the same settings finds ``OUT/settings.json`` and
does nothing; ``--force`` rebuilds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import av
import numpy as np
from tqdm import tqdm

SETTINGS_VERSION = 1  # bump when the rendering changes, so older corpora are rebuilt
CLASSES = ("move_left", "move_right", "move_up", "move_down", "rotate", "grow", "shrink", "bounce", "still")
SHAPES = ("rectangle", "triangle", "ellipse")
SPLITS = ("train", "val", "test")
SUPERSAMPLE = 2  # shapes are rasterised at 2x and averaged down: anti-aliased edges


def pick_codec() -> str:
    """libx264 when the PyAV wheel has it (it does on PyPI), else the built-in MPEG-4 encoder."""
    for codec in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(codec, "w")
            return codec
        except ValueError:  # av.codec.codec.UnknownCodecError: not built into this wheel
            continue
    raise RuntimeError("this PyAV build has neither the libx264 nor the mpeg4 encoder")


# ---------------------------------------------------------------- drawing


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A static scene (H, W, 3) in [0, 1]: gradient between two colours plus a blurred texture."""
    low, high = rng.uniform(0.05, 0.95, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    ramp = (np.cos(angle) * xs + np.sin(angle) * ys + 0.5)[..., None]  # (H, W, 1), about [0, 1]
    coarse = rng.normal(0.0, rng.uniform(0.02, 0.08), size=(8, 8, 3))
    # bilinear upsampling 8 -> size: a smooth texture, no block edges for a CNN to latch on
    upsample = np.stack([np.interp(np.linspace(0, 7, size), np.arange(8), column) for column in np.eye(8)], axis=1)
    texture = np.einsum("yi,ijc,xj->yxc", upsample, coarse, upsample)
    return np.clip(low + (high - low) * ramp + texture, 0.0, 1.0)


def _coverage(shape: str, center: np.ndarray, radius: float, aspect: float, angle: float, size: int) -> np.ndarray:
    """Fraction (H, W) of each pixel covered by the shape; ``radius`` is its half-length in pixels."""
    grid = size * SUPERSAMPLE
    coords = (np.arange(grid) + 0.5) / SUPERSAMPLE
    xs, ys = np.meshgrid(coords - center[0], coords - center[1])
    # rotate the pixel grid into the shape's own frame: the shape is axis-aligned there
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * xs + sin * ys, -sin * xs + cos * ys
    width = radius / aspect  # the long axis is u
    if shape == "ellipse":
        inside = (u / radius) ** 2 + (v / width) ** 2 <= 1.0
    elif shape == "rectangle":
        inside = (np.abs(u) <= radius) & (np.abs(v) <= width)
    else:  # isosceles triangle, apex on +u
        inside = (u >= -radius) & (np.abs(v) <= width * (radius - u) / (2 * radius))
    return inside.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _contrasting_colour(rng: np.random.Generator, against: np.ndarray, min_contrast: float) -> np.ndarray:
    """A random colour whose luma differs from that of ``against`` (a colour) by at least ``min_contrast``."""
    while True:
        colour = rng.uniform(0.0, 1.0, size=3)
        if abs(_luma(colour) - _luma(against)) >= min_contrast:
            return colour


def plan_motion(label: str, rng: np.random.Generator, size: int, frames: int) -> dict:
    """Per-frame pose of the object: centres (T, 2) in pixels, radii (T,), angles (T,)."""
    t = np.linspace(0.0, 1.0, frames)
    radius = rng.uniform(0.09, 0.15) * size
    angle = np.full(frames, rng.uniform(0, 2 * np.pi))
    radii = np.full(frames, radius)

    def free(extent: float) -> float:  # a coordinate keeping an object of ``extent`` inside
        return rng.uniform(extent, size - extent)

    if label.startswith("move_"):
        travel = rng.uniform(0.3, 0.55) * size  # speed: 0.3-0.55 frame widths per clip
        start = rng.uniform(radius, size - radius - travel)
        along = start + travel * t
        if label in ("move_left", "move_up"):
            along = size - along
        across = np.full(frames, free(radius))
        xy = (along, across) if label in ("move_left", "move_right") else (across, along)
        centres = np.stack(xy, axis=1)
    elif label == "bounce":
        height = rng.uniform(0.25, 0.45) * size
        floor = rng.uniform(radius + height, size - radius)
        bounces = rng.uniform(1.5, 3.0)
        y = floor - height * np.abs(np.sin(np.pi * bounces * t + rng.uniform(0, np.pi)))
        centres = np.stack([np.full(frames, free(radius)), y], axis=1)
    elif label in ("grow", "shrink"):
        small, factor = rng.uniform(0.07, 0.1) * size, rng.uniform(1.8, 2.4)
        radii = small * factor**t if label == "grow" else small * factor ** (1 - t)
        big = small * factor
        centres = np.tile([free(big), free(big)], (frames, 1))
    else:  # rotate / still
        centres = np.tile([free(radius), free(radius)], (frames, 1))
        if label == "rotate":
            turn = rng.uniform(0.5, 1.5) * np.pi * rng.choice([-1, 1])  # 90-270 degrees per clip
            angle = angle + turn * t
    return {"centres": centres, "radii": radii, "angles": angle}


def render_video(label: str, seed: int, size: int, frames: int) -> tuple[np.ndarray, dict]:
    """Frames (T, H, W, 3) uint8 of one ``label`` video, and the parameters drawn for it."""
    rng = np.random.default_rng(seed)
    scene = _background(rng, size)
    for _ in range(int(rng.integers(0, 4))):  # motionless distractors: part of the scene
        colour = rng.uniform(0.0, 1.0, size=3)
        cover = _coverage(
            str(rng.choice(SHAPES)), rng.uniform(0, size, 2), rng.uniform(0.05, 0.1) * size,
            rng.uniform(1.0, 2.0), rng.uniform(0, np.pi), size,
        )[..., None]
        scene = scene * (1 - cover) + colour * cover
    shape = str(rng.choice(SHAPES))
    aspect = rng.uniform(1.5, 2.2)  # elongated, so a rotation is visible for every shape
    motion = plan_motion(label, rng, size, frames)
    covers = [
        _coverage(shape, motion["centres"][index], motion["radii"][index], aspect, motion["angles"][index], size)[..., None]
        for index in range(frames)
    ]  # (H, W, 1) each
    path = np.maximum.reduce(covers)  # everywhere the object goes: it must stand out there
    colour = _contrasting_colour(rng, (scene * path).sum(axis=(0, 1)) / path.sum(), min_contrast=0.3)
    noise = rng.uniform(0.0, 0.04)
    video = np.empty((frames, size, size, 3), np.uint8)
    for index, cover in enumerate(covers):
        frame = scene * (1 - cover) + colour * cover + rng.normal(0.0, noise, size=scene.shape)
        video[index] = np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)
    params = {
        "shape": shape,
        "aspect": round(float(aspect), 3),
        "colour": [round(float(c), 3) for c in colour],
        "noise": round(float(noise), 4),
        "start": [round(float(c), 2) for c in motion["centres"][0]],
        "end": [round(float(c), 2) for c in motion["centres"][-1]],
        "radius": [round(float(motion["radii"][0]), 2), round(float(motion["radii"][-1]), 2)],
        "turn_degrees": round(float(np.degrees(motion["angles"][-1] - motion["angles"][0])), 1),
    }
    return video, params


def write_video(path: Path, video: np.ndarray, fps: int, codec: str) -> None:
    """Encode frames (T, H, W, 3) uint8 to ``path``; H and W must be even (yuv420p)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = video.shape[2], video.shape[1]
        stream.pix_fmt = "yuv420p"
        # near-lossless and single-threaded: many tiny videos, quality matters more than size
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "veryfast", "threads": "1"}
        else:
            stream.bit_rate = 2_000_000  # far above what 64x64 frames need
            stream.codec_context.thread_count = 1
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())  # flush the delayed frames


# ---------------------------------------------------------------- corpus


def settings_of(args: argparse.Namespace, codec: str) -> dict:
    return {
        "version": SETTINGS_VERSION,
        "seed": args.seed,
        "counts_per_class": {split: getattr(args, split) for split in SPLITS},
        "size": args.size,
        "frames": args.frames,
        "fps": args.fps,
        "codec": codec,
        "classes": list(CLASSES),
    }


def plan_split(split: str, per_class: int, seed: int) -> list[tuple[str, str, int]]:
    """(video id, class, render seed) for ``per_class`` videos of each class; one seed stream per split."""
    rng = np.random.default_rng([seed, SPLITS.index(split) + 1])
    seeds = rng.integers(0, 2**63 - 1, size=(per_class, len(CLASSES)))
    plans, index = [], 0
    for row in seeds:  # classes interleaved, so a smaller count is a prefix of a bigger one
        for label, video_seed in zip(CLASSES, row):
            plans.append((f"{split}_{index:05d}", label, int(video_seed)))
            index += 1
    return plans


def _is_complete(out: Path, settings: dict) -> bool:
    try:
        if json.loads((out / "settings.json").read_text()) != settings:
            return False
        for split in SPLITS:
            records = [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
            if len(records) != settings["counts_per_class"][split] * len(CLASSES):
                return False
            if not all((out / record["video"]).is_file() for record in records):
                return False
    except (OSError, ValueError):
        return False
    return True


def build(args: argparse.Namespace) -> dict:
    """Write the corpus (or find it complete); return a summary with the count and seconds."""
    out, codec = Path(args.out), pick_codec()
    settings = settings_of(args, codec)
    plans = {split: plan_split(split, getattr(args, split), args.seed) for split in SPLITS}
    total = sum(len(p) for p in plans.values())
    if not args.force and _is_complete(out, settings):
        return {"skipped": True, "videos": total, "codec": codec}
    (out / "settings.json").unlink(missing_ok=True)  # complete only once rewritten
    start = time.perf_counter()
    bar = tqdm(total=total, desc="synth", unit="video", disable=args.quiet)
    for split, split_plans in plans.items():
        shutil.rmtree(out / split, ignore_errors=True)  # no stale videos from a bigger build
        bar.set_description(split)
        records = []
        for video_id, label, seed in split_plans:
            folder = out / split / label
            folder.mkdir(parents=True, exist_ok=True)
            video, params = render_video(label, seed, args.size, args.frames)
            write_video(folder / f"{video_id}.mp4", video, args.fps, codec)
            records.append({"id": video_id, "video": f"{split}/{label}/{video_id}.mp4", "label": label, "seed": seed, **params})
            bar.update()
        with open(out / f"{split}.jsonl", "w") as manifest:
            manifest.writelines(json.dumps(record) + "\n" for record in records)
    bar.close()
    (out / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    return {"skipped": False, "videos": total, "codec": codec, "seconds": time.perf_counter() - start}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/synth_actions"), help="output folder")
    parser.add_argument("--train", type=int, default=150, help="training videos per class")
    parser.add_argument("--val", type=int, default=20, help="validation videos per class")
    parser.add_argument("--test", type=int, default=30, help="test videos per class")
    parser.add_argument("--seed", type=int, default=0, help="decides every video; each split has its own stream")
    parser.add_argument("--size", type=int, default=64, help="frame height and width, pixels (even)")
    parser.add_argument("--frames", type=int, default=24, help="frames per video")
    parser.add_argument("--fps", type=int, default=12, help="frame rate of the encoded videos")
    parser.add_argument("--force", action="store_true", help="rebuild even if OUT is complete")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if min(args.train, args.val, args.test) < 0 or args.train + args.val + args.test == 0:
        parser.error("--train, --val and --test must not be negative, and not all zero")
    if args.size < 16 or args.size % 2:
        parser.error("--size must be even (yuv420p halves the chroma) and at least 16")
    if args.frames < 2 or args.fps < 1:
        parser.error("--frames must be at least 2 and --fps at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    summary = build(args)
    if summary["skipped"]:
        print(f"{args.out} is already complete with these settings; nothing to do (--force rebuilds)")
    else:
        print(f"wrote {summary['videos']} videos ({summary['codec']}) to {args.out} in {summary['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
