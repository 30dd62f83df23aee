"""End-to-end inference speed and peak memory, as the CLI does it: decode a JPEG from disk,
colourise it, encode a JPEG to disk; beside Pillow decoding and re-encoding the same file.

    python benchmarks/inference_speed.py                         # the bundled model, auto and palette
    python benchmarks/inference_speed.py --presets default seed   # untrained presets
    python benchmarks/inference_speed.py --sizes 1024 --runs 3 --threads 2 --modes palette
    python benchmarks/inference_speed.py --before /path/to/old/src   # old code's rows in the same run

`--before SRC` runs every row a second time with another copy of artcolor first on the import path
(an older checkout's `src` folder), so before/after ratios come from one run on one machine load.

The photos are scikit-image's astronaut upscaled to N x N and saved as JPEG in a temp folder.
Every (model, size) runs in a fresh subprocess, so its peak RSS (VmHWM) is that size's alone;
the figure includes the interpreter, torch and the model (the `start` column). Times are medians
of --runs runs after one warm-up, in wall-clock and in CPU seconds. Pillow alone (decode + re-encode
the same file) gives the floor.
Targets on a 2-core CPU (issue 25): 1024^2 within 5x of Pillow; 4096^2 <= 0.5 s and within 4x of
Pillow; peak memory at 4096^2 no higher than before (0.73 GB).

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
PALETTE = "#264653,#2a9d8f,#e9c46a,#f4a261,#e76f51"  # the `palette` mode's reference: five colours


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
                    threads: int | None, backend: str, mode: str) -> dict:
    import torch

    from artcolor import Colorizer, palette_image
    from artcolor.inference.pipeline import recombine, working_size
    try:
        from artcolor.inputs.images import save_atomic
    except ImportError:  # an older checkout (--before) keeps it in artcolor.image
        from artcolor.image import save_atomic

    if threads:
        torch.set_num_threads(threads)
    if preset:
        colorizer = Colorizer.from_preset(preset, device="cpu", backend=backend)
    else:  # a folder, or "" for the bundled model
        colorizer = Colorizer.load(weights or None, device="cpu", backend=backend)
    # once per run of the CLI, as `artcolor colorize` does
    style = colorizer.encode_style(palette_image(PALETTE.split(",")) if mode == "palette" else None)
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
    peak = peak_rss_mb()  # colourising files; recombine alone below keeps a few outputs alive
    # recombine alone, with a ratio at the network's working size
    y = colorizer.prepare(photo)[0]
    h, w = working_size(*y.shape, colorizer.size, colorizer.config.multiple)
    ratio = torch.ones(3, h, w) + 0.1 * torch.rand(3, h, w)
    recombine_times, _, _ = timed(lambda: recombine(y, ratio) and None, runs)
    med = lambda i: statistics.median(s[i] for s in stages)  # noqa: E731
    return {
        "median_s": statistics.median(times), "min_s": min(times), "cpu_s": statistics.median(cpu),
        "prepare_s": med(0), "colorize_s": med(1), "save_s": med(2),
        "recombine_s": statistics.median(recombine_times),
        "start_rss_mb": start_rss, "peak_rss_mb": peak,
        "threads": torch.get_num_threads(), "working": f"{w}x{h}",
    }


def spawn(args: list[str], src: str | None = None) -> dict:
    """One worker in a fresh process; `src`: an artcolor source folder to import instead of this one's."""
    cmd = [sys.executable, __file__, "--worker", *args]
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(cmd)}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---- the table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--presets", nargs="+", default=[], help="untrained presets instead of the bundled model")
    p.add_argument("--weights", nargs="+", default=[], help="model folders (default: the bundled model)")
    p.add_argument("--modes", nargs="+", default=["auto", "palette"], choices=["auto", "palette"],
                   help="automatic, or a five-colour palette as the reference")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    p.add_argument("--before", default=None, metavar="SRC", help="another artcolor source folder to compare with")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--photo", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.worker:
        photo = Path(a.photo)
        out = photo.with_name(f"out_{photo.name}")
        if a.kind == "pillow":
            result = pillow_worker(photo, out, a.runs)
        else:
            weights = a.model if a.kind == "weights" else None
            preset = a.model if a.kind == "preset" else None
            result = colorize_worker(photo, out, a.runs, preset, weights, a.threads, a.backend, a.mode)
        print(json.dumps(result))
        return

    import torch

    models = ([("preset", name) for name in a.presets] + [("weights", w) for w in a.weights]) or [("weights", "")]
    versions = [("now", None)] + ([("before", a.before)] if a.before else [])
    print(f"artcolor inference: {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads by default{'' if a.threads is None else f', using {a.threads}'}), backend {a.backend}, "
          f"median of {a.runs} runs after a warm-up")
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (more than 0.5 and the figures are contended); "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print()
    header = (f"{'model':<26} {'photo':>6} {'end-to-end':>10} {'x Pillow':>8} {'cpu':>7} {'decode+Y':>9} "
              f"{'net+recomb':>10} {'recombine':>9} {'encode':>7} {'peak RSS':>9} {'start':>7}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="artcolor-bench-") as tmp:
        for size in a.sizes:
            photo = make_photo(size, Path(tmp))
            common = ["--photo", str(photo), "--runs", str(a.runs), "--backend", a.backend]
            if a.threads:
                common += ["--threads", str(a.threads)]
            floor = spawn(common + ["--kind", "pillow"])
            print(f"{'Pillow':<26} {size:>6} {floor['median_s']:>9.3f}s {1:>7.1f}x {floor['cpu_s']:>6.3f}s "
                  f"{'':>9} {'':>10} {'':>9} {'':>7} {floor['peak_rss_mb']:>6.0f} MB {'':>7}")
            for kind, model in models:
                for mode in a.modes:
                    for _version, src in versions:
                        args = common + ["--kind", kind, "--model", model, "--mode", mode]
                        r = spawn(args, src)
                        name = f"{Path(model).name if model else 'bundled'} {mode}" + (" (before)" if src else "")
                        print(f"{name:<26} {size:>6} {r['median_s']:>9.3f}s {r['median_s'] / floor['median_s']:>7.1f}x "
                              f"{r['cpu_s']:>6.3f}s {r['prepare_s']:>8.3f}s {r['colorize_s']:>9.3f}s "
                              f"{r['recombine_s']:>8.3f}s {r['save_s']:>6.3f}s {r['peak_rss_mb']:>6.0f} MB "
                              f"{r['start_rss_mb']:>4.0f} MB", flush=True)
    print("\nend-to-end: median wall-clock seconds per photo (decode, colourise, encode); x Pillow: that over")
    print("Pillow's decode + re-encode of the same file; cpu: CPU seconds of all threads; peak RSS includes")
    print("`start` (the interpreter, torch, numba and the model). Photos are N x N, worked at 128 px.")
    print("Targets (2-core CPU, issue 25): 1024 within 5x of Pillow; 4096 <= 0.5 s and within 4x of Pillow;")
    print("peak RSS at 4096 no higher than before (0.73 GB).")


if __name__ == "__main__":
    main()
