"""The colour network on each way this machine can run it: PyTorch float32 and bfloat16 (autocast),
onnxruntime float32, and onnxruntime with dynamic int8 quantisation (`quantize_dynamic`, of the
MatMuls alone and of the convolutions too); milliseconds per image and PSNR against PyTorch float32.

    python benchmarks/network_backends.py                  # the bundled model, 1 thread
    python benchmarks/network_backends.py --threads 2 --reps 7

The network runs at the working size of a 1024x768 photo (128x160), in batches of 1 and 4, with the
automatic style and a five-colour palette. Times are CPU seconds of the process (all threads) per
image, median of --reps rounds in which every backend runs once, so a change in the machine's load
hits them alike. PSNR: the whole colourisation of a 1024x768 photo (scikit-image's astronaut) by each
backend against PyTorch float32's; the issue's bar for adopting one is 45 dB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from artcolor import Colorizer, palette_image  # noqa: E402
from artcolor.inference.export import auto_graph, color_graph, style_graph  # noqa: E402
from artcolor.color.statistics import image_psnr  # noqa: E402
from artcolor.inference.onnx_backend import Graph, OnnxBackend  # noqa: E402

PALETTE = "#264653,#2a9d8f,#e9c46a,#f4a261,#e76f51"


def runners(colorizer: Colorizer, threads: int, folder: Path) -> dict:
    """name -> (a Colorizer on that backend, a context to run it in)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    plain = contextlib.nullcontext
    net = colorizer.net
    graph = folder / "color.onnx"
    graph.write_bytes(color_graph(net).SerializeToString())
    styles = Graph(style_graph(net).SerializeToString(), threads)
    auto = Graph(auto_graph(net).SerializeToString(), threads) if net.auto is not None else None  # float32 in all
    on_graph = lambda path: Colorizer(OnnxBackend(net.config, colorizer.backend.null_style, styles,  # noqa: E731
                                                  Graph(path, threads), auto))
    found = {"torch float32": (colorizer, plain),
             "torch bfloat16 autocast": (colorizer, lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
             "onnxruntime float32": (on_graph(graph), plain)}
    for name, ops, weights in (("onnxruntime int8, MatMul", ["MatMul", "Gemm"], QuantType.QInt8),
                               ("onnxruntime int8, Conv too", ["Conv", "MatMul", "Gemm"], QuantType.QUInt8)):
        out = folder / f"{len(found)}.onnx"
        quantize_dynamic(str(graph), str(out), op_types_to_quantize=ops, weight_type=weights)
        found[name] = (on_graph(out), plain)
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    colorizer = Colorizer.load(a.weights, device="cpu")
    from skimage.data import astronaut

    photo = colorizer.prepare(Image.fromarray(astronaut()).resize((1024, 768), Image.BICUBIC))
    styles = {"auto": colorizer.encode_style(None), "palette": colorizer.encode_style(palette_image(PALETTE.split(",")))}
    l = (torch.rand(4, 1, 128, 160, generator=torch.Generator().manual_seed(0)) * 100).numpy()
    print(f"colour network, bundled model, 128x160, {a.threads} thread(s), torch {torch.__version__}, CPU ms per "
          f"image (median of {a.reps}); load average {os.getloadavg()[0]:.2f}\n")
    print("| backend | style | batch 1 | batch 4 | PSNR vs torch float32 |\n| --- | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        found = runners(colorizer, a.threads, Path(tmp))
        for style_name, style in styles.items():
            times = {(name, b): [] for name in found for b in (1, 4)}
            outputs = {}
            for name, (runner, context) in found.items():
                with context():
                    runner.predict_ratio(l[:1], style)  # warm-up
                    outputs[name] = runner.colorize_planes([photo], style)[0]
            for _ in range(a.reps):
                for name, (runner, context) in found.items():
                    with context():
                        for b in (1, 4):
                            start = time.process_time()
                            runner.predict_ratio(l[:b], style)
                            times[name, b].append((time.process_time() - start) / b)
            for name in found:
                ms = [statistics.median(times[name, b]) * 1000 for b in (1, 4)]
                print(f"| {name} | {style_name} | {ms[0]:.1f} | {ms[1]:.1f} | "
                      f"{image_psnr(outputs[name], outputs['torch float32']):.1f} dB |", flush=True)


if __name__ == "__main__":
    main()
