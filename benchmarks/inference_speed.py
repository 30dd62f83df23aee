"""End-to-end inference speed and peak memory, as the CLI does it: decode a JPEG from disk,
colourise it, encode a JPEG to disk.

    python benchmarks/inference_speed.py                         # presets default and seed, untrained
    python benchmarks/inference_speed.py --weights runs/x/model   # a trained model folder
    python benchmarks/inference_speed.py --sizes 1024 --runs 3 --threads 2

The photos are scikit-image's astronaut upscaled to N x N and saved as JPEG in a temp folder.
Every (model, size) runs in a fresh subprocess, so its peak RSS (VmHWM) is that size's alone;
the figure includes the interpreter, torch and the model (the `start` column). Times are medians
of --runs runs after one warm-up, in wall-clock and in CPU seconds. Pillow alone (decode + re-encode
the same file) gives the floor.
Issue 2's targets on a 2-core CPU: 1024^2 <= 0.5 s, 4096^2 <= 2.0 s, peak memory <= 1.5 GB.

On a machine where something else keeps the cores busy (a training run), OpenMP's spinning threads
make torch's small ops very slow (the 128^2 network went from 0.05 s to 1.4 s); run with --threads 1
or OMP_WAIT_POLICY=PASSIVE there, and read the `cpu` column.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JPEG_QUALITY = 90


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's ru_maxrss survives exec, so a fresh worker would
    report its parent's peak; VmHWM belongs to the worker's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def make_photo(size: int, folder: Path) -> Path:
    import numpy as np
    from PIL import Image
    from skimage.data import astronaut

    path = folder / f"astronaut_{size}.jpg"
    big = Image.fromarray(astronaut()).resize((size, size), Image.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 4, (size, size, 3))  # some texture, as a real photo has
    Image.fromarray(np.clip(np.asarray(big) + noise, 0, 255).astype(np.uint8)).save(path, quality=JPEG_QUALITY)
    return path


# ---- workers: each runs in its own process and prints one JSON line


def timed(fn, runs: int) -> tuple[list[float], list[float], list]:
    """Wall-clock and CPU seconds (all threads) of each run, and what each returned."""
    fn()  # warm-up: page faults, allocator, oneDNN kernel selection
    times, cpu_times, results = [], [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        results.append(fn())
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    return times, cpu_times, results


def pillow_worker(photo: Path, out: Path, runs: int) -> dict:
    from PIL import Image

    def once():
        with Image.open(photo) as im:
            im.load()
            im.save(out, quality=92)

    times, cpu, _ = timed(once, runs)
    return {"median_s": statistics.median(times), "min_s": min(times), "cpu_s": statistics.median(cpu),
            "peak_rss_mb": peak_rss_mb()}


def colorize_worker(photo: Path, out: Path, runs: int, preset: str | None, weights: str | None,
                    threads: int | None, backend: str) -> dict:
    import torch

    from artcolor import Colorizer
    from artcolor.image import save_atomic
    from artcolor.inference import recombine, working_size

    if threads:
        torch.set_num_threads(threads)
    if weights:
        colorizer = Colorizer.load(weights, device="cpu", backend=backend)
    else:
        colorizer = Colorizer.from_preset(preset, device="cpu", backend=backend)
    style = colorizer.encode_style(None)  # once per run of the CLI, as `artcolor colorize` does
    start_rss = peak_rss_mb()

    def once():
        t0 = time.perf_counter()
        plane = colorizer.prepare(photo)  # decode + full-resolution luminance
        t1 = time.perf_counter()
        image = colorizer.colorize_planes([plane], style)[0]  # network + recombine
        t2 = time.perf_counter()
        save_atomic(image, out)
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    times, cpu, stages = timed(once, runs)
    # recombine alone, with a ratio at the network's working size
    y = colorizer.prepare(photo)[0]
    h, w = working_size(*y.shape, colorizer.size, colorizer.config.multiple)
    ratio = torch.ones(3, h, w) + 0.1 * torch.rand(3, h, w)
    recombine_times, _, _ = timed(lambda: recombine(y, ratio), runs)
    med = lambda i: statistics.median(s[i] for s in stages)  # noqa: E731
    return {
        "median_s": statistics.median(times), "min_s": min(times), "cpu_s": statistics.median(cpu),
        "prepare_s": med(0), "colorize_s": med(1), "save_s": med(2),
        "recombine_s": statistics.median(recombine_times),
        "start_rss_mb": start_rss, "peak_rss_mb": peak_rss_mb(),
        "threads": torch.get_num_threads(), "working": f"{w}x{h}",
    }


def spawn(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(cmd)}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---- the table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--presets", nargs="+", default=["default", "seed"])
    p.add_argument("--weights", nargs="+", default=[], help="model folders (replace --presets)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--photo", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.worker:
        photo = Path(a.photo)
        out = photo.with_name(f"out_{photo.name}")
        if a.kind == "pillow":
            result = pillow_worker(photo, out, a.runs)
        else:
            weights = a.model if a.kind == "weights" else None
            preset = a.model if a.kind == "preset" else None
            result = colorize_worker(photo, out, a.runs, preset, weights, a.threads, a.backend)
        print(json.dumps(result))
        return

    import torch

    models = [("weights", w) for w in a.weights] or [("preset", name) for name in a.presets]
    print(f"artcolor inference: {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads by default{'' if a.threads is None else f', using {a.threads}'}), backend {a.backend}, "
          f"median of {a.runs} runs after a warm-up")
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (more than 0.5 and the figures are contended); "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print()
    header = (f"{'model':<10} {'photo':>9} {'end-to-end':>10} {'min':>7} {'cpu':>7} {'decode+Y':>9} "
              f"{'net+recomb':>10} {'recombine':>9} {'encode':>7} {'peak RSS':>9} {'start':>7}  working")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="artcolor-bench-") as tmp:
        for size in a.sizes:
            photo = make_photo(size, Path(tmp))
            common = ["--photo", str(photo), "--runs", str(a.runs), "--backend", a.backend]
            if a.threads:
                common += ["--threads", str(a.threads)]
            r = spawn(common + ["--kind", "pillow"])
            print(f"{'Pillow':<10} {f'{size}^2':>9} {r['median_s']:>9.3f}s {r['min_s']:>6.3f}s {r['cpu_s']:>6.3f}s "
                  f"{'':>9} {'':>10} {'':>9} {'':>7} {r['peak_rss_mb']:>6.0f} MB {'':>7}  (decode + re-encode only)")
            for kind, model in models:
                r = spawn(common + ["--kind", kind, "--model", model])
                name = Path(model).name if kind == "weights" else model
                print(f"{name:<10} {f'{size}^2':>9} {r['median_s']:>9.3f}s {r['min_s']:>6.3f}s {r['cpu_s']:>6.3f}s "
                      f"{r['prepare_s']:>8.3f}s {r['colorize_s']:>9.3f}s {r['recombine_s']:>8.3f}s "
                      f"{r['save_s']:>6.3f}s {r['peak_rss_mb']:>6.0f} MB {r['start_rss_mb']:>4.0f} MB  {r['working']}")
    print("\nend-to-end, min: wall-clock seconds per photo; cpu: CPU seconds of all threads (on a busy machine,")
    print("cpu with --threads 1 is a fair estimate of the idle wall-clock time); peak RSS includes `start`,")
    print("the interpreter, torch and the model. Targets (2-core CPU): 1024^2 <= 0.5 s, 4096^2 <= 2.0 s,")
    print("peak memory <= 1.5 GB.")


if __name__ == "__main__":
    main()
