"""Throughput of `artcolor colorize --engine ray` on one machine, beside the local engine (--workers 2)
on the same folder, with Ray's start-up time reported apart.

    python benchmarks/ray_throughput.py                  # 60 JPEGs of 1024x768, the bundled model, a palette
    python benchmarks/ray_throughput.py --n 200 --repeats 3 --ray-workers 4 --weights DIR
    python benchmarks/ray_throughput.py --n 120 --backend torch,auto       # each engine on each backend

The photos are scikit-image's astronaut stretched to the size with a little noise, a different
noise per file, saved as JPEG (quality 90) in a temp folder; outputs are JPEG too. Each figure is
photos / wall-clock seconds: for the local engine, the whole command in this process (loading the
model included); for Ray, its run after start-up (the driver loading the model, the workers starting
and loading theirs, the files, the manifest), with start-up (starting Ray here) printed beside it.
The engines alternate, `--repeats` times, so a machine shared with other work loads both alike.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def make_folder(folder: Path, width: int, height: int, n: int) -> Path:
    import numpy as np
    from PIL import Image
    from skimage.data import astronaut

    folder.mkdir(parents=True)
    big = np.asarray(Image.fromarray(astronaut()).resize((width, height), Image.BICUBIC), dtype=np.float32)
    rng = np.random.default_rng(0)
    for i in range(n):
        noisy = np.clip(big + rng.normal(0, 4, big.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"photo_{i:04d}.jpg", quality=90)
    return folder


def local_rate(folder: Path, out: Path, model_args: list[str]) -> float:
    """The local CLI with --workers 2, in this process (folder_throughput.py's measure)."""
    from folder_throughput import cli_rate  # beside this script

    return cli_rate(folder, out, 2, model_args)


def ray_rate(folder: Path, out: Path, weights: str | None, palette: str, workers: int, backend: str):
    """(photos/s after start-up, photos/s from the first file done to the last, start-up s, first file's s)."""
    from artcolor import palette_image
    from artcolor.cluster import colorize_on_ray

    run = colorize_on_ray([str(folder)], str(out), weights=weights, style=palette_image(palette.split(",")),
                          workers=workers, backend=backend, progress=False)
    if run.failed or run.done != len(list(folder.iterdir())):
        raise SystemExit(f"the Ray run did not write every file: {run}")
    steady = (run.done - 1) / (run.last_s - run.first_s)  # from the first file finished to the last
    return run.done / run.run_s, steady, run.startup_s, run.first_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=60, help="photos")
    p.add_argument("--size", default="1024x768")
    p.add_argument("--repeats", type=int, default=2, help="runs of each engine, alternating")
    p.add_argument("--ray-workers", type=int, default=2, help="Ray workers (1 CPU each)")
    p.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--palette", default="#264653,#2a9d8f,#e9c46a,#f4a261,#e76f51")
    p.add_argument("--backend", default="auto", help="backends, comma-separated: each engine runs on each, alternating")
    a = p.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    model_args = ["--palette", a.palette] + (["--weights", a.weights] if a.weights else [])
    width, height = map(int, a.size.split("x"))
    print(f"{a.n} JPEGs of {a.size}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    backends = a.backend.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp) / "in", width, height, a.n)
        runs = {b: ([], [], [], []) for b in backends}  # local, ray, ray from the first file, start-up
        for r in range(a.repeats):
            for b in backends:
                local, on_ray, steady, startups = runs[b]
                local.append(local_rate(folder, Path(tmp) / f"local-{b}{r}", [*model_args, "--backend", b]))
                rate, after_first, startup, first = ray_rate(folder, Path(tmp) / f"ray-{b}{r}", a.weights, a.palette,
                                                             a.ray_workers, b)
                on_ray.append(rate)
                steady.append(after_first)
                startups.append(startup)
                print(f"run {r + 1}, --backend {b}: local --workers 2 {local[-1]:.2f} photos/s; ray ({a.ray_workers} "
                      f"workers) {rate:.2f} photos/s after {startup:.1f} s of Ray start-up (first file done after "
                      f"{first:.1f} s, then {after_first:.2f} photos/s); load {os.getloadavg()[0]:.2f}", flush=True)
    for b, (local, on_ray, steady, startups) in runs.items():
        best_local, best_ray = max(local), max(on_ray)
        print(f"--backend {b}, best: local {best_local:.2f} photos/s, ray {best_ray:.2f} photos/s (from the first "
              f"file done: {max(steady):.2f}); local / ray = {best_local / best_ray:.2f} (once running: "
              f"{best_local / max(steady):.2f}); Ray start-up {min(startups):.1f}-{max(startups):.1f} s")


if __name__ == "__main__":
    main()
