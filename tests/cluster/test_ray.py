"""`artcolor colorize --engine ray` on a Ray of 2 CPUs started by this module: the local engine's
pixels and failures, a worker killed mid-run, a job interrupted and run again, file:// URLs as the bucket.

A job is held at one file by making that file a named pipe (FIFO): a worker reading it waits until
the test writes the image into it, so "mid-run" is a known moment, not a race against the clock.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'artcolor[ray]'")
pytest.importorskip("ray.data", reason="Ray without Ray Data: pip install 'artcolor[ray]'")
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/proc/self/fd").is_dir(),
                                reason="holds jobs with a FIFO and finds its readers in /proc (Linux)")

from artcolor.cluster import colorize_on_ray  # noqa: E402
from conftest import perturb  # noqa: E402


@pytest.fixture(scope="module")
def ray_address():
    """A Ray instance in this process, with no dashboard and no usage reports; its address for other drivers."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        pytest.skip("Ray already runs in this process")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def hints_model_dir(tmp_path_factory) -> Path:
    """A saved tiny model with colour-hint inputs, perturbed so its style and hints steer the output."""
    import dataclasses

    from artcolor.config import preset
    from artcolor.model.folders import save_net
    from artcolor.model import ColorNet

    folder = tmp_path_factory.mktemp("weights") / "tiny-hints"
    save_net(perturb(ColorNet(dataclasses.replace(preset("tiny"), hints=True))), folder)
    return folder


