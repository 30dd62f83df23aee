"""Files through `artcolor colorize` a few at a time, so one file's decoding and encoding overlap
another's network and recombination (Pillow, numpy and torch release the GIL in their loops)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

Job = tuple[Path, "Path | None"]


def run_jobs(jobs: Iterable[Job], work: Callable[[Path, Path], None], errors: tuple[type[BaseException], ...],
             workers: int = 2) -> Iterator[tuple[Path, Path | None, BaseException | None]]:
    """Yield (src, dst, error or None) for every job, in the jobs' order; `work(src, dst)` writes one.

    A job whose dst is None (skipped) is passed through. An exception in `errors` is that file's
    failure and the rest go on; any other is raised. At most 2 x `workers` files are in flight, so
    memory stays bounded; `workers=1` is one file at a time, in this thread.
    """
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
