"""An ONNX export checked against the network it came from: each graph's difference, and the PSNR between
the two backends' colourisations of one photo (`artcolor export` prints them and fails above the gates)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..color.statistics import image_psnr
from ..model import ColorNet
from .colorizer import Colorizer
from .export import AutoGraph, ColorGraph, takes_reference
from .onnx_backend import AUTO_GRAPH, COLOR_GRAPH, STYLE_GRAPH, Graph, OnnxBackend, graph_feeds
from .torch_backend import TorchBackend

RELATIVE_TOLERANCE = 1e-4  # max |onnx - torch| / max |torch| of a plain U-Net (the tests' tiny one: 2e-6)
# `artcolor export`'s gate for any model: with the EfficientNet encoder, float32 sums differ by up to
# 3e-3 of the output's range (0.13 a*b* units, invisible); the PSNR floor is the check that matters
EXPORT_TOLERANCE = 1e-2
PSNR_FLOOR = 45.0  # dB between the PyTorch and ONNX colourisations of one photo


@torch.inference_mode()
def check_onnx(net: ColorNet, path: str | os.PathLike, seed: int = 0, automatic: bool = False) -> tuple[float, float]:
    """(max |onnx - torch|, max |torch|) of the colour graph's `out` (`automatic`: of the automatic
    decoder's graph), on a random batch at a size that is not a multiple of the network's (so the
    padding is exercised)."""
    net = copy.deepcopy(net).to("cpu").eval()
    g = torch.Generator().manual_seed(seed)
    m = net.config.multiple
    l = torch.rand(2, 1, 6 * m + 3, 10 * m + 5, generator=g) * 100  # (2, 1, H, W), non-square, odd
    style = None if automatic else net.null_styles(2) + torch.randn(2, net.config.code_dim, generator=g)
    expected = (AutoGraph(net)(l) if automatic else ColorGraph(net)(l, style))[0].numpy()
    graph = Graph(Path(path))
    got = graph(["out"], **graph_feeds(graph, l.numpy(), None if automatic else style.numpy()))[0]
    return float(np.abs(got - expected).max()), float(np.abs(expected).max())


@torch.inference_mode()
def check_style(net: ColorNet, path: str | os.PathLike, seed: int = 0) -> tuple[float, float]:
    """(max |onnx - torch|, max |torch|) of the style graph's codes, for two references of odd size
    (with `correspondence`, the worst relative difference of codes, keys and a*b*, in the codes' scale)."""
    net = copy.deepcopy(net).to("cpu").eval()
    s = net.config.style_size
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(2, 3, s, 2 * s + 7, generator=g)
    expected, feeds, names = [net.encode_style(rgb)], {"rgb": rgb.numpy()}, ["style"]
    if takes_reference(net):  # the bank's keys and a*b* too, at a size divisible by 32
        match_rgb = torch.rand(2, 3, 64, 160, generator=g)
        expected += list(net.encode_reference(match_rgb))[:2]
        feeds["match_rgb"], names = match_rgb.numpy(), [*names, "keys", "ab"]
    got = Graph(Path(path))(names, **feeds)
    worst = max(float(np.abs(a - e.numpy()).max() / max(float(e.abs().max()), 1e-6)) for a, e in zip(got, expected))
    return worst * float(expected[0].abs().max()), float(expected[0].abs().max())


def check_export(net: ColorNet, folder: str | os.PathLike) -> dict[str, float]:
    """Compare an export folder with the network: each graph's relative difference ("color", "style"
    and, for a model with an automatic decoder, "auto"), and the PSNR (dB) between the PyTorch and
    ONNX colourisations of a photo of odd size, worst of a palette reference and automatic."""
    folder = Path(folder)
    color, scale = check_onnx(net, folder / COLOR_GRAPH)
    style, style_scale = check_style(net, folder / STYLE_GRAPH)
    graphs = {"color": color / max(scale, 1e-6), "style": style / max(style_scale, 1e-6)}
    if net.auto is not None:
        auto, auto_scale = check_onnx(net, folder / AUTO_GRAPH, automatic=True)
        graphs["auto"] = auto / max(auto_scale, 1e-6)
    photo = _test_photo(333, 517)
    reference = _test_photo(60, 90, colour=True)
    torch_side = Colorizer(TorchBackend(copy.deepcopy(net), "cpu"))
    onnx_side = Colorizer(OnnxBackend.from_folder(folder))
    psnr = min(image_psnr(torch_side.colorize(photo, style=s), onnx_side.colorize(photo, style=s))
               for s in (reference, None))
    return graphs | {"psnr": psnr}


def _test_photo(h: int, w: int, colour: bool = False, seed: int = 0) -> np.ndarray:
    """A smooth random image: a bilinear blow-up of a 6x6 grid, gray (H, W) or colour (H, W, 3), uint8."""
    grid = np.random.default_rng(seed).integers(0, 256, (6, 6, 3) if colour else (6, 6), dtype=np.uint8)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.BILINEAR))