@pytest.fixture
def mixed(tmp_path, coffee, chelsea, gray_photo, astronaut) -> Path:
    """Images of different sizes and formats, some nested, and two files that are no image."""
    folder = tmp_path / "in"
    (folder / "nested" / "deeper").mkdir(parents=True)
    coffee.save(folder / "colour.jpg", quality=90)
    gray_photo.resize((333, 517)).save(folder / "gray_odd.png")
    chelsea.save(folder / "nested" / "deeper" / "cat.jpg", quality=90)
    astronaut.convert("RGBA").resize((70, 50)).save(folder / "nested" / "alpha.png")
    astronaut.resize((41, 97)).save(folder / "tall.webp")
    gray_photo.resize((64, 40)).save(folder / "anim.gif")
    Image.fromarray((np.asarray(gray_photo, np.int32) * 257).astype(np.uint16)).save(folder / "deep16.tif")
    data = (folder / "colour.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(data[: len(data) // 3])
    (folder / "nested" / "notes.jpg").write_text("these are notes, not a photo")
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest(folder: Path) -> dict[str, tuple[str, str]]:
    with open(folder / "artcolor-manifest.csv", newline="") as f:
        return {Path(row["input"]).name: (row["status"], row["reason"]) for row in csv.DictReader(f)}


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def test_a_mixed_folder_gives_the_local_engines_pixels_and_failures(ray_address, run_cli, mixed, hints_model_dir,
                                                                      tmp_path, astronaut):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    astronaut.save(tmp_path / "reference.png")
    (tmp_path / "hints.json").write_text('[[3, 4, "#2a9d8f", 2]]')  # inside the smallest image
    model = ["--weights", hints_model_dir, "--style", tmp_path / "reference.png", "--palette", "#e76f51,#f4a261",
             "--style-weights", "1,2", "--strength", "1.5", "--hint", "20,10,#e9c46a", "--hints", tmp_path / "hints.json"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray worker of one CPU runs, the driver's style encoding too: float sums
    try:  # in one order, so the same bits (on 2 threads alone, a few values came out one level apart)
        code_local, out_local, _ = run_cli("colorize", mixed, "-o", local, *model, "--workers", 1)
        code, out, err = run_cli("colorize", mixed, "-o", on_ray, *model, "--engine", "ray")
    finally:
        torch.set_num_threads(threads)
    assert code == code_local == 1
    assert "7 colourised, 2 failed, 0 skipped" in out and "7 colourised, 2 failed" in out_local
    expected, got = files(local), files(on_ray)
    assert sorted(got) == sorted([*expected, "artcolor-manifest.csv"]) and "anim.png" in got
    for name, data in expected.items():  # the same pixels; the same bytes, as the same encoder wrote them
        assert np.array_equal(pixels(got[name]), pixels(data)), name
        assert got[name] == data, name
    rows = manifest(on_ray)
    assert rows["broken.jpg"][0] == "failed" and "decode" in rows["broken.jpg"][1]
    assert rows["notes.jpg"][0] == "failed" and "not an image" in rows["notes.jpg"][1]
    assert sum(status == "done" for status, _ in rows.values()) == 7
    assert "broken.jpg" in err and "notes.jpg" in err  # reported as they fail, as the local engine does


def test_the_mixed_backend_on_ray_gives_the_local_engines_pixels(ray_address, run_cli, model_dir, tmp_path,
                                                                 coffee, chelsea):
    folder = tmp_path / "in"
    folder.mkdir()
    coffee.save(folder / "coffee.png")
    chelsea.save(folder / "cat.png")
    flags = ["--weights", model_dir, "--palette", "#e76f51,#2a9d8f", "--backend", "mixed"]
    code_local, _, _ = run_cli("colorize", folder, "-o", tmp_path / "local", *flags, "--workers", 1)
    code, out, err = run_cli("colorize", folder, "-o", tmp_path / "ray", *flags, "--engine", "ray")
    assert code == code_local == 0, err
    for name in ("coffee.png", "cat.png"):  # a one-CPU worker sums in another order than 2 threads here: a level at most
        local = pixels((tmp_path / "local" / name).read_bytes()).astype(int)
        on_ray = pixels((tmp_path / "ray" / name).read_bytes()).astype(int)
        assert local.shape == on_ray.shape and np.abs(local - on_ray).max() <= 1, name


def fifo_readers(fifo: Path) -> set[int]:
    """Process ids, other than this one, holding `fifo` open."""
    pids = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            fds = list(fd_dir.iterdir())
        except OSError:  # a process that ended, or one we may not inspect
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == str(fifo):
                    pids.add(int(fd_dir.parent.name))
            except OSError:  # closed since the listing: a busy process opens and closes sockets
                continue
    return pids - {os.getpid()}


def wait_for(condition, what: str, timeout: float = 120, detail=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}; {detail()}")


@pytest.fixture
def held(tmp_path, coffee, chelsea, astronaut):
    """(folder, FIFO, holder): six images and `slow.png`, a FIFO held open here (`holder.fd`), so a worker
    reading it waits (and takes no EOF) until the test writes an image into it and calls `holder.close()`."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i, photo in enumerate([coffee, chelsea, astronaut] * 2):
        photo.resize((40 + 7 * i, 30 + 5 * i)).save(folder / f"photo_{i}.jpg", quality=90)
    fifo = folder / "slow.png"
    os.mkfifo(fifo)
    holder = FifoHolder(os.open(fifo, os.O_RDWR))
    yield folder, fifo, holder
    holder.close()


class FifoHolder:
    """The write end of the FIFO, closed once: closing a descriptor twice could close another that
    reused its number meanwhile (one of Ray's sockets), which made a later test fail at random."""

    def __init__(self, fd: int):
        self.fd, self.closed = fd, False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


def png(photo: Image.Image) -> bytes:
    buffer = io.BytesIO()
    photo.resize((36, 24)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_worker_killed_mid_run_is_retried_and_the_job_completes(ray_address, held, model_dir, tmp_path, coffee):
    folder, fifo, holder = held
    out = tmp_path / "out"
    result = {}
    job = threading.Thread(target=lambda: result.update(run=colorize_on_ray(
        [folder.as_uri()], out.as_uri(), weights=str(model_dir), batch_size=1, progress=False)))  # file:// URLs
    job.start()
    (first,) = wait_for(lambda: fifo_readers(fifo), "a worker to open the FIFO")
    os.kill(first, signal.SIGKILL)  # mid-batch: the worker is reading slow.png
    wait_for(lambda: fifo_readers(fifo) - {first}, "Ray to retry slow.png in a new worker process")
    os.write(holder.fd, png(coffee))
    holder.close()
    job.join(timeout=180)
    assert not job.is_alive()
    run = result["run"]
    assert (run.done, run.failed, run.skipped) == (7, 0, 0)
    assert sorted(files(out)) == sorted([f"photo_{i}.jpg" for i in range(6)] + ["slow.png", "artcolor-manifest.csv"])
    assert {status for status, _ in manifest(out).values()} == {"done"}


def test_a_job_stopped_and_started_again_writes_only_what_is_missing(ray_address, held, model_dir, tmp_path, coffee):
    folder, fifo, holder = held
    out, log = tmp_path / "out", tmp_path / "job.log"
    outputs = [out / f"photo_{i}.jpg" for i in range(6)]
    # another driver joins the running Ray (--ray-address), as on a cluster; one worker takes the files
    # in order, so it writes some before it waits at slow.png, the last
    with open(log, "w") as stream:
        job = subprocess.Popen([sys.executable, "-m", "artcolor", "colorize", str(folder), "-o", str(out), "--weights",
                                str(model_dir), "--engine", "ray", "--ray-address", ray_address, "--batch-size", "1",
                                "--workers", "1"], stdout=stream, stderr=subprocess.STDOUT, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        _stop_while_held(job, log, fifo, outputs, out)
    finally:
        if job.poll() is None:
            job.kill()

    written = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in outputs if p.exists()}
    rows = manifest(out)
    assert rows["slow.png"][0] == "pending", log.read_text()[-2000:]
    # a file written as the driver stopped may be pending in the manifest; none is done yet unwritten
    assert {name for name, (status, _) in rows.items() if status == "done"} <= set(written)

    holder.close()
    fifo.unlink()
    (folder / "slow.png").write_bytes(png(coffee))
    run = colorize_on_ray([str(folder)], str(out), weights=str(model_dir), progress=False)
    assert (run.done, run.failed, run.skipped) == (7 - len(written), 0, len(written))
    assert {name: (p.stat().st_ino, p.stat().st_mtime_ns) for name, p in ((n, out / n) for n in written)} == written
    assert all(p.exists() for p in outputs) and (out / "slow.png").exists()
    assert {status for status, _ in manifest(out).values()} == {"done", "skipped"}


def _ctrl_c_as_in_a_terminal() -> None:
    """In the job's process before it starts: SIGINT's default action. A test run started in the
    background of a shell without job control (`cmd &`) ignores SIGINT, every child inherits that, and
    a Python started so never raises KeyboardInterrupt: the Ctrl-C below would then do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_while_held(job: subprocess.Popen, log: Path, fifo: Path, outputs: list[Path], out: Path) -> None:
    """Ctrl-C to `job` once it has written a file and waits at the FIFO (a worker reads it), or has
    written every other file (the FIFO's turn may not have come: it cannot finish either way)."""
    def held_at_slow_png():
        if job.poll() is not None:
            raise AssertionError(f"the job ended early ({job.returncode}): {log.read_text()[-2000:]}")
        written = [p.exists() for p in outputs]
        return any(written) and (all(written) or fifo_readers(fifo))

    wait_for(held_at_slow_png, "a file to be written and the job held at slow.png",
             detail=lambda: f"readers {fifo_readers(fifo)}, written {sorted(p.name for p in out.glob('*'))}, "
                            f"Ray {ray.available_resources()}, log: {log.read_text()[-3000:]}")
    job.send_signal(signal.SIGINT)  # Ctrl-C: the driver stops, its workers with it
    try:
        code = job.wait(timeout=120)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the job did not stop on Ctrl-C within 120 s; its log: {log.read_text()[-3000:]}") from None
    assert code != 0 and not (out / "slow.png").exists()


def test_a_device_name_that_is_none_is_refused_before_ray_starts(run_cli, mixed, model_dir, tmp_path):
    code, _, stderr = run_cli("colorize", mixed, "-o", tmp_path / "out", "--weights", model_dir, "--engine", "ray",
                              "--device", "cdua")
    assert code == 1 and "cdua" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()
