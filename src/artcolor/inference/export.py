"""ONNX export: the whole model as a folder that colourises without PyTorch (`onnx_backend.py` reads it),
and the same graphs in memory behind `Colorizer(net, backend="onnxruntime")`.

`export_model(net, OUT_DIR)` writes the folder (`onnx_backend.py` describes the layout): the style
encoder, the U-Net and (for models with one) the automatic decoder as graphs with dynamic batch,
height and width, traced through the network's own `encode_style` and `forward`, so whatever the
network grows inside them is exported with it. `export_checks.py` compares an export with the network.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import __version__
from ..color.lab import chroma_ratio
from ..inputs.images import atomic_write
from ..config import InferenceOptions
from ..model import ColorNet
from ..model.correspondence import Bank
from ..model.mapping import paint
from .onnx_backend import AUTO_GRAPH, BANK_INPUTS, COLOR_GRAPH, FORMAT, NULL_STYLE, STYLE_GRAPH, Graph, OnnxBackend

OPSET = 17


def _padded(net: ColorNet, l: torch.Tensor, style: torch.Tensor | None, hints: torch.Tensor | None,
            bank: Bank | None, options: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`mapping.paint(net, l, style, hints, bank, options)` at any H, W: `l` padded (edge pixels repeated)
    to the network's multiple, the outputs cropped back -> (its a*b* or RGB, the chroma ratio (B, 3, H, W))."""
    m = net.config.multiple
    h, w = l.shape[-2], l.shape[-1]
    pad = (0, (m - w % m) % m, 0, (m - h % m) % m)
    l_pad = F.pad(l, pad, mode="replicate")
    # padded hints are zeros: no hint (mask 0) where the photo is not
    out = paint(net, l_pad, style, None if hints is None else F.pad(hints, pad), bank, options)
    ratio = chroma_ratio(net.to_linear_rgb(l_pad, out))
    return out[..., :h, :w], ratio[..., :h, :w]


class ColorGraph(nn.Module):
    """The U-Net under a style code and the mapping onto the reference at any H, W -> (`out` as
    `mapping.paint`, the chroma ratio (B, 3, H, W) the full-resolution recombination needs)."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, l: torch.Tensor, style: torch.Tensor, hints: torch.Tensor | None = None,
                ref_keys: torch.Tensor | None = None, ref_ab: torch.Tensor | None = None,
                ref_log_weight: torch.Tensor | None = None, options: torch.Tensor | None = None):
        bank = Bank(ref_keys, ref_ab, ref_log_weight) if ref_keys is not None else None
        return _padded(self.net, l, style, hints, bank, options)


class AutoGraph(nn.Module):
    """Automatic colourisation by the automatic decoder at any H, W -> (`out`, the chroma ratio)."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, l: torch.Tensor, hints: torch.Tensor | None = None):
        return _padded(self.net, l, None, hints, None)


