"""The Colorizer: colourise photos at their full resolution in the palette of a reference, or automatically.

The network runs at a working resolution (short side `size`, the training size by default). Its
prediction is turned into a chroma ratio (colour relative to its own luminance), upsampled bilinearly
to the photo's size and multiplied by the photo's full-resolution luminance, so the output keeps the
input's lightness exactly and the full-size work is a few table look-ups per pixel. Those steps around
the network are `pipeline.py`, numpy and Pillow only; the network itself is a backend (`backend.py`):
PyTorch, or an ONNX export on onnxruntime. This module imports no torch: `artcolor.onnx` runs it
where PyTorch is not installed.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..inputs.checks import MAX_SIZE, MIN_SIZE, PredictionError, integer
from ..inputs.hints import HintSet, check_accepted, for_images
from ..inputs.hints import resolve as resolve_hints
from .hub import push_folder, resolve_model
from ..inputs.images import DEFAULT_MAX_PIXELS, ImageLike, open_image, rgb_array
from ..config import InferenceOptions
from .backend import Backend, BackendName, check_backend
from .pipeline import (Style, as_list, blend_style, hint_batch, match_input, prepare, recombine, reference_input,
                       working_l, working_size)


def _torch_side_gpu():
    """`gpu` (the full-resolution steps as torch ops), imported only for a backend on an accelerator."""
    from . import gpu

    return gpu


def _torch_side():
    """`torch_backend` (PyTorch, model folders), imported on first use: a Colorizer over an ONNX export
    never needs it."""
    from . import torch_backend

    return torch_backend


class Colorizer:
    """A colourisation model ready for inference: numpy arrays, PIL images or paths in, PIL images out.

    >>> colorizer = Colorizer.load()                                # the bundled model
    >>> out = colorizer.colorize("photo.jpg", style="painting.jpg", strength=1.0)

    `net`: a `ColorNet`, run by PyTorch on `device` (`backend="torch"`), exported in memory and run
    on onnxruntime (`backend="onnxruntime"`), or both on a CPU, each path on the faster (`backend="mixed"`:
    the U-Net under a reference on onnxruntime, the rest in PyTorch; `mixed_backend.py`); or a `Backend`
    ready made (`onnx.OnnxColorizer` runs an export folder so). `options`: how it maps its colours
    onto a reference (`InferenceOptions`; None: the backend's, a model folder's own for `load`).
    """

    def __init__(self, net, device=None, size: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 batch_size: int = 8, backend: BackendName = "torch", options: InferenceOptions | None = None):
        check_backend(backend)
        self.backend: Backend = net if isinstance(net, Backend) else _backend_for(net, device, backend)
        self.config = self.backend.config
        if options is not None and not isinstance(options, InferenceOptions):
            raise TypeError(f"options must be InferenceOptions, got {type(options).__name__}")
        self.options = options or self.backend.options
        self.size = self.config.image_size if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        self.max_pixels = None if max_pixels is None else integer("max_pixels", max_pixels, 0)
        self.batch_size = integer("batch_size", batch_size, 1)

    @property
    def net(self):
        """The PyTorch network (`ColorNet`) of a Colorizer on the torch backend."""
        return self._torch_backend("net").net

    @property
    def device(self):
        """The torch device the network runs on (torch backend)."""
        return self._torch_backend("device").device

    def _torch_backend(self, what: str) -> Backend:
        if self.backend.name not in ("torch", "mixed"):
            raise AttributeError(f"a Colorizer on {self.backend.name} has no PyTorch {what}")
        return self.backend

    # ---- construction and persistence (PyTorch)

    @classmethod
    def from_preset(cls, name: str, seed: int | None = 0, **kwargs) -> "Colorizer":
        """An untrained model of a named preset (`seed`, `default`, `tiny`)."""
        return cls(_torch_side().preset_net(name, seed), **kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **kwargs) -> "Colorizer":
        """A saved model folder (`config.json` + `model.safetensors`), `hf://ORG/NAME[@REVISION]` (a Hub
        repository holding one, fetched into the Hugging Face cache, or read from it offline), or the
        bundled model."""
        side = _torch_side()
        folder = resolve_model(path) if path is not None else side.BUNDLED
        if path is None and not (folder / "model.safetensors").is_file():
            raise FileNotFoundError(
                "no bundled model is installed with this copy of artcolor; "
                "pass a model folder (--weights DIR) made by `artcolor train`"
            )
        return cls(side.load_net(folder), **{"options": side.load_options(folder), **kwargs})

    def save(self, path: str | os.PathLike, dtype=None) -> None:
        """Write the model folder `path`: `config.json`, `model.safetensors` (weights as `dtype`, a torch
        dtype, float32 by default) and a model card `README.md`; `Colorizer.load(path)` reads it back."""
        _torch_side().save_net(self.net, path, dtype, self.options)

    def push_to_hub(self, repo_id: str, private: bool | None = None, token: str | None = None,
                    dtype=None, commit_message: str = "Upload artcolor model") -> str:
        """Publish the model folder (config, weights, card) as the Hub repository `repo_id`; returns
        the commit URL. `Colorizer.load("hf://" + repo_id)` reads it back."""
        with tempfile.TemporaryDirectory() as tmp:
            self.save(tmp, dtype)
            return push_folder(tmp, repo_id, private=private, token=token, commit_message=commit_message)

    # ---- styles

    def encode_style(self, style: ImageLike | Sequence[ImageLike] | None, strength: float = 1.0,
                     style_weights: Sequence[float] | None = None) -> Style:
        """Reference(s) -> one `Style`: a style code (code_dim,) and, with `correspondence`, the bank of
        places to match (several references joined, each place tilted by its reference's weight).
        None, or strength 0, gives the automatic Style.

        `strength` in [0, MAX_STRENGTH] (4); `style_weights`: one finite weight >= 0 per reference.
        """
        encoded = [] if style is None else [self._encode_one(s) for s in as_list(style)]
        return blend_style(self.backend.null_style, encoded, style_weights, strength)

    def _encode_one(self, style: ImageLike) -> tuple[np.ndarray, tuple | None]:
        rgb = rgb_array(open_image(style, self.max_pixels))
        match = match_input(rgb, self.config.style_size, None) if self.config.correspondence else None
        return self.backend.encode_reference(reference_input(rgb, self.config.style_size, None), match)

    # ---- colourisation

    def colorize(self, image: ImageLike | Sequence[ImageLike], style=None, strength: float = 1.0,
                 style_weights: Sequence[float] | None = None, size: int | None = None, hints=None,
                 hint_labels: Sequence[str] | None = None, coherence: float | None = None):
        """Colourise one image (returns a PIL image) or a list of them (returns a list).

        `style`: a reference (path, PIL image or array; a palette from `palette_image`), a list of
        them blended by `style_weights`, None for automatic colourisation, or a `Style` already encoded
        by `encode_style` (then `strength` and `style_weights` were applied there). `strength` moves from
        the null style (0: automatic) to the reference (1) and beyond, up to 4. A number out of range
        (NaN too) is a ValueError naming it; a prediction that is not finite, a PredictionError.

        `hints` (models with hint inputs; see `artcolor.inputs.hints`): a list of `(x, y, colour)` or
        `(x, y, colour, radius)` in the input's pixels, or an RGBA scribble of its size (opaque
        pixels are hints); only a hint colour's hue and chroma count. With a list of images, a list
        of one such entry (or None) per image. A bad hint is a ValueError naming it (by `hint_labels`,
        one name per hint, if given).

        `coherence` in [0, 1] (None: the colorizer's `options`): with a reference, how strongly each
        object keeps one colour family (1) rather than following the palette pixel by pixel (0).
        """
        single = not isinstance(image, (list, tuple))
        images = [image] if single else list(image)
        per_image = for_images(hints, len(images), single)
        check_accepted(self.config.hints, per_image)
        encoded = style if isinstance(style, Style) else self.encode_style(style, strength, style_weights)
        planes = [self.prepare(im) for im in images]
        resolved = [self._resolve(h, y, hint_labels) for h, (y, _) in zip(per_image, planes)]
        outputs = self.colorize_planes(planes, encoded, size, resolved, self.with_options(coherence=coherence))
        return outputs[0] if single else outputs

    def using(self, **changes) -> "Colorizer":
        """This colorizer (its backend shared) with its inference options changed (None values:
        unchanged): `colorizer.using(coherence=0.5)`."""
        other = copy.copy(self)
        other.options = self.with_options(**changes)
        return other

    def with_options(self, **changes) -> InferenceOptions:
        """The colorizer's inference options with `changes` (None values: unchanged), checked."""
        return dataclasses.replace(self.options, **{k: v for k, v in changes.items() if v is not None})

    def prepare(self, image: ImageLike) -> tuple[np.ndarray, Image.Image | None]:
        """Decode an input into its luminance plane Y (H, W) float32 in [0, 1] and its alpha band (or None)."""
        return prepare(image, self.max_pixels)

    def colorize_plane(self, y: np.ndarray, alpha: Image.Image | None, style: Style, hints=None,
                       size: int | None = None, hint_labels: Sequence[str] | None = None,
                       options: InferenceOptions | None = None) -> Image.Image:
        """One prepared input (`prepare`'s luminance and alpha) in an encoded `style` -> its colour image;
        `hints` as `colorize` takes them for one image; `options`: None for the colorizer's."""
        check_accepted(self.config.hints, [hints])
        return self.colorize_planes([(y, alpha)], style, size, [self._resolve(hints, y, hint_labels)], options)[0]

    def _resolve(self, hints, y: np.ndarray, labels: Sequence[str] | None) -> HintSet | None:
        return resolve_hints(hints, y.shape[1], y.shape[0], self.max_pixels, labels)

    def colorize_planes(self, planes: list[tuple[np.ndarray, Image.Image | None]], style: Style,
                        size: int | None = None, hints: Sequence[HintSet | None] | None = None,
                        options: InferenceOptions | None = None) -> list[Image.Image]:
        """Prepared inputs -> colour images; inputs of the same working size share a batch.

        `style`: from `encode_style`. `hints`: one `hints.HintSet` (from `hints.resolve`) or None per
        input, or None for none. `options`: None for the colorizer's. Raises PredictionError, rather
        than return a black image, if a prediction is not finite.
        """
        size = self.size if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        hints = [None] * len(planes) if hints is None else list(hints)
        if len(hints) != len(planes):
            raise ValueError(f"got {len(planes)} images but {len(hints)} hints entries")
        check_accepted(self.config.hints, hints)
        shapes = [working_size(*y.shape, size, self.config.multiple) for y, _ in planes]
        ratios: list[np.ndarray | None] = [None] * len(planes)
        for shape in dict.fromkeys(shapes):
            todo = [i for i, s in enumerate(shapes) if s == shape]
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start:start + self.batch_size]
                l = np.concatenate([working_l(planes[i][0], shape) for i in batch])
                drawn = hint_batch([hints[i] for i in batch], shape)
                for i, ratio in zip(batch, self.predict_ratio(l, style, drawn, options)):
                    ratios[i] = ratio
        laid = recombine
        if getattr(getattr(self.backend, "device", None), "type", "cpu") != "cpu":  # a GPU: the full-size work there
            laid = _torch_side_gpu().recombine_for(self.backend)
        return [laid(y, ratio, alpha) for (y, alpha), ratio in zip(planes, ratios)]

    def working_l(self, y: np.ndarray, size: int | None = None) -> np.ndarray:
        """Luminance Y (H, W) in [0, 1] -> the network's input L* (1, 1, h, w) at the working size (short
        side `size`, the colorizer's by default, both sides multiples of the network's)."""
        size = self.size if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        return working_l(y, working_size(*y.shape, size, self.config.multiple))

    def predict_ratio(self, l: np.ndarray, style: Style, hints: np.ndarray | None = None,
                      options: InferenceOptions | None = None) -> np.ndarray:
        """Working-size L* (B, 1, h, w) (`working_l`, joined), an encoded `style`, hints (B, 3, h, w) or
        None and the inference options (None: the colorizer's) -> chroma ratios (B, 3, h, w) float32,
        which `pipeline.recombine` lays over each photo's luminance. A PredictionError if any is not finite."""
        if not isinstance(style, Style):
            raise TypeError(f"expected a Style from encode_style, got {type(style).__name__}")
        ratio = self.backend.predict_ratio(l, style, hints, options or self.options)
        bad = int((~np.isfinite(ratio)).reshape(len(ratio), -1).any(1).sum())
        if bad:
            raise PredictionError(f"the network's prediction is not finite (NaN or inf) for {bad} of "
                                  f"{len(ratio)} images: the model's weights or the style code are damaged")
        return ratio


def _backend_for(net, device, backend: BackendName) -> Backend:
    """A PyTorch network -> its backend: itself on `device`, its ONNX export in memory on onnxruntime, or
    both (mixed: on a CPU; on an accelerator PyTorch alone is faster)."""
    if backend == "mixed" and _torch_side().pick_device(device).type == "cpu":
        from .mixed_backend import MixedBackend

        return MixedBackend(net)
    if backend in ("torch", "mixed"):
        return _torch_side().TorchBackend(net, device)
    from .export import onnx_backend  # PyTorch and onnx, as for the network itself

    return onnx_backend(net)
