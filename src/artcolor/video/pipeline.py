"""Colourising a clip: frames in batches through the network, stabilised, recombined at full size.

`colorize_frames` is the core as a generator, for callers with their own I/O. `colorize_video` runs
the same core between a decoding thread and an encoding thread, so decoding, the network and
encoding overlap and only a few batches of frames are ever held in memory (a two-hour film streams).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from ..inputs.images import ImageLike, atomic_write
from ..inference import Colorizer, Style
from ..inference.pipeline import recombine
from .codec import X26X_PRESET, Frame, VideoReader, VideoWriter, require_av
from .stability import CUT_THRESHOLD, ChromaStabilizer, is_cut, require_cv2

StyleInput = ImageLike | Sequence[ImageLike] | Style | None  # a reference, several, an encoded style, or automatic


class ClipColorizer:
    """Frames of one clip -> chroma ratios at working size, one style code for the whole clip.

    `stabilize`: True carries colour along optical flow between frames (see `stability.py`), a
    `ChromaStabilizer` does so with its settings, False gives per-frame colourisation. The
    stabiliser's state runs from frame to frame, so frames must come in order, and all of one size.

    `shot_starts`: the frames (counted from 0 in clip order) that start a shot, the first and each
    cut (`stability.is_cut` on the working-size gray frames), found in `predicted`, before the
    network, so anything that must start afresh with a shot can; the stabiliser starts afresh there.
    """

    def __init__(self, colorizer: Colorizer, style: StyleInput = None, strength: float = 1.0,
                 style_weights: Sequence[float] | None = None, stabilize: bool | ChromaStabilizer = True,
                 size: int | None = None):
        self.colorizer = colorizer
        self.style = style_code(colorizer, style, strength, style_weights)
        self.size = size or colorizer.size
        if isinstance(stabilize, ChromaStabilizer):
            self.stabilizer: ChromaStabilizer | None = stabilize
        else:
            # a reference's palette is kept by giving each frame its prediction's distribution of colours;
            # automatic mode has none to keep, and there matching came back as flicker (README, Video)
            self.stabilizer = ChromaStabilizer(match_colours=not self.style.automatic) if stabilize else None
        self.frame_shape: tuple[int, int] | None = None
        self.shot_starts: list[int] = []
        self._starts: set[int] = set()  # shot_starts, for the stabiliser's look-ups
        self._last_gray: np.ndarray | None = None  # the previous frame `predicted` saw
        self._predicted = self._stabilized = 0  # frames through each step so far

    def ratios(self, ys: list[np.ndarray]) -> list[np.ndarray]:
        """Luminance planes (H, W) float32 in [0, 1], in clip order -> chroma ratios (3, h, w)."""
        return self.stabilized(*self.predicted(ys))

    def predicted(self, ys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Luminance planes (H, W) float32 in [0, 1] -> (their gray frames at working size (B, h, w)
        uint8, the network's chroma ratios (B, 3, h, w)), before stabilising."""
        for y in ys:
            if self.frame_shape is None:
                self.frame_shape = y.shape
            if y.shape != self.frame_shape:
                raise ValueError(f"frames must all have one size: got {y.shape[1]}x{y.shape[0]} after "
                                 f"{self.frame_shape[1]}x{self.frame_shape[0]}")
        l = np.concatenate([self.colorizer.working_l(y, self.size) for y in ys])  # (B, 1, h, w), L* in [0, 100]
        gray = (l[:, 0] * np.float32(2.55)).round().clip(0, 255).astype(np.uint8)
        self._find_cuts(gray)
        return gray, self.colorizer.predict_ratio(l, self.style)

    def _find_cuts(self, gray: np.ndarray) -> None:
        for g in gray:
            if self._last_gray is None or is_cut(self._last_gray, g, self._cut_threshold):
                self.shot_starts.append(self._predicted)
                self._starts.add(self._predicted)
            self._last_gray = g
            self._predicted += 1

    @property
    def _cut_threshold(self) -> float:
        return self.stabilizer.cut_threshold if self.stabilizer is not None else CUT_THRESHOLD

    def stabilized(self, gray: np.ndarray, ratios: np.ndarray) -> list[np.ndarray]:
        """`predicted`'s output, in clip order -> the chroma ratios stabilised (as they are without a stabiliser)."""
        if self.stabilizer is None:
            self._stabilized += len(ratios)
            return list(ratios)
        out = []
        for g, r in zip(gray, ratios):
            out.append(self.stabilizer(g, r, new_shot=self._stabilized in self._starts))
            self._stabilized += 1
        return out


