"""`colorize_on_ray`: the driver of a Ray Data job colourising files from folders or buckets.

    plan (list inputs and outputs once) -> model and style code, once, here -> Ray: a dataset of file
    names -> map_batches(ColorizeFiles) on a pool of workers (actors) -> rows back: done or why not
    -> manifest beside the outputs

A worker that dies (killed, out of memory) is restarted and its batch retried, up to `retries`
times; a batch that still fails is reported file by file, not fatal to the rest. A run stopped and
started again skips every output already written (they are written whole or not at all).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..inference.jobs import FileJob, plan
from ..inference.request import ColorizeRequest, prepare_job
from ..inputs.checks import integer
from .files import write_manifest
from .worker import ColorizeFiles, WorkerSettings

RAY_FLOOR = (2, 58)  # the oldest Ray the tests ran on
INSTALL = "pip install 'artcolor[ray]'"
VIDEO_REASON = "a video: --engine ray colourises images; run videos with the local engine"
DIED = "its worker died on every retry ({error}); the file is left for the next run"


@dataclass
class RayRun:
    """What a run did: files written, failed, skipped (existing outputs), the manifest's location,
    its seconds starting or joining Ray, then colourising (`run_s`), and the seconds into the run when
    the workers finished their first and last file (`first_s`: the workers started, loaded the model
    and did one file; `(done - 1) / (last_s - first_s)` is the rate once running)."""

    done: int
    failed: int
    skipped: int
    manifest: str
    startup_s: float
    run_s: float
    first_s: float | None = None
    last_s: float | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)


def import_ray():
    """Ray, or an ImportError naming the extra that installs it (and the floor, if too old)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls from a job's driver
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ImportError(f"the Ray engine needs Ray Data: {INSTALL} ({e})") from None
    version = tuple(int(part) for part in ray.__version__.split(".")[:2] if part.isdigit())
    if version < RAY_FLOOR:
        floor = ".".join(map(str, RAY_FLOOR))
        raise ImportError(f"the Ray engine needs ray>={floor}, found {ray.__version__}: {INSTALL}")
    return ray


def colorize_on_ray(request: ColorizeRequest | Sequence[str], output: str | None = None, *,
                    address: str | None = None, num_cpus: float = 1, num_gpus: float = 0, workers: int | None = None,
                    batch_size: int = 4, retries: int = 3, storage_options: dict | None = None, progress: bool = True,
                    report: Callable[[str, str], None] | None = None, **settings) -> RayRun:
    """Colourise a `ColorizeRequest`'s inputs (files or folders; paths or fsspec URLs) into its output
    folder, mirrored; or `inputs` and `output` with the request's other fields as keywords
    (`colorize_on_ray(["s3://scans"], "s3://colour", style="painting.jpg", weights=...)`).

    The same model, style, strength and hints give the same pixels as `artcolor colorize` without
    Ray. `address`: a running cluster (`HOST:PORT`, `auto`); None joins the Ray this
    process already started, or starts one on this machine. Each worker (actor) takes `num_cpus` CPUs
    and `num_gpus` GPUs; `workers` of them at most (default: as many as the cluster fits), each given
    `batch_size` file names at a time. The request's `backend`: torch, onnxruntime, mixed, or auto
    (mixed for a reference over many files where the onnx extra is installed: `request.choose_backend`).
    `report(src, reason)` is called for each failure as it comes.
    Raises ValueError on a bad argument, FileNotFoundError on a missing input or model, ImportError
    without Ray.
    """
    request = _request(request, output, settings)
    if not (math.isfinite(num_cpus) and num_cpus > 0):
        raise ValueError(f"num_cpus must be a positive number, got {num_cpus}")
    if not (math.isfinite(num_gpus) and num_gpus >= 0):
        raise ValueError(f"num_gpus must be a number >= 0, got {num_gpus}")
    batch_size, retries = integer("batch_size", batch_size, 1), integer("retries", retries, 0)
    workers = None if workers is None else integer("workers", workers, 1)
    ray = import_ray()
    jobs = _plan(request, storage_options, report)
    model, worker_settings = _model_and_settings(request, max(1, int(num_cpus)), storage_options,
                                                 files=sum(job.state == "todo" for job in jobs))
    start = time.perf_counter()
    started = _join_ray(ray, address)
    startup_s = time.perf_counter() - start
    run_start = time.time()  # the clock workers stamp files with
    try:
        todo = [i for i, job in enumerate(jobs) if job.state == "todo"]
        pool = _pool_size(ray, workers, num_cpus, num_gpus, math.ceil(len(todo) / batch_size))
        options = dict(batch_size=batch_size, num_cpus=num_cpus, num_gpus=num_gpus, retries=retries)
        finished = _run(ray, jobs, todo, ray.put(model), worker_settings, pool, options, progress, report)
        run_s = time.perf_counter() - start - startup_s  # Ray's shutdown is start-up's counterpart, not the run's
    finally:  # also when stopped: what is done is done, the rest is pending for the next run
        if started:
            ray.shutdown()
        for job in jobs:
            job.state = "pending" if job.state == "todo" else job.state
        manifest = write_manifest(jobs, request.output, storage_options)
    count = lambda state: sum(job.state == state for job in jobs)  # noqa: E731
    return RayRun(count("done"), count("failed"), count("skipped"), manifest, startup_s,
                  run_s, *((min(finished) - run_start, max(finished) - run_start) if finished else (None, None)),
                  [(job.src, job.reason) for job in jobs if job.state == "failed"])


