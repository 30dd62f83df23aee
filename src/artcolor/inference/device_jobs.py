"""A folder through the network on a GPU: files decoded and encoded by a pool of processes sized to
the cores, photos batched through the network, the full-resolution work on the device.

    worker processes: read + decode + working-size L*  ─┐              ┌─> encode + write (workers)
                                                        ├─> this process: batch -> network -> luminance
                                                        │     and recombination on the device (uint8 in, uint8 out)

On a CPU the file-at-a-time path (`cli/image_jobs.run_jobs`, numba's loops) stays as it is: it is
the faster one there. The same `DeviceBatch` serves the Ray engine's GPU workers (`cluster/worker.py`).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from . import file_workers
from .file_workers import Decoded
from .gpu import recombiner
from .pipeline import Style

DEVICE_BATCH = 32  # photos through the network at once (the working size is small: launches dominate)


def pool_size() -> int:
    """Worker processes for decoding and encoding: the cores this process may use, one left to feed the device."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 2
    return max(1, cores - 1)


class DeviceBatch:
    """Decoded photos -> their colour images, a batch at a time, on the colorizer's device.

    `style`: the run's encoded style (no hints: photos with hints take the file-at-a-time path).
    """

    def __init__(self, colorizer, style: Style, size: int | None = None):
        self.colorizer, self.style = colorizer, style
        self.size = colorizer.size if size is None else size
        self.device = colorizer.backend.device
        self.recombiner = recombiner(self.device)
        self.pin = self.device.type == "cuda"

    def images(self, items: list[Decoded]) -> list[np.ndarray]:
        """Decoded photos -> sRGB (H, W, 3) uint8 each, in order; photos of one working size share a
        network batch. Raises PredictionError (the batch's) if a prediction is not finite."""
        shapes = [d.l.shape[-2:] for d in items]
        ratios: list[np.ndarray | None] = [None] * len(items)
        for shape in dict.fromkeys(shapes):
            todo = [i for i, s in enumerate(shapes) if s == shape]
            ratio = self.colorizer.predict_ratio(np.concatenate([items[i].l for i in todo]), self.style)
            for i, r in zip(todo, ratio):
                ratios[i] = r
        outputs = [self._recombined(d, r) for d, r in zip(items, ratios)]
        if self.pin:
            torch.cuda.current_stream(self.device).synchronize()  # the copies into pinned memory are done
        return [o.numpy() for o in outputs]

    def _recombined(self, item: Decoded, ratio: np.ndarray) -> torch.Tensor:
        """One photo on the device: pixels up (through pinned memory), Y, recombination, sRGB down
        (into pinned memory, without waiting: `colorize` waits once for the batch)."""
        pixels = torch.from_numpy(item.pixels)
        if self.pin:
            pixels = pixels.pin_memory()
        y = self.recombiner.luminance(pixels.to(self.device, non_blocking=True))
        ratio_dev = torch.from_numpy(np.ascontiguousarray(ratio)).to(self.device, non_blocking=True)
        rgb = self.recombiner.recombine(y, ratio_dev)
        if not self.pin:
            return rgb.cpu()
        out = torch.empty(rgb.shape, dtype=torch.uint8, pin_memory=True)
        return out.copy_(rgb, non_blocking=True)


def _context():
    """How the workers start: forked on Linux, as PyTorch's DataLoader forks its workers beside a CUDA
    context (they never touch the device; they start at once, with nothing to import, and a caller's
    script needs no `if __name__ == "__main__"` guard); spawned elsewhere (macOS, Windows)."""
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def colorize_files(colorizer, style: Style, jobs: Iterable[tuple[Path, Path | None]], errors: tuple[type[BaseException], ...],
                   size: int | None = None, processes: int | None = None,
                   batch: int = DEVICE_BATCH) -> Iterator[tuple[Path, Path | None, BaseException | None]]:
    """Yield (src, dst, error or None) for every job, in the jobs' order, as `image_jobs.run_jobs` does:
    a job whose dst is None (skipped) passes through; an exception in `errors` is that file's failure
    (a batch whose prediction fails fails each of its files) and the rest go on; any other is raised.

    At most a batch and a file per worker are decoded ahead, so memory stays bounded (1024x768: tens
    of MB; 50 MP scans: a few GB, as a batch of them needs on the device anyway).
    """
    device_batch = DeviceBatch(colorizer, style, size)
    multiple, max_pixels = colorizer.config.multiple, colorizer.max_pixels
    processes = processes or pool_size()
    with ProcessPoolExecutor(processes, mp_context=_context(), initializer=file_workers.start_worker) as pool:
        decoding: deque = deque()  # (src, dst, Future[Decoded] or None)
        writing: deque = deque()  # (src, dst, Future[None] or an error or None)
        pending = iter(jobs)
        exhausted = False
        while True:
            while not exhausted and len(decoding) < batch + processes:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                    break
                src, dst = job
                future = None if dst is None else pool.submit(file_workers.decode, src, max_pixels, device_batch.size, multiple)
                decoding.append((src, dst, future))
            if not decoding:
                break
            ready = _take_batch(decoding, batch)
            writing.extend(_colourised(device_batch, ready, pool, errors))
            while writing and (len(writing) > 2 * processes or _done(writing[0][2])):
                yield _written(writing.popleft(), errors)
        while writing:
            yield _written(writing.popleft(), errors)


def _take_batch(decoding: deque, batch: int) -> list:
    """The oldest decode (waited for) and those after it already done, up to `batch` files."""
    taken = [decoding.popleft()]
    while decoding and len(taken) < batch and _done(decoding[0][2]):
        taken.append(decoding.popleft())
    return taken


def _done(future) -> bool:
    return not isinstance(future, Future) or future.done()


def _colourised(device_batch: DeviceBatch, ready: list, pool: ProcessPoolExecutor, errors) -> list:
    """A batch of decodes -> (src, dst, the encoding's Future, or this file's error, or None if skipped)."""
    out, good = [], []
    for src, dst, future in ready:
        if future is None:
            out.append((src, dst, None))
            continue
        try:
            good.append((len(out), future.result()))
            out.append((src, dst, None))
        except errors as e:
            out.append((src, dst, e))
    if not good:
        return out
    try:
        images = device_batch.images([d for _, d in good])
    except errors as e:
        return [(src, dst, e if dst is not None and e0 is None else e0) for src, dst, e0 in out]
    for (at, decoded), rgb in zip(good, images):
        src, dst, _ = out[at]
        out[at] = (src, dst, pool.submit(file_workers.encode, rgb, decoded.alpha, dst))
    return out


def _written(entry, errors) -> tuple[Path, Path | None, BaseException | None]:
    src, dst, outcome = entry
    if isinstance(outcome, Future):
        try:
            outcome.result()
        except errors as e:
            return src, dst, e
        return src, dst, None
    return src, dst, outcome
