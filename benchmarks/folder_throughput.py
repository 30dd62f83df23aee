"""Folder throughput of `artcolor colorize`: images/s one file at a time (--workers 1, the old path)
against files in flight together (--workers N), beside Pillow decoding and re-encoding the same files.

    python benchmarks/folder_throughput.py                       # 200 photos at 1024x768 and 4000x3000
    python benchmarks/folder_throughput.py --n 40 --sizes 1024x768 --workers 1 2 3 --weights DIR
    python benchmarks/folder_throughput.py --n 100 --sizes 1024x768 --workers 2 --before /old/src

The photos are scikit-image's astronaut stretched to each size with a little noise, saved as JPEG
(quality 90) in a temp folder; outputs are JPEG too. The CLI runs in-process, so each figure includes
loading the model once (about a second) and is the wall-clock time of the whole command. `--command`
adds the whole command as a user runs it (`python -m artcolor colorize`, interpreter and imports
included); `--before SRC` runs that with another artcolor source folder too, in the same run.
Each rate is followed by its ratio to Pillow's 2-thread floor.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def make_folder(folder: Path, width: int, height: int, n: int) -> Path:
    import numpy as np
    from PIL import Image
    from skimage.data import astronaut

    folder.mkdir(parents=True)
    big = np.asarray(Image.fromarray(astronaut()).resize((width, height), Image.BICUBIC), dtype=np.float32)
    noise = np.random.default_rng(0).normal(0, 4, big.shape)
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(folder / "photo_0000.jpg", quality=90)
    for i in range(1, n):
        shutil.copyfile(folder / "photo_0000.jpg", folder / f"photo_{i:04d}.jpg")
    return folder


def pillow_floor(folder: Path, out: Path, threads: int) -> float:
    """Images/s decoding and re-encoding every file, on `threads` threads."""
    from PIL import Image

    out.mkdir()

    def once(path):
        with Image.open(path) as im:
            im.load()
            im.save(out / path.name, quality=92)

    files = sorted(folder.iterdir())
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(once, files))
    return len(files) / (time.perf_counter() - start)


def cli_rate(folder: Path, out: Path, workers: int, model_args: list[str]) -> float:
    from artcolor.cli import main

    args = ["colorize", str(folder), "-o", str(out), "--workers", str(workers), *model_args]
    start = time.perf_counter()
    try:
        main.main(args, standalone_mode=False)
    except SystemExit as e:
        if e.code:
            raise SystemExit(f"artcolor colorize failed (exit {e.code}): {' '.join(args)}") from None
    n = sum(1 for _ in out.rglob("*.jpg"))
    return n / (time.perf_counter() - start)


def command_rate(folder: Path, out: Path, workers: int, model_args: list[str], src: str | None) -> float:
    """Images/s of `python -m artcolor colorize` in a fresh process; `src`: artcolor to import instead."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "artcolor", "colorize", str(folder), "-o", str(out), "--workers", str(workers),
           *model_args]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"artcolor colorize failed (exit {result.returncode}): {' '.join(cmd)}\n{result.stderr}")
    return sum(1 for _ in out.rglob("*.jpg")) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="photos per size")
    p.add_argument("--sizes", nargs="+", default=["1024x768", "4000x3000"])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--palette", default="#264653,#2a9d8f,#e9c46a,#f4a261,#e76f51")
    p.add_argument("--command", action="store_true", help="also time the whole command in a fresh process")
    p.add_argument("--before", default=None, metavar="SRC", help="another artcolor source folder (implies --command)")
    p.add_argument("--backend", nargs="+", default=["auto"], choices=["auto", "torch", "mixed", "onnxruntime"],
                   help="the CLI's --backend, each timed in turn (auto: mixed from 24 photos, with the onnx extra)")
    a = p.parse_args()
    model_args = ["--palette", a.palette] + (["--weights", a.weights] if a.weights else [])
    if {"auto", "mixed"} & set(a.backend):
        from artcolor import Colorizer
        from artcolor.inference.mixed_backend import MixedBackend

        MixedBackend(Colorizer.load(a.weights).net).reference_graph()  # exported once, as a user's first run does

    import torch

    print(f"artcolor colorize, folder throughput: {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {a.n} JPEG photos per size")
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (more than 0.5 and the figures are contended)")
    print(f"\n{'photos':<10} {'what':<40} {'images/s':>9} {'/ Pillow 2 thr':>14}")
    with tempfile.TemporaryDirectory(prefix="artcolor-folder-") as tmp:
        for size in a.sizes:
            width, height = map(int, size.lower().split("x"))
            folder = make_folder(Path(tmp) / size / "in", width, height, a.n)
            floor = 0.0
            for threads in (1, 2):
                rate = pillow_floor(folder, Path(tmp) / size / f"pillow{threads}", threads)
                floor = rate
                print(f"{size:<10} {f'Pillow decode+encode, {threads} thr':<40} {rate:>9.2f}")
            for i, (workers, backend) in enumerate(itertools.product(a.workers, a.backend)):
                args, run = model_args + ["--backend", backend], f"{size}/{i}"
                rate = cli_rate(folder, Path(tmp) / run / "out", workers, args)
                label = "in-process, " + ("one file at a time" if workers == 1 else f"--workers {workers}")
                print(f"{size:<10} {f'{label}, {backend}':<40} {rate:>9.2f} {floor / rate:>13.1f}x", flush=True)
                versions = [("", None)] * (a.command or bool(a.before)) + [(" (before)", a.before)] * bool(a.before)
                for tag, src in versions:
                    old = model_args + ["--backend", "torch"]  # the code before `--backend auto` ran PyTorch
                    rate = command_rate(folder, Path(tmp) / run / f"cmd{tag}", workers, old if src else args, src)
                    label = f"whole command, --workers {workers}, {backend}{tag}"
                    print(f"{size:<10} {label:<40} {rate:>9.2f} {floor / rate:>13.1f}x", flush=True)


if __name__ == "__main__":
    main()