def _request(request, output: str | None, settings: dict) -> ColorizeRequest:
    """A ColorizeRequest, or inputs with `output` and the request's fields as keywords -> one."""
    if isinstance(request, ColorizeRequest):
        request = request.replace(**settings, **({} if output is None else {"output": output}))
    else:
        request = ColorizeRequest(inputs=tuple(request), output=output, **settings)
    if request.output is None:
        raise ValueError("colorize_on_ray needs an output folder")
    return request


def _plan(request: ColorizeRequest, storage_options: dict | None, report) -> list[FileJob]:
    """The run's files (`jobs.plan`), videos failed with their reason (the local engine runs them)."""
    jobs = plan(request.inputs, request.output, request.overwrite, storage_options or {})
    for job in jobs:
        if job.video:
            job.state, job.reason = "failed", VIDEO_REASON
        if job.state == "failed" and report is not None:
            report(job.src, job.reason)
    return jobs


def _model_and_settings(request: ColorizeRequest, threads: int, storage_options: dict | None, files: int = 0):
    """The network (on the CPU, to be shipped) and the worker settings with the run's style code;
    backend "auto" is decided here, for the run's style and its `files` to do (`request.prepare_job`)."""
    import torch

    try:
        if request.device != "auto":
            torch.device(request.device)  # the name only: the workers, not this machine, need the device
    except RuntimeError as e:
        raise ValueError(f"device: {e}") from None
    job = prepare_job(request, files=files, ship=True)
    return job.colorizer.net, WorkerSettings(job.style, request.device, request.size, request.max_pixels, job.backend,
                                             threads, request.hints, request.hint_labels, dict(storage_options or {}),
                                             job.colorizer.options)


def _join_ray(ray, address: str | None) -> bool:
    """Connect to `address`, keep the Ray this process runs, or start one here; True if started here."""
    if ray.is_initialized():
        return False
    # a local instance without its dashboard: no web server, nothing to reach (a cluster keeps its own)
    local = {"include_dashboard": False} if address is None else {}
    ray.init(address=address, logging_level=logging.WARNING, **local)
    return True


def _pool_size(ray, workers: int | None, num_cpus: float, num_gpus: float, n_batches: int) -> int:
    """Workers to start: as asked, else as many as the cluster's CPUs (and GPUs) fit; never more than batches."""
    if workers is None:
        resources = ray.cluster_resources()
        workers = int(resources.get("CPU", 1) // num_cpus)
        if num_gpus:
            workers = min(workers, int(resources.get("GPU", 0) // num_gpus))
    return max(1, min(workers, n_batches))


def _map(ray, ds, model_ref, settings: WorkerSettings, pool: int, options: dict):
    """The dataset of file names through a pool of `pool` ColorizeFiles workers."""
    import warnings

    args = dict(fn_constructor_kwargs={"model": [model_ref], "settings": settings},
                batch_size=options["batch_size"], batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool, initial_size=pool),
                num_cpus=options["num_cpus"], num_gpus=options["num_gpus"])
    # a worker that dies comes back (Ray Data's default) and its batch is retried, a few times rather
    # than Ray Data's forever: a scan that kills every worker it meets must not stall the archive.
    # Ray 2.60 warns these arguments will go; a Ray without them keeps its own default.
    retries = dict(max_restarts=-1, max_task_retries=options["retries"])
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            return ds.map_batches(ColorizeFiles, **args, **retries)
    except TypeError:
        return ds.map_batches(ColorizeFiles, **args)


def _run(ray, jobs: list[FileJob], todo: list[int], model_ref, settings: WorkerSettings, pool: int,
         options: dict, progress: bool, report) -> list[float]:
    """The Ray Data job; each job's state becomes done or failed as its row comes back. Returns the
    times (time.time()) the workers finished each file at."""
    from tqdm import tqdm

    if not todo:
        return []
    rows = [{"index": i, "src": jobs[i].src, "src_url": jobs[i].src_url, "dst_url": jobs[i].dst_url} for i in todo]
    # one block per batch: a block is one worker's task, so a single block would be one worker's job
    blocks = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / options["batch_size"]))
    ds = _map(ray, blocks, model_ref, settings, pool, options)
    ds.context.max_errored_blocks = -1  # a batch that kills its worker on every retry fails alone
    ds.context.enable_progress_bars = False  # ours, in files, and no note that Ray's are off
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    for i in todo:
        jobs[i].state = "pending"
    bar = tqdm(total=len(todo), desc="colorize (ray)", unit="img", disable=None if progress else True,
               dynamic_ncols=True)
    finished = []
    with bar:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            finished += batch["finished"].tolist()
            for index, reason in zip(batch["index"], batch["reason"]):
                job = jobs[int(index)]
                job.state, job.reason = ("failed", str(reason)) if reason else ("done", "")
                if reason and report is not None:
                    report(job.src, job.reason)
                bar.update()
    for i in todo:  # rows that never came back: their batch failed on every retry
        if jobs[i].state == "pending":
            jobs[i].state, jobs[i].reason = "failed", DIED.format(error="see Ray's log above")
            if report is not None:
                report(jobs[i].src, jobs[i].reason)
    return finished
