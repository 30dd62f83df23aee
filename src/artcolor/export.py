"""ONNX export of the colour network, its check against PyTorch, and an onnxruntime runner.

Only the U-Net is exported: `out = net(l, style)` with l (B, 1, H, W), L* in [0, 100], and style
(B, code_dim); batch, height and width are dynamic (H and W divisible by `config.multiple`). The
output is ab (B, 2, H, W) for Lab models, sRGB (B, 3, H, W) for RGB models, as `ColorNet.forward`.

The style encoder stays in PyTorch: it runs once per reference on a 128-pixel image, while the
U-Net does nearly all the work. To use the graph without artcolor, feed a style code computed
by `Colorizer.encode_style`, or the null style (automatic colourisation), which is stored with the
model config in the graph's metadata (`null_style`, `artcolor_config`, as JSON).
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

from .model import ColorNet

OPSET = 17
RELATIVE_TOLERANCE = 1e-4  # max |onnx - torch| / max |torch|; float32 sums differ in the last bits


def export_onnx(net: ColorNet, path: str | os.PathLike | io.BytesIO, opset: int = OPSET) -> None:
    """Write the network as an ONNX graph with inputs `l`, `style` and output `out`."""
    import onnx

    net = copy.deepcopy(net).to("cpu").eval()  # the caller's network stays on its device
    m = net.config.multiple
    l = torch.rand(1, 1, 4 * m, 4 * m) * 100
    style = net.null(1).detach()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of dynamo, which is 20x slower for this net
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (l, style), buffer, dynamo=False, opset_version=opset,
            input_names=["l", "style"], output_names=["out"],
            dynamic_axes={"l": {0: "batch", 2: "height", 3: "width"}, "style": {0: "batch"},
                          "out": {0: "batch", 2: "height", 3: "width"}},
        )
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {
        "artcolor_config": json.dumps(net.config.to_dict()),
        "null_style": json.dumps(net.null_style.detach().tolist()),
    })
    onnx.checker.check_model(model)
    if isinstance(path, io.BytesIO):
        path.write(model.SerializeToString())
    else:
        onnx.save(model, str(path))


class OnnxRunner:
    """Runs an exported graph on onnxruntime behind the same call as the network: (l, style) -> out."""

    def __init__(self, model: str | os.PathLike | bytes, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_net(cls, net: ColorNet, threads: int | None = None) -> "OnnxRunner":
        buffer = io.BytesIO()
        export_onnx(net, buffer)
        return cls(buffer.getvalue(), threads)

    def __call__(self, l: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        feeds = {"l": _numpy(l), "style": _numpy(style)}
        out = self.session.run(["out"], feeds)[0]
        return torch.from_numpy(out).to(l.device)


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())


@torch.inference_mode()
def check_onnx(net: ColorNet, path: str | os.PathLike, seed: int = 0) -> tuple[float, float]:
    """(max |onnx - torch|, max |torch|) over a random batch at a size unlike the export's."""
    net = copy.deepcopy(net).to("cpu").eval()
    g = torch.Generator().manual_seed(seed)
    m = net.config.multiple
    l = torch.rand(2, 1, 6 * m, 10 * m, generator=g) * 100  # (2, 1, H, W), a non-square size
    style = net.null(2) + torch.randn(2, net.config.code_dim, generator=g)
    expected = net(l, style)
    got = OnnxRunner(Path(path))(l, style)
    return float((got - expected).abs().max()), float(expected.abs().max())