def style_code(colorizer: Colorizer, style: StyleInput, strength: float = 1.0,
               style_weights: Sequence[float] | None = None) -> Style:
    """One encoded style for a whole clip: a reference, blended references, None (automatic), or a
    style already made by `Colorizer.encode_style`."""
    if isinstance(style, Style):
        return style
    return colorizer.encode_style(style, strength, style_weights)


def colorize_frames(frames: Iterable[ImageLike], colorizer: Colorizer, style: StyleInput = None, strength: float = 1.0,
                    style_weights: Sequence[float] | None = None, stabilize: bool | ChromaStabilizer = True,
                    batch_size: int | None = None) -> Iterator[np.ndarray]:
    """Gray (or colour) frames in clip order -> colour frames (H, W, 3) uint8, one for each, in order.

    Frames are arrays (H, W) or (H, W, 3) uint8 (or floats in [0, 1]) or PIL images, all of one size;
    they are read `batch_size` at a time (the colorizer's by default), so memory stays bounded.

    >>> for rgb in colorize_frames(my_frames, Colorizer.load(), style="painting.jpg"):
    ...     my_writer.write(rgb)
    """
    if stabilize:
        require_cv2()
    clip = ClipColorizer(colorizer, style, strength, style_weights, stabilize)
    batch_size = batch_size or colorizer.batch_size
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(colorizer.prepare(frame)[0])
        if len(batch) == batch_size:
            yield from _recombined(batch, clip.ratios(batch))
            batch = []
    if batch:
        yield from _recombined(batch, clip.ratios(batch))


def _recombined(ys: list[np.ndarray], ratios: list[np.ndarray]) -> Iterator[np.ndarray]:
    for y, ratio in zip(ys, ratios):
        yield np.asarray(recombine(y, ratio))


def colorize_video(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, style: StyleInput = None,
                   strength: float = 1.0, style_weights: Sequence[float] | None = None,
                   stabilize: bool | ChromaStabilizer = True, codec: str | None = None, crf: int = 18,
                   preset: str = X26X_PRESET, tune: str = "grain", progress: bool | None = False) -> Path:
    """Colourise the video file `src` into `dst` (same container as its suffix says).

    The output has the input's frame count, timestamps (so frame rate and duration), size, and its
    audio streams copied packet for packet. `codec`: an FFmpeg encoder (H.264 by default; VP9 for
    .webm); `crf`: its constant-quality setting (lower is better and larger). A video that cannot be
    read raises `VideoError` naming it, and nothing is left at `dst` (it is written to a temporary
    file beside it and renamed at the end). `preset` (x264 and x265): the encoder's speed against
    file size, ultrafast .. veryslow; `tune`: "grain" keeps film grain, "none" lets the encoder
    smooth it into a smaller file. The output is in the input's colour matrix and range, tagged so,
    each pixel's luma chosen so it decodes to the input's luminance (see `colour.py`). `progress`: a
    bar with frames/s and ETA (None: on a terminal only).
    """
    require_av()
    if stabilize:
        require_cv2()
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"dst is the input itself ({src}); choose another path")
    clip = ClipColorizer(colorizer, style, strength, style_weights, stabilize)
    with VideoReader(src) as reader:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(dst) as f:
            writer = VideoWriter(f, dst.suffix, reader, codec, crf, preset, tune)
            try:
                disable = None if progress is None else not progress
                with tqdm(total=reader.frame_count, unit="frame", desc=src.name, disable=disable, leave=False,
                          dynamic_ncols=True) as bar:
                    _Pipeline(reader, writer, clip, colorizer.batch_size, bar).run()
                writer.close()
            except BaseException:
                writer.abort()
                raise
    return dst


