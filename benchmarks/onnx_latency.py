"""Latency of PyTorch against the ONNX export on onnxruntime: each graph, and whole colourisations.

    python benchmarks/onnx_latency.py [--weights DIR | --preset default] [--threads 2] [--repeats 20]

Exports the model into a temporary folder, then times, on the CPU, the median and the fastest of
`--repeats` runs after warm-up: the colour network at 128x128 (with its chroma ratio, as both
colourisers use it), the style encoder on a palette reference (a 128x640 strip), and a whole 1024x1024
colourisation (the photo in memory: no decoding) with a palette reference and automatically, by
`Colorizer` (PyTorch) and `artcolor.onnx.OnnxColorizer` (onnxruntime, no torch in its path), both
with `--threads` threads. It also prints the PSNR between the two colourisations.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import onnxruntime
import torch
from PIL import Image

from artcolor import Colorizer, palette_image
from artcolor.inference.export import ColorGraph, export_model
from artcolor.color.statistics import image_psnr
from artcolor.onnx import OnnxColorizer
from artcolor.inference.pipeline import reference_input


def timings(fn, repeats: int, warmup: int = 3) -> tuple[float, float]:
    """(median, fastest) in milliseconds."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), min(runs)


def smooth_photo(size: int, seed: int = 0) -> np.ndarray:
    """A gray (size, size) uint8 photo stand-in: a bicubic blow-up of a 16x16 random grid."""
    grid = np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)
    return np.asarray(Image.fromarray(grid).resize((size, size), Image.BICUBIC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="model folder or hf://ORG/NAME (default: the untrained --preset)")
    parser.add_argument("--preset", default="default", help="preset used without --weights")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch and for onnxruntime")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch_side = Colorizer.load(args.weights, device="cpu") if args.weights else Colorizer.from_preset(args.preset, device="cpu")
    net = torch_side.net
    folder = export_model(net, tempfile.mkdtemp(prefix="artcolor-onnx-"))
    onnx_side = OnnxColorizer(folder, threads=args.threads)
    print(f"model: {args.weights or 'preset ' + args.preset} ({sum(p.numel() for p in net.parameters()):,} "
          f"parameters); {args.threads} threads; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")

    l = torch.rand(1, 1, 128, 128) * 100
    style = net.null_styles(1).detach()
    graph = ColorGraph(net)
    no_hints = np.zeros((1, 3, 128, 128), np.float32)  # fed only to a model with hint inputs (Graph drops it otherwise)
    reference = palette_image(["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"])
    rgb = reference_input(reference, net.config.style_size, None)  # (1, 3, 128, 640)
    photo = smooth_photo(1024)

    def no_grad(fn):
        def run():
            with torch.inference_mode():
                fn()
        return run

    rows = [
        ("colour network, 128x128", no_grad(lambda: graph(l, style)),
         lambda: onnx_side.backend.color_graph(["ratio"], l=l.numpy(), style=style.numpy(), hints=no_hints)),
        (f"style encoder, {rgb.shape[2]}x{rgb.shape[3]}", no_grad(lambda: net.encode_style(torch.from_numpy(rgb))),
         lambda: onnx_side.backend.style_graph(["style"], rgb=rgb)),
        ("colorize 1024x1024, palette", lambda: torch_side.colorize(photo, style=reference),
         lambda: onnx_side.colorize(photo, style=reference)),
        ("colorize 1024x1024, automatic", lambda: torch_side.colorize(photo), lambda: onnx_side.colorize(photo)),
    ]
    print(f"{'':32s} {'torch median/min':>20s} {'onnxruntime median/min':>26s} {'speed-up':>9s}")
    for name, a, b in rows:
        (ta, ta_min), (tb, tb_min) = timings(a, args.repeats), timings(b, args.repeats)
        print(f"{name:32s} {ta:9.2f} /{ta_min:7.2f} ms {tb:13.2f} /{tb_min:7.2f} ms {ta / tb:8.2f}x")
    for label, s in (("palette", reference), ("automatic", None)):
        psnr = image_psnr(torch_side.colorize(photo, style=s), onnx_side.colorize(photo, style=s))
        print(f"PSNR torch vs onnxruntime, {label}: {psnr:.1f} dB")


if __name__ == "__main__":
    main()
