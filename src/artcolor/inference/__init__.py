"""Inference: the one `Colorizer` over a backend that runs the network (PyTorch, or an ONNX export on
onnxruntime), the numpy steps around it (`pipeline.py`) and the ONNX export (`export.py`).

Importing this package imports no torch (`artcolor.onnx` runs it where PyTorch is not installed); the
PyTorch side (`torch_backend.py`, model folders) loads on first use.
"""

import importlib

from ..inputs.checks import PredictionError
from ..inputs.images import DEFAULT_MAX_PIXELS, ImageLike, atomic_write, palette_image
from .backend import Backend, BackendName
from .colorizer import Colorizer
from .pipeline import (MAX_ASPECT, ReferenceBank, Style, as_list, as_style, blend_codes, blend_style, hint_batch,
                       match_input, prepare, recombine, reference_input, resize_short_side, working_l, working_size)

__all__ = ["Colorizer", "Style", "ReferenceBank", "Backend", "BackendName", "TorchBackend", "BUNDLED", "load_net", "save_net",
           "pick_device", "PredictionError", "palette_image", "ImageLike", "DEFAULT_MAX_PIXELS", "atomic_write",
           "MAX_ASPECT", "as_list", "as_style", "blend_codes", "blend_style", "hint_batch", "match_input", "prepare",
           "recombine", "reference_input", "resize_short_side", "working_l", "working_size"]

_TORCH = {"TorchBackend": ".torch_backend", "pick_device": ".torch_backend", "BUNDLED": "..model.folders",
          "load_net": "..model.folders", "save_net": "..model.folders"}


def __getattr__(name):
    if name in _TORCH:
        return getattr(importlib.import_module(_TORCH[name], __name__), name)
    raise AttributeError(f"module 'artcolor.inference' has no attribute {name!r}")