class StyleGraph(nn.Module):
    """References (B, 3, H, W) sRGB in [0, 1] -> style codes (B, code_dim), palette keys included; with
    `correspondence`, also the references at sizes divisible by 32 -> their banks' keys and a*b*."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor, match_rgb: torch.Tensor | None = None):
        if match_rgb is None:
            return self.net.encode_style(rgb)
        bank = self.net.encode_reference(match_rgb)
        return self.net.encode_style(rgb), bank.keys, bank.ab


def takes_hints(net: ColorNet) -> bool:
    return bool(getattr(net.config, "hints", False))


def takes_reference(net: ColorNet) -> bool:
    return bool(getattr(net.config, "correspondence", False))


def _trace(module: nn.Module, args: tuple, names: list[str], outputs: list[str], opset: int):
    """An nn.Module -> a checked onnx.ModelProto, every input and output dynamic in batch, H and W
    (a bank's in its positions)."""
    import onnx

    axes = {n: {0: "batch", 2: "height", 3: "width"} for n in names + outputs if n not in ("style", "options")}
    axes["style"] = {0: "batch"}
    axes.update({n: {0: "batch", 1: "positions"} for n in ("keys", "ab") if n in outputs})
    axes.update({n: {1: "positions"} for n in BANK_INPUTS if n in names})
    if "match_rgb" in names:  # its own sizes: ONNX Runtime takes equal axis names for equal sizes
        axes["match_rgb"] = {0: "batch", 2: "match_height", 3: "match_width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of dynamo, which is 20x slower for this net
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=opset, input_names=names,
                          output_names=outputs, dynamic_axes=axes)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    return model


def color_graph(net: ColorNet, opset: int = OPSET):
    """The U-Net as an onnx.ModelProto: (l, style[, hints][, ref_keys, ref_ab, ref_log_weight]) -> (out, ratio)."""
    import onnx

    net = copy.deepcopy(net).to("cpu").eval()  # the caller's network stays on its device
    m = net.config.multiple
    args, names = (torch.rand(1, 1, 4 * m, 4 * m) * 100, net.null_styles(1).detach()), ["l", "style"]
    if takes_hints(net):
        args, names = (*args, torch.zeros(1, 3, 4 * m, 4 * m)), [*names, "hints"]
    if takes_reference(net):  # its bank, and the options of the mapping onto it
        bank = net.encode_reference(torch.rand(1, 3, 64, 96))
        args, names = (*args, None, *bank) if len(args) == 2 else (*args, *bank), [*names, *BANK_INPUTS]
        args, names = (*args, torch.tensor(InferenceOptions().as_vector())), [*names, "options"]
    model = _trace(ColorGraph(net), args, names, ["out", "ratio"], opset)
    onnx.helper.set_model_props(model, {
        "artcolor_config": json.dumps(net.config.to_dict()),
        "null_style": json.dumps(net.null_style.detach().tolist()),
    })
    return model


def auto_graph(net: ColorNet, opset: int = OPSET):
    """The automatic decoder (the model needs one) as an onnx.ModelProto: (l[, hints]) -> (out, ratio)."""
    if net.auto is None:
        raise ValueError("this model has no automatic decoder (its config has auto_decoder: false)")
    net = copy.deepcopy(net).to("cpu").eval()
    m = net.config.multiple
    args, names = (torch.rand(1, 1, 4 * m, 4 * m) * 100,), ["l"]
    if takes_hints(net):
        args, names = (*args, torch.zeros(1, 3, 4 * m, 4 * m)), [*names, "hints"]
    return _trace(AutoGraph(net), args, names, ["out", "ratio"], opset)


def style_graph(net: ColorNet, opset: int = OPSET):
    """The style encoder as an onnx.ModelProto: rgb -> style."""
    net = copy.deepcopy(net).to("cpu").eval()
    s = net.config.style_size
    if takes_reference(net):
        args = (torch.rand(1, 3, s, s + s // 2), torch.rand(1, 3, 128, 192))
        return _trace(StyleGraph(net), args, ["rgb", "match_rgb"], ["style", "keys", "ab"], opset)
    return _trace(StyleGraph(net), (torch.rand(1, 3, s, s + s // 2),), ["rgb"], ["style"], opset)


def export_onnx(net: ColorNet, path: str | os.PathLike | io.BytesIO, opset: int = OPSET) -> None:
    """Write the colour network alone as one graph (see `color_graph`); `export_model` writes it all."""
    data = color_graph(net, opset).SerializeToString()
    if isinstance(path, io.BytesIO):
        path.write(data)
    else:
        _write(Path(path), data)


def export_model(net: ColorNet, folder: str | os.PathLike, opset: int = OPSET,
                 options: InferenceOptions | None = None) -> Path:
    """Write the whole model as an ONNX export folder (see `onnx_backend.py`) and return its path; its
    config.json keeps the model's inference `options` (the defaults if None), the graph's `options` input
    takes any."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / STYLE_GRAPH, style_graph(net, opset).SerializeToString())
    _write(folder / COLOR_GRAPH, color_graph(net, opset).SerializeToString())
    automatic = net.auto is not None
    if automatic:
        _write(folder / AUTO_GRAPH, auto_graph(net, opset).SerializeToString())
    buffer = io.BytesIO()
    np.save(buffer, net.null_style.detach().to("cpu", torch.float32).numpy())
    _write(folder / NULL_STYLE, buffer.getvalue())
    section = {"format": FORMAT, "opset": opset, "multiple": net.config.multiple, "hints": takes_hints(net),
               "correspondence": takes_reference(net),
               "color_net": COLOR_GRAPH, "style_encoder": STYLE_GRAPH, "null_style": NULL_STYLE,
               "auto_net": AUTO_GRAPH if automatic else None, "artcolor": __version__}
    config = {"model": net.config.to_dict(), "inference": (options or InferenceOptions()).to_dict(), "onnx": section}
    _write(folder / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    return folder


def _write(path: Path, data: bytes) -> None:
    with atomic_write(path) as f:  # a killed export leaves no half graph
        f.write(data)


def onnx_backend(net: ColorNet, threads: int | None = None, opset: int = OPSET) -> OnnxBackend:
    """The network exported in memory, its graphs on onnxruntime: what `export_model` writes, unwritten."""
    null_style = net.null_style.detach().to("cpu", torch.float32).numpy()
    graph = lambda make: Graph(make(net, opset).SerializeToString(), threads)  # noqa: E731
    return OnnxBackend(net.config, null_style, graph(style_graph), graph(color_graph),
                       graph(auto_graph) if net.auto is not None else None)
