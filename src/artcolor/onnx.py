"""Colourise with an exported model on ONNX Runtime: numpy, Pillow and onnxruntime, no torch.

    artcolor export --format onnx --weights DIR OUT_DIR      # where PyTorch is installed, once

    from artcolor.onnx import OnnxColorizer                  # anywhere: pip install onnxruntime pillow numpy
    colorizer = OnnxColorizer("OUT_DIR")
    colorizer.colorize("photo.jpg", style="painting.jpg").save("photo_colour.png")

`OnnxColorizer` is the one `Colorizer` over the onnxruntime backend (`inference/onnx_backend.py`, which
describes the export folder's layout), so it takes and gives what `Colorizer` does.
"""

from __future__ import annotations

import os

from .deprecation import moved
from .inputs.images import DEFAULT_MAX_PIXELS
from .inference.colorizer import Colorizer
from .inference.onnx_backend import OnnxBackend

# the export folder's reader, once re-exported here: `artcolor.inference.onnx_backend` is their home
MOVED = dict.fromkeys(["FORMAT", "Graph", "bank_feeds", "read_export"], "artcolor.inference.onnx_backend")


def __getattr__(name):
    return moved(__name__, MOVED, name)


class OnnxColorizer(Colorizer):
    """An exported model (a folder, or hf://ORG/NAME of one) ready to colourise, without PyTorch: a
    `Colorizer` on `OnnxBackend.from_folder(folder, threads)`.

    >>> colorizer = OnnxColorizer("export/")
    >>> out = colorizer.colorize("photo.jpg", style="painting.jpg", strength=1.0)
    """

    def __init__(self, folder: str | os.PathLike, size: int | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, threads: int | None = None):
        super().__init__(OnnxBackend.from_folder(folder, threads), size=size, max_pixels=max_pixels)
