"""artcolor: colourise grayscale photos in the palette of any reference image, or automatically."""

import importlib

__version__ = "0.1.0"
__all__ = ["Colorizer", "palette_image", "ImageError", "__version__"]

_LAZY = {"Colorizer": "inference.colorizer", "palette_image": "inputs.images", "ImageError": "inputs.images"}


def __getattr__(name):
    # public names import their module on first use: `artcolor --version` and `--help` stay instant;
    # none imports torch (`Colorizer` loads PyTorch only to run a PyTorch model): `artcolor.onnx` works
    # where torch is not installed
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'artcolor' has no attribute {name!r}")
