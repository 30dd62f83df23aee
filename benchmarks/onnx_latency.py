"""Latency of PyTorch against onnxruntime: the network at 128x128, and a whole colorize of 1024x1024.

    python benchmarks/onnx_latency.py [--weights DIR | --preset default] [--threads 2] [--repeats 20]

Prints the median and the fastest of `--repeats` runs after warm-up, on the CPU. The whole
colorize includes decoding nothing (the photo is in memory) but does the style encoding, the
working-size resize, the network, and the full-resolution recombination.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime
import torch

from artcolor import Colorizer, palette_image
from artcolor.export import OnnxRunner


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="model folder (default: the untrained --preset)")
    parser.add_argument("--preset", default="default", help="preset used without --weights")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads for torch, and for onnxruntime in the network rows "
                             "(the colorize row uses onnxruntime's default: one per physical core)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    make = (lambda **kw: Colorizer.load(args.weights, **kw)) if args.weights else \
        (lambda **kw: Colorizer.from_preset(args.preset, **kw))
    torch_colorizer = make(device="cpu")
    ort_colorizer = make(device="cpu", backend="onnxruntime")
    runner = OnnxRunner.from_net(torch_colorizer.net, threads=args.threads)
    net = torch_colorizer.net
    print(f"model: {args.weights or 'preset ' + args.preset} ({sum(p.numel() for p in net.parameters()):,} "
          f"parameters); {args.threads} threads for the network rows; torch {torch.__version__}, "
          f"onnxruntime {onnxruntime.__version__}")

    l = torch.rand(1, 1, 128, 128) * 100
    style = net.null(1).detach()

    def torch_net():
        with torch.inference_mode():
            net(l, style)

    def ort_net():
        runner(l, style)

    photo = (np.random.default_rng(0).random((1024, 1024)) * 255).astype(np.uint8)
    reference = palette_image(["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"])
    rows = [
        ("network, 1x1x128x128", torch_net, ort_net),
        ("colorize, 1024x1024 photo", lambda: torch_colorizer.colorize(photo, style=reference),
         lambda: ort_colorizer.colorize(photo, style=reference)),
    ]
    print(f"{'':28s} {'torch median/min':>20s} {'onnxruntime median/min':>26s} {'speed-up':>9s}")
    for name, a, b in rows:
        (ta, ta_min), (tb, tb_min) = timings(a, args.repeats), timings(b, args.repeats)
        print(f"{name:28s} {ta:9.2f} /{ta_min:7.2f} ms {tb:13.2f} /{tb_min:7.2f} ms {ta / tb:8.2f}x")


if __name__ == "__main__":
    main()
