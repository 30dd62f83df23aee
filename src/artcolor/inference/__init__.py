"""Inference: the one `Colorizer` over a backend that runs the network (PyTorch, or an ONNX export on
onnxruntime), the numpy steps around it (`pipeline.py`), a job as every shell asks for it
(`request.py`: `ColorizeRequest`, `prepare_job`) and the ONNX export (`export.py`).

Importing this package imports no torch (`artcolor.onnx` runs it where PyTorch is not installed); the
PyTorch side (`torch_backend.py`, model folders) loads on first use. The pipeline's steps are
imported from `artcolor.inference.pipeline`; names this package exported before from elsewhere
still work, with a DeprecationWarning naming their home (`artcolor.deprecation`).
"""

import importlib

from ..deprecation import moved
from ..inputs.checks import PredictionError
from .backend import Backend, BackendName
from .colorizer import Colorizer
from .pipeline import ReferenceBank, Style
from .request import ColorizeRequest, prepare_job

__all__ = ["Colorizer", "Style", "ReferenceBank", "Backend", "BackendName", "TorchBackend", "pick_device",
           "PredictionError", "ColorizeRequest", "prepare_job"]

_TORCH = {"TorchBackend": ".torch_backend", "pick_device": ".torch_backend"}

_PIPELINE = ["MAX_ASPECT", "as_list", "blend_codes", "blend_style", "hint_batch", "match_input", "prepare",
             "recombine", "reference_input", "resize_short_side", "working_l", "working_size"]
MOVED = {**dict.fromkeys(_PIPELINE, "artcolor.inference.pipeline"),
         **dict.fromkeys(["palette_image", "ImageLike", "DEFAULT_MAX_PIXELS", "atomic_write"], "artcolor.inputs.images"),
         **dict.fromkeys(["BUNDLED", "load_net", "save_net"], "artcolor.model.folders")}


def __getattr__(name):
    if name in _TORCH:
        return getattr(importlib.import_module(_TORCH[name], __name__), name)
    return moved(__name__, MOVED, name)
