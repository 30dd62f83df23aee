"""Files through `artcolor colorize` a few at a time, so one file's decoding and encoding overlap
another's network and recombination (Pillow, numpy and torch release the GIL in their loops).

With the network on a GPU, a folder goes the batched way instead (`inference/device_jobs.py`):
decoding and encoding in worker processes, photos batched through the network, the full-resolution
work on the device. Setting ARTCOLOR_DEVICE_PATH=1 takes that way on the CPU too (the tests and
`scripts/gpu_check.sh`'s dry run check it there); on a CPU the file-at-a-time way is the faster.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..inference.request import PreparedJob
from ..video.codec import is_video

Job = tuple[Path, "Path | None"]


def run_jobs(jobs: Iterable[Job], work: Callable[[Path, Path], None], errors: tuple[type[BaseException], ...],
             workers: int = 2, colorize_one: Callable | None = None) -> Iterator[tuple[Path, Path | None, BaseException | None]]:
    """Yield (src, dst, error or None) for every job, in the jobs' order; `work(src, dst)` writes one.

    A job whose dst is None (skipped) is passed through. An exception in `errors` is that file's
    failure and the rest go on; any other is raised. At most 2 x `workers` files are in flight, so
    memory stays bounded; `workers=1` is one file at a time, in this thread. `colorize_one`: the
    run's prepared job (`request.PreparedJob`), which the batched way takes over when `batched_run` says so.
    """
    jobs = list(jobs)
    batched = batched_run(colorize_one, jobs)
    if batched is not None:
        from ..inference.device_jobs import colorize_files

        colorizer, style = batched
        yield from colorize_files(colorizer, style, jobs, errors)
        return
    yield from _threaded(jobs, work, errors, workers)


def batched_run(colorize_one: Callable | None, jobs: list[Job]):
    """(colorizer, style) when the run's photos go the batched way: the network on an accelerator (or
    ARTCOLOR_DEVICE_PATH=1), photos only, no hints; else None."""
    if not isinstance(colorize_one, PreparedJob):
        return None
    colorizer = colorize_one.colorizer
    if colorize_one.request.hints is not None or any(is_video(src) for src, _ in jobs):
        return None
    if getattr(colorizer.backend, "name", None) != "torch":
        return None
    from ..inference.gpu import accelerator

    if accelerator(colorizer.backend) is None and os.environ.get("ARTCOLOR_DEVICE_PATH") != "1":
        return None
    return colorizer, colorize_one.style


def _threaded(jobs, work, errors, workers):
    def attempt(src, dst):
        try:
            work(src, dst)
        except errors as e:
            return e
        return None

    if workers <= 1:
        for src, dst in jobs:
            yield src, dst, None if dst is None else attempt(src, dst)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="artcolor-file") as pool:
        pending = deque()
        for src, dst in jobs:
            pending.append((src, dst, None if dst is None else pool.submit(attempt, src, dst)))
            while len(pending) > 2 * workers or (pending and pending[0][2] is None):
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())


def _result(entry):
    src, dst, future = entry
    return src, dst, None if future is None else future.result()