def _recombiner(colorizer: Colorizer):
    """`recombine`, or on a GPU its device twin (`inference/gpu.py`): a frame's full-size work there."""
    if getattr(getattr(colorizer.backend, "device", None), "type", "cpu") == "cpu":
        return recombine
    from ..inference.gpu import recombine_for

    return recombine_for(colorizer.backend)


class _Coloured(NamedTuple):
    frame: Frame
    ratio: np.ndarray


_END = object()


class _Stopped(Exception):
    """Another stage failed; this one stops too."""


class _Pipeline:
    """decode (thread) -> network (this thread) -> stabiliser (thread) -> recombine and encode (thread).

    The stabiliser works on one batch while the network computes the next. Audio packets go straight
    from the decoder to the encoder's queue; the muxer interleaves them. Queues are short, so memory
    holds a few batches of frames whatever the clip's length.
    """

    def __init__(self, reader: VideoReader, writer: VideoWriter, clip: ClipColorizer, batch_size: int, bar):
        self.reader, self.writer, self.clip, self.batch_size, self.bar = reader, writer, clip, batch_size, bar
        self.recombine = _recombiner(clip.colorizer)  # numba's on a CPU, torch ops on a GPU
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.to_net: queue.Queue = queue.Queue(maxsize=batch_size)
        self.to_stabilizer: queue.Queue = queue.Queue(maxsize=1)  # one batch waits while the network makes the next
        self.to_writer: queue.Queue = queue.Queue(maxsize=batch_size + 64)  # room for audio packets

    def run(self) -> None:
        stages = (self._read, self._stabilize, self._write)
        threads = [threading.Thread(target=self._guarded, args=(fn,), daemon=True) for fn in stages]
        for t in threads:
            t.start()
        try:
            self._guarded(self._network)
        finally:
            for t in threads:
                t.join()
        if self.errors:
            raise self.errors[0]

    def _guarded(self, fn) -> None:
        try:
            fn()
        except _Stopped:
            pass
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread by run()
            self.errors.append(e)
            self.stop.set()

    def _put(self, q: queue.Queue, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return q.put(item, timeout=0.1)
            except queue.Full:
                pass

    def _get(self, q: queue.Queue):
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                pass

    def _read(self) -> None:
        for item in self.reader.items():
            self._put(self.to_net if isinstance(item, Frame) else self.to_writer, item)
        self._put(self.to_net, _END)
        self._put(self.to_writer, _END)

    def _network(self) -> None:
        batch, done = [], False
        while not done:
            item = self._get(self.to_net)
            done = item is _END
            if not done:
                batch.append(item)
            if batch and (done or len(batch) == self.batch_size):
                self._put(self.to_stabilizer, (batch, *self.clip.predicted([f.y for f in batch])))
                batch = []
        self._put(self.to_stabilizer, _END)

    def _stabilize(self) -> None:
        while (item := self._get(self.to_stabilizer)) is not _END:
            batch, gray, ratios = item
            for frame, ratio in zip(batch, self.clip.stabilized(gray, ratios)):
                self._put(self.to_writer, _Coloured(frame, ratio))
        self._put(self.to_writer, _END)

    def _write(self) -> None:
        ends = 0
        while ends < 2:  # one from the decoder (audio), one from the stabiliser (frames)
            item = self._get(self.to_writer)
            if item is _END:
                ends += 1
            elif isinstance(item, _Coloured):
                rgb = np.asarray(self.recombine(item.frame.y, item.ratio))
                self.writer.write(rgb, item.frame.pts, item.frame.duration, item.frame.y)
                self.bar.update(1)
            else:
                self.writer.mux_audio(item)
