"""Long recordings in overlapping windows, stitched back into one frame sequence.

A recording is cut into windows of ``chunk`` samples that overlap by ``overlap``.  Each
window runs through the model alone; of its output frames only those nearest its own
centre are kept (the half of each overlap on its side), so every kept frame saw at least
``overlap / 2`` of context on both sides.  The kept pieces, concatenated, form one
sequence that is decoded once, so a word cut by a window edge is still read whole.

Window starts are multiples of the model's *output stride* (feature hop x encoder frame
stacking), so a window's local output frame ``j`` is exactly global frame
``start / stride + j``: the feature frames of the window are the file's frames, and the
stacks group the same frames.  The pieces then tile the frames of the whole recording
with neither gap nor duplicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


@dataclass(frozen=True)
class Window:
    start: int  # first sample, in the model's sample rate
    stop: int  # one past the last sample
    keep_from: int  # first kept output frame, counted in this window's own frames
    keep_to: int  # one past the last kept frame (same count)


@dataclass(frozen=True)
class FrameGeometry:
    """How samples map to output frames: ``frames(n)`` frames for ``n`` samples, one per ``stride`` samples."""

    stride: int  # samples per output frame
    frames: Callable[[int], int]  # samples -> valid output frames


def model_geometry(task) -> FrameGeometry:
    """The frame geometry of a speech task: spectral features, then the encoder's subsampling."""
    features, encoder = task.features, task.encoder
    if not hasattr(features, "hop_length") or not hasattr(features, "frame_lengths"):
        raise ValueError(f"chunking needs spectral features with a hop length, not {type(features).__name__}")
    stride = features.hop_length * int(getattr(encoder, "subsampling", 1))

    def frames(samples: int) -> int:
        return int(encoder.output_lengths(features.frame_lengths(torch.tensor([samples])))[0])

    return FrameGeometry(stride, frames)


def plan_windows(total: int, chunk: int, overlap: int, geometry: FrameGeometry, align: int = 1) -> list[Window]:
    """Windows covering ``total`` samples, and the frames each keeps.

    ``chunk`` and ``overlap`` are rounded down to multiples of the alignment
    (``lcm(stride, align)``; ``align`` keeps window starts on whole file samples when the
    file is resampled).  The kept frames of all windows are ``0 .. geometry.frames(total)``
    in order, each exactly once.
    """
    unit = math.lcm(geometry.stride, align)
    overlap = overlap // unit * unit
    chunk = chunk // unit * unit
    step = chunk - overlap
    if step <= 0:
        raise ValueError(f"the chunk ({chunk} samples after rounding to {unit}) must be longer than the overlap ({overlap})")
    # Every kept frame must lie inside its window's valid frames: the window's last valid
    # frame ends about one FFT window before its end, so half an overlap must exceed that.
    half = overlap // (2 * geometry.stride) * geometry.stride  # samples, a multiple of the stride
    if total > chunk and (half == 0 or geometry.frames(chunk) < (step + half) // geometry.stride):
        raise ValueError(f"an overlap of {overlap} samples is too short for this model's frames "
                         f"(at least {2 * geometry.stride}): make it longer")
    total_frames = geometry.frames(total)
    if total <= chunk:
        return [Window(0, total, 0, total_frames)]
    count = 1 + math.ceil((total - chunk) / step)
    windows = []
    for index in range(count):
        start = index * step
        stop = min(start + chunk, total)
        first = start // geometry.stride
        keep_from = 0 if index == 0 else half // geometry.stride
        keep_to = (step + half) // geometry.stride if index < count - 1 else total_frames - first
        windows.append(Window(start, stop, keep_from, keep_to))
    return windows


def stitch(pieces: list[Tensor], windows: list[Window]) -> Tensor:
    """Concatenate each window's kept frames.  pieces[i]: (T_i, ...) -> (sum of kept, ...)."""
    if len(pieces) != len(windows):
        raise ValueError(f"{len(pieces)} pieces for {len(windows)} windows")
    kept = []
    for piece, window in zip(pieces, windows):
        if piece.shape[0] < window.keep_to:
            raise ValueError(f"window at sample {window.start} has {piece.shape[0]} frames, {window.keep_to} are kept")
        kept.append(piece[window.keep_from : window.keep_to])
    return torch.cat(kept, dim=0)
