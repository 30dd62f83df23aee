"""The parts of `scripts/gpu_check.sh` that are Python: made data, and the single-photo timings.

    python scripts/gpu_check.py photos --device cuda --sizes 1024 4096 --runs 10
    python scripts/gpu_check.py folder DIR --n 300 --size 1024x768
    python scripts/gpu_check.py film CLIP.mp4 --frames 300 --size 1280x720
    python scripts/gpu_check.py training DIR --photos 48 --paintings 16

Everything is made in code from scikit-image's sample photos (no files from outside the repository):
gray JPEGs for a folder, a gray H.264 clip panning over a photo, colour photos and "paintings"
(the same photos, hue-turned and posterised) to train on.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"]


def samples() -> list[np.ndarray]:
    """scikit-image's colour sample photos, (H, W, 3) uint8."""
    from skimage import data

    return [getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")]


def gray_photo(width: int, height: int, seed: int) -> Image.Image:
    """A gray photo of `width` x `height`: a sample photo, cropped and flipped by `seed`, with grain."""
    rng = np.random.default_rng(seed)
    photos = samples()
    rgb = photos[seed % len(photos)]
    h, w = rgb.shape[:2]
    side = rng.uniform(0.6, 1.0)
    ch, cw = int(h * side), int(w * side)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    im = Image.fromarray(rgb[y:y + ch, x:x + cw]).convert("L").resize((width, height), Image.BICUBIC)
    if seed % 2:
        im = ImageOps.mirror(im)
    grain = rng.normal(0, 3, (height, width))
    return Image.fromarray(np.clip(np.asarray(im, np.float32) + grain, 0, 255).astype(np.uint8))


def photos(args) -> None:
    """Median seconds of `Colorizer.colorize` on one photo (already decoded), automatic and palette."""
    import torch

    from artcolor import Colorizer, palette_image

    colorizer = Colorizer.load(device=args.device)
    sync = torch.cuda.synchronize if colorizer.backend.device.type == "cuda" else (lambda: None)
    print(f"model on {colorizer.backend.device}, working size {colorizer.size}", flush=True)
    for size in args.sizes:
        image = gray_photo(size, size, 0)
        for mode, style in (("automatic", None), ("palette", colorizer.encode_style(palette_image(PALETTE)))):
            colorizer.colorize(image, style=style)  # warm-up: kernels, caches, cuDNN's choices
            times = []
            for _ in range(args.runs):
                sync()
                start = time.perf_counter()
                colorizer.colorize(image, style=style)
                sync()
                times.append(time.perf_counter() - start)
            print(f"FIGURE photo {size}x{size} {mode}: {statistics.median(times):.4f} s "
                  f"(median of {args.runs}; min {min(times):.4f})", flush=True)


def folder(args) -> None:
    """`--n` gray JPEGs (quality 90) of `--size` in DIR, made on a few threads."""
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    bases = [gray_photo(width, height, seed) for seed in range(8)]

    def one(i):
        bases[i % len(bases)].save(out / f"photo_{i:04d}.jpg", quality=90)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(args.n)))
    print(f"made {args.n} JPEGs of {width}x{height} in {out}")


def film(args) -> None:
    """A gray H.264 clip of `--frames` frames at `--size`, 30 frames/s: a pan and zoom over a photo."""
    import av

    width, height = (int(v) for v in args.size.split("x"))
    big = np.asarray(gray_photo(width * 3 // 2, height * 3 // 2, 0))
    with av.open(args.path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for i in range(args.frames):
            t = i / max(1, args.frames - 1)
            y, x = int(t * (big.shape[0] - height)), int(t * (big.shape[1] - width))
            gray = big[y:y + height, x:x + width]
            frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    print(f"made {args.path}: {args.frames} frames of {width}x{height}")


def training(args) -> None:
    """DIR/photos (colour photos) and DIR/paintings (the same photos hue-turned and posterised), 320x240."""
    root = Path(args.dir)
    for name, n in (("photos", args.photos), ("paintings", args.paintings)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            rgb = samples()[i % 5]
            rng = np.random.default_rng(i)
            h, w = rgb.shape[:2]
            ch, cw = int(h * rng.uniform(0.5, 1)), int(w * rng.uniform(0.5, 1))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            im = Image.fromarray(rgb[y:y + ch, x:x + cw]).resize((320, 240), Image.BICUBIC)
            if name == "paintings":
                hsv = np.asarray(im.convert("HSV")).copy()
                hsv[..., 0] += np.uint8(rng.integers(0, 256))
                im = ImageOps.posterize(Image.fromarray(hsv, "HSV").convert("RGB"), 3)
            im.save(root / name / f"{name}_{i:03d}.jpg", quality=90)
    print(f"made {args.photos} photos and {args.paintings} paintings in {root}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("photos")
    p.add_argument("--device", default="cuda")
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--runs", type=int, default=10)
    p = sub.add_parser("folder")
    p.add_argument("dir")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--size", default="1024x768")
    p = sub.add_parser("film")
    p.add_argument("path")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--size", default="1280x720")
    p = sub.add_parser("training")
    p.add_argument("dir")
    p.add_argument("--photos", type=int, default=48)
    p.add_argument("--paintings", type=int, default=16)
    args = parser.parse_args()
    {"photos": photos, "folder": folder, "film": film, "training": training}[args.command](args)


if __name__ == "__main__":
    main()
