"""Colourisation with a reference, end to end, two models side by side in one run (so a shared
machine's load falls on both alike): decode a 1024x1024 JPEG, encode the reference, colourise,
encode a JPEG; medians of --runs after a warm-up, alternating the models run by run.

    python benchmarks/reference_speed.py --weights src/artcolor/weights/default --before OLD_MODEL_DIR

The reference is a 5-colour palette and a colour photo (scikit-image's coffee at 400x600): the
reference is encoded once per photo here, as `artcolor colorize` does once per run, so this is the
upper bound of a single photo's cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

from artcolor import Colorizer, palette_image  # noqa: E402

PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"]


def once(colorizer: Colorizer, photo: Path, reference, out: Path) -> float:
    start = time.perf_counter()
    colorizer.colorize(photo, style=reference).save(out, quality=90)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="the model folder to time")
    ap.add_argument("--before", required=True, help="the model folder to time it against")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    models = {"after": Colorizer.load(args.weights, device="cpu"), "before": Colorizer.load(args.before, device="cpu")}
    references = {"palette": palette_image(PALETTE), "photo": Image.fromarray(skimage.data.coffee())}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        Image.fromarray(skimage.data.astronaut()).resize((args.size, args.size), Image.BICUBIC).save(photo, quality=90)
        for ref_name, reference in references.items():
            times = {name: [] for name in models}
            for c in models.values():  # warm-up
                once(c, photo, reference, Path(tmp) / "out.jpg")
            for _ in range(args.runs):
                for name, c in models.items():
                    times[name].append(once(c, photo, reference, Path(tmp) / "out.jpg"))
            med = {name: statistics.median(t) for name, t in times.items()}
            print(f"{args.size}x{args.size}, {ref_name} reference: after {med['after']:.3f} s, before {med['before']:.3f} s, "
                  f"ratio {med['after'] / med['before']:.2f} (medians of {args.runs}; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
