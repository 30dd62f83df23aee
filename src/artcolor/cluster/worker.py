"""The Ray engine's worker: Ray Data's callable class, so each worker process (an actor) builds the
model once and then colourises batch after batch of files, reading and writing them itself.

A batch holds file names, not pixels: each worker reads one file's bytes at a time, decodes them at
the file's own size, colourises and writes it before the next, so a 50 MP scan costs one scan's
memory (0.9 GB above the worker's 0.45 GB at rest, with the bundled model), whatever the batch size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..config import InferenceOptions
from ..inputs.images import DEFAULT_MAX_PIXELS, decode_bytes
from ..inference import Colorizer, Style
from ..inference.jobs import colorize_image
from .files import read_bytes, save_image


@dataclass
class WorkerSettings:
    """What every worker needs besides the model: all of it small, sent once per worker.

    `style`: the run's encoded style (numpy arrays: its code and, for a model that matches its
    reference, the references' bank), encoded once by the driver, so references are read where the
    job starts and never need to be reachable from the workers.
    """

    style: Style
    device: str = "auto"
    size: int | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    backend: str = "torch"
    threads: int = 1  # PyTorch's, as many as the worker's CPUs (Ray sets OMP_NUM_THREADS only for some workers)
    hints: object = None
    hint_labels: list[str] | None = None
    storage_options: dict = field(default_factory=dict)
    options: InferenceOptions | None = None  # the driver's colorizer's (the model folder's, --coherence applied)


class ColorizeFiles:
    """`map_batches(ColorizeFiles, fn_constructor_kwargs={"model": [ref], "settings": s}, ...)`.

    `model`: a one-element list holding the ObjectRef of the driver's `ColorNet` (in a list, so Ray
    hands the reference over rather than resolving it; the network then reaches every worker from
    Ray's object store, wherever `--weights` lives).
    """

    def __init__(self, model: list, settings: WorkerSettings):
        import ray
        import torch

        self.settings = settings
        torch.set_num_threads(settings.threads)
        self.colorizer = Colorizer(ray.get(model[0]), device=settings.device, size=settings.size,
                                   max_pixels=settings.max_pixels, backend=settings.backend, options=settings.options)
        self.device_batch = None
        if settings.hints is None and self.colorizer.backend.name == "torch":
            from ..inference.device_jobs import DeviceBatch
            from ..inference.gpu import accelerator

            if accelerator(self.colorizer.backend) is not None:
                self.device_batch = DeviceBatch(self.colorizer, settings.style)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rows (index, src, src_url, dst_url) -> (index, reason: "" when written, else why not, finished:
        the wall-clock time.time() it was finished at, for the driver's figures).

        A worker with a GPU (`--num-gpus`) takes the folder job's batched path (`device_jobs.DeviceBatch`):
        the batch's files read and decoded on a few threads, their photos through the network together,
        the full-resolution work on the device; one file at a time otherwise, or with hints.
        """
        rows = [(str(a), str(b), str(c)) for a, b, c in zip(batch["src"], batch["src_url"], batch["dst_url"])]
        if self.device_batch is not None:
            reasons = self._on_device(rows)
            finished = [time.time()] * len(rows)
        else:
            reasons, finished = [], []
            for row in rows:
                reasons.append(self._one(*row))
                finished.append(time.time())
        return {"index": np.asarray(batch["index"]), "reason": np.asarray(reasons, dtype=object),
                "finished": np.asarray(finished)}

    def _one(self, src: str, src_url: str, dst_url: str) -> str:
        """Colourise one file; "" when its output is written, else the reason, naming the file.

        Every Exception is this file's failure, listed in the manifest, and the batch goes on: one
        strange file in an archive must not cost the rest a retry (a worker that dies is Ray's to retry).
        """
        s = self.settings
        try:
            image = decode_bytes(read_bytes(src_url, s.storage_options), src, s.max_pixels)
            colour = colorize_image(self.colorizer, image, s.style, s.hints, s.hint_labels)
            save_image(colour, dst_url, s.storage_options)
        except Exception as e:  # noqa: BLE001 (reported, see above)
            message = str(e) or type(e).__name__
            return message if message.startswith(src) else f"{src}: {message}"
        return ""

    def _on_device(self, rows: list[tuple[str, str, str]]) -> list[str]:
        """The batch's files on the GPU: read and decoded on threads, colourised together, written on
        threads; each file's reason as `_one` gives it (a prediction that fails fails the batch's files)."""
        from concurrent.futures import ThreadPoolExecutor

        from PIL import Image

        from ..inference import file_workers

        s, device_batch = self.settings, self.device_batch

        def read(row):
            src, src_url, _ = row
            image = decode_bytes(read_bytes(src_url, s.storage_options), src, s.max_pixels)
            return file_workers.decode(image, None, device_batch.size, self.colorizer.config.multiple)

        def write(row, decoded, rgb):
            colour = Image.fromarray(rgb if decoded.alpha is None else np.dstack([rgb, decoded.alpha]))
            save_image(colour, row[2], s.storage_options)

        with ThreadPoolExecutor(min(8, len(rows)) or 1) as pool:
            outcomes = list(pool.map(lambda row: _attempt(read, row), rows))
            good = [i for i, o in enumerate(outcomes) if not isinstance(o, Exception)]
            try:
                images = device_batch.images([outcomes[i] for i in good]) if good else []
            except Exception as e:  # noqa: BLE001 (each file's reason, as in _one)
                images = [e] * len(good)
            for i, rgb in zip(good, images):
                outcomes[i] = rgb if isinstance(rgb, Exception) else pool.submit(_attempt, write, rows[i], outcomes[i], rgb)
            outcomes = [o.result() if hasattr(o, "result") else o for o in outcomes]
        return [_reason(row[0], o) for row, o in zip(rows, outcomes)]


def _attempt(fn, *args):
    """fn(*args), or the Exception it raised (a file's failure, reported in the manifest)."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        return e


def _reason(src: str, outcome) -> str:
    """"" for a file written, else its failure's message, naming the file."""
    if not isinstance(outcome, Exception):
        return ""
    message = str(outcome) or type(outcome).__name__
    return message if message.startswith(src) else f"{src}: {message}"
