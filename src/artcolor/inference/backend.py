"""What `Colorizer` asks of whatever runs the network: two operations on numpy arrays.

    encode_reference(rgb, match_rgb) -> (style code (code_dim,), bank (keys, a*b*) or None)
    predict_ratio(l, style, hints, options) -> chroma ratio (B, 3, h, w)

`torch_backend.TorchBackend` runs the PyTorch network; `onnx_backend.OnnxBackend` runs an ONNX export
on onnxruntime, without PyTorch; `mixed_backend.MixedBackend` runs each path on the faster of the two.
Everything around them (decoding, resizing, blending references, batching, recombining at full
resolution, checks) is the Colorizer's and `pipeline.py`'s, the same for all.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from ..config import InferenceOptions, ModelConfig
from .pipeline import Style

BackendName = Literal["torch", "onnxruntime", "mixed"]
BACKENDS = ("torch", "onnxruntime", "mixed")  # mixed: PyTorch, the U-Net under a reference on onnxruntime
# "auto" takes mixed from this many images: loading its cached graph (about 0.4 s) costs what 10-20
# photos save (a 1024x768 photo with a palette: 20 against 12 photos/s, 2 workers, 2 cores)
MIXED_FROM = 24


def check_backend(name: str) -> None:
    """A ValueError for a backend name that is not one of `BACKENDS`."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {name!r}")


def option_vector(options: InferenceOptions | None, strength: float = 1.0) -> np.ndarray:
    """The inference options (None: the defaults) under a style's `strength` as the network's `options`
    input (4,) float32."""
    return np.asarray((options or InferenceOptions()).as_vector(strength), np.float32)


def onnx_installed() -> bool:
    """Whether the onnx extra is here (the mixed backend exports with onnx and runs on onnxruntime)."""
    return all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime"))


def auto_backend(images: int, referenced: bool, film: bool = False) -> BackendName:
    """The backend "auto" means for a job: mixed for a reference over `MIXED_FROM` or more images or a
    film (the U-Net under a reference runs faster on onnxruntime), when the onnx extra is installed;
    else torch (the automatic decoder runs faster in PyTorch)."""
    many = images >= MIXED_FROM or film
    return "mixed" if referenced and many and onnx_installed() else "torch"


class Backend(ABC):
    """A network ready to run: its config, its null style and the two operations."""

    name: BackendName
    config: ModelConfig
    null_style: np.ndarray  # (code_dim,) float32: the style code of automatic colourisation
    options: InferenceOptions = InferenceOptions()  # the model's own (an export's config.json), else the defaults

    @abstractmethod
    def encode_reference(self, rgb: np.ndarray, match_rgb: np.ndarray | None = None) -> tuple[np.ndarray, tuple | None]:
        """One reference -> its style code (code_dim,) float32 and, for models with `correspondence`, its
        bank's keys (1, N, C) and a*b* (1, N, 2) (else None).

        `rgb`: (1, 3, h, w) float32 sRGB in [0, 1] at short side `style_size` (`pipeline.reference_input`);
        `match_rgb`: the same reference as matching takes it (`pipeline.match_input`), or None.
        """

    @abstractmethod
    def predict_ratio(self, l: np.ndarray, style: Style, hints: np.ndarray | None = None,
                      options: InferenceOptions | None = None) -> np.ndarray:
        """Working-size L* (B, 1, h, w) in [0, 100] (h, w multiples of `config.multiple`), one style for the
        batch, hints (B, 3, h, w) or None, the inference options (None: the defaults) -> the chroma ratio
        (B, 3, h, w) float32 (`color.chroma_ratio`)."""
