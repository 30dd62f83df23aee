"""The Colorizer: load a model, colourise photos at their full resolution in the palette of a reference.

The network runs at a working resolution (short side `size`, the training size by default). Its
prediction is turned into a chroma ratio (colour relative to its own luminance), upsampled bilinearly
to the photo's size and multiplied by the photo's full-resolution luminance, so the output keeps the
input's lightness exactly and the full-size work is a few table look-ups per pixel. Those steps around
the network are `pipeline.py`, numpy and Pillow only, which `onnx.OnnxColorizer` runs too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .checks import MAX_SIZE, MIN_SIZE, PredictionError, integer
from .color import chroma_ratio
from .config import ModelConfig, preset
from .hints import HintSet, check_accepted, for_images
from .hints import resolve as resolve_hints
from .hub import push_folder, resolve_model, write_model_card
from .image import DEFAULT_MAX_PIXELS, ImageLike, atomic_write, palette_image  # noqa: F401 (re-exported)
from .image import open_image, rgb_array
from .model import ColorNet
from .model.auto import upgrade_state
from .model.correspondence import Bank
# the steps around the network, shared with the ONNX colouriser (and re-exported from here)
from .pipeline import (MAX_ASPECT, Style, as_list, blend_codes, blend_style, match_input, prepare,  # noqa: F401
                       recombine, reference_input, resize_short_side, working_l, working_size)

BUNDLED = Path(__file__).parent / "weights" / "default"
Backend = Literal["torch", "onnxruntime"]


def as_style(style: Style | torch.Tensor) -> Style:
    """A Style, or a bare style code (code_dim,) -> a Style."""
    return style if isinstance(style, Style) else Style(style)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device not in (None, "auto"):
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Colorizer:
    """A colourisation model ready for inference.

    >>> colorizer = Colorizer.load()                                # the bundled model
    >>> out = colorizer.colorize("photo.jpg", style="painting.jpg", strength=1.0)
    """

    def __init__(self, net: ColorNet, device: str | torch.device | None = None, size: int | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, batch_size: int = 8, backend: Backend = "torch"):
        if backend not in ("torch", "onnxruntime"):
            raise ValueError(f"backend must be 'torch' or 'onnxruntime', got {backend!r}")
        self.device = pick_device(device)
        self.net = net.to(self.device).eval()
        self.config: ModelConfig = net.config
        self.size = self.config.image_size if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        self.max_pixels = None if max_pixels is None else integer("max_pixels", max_pixels, 0)
        self.batch_size = integer("batch_size", batch_size, 1)
        self.backend = backend
        # the U-Net's runner: the network itself, or its ONNX export on onnxruntime (see export.py)
        self._run = self.net if backend == "torch" else _onnx_runner(self.net)

    # ---- construction and persistence

    @classmethod
    def from_preset(cls, name: str, seed: int | None = 0, **kwargs) -> "Colorizer":
        """An untrained model of a named preset (`seed`, `default`, `tiny`)."""
        if seed is not None:
            torch.manual_seed(seed)
        return cls(ColorNet(preset(name)), **kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **kwargs) -> "Colorizer":
        """A saved model folder (`config.json` + `model.safetensors`), `hf://ORG/NAME[@REVISION]` (a Hub
        repository holding one, fetched into the Hugging Face cache, or read from it offline), or the
        bundled model."""
        folder = resolve_model(path) if path is not None else BUNDLED
        if path is None and not (folder / "model.safetensors").is_file():
            raise FileNotFoundError(
                "no bundled model is installed with this copy of artcolor; "
                "pass a model folder (--weights DIR) made by `artcolor train`"
            )
        return cls(load_net(folder), **kwargs)

    def save(self, path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> None:
        """Write the model folder `path`: `config.json`, `model.safetensors` (weights as `dtype`) and a
        model card `README.md`; `Colorizer.load(path)` reads it back."""
        save_net(self.net, path, dtype)

    def push_to_hub(self, repo_id: str, private: bool | None = None, token: str | None = None,
                    dtype: torch.dtype = torch.float32, commit_message: str = "Upload artcolor model") -> str:
        """Publish the model folder (config, weights, card) as the Hub repository `repo_id`; returns
        the commit URL. `Colorizer.load("hf://" + repo_id)` reads it back."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            self.save(tmp, dtype)
            return push_folder(tmp, repo_id, private=private, token=token, commit_message=commit_message)

    # ---- styles

    @torch.inference_mode()
    def encode_style(self, style: ImageLike | Sequence[ImageLike] | None, strength: float = 1.0,
                     style_weights: Sequence[float] | None = None) -> Style:
        """Reference(s) -> one `Style`: a style code (code_dim,) and, with `correspondence`, the bank of
        places to match (several references joined, each place tilted by its reference's weight).
        None gives the null style (automatic).

        `strength` in [0, MAX_STRENGTH] (4); `style_weights`: one finite weight >= 0 per reference.
        """
        null = self.net.null_style.detach().cpu().numpy()
        encoded = [] if style is None else [self._encode_one(s) for s in as_list(style)]
        style = blend_style(null, [(c.cpu().numpy(), b) for c, b in encoded], style_weights, strength, torch.cat,
                            lambda a: torch.from_numpy(a).to(self.device))
        return Style(torch.from_numpy(style.code).to(self.device), None if style.bank is None else Bank(*style.bank))

    def _encode_one(self, style: ImageLike) -> tuple[torch.Tensor, Bank | None]:
        rgb = rgb_array(open_image(style, self.max_pixels))
        x = torch.from_numpy(reference_input(rgb, self.config.style_size, None)).to(self.device)
        code = self.net.encode_style(x)[0]
        if not self.config.correspondence:
            return code, None
        return code, self.net.encode_reference(torch.from_numpy(match_input(rgb, self.config.style_size, None)).to(self.device))

    # ---- colourisation

    def colorize(self, image: ImageLike | Sequence[ImageLike], style=None, strength: float = 1.0,
                 style_weights: Sequence[float] | None = None, size: int | None = None, hints=None):
        """Colourise one image (returns a PIL image) or a list of them (returns a list).

        `style`: a reference (path, PIL image or array; a palette from `palette_image`), a list of
        them blended by `style_weights`, None for automatic colourisation, or a style already encoded
        by `encode_style` (then `strength` and `style_weights` were applied there). `strength` moves from
        the null style (0) to the reference (1) and beyond, up to 4. A number out of range (NaN too)
        is a ValueError naming it; a prediction that is not finite, a PredictionError.

        `hints` (models with hint inputs; see `artcolor.hints`): a list of `(x, y, colour)` or
        `(x, y, colour, radius)` in the input's pixels, or an RGBA scribble of its size (opaque
        pixels are hints); only a hint colour's hue and chroma count. With a list of images, a list
        of one such entry (or None) per image. A bad hint is a ValueError naming it.
        """
        single = not isinstance(image, (list, tuple))
        images = [image] if single else list(image)
        per_image = for_images(hints, len(images), single)
        check_accepted(self.config.hints, per_image)
        encoded = isinstance(style, (Style, torch.Tensor))  # already encoded: strength and weights were applied
        vector = as_style(style) if encoded else self.encode_style(style, strength, style_weights)
        planes = [self.prepare(im) for im in images]
        resolved = [resolve_hints(h, y.shape[1], y.shape[0], self.max_pixels) for h, (y, _) in zip(per_image, planes)]
        outputs = self.colorize_planes(planes, vector, size, resolved)
        return outputs[0] if single else outputs

    def prepare(self, image: ImageLike) -> tuple[np.ndarray, Image.Image | None]:
        """Decode an input into its luminance plane and alpha band."""
        return prepare(image, self.max_pixels)

    @torch.inference_mode()
    def colorize_planes(self, planes: list[tuple[np.ndarray, Image.Image | None]], style: Style | torch.Tensor,
                        size: int | None = None, hints: Sequence[HintSet | None] | None = None) -> list[Image.Image]:
        """Prepared inputs -> colour images; inputs of the same working size share a batch.

        `style`: from `encode_style` (or a bare style code).
        `hints`: one `hints.HintSet` (from `hints.resolve`) or None per input, or None for none.
        Raises PredictionError, rather than return a black image, if a prediction is not finite.
        """
        size = self.size if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        hints = [None] * len(planes) if hints is None else list(hints)
        if len(hints) != len(planes):
            raise ValueError(f"got {len(planes)} images but {len(hints)} hints entries")
        check_accepted(self.config.hints, hints)
        shapes = [working_size(*y.shape, size, self.config.multiple) for y, _ in planes]
        ratios: list[torch.Tensor | None] = [None] * len(planes)
        for shape in dict.fromkeys(shapes):
            todo = [i for i, s in enumerate(shapes) if s == shape]
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start:start + self.batch_size]
                l = torch.cat([self._working_l(planes[i][0], shape) for i in batch])
                drawn = self._hint_tensor([hints[i] for i in batch], shape)
                for i, ratio in zip(batch, self._predict_ratio(l, style, drawn)):
                    ratios[i] = ratio
        return [recombine(y, ratio, alpha) for (y, alpha), ratio in zip(planes, ratios)]

    def _working_l(self, y: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
        return torch.from_numpy(working_l(y, shape)).to(self.device)

    def _hint_tensor(self, hints: Sequence[HintSet | None], shape: tuple[int, int]) -> torch.Tensor | None:
        """The batch's hints (B, 3, h, w) at the working size, or None when it has none."""
        if all(h is None for h in hints):
            return None
        empty = np.zeros((1, 3, *shape), np.float32)
        return torch.from_numpy(np.concatenate([empty if h is None else h.raster(shape) for h in hints])).to(self.device)

    def _predict_ratio(self, l: torch.Tensor, style: Style | torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        code, bank = as_style(style)
        out = self._run(l, code.expand(l.shape[0], -1), hints, bank)
        ratio = chroma_ratio(self.net.to_linear_rgb(l, out)).float().cpu()
        bad = int((~torch.isfinite(ratio)).flatten(1).any(1).sum())
        if bad:
            raise PredictionError(f"the network's prediction is not finite (NaN or inf) for {bad} of "
                                  f"{len(ratio)} images: the model's weights or the style code are damaged")
        return ratio


def _onnx_runner(net: ColorNet):
    from .export import OnnxRunner

    return OnnxRunner.from_net(net)


# ---- model folders


def save_net(net: ColorNet, path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> None:
    """A model folder in the Hugging Face Hub layout: config.json + model.safetensors + README.md (card)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()}
    with atomic_write(folder / "model.safetensors") as f:
        f.write(save(state, metadata={"format": "pt", "artcolor": "ColorNet"}))
    with atomic_write(folder / "config.json") as f:
        f.write(net.config.to_json().encode())
    write_model_card(folder, net.config)


def load_net(path: str | os.PathLike) -> ColorNet:
    folder = Path(path)
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder}: not a model folder (missing {name})")
    config = ModelConfig.load(folder / "config.json")
    try:
        state = load_file(str(folder / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{folder / 'model.safetensors'}: cannot read weights ({e})") from None
    state = upgrade_state(state)  # a decoder saved with its hint slots: sliced to today's layout
    # the bundled model matches its config (the tests load it): its weights stand in for the shapes
    expected = state if folder.resolve() == BUNDLED.resolve() else _expected_state(folder, config)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{folder}: weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")
    bad = [k for k in expected if expected[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise ValueError(f"{folder}: {k} has shape {tuple(state[k].shape)}, config.json implies {tuple(expected[k].shape)}")
    for k, v in state.items():  # a NaN weight would make every output black, not an error
        if v.is_floating_point() and not torch.isfinite(v).all():
            n = int((~torch.isfinite(v)).sum())
            raise ValueError(f"{folder / 'model.safetensors'}: {k} holds {n} non-finite values (NaN or inf) "
                             f"of {v.numel()}; the weights are damaged")
    net = ColorNet(config)
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net


def _expected_state(folder: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The state dict `config` describes, built on the meta device: shapes only, so a config.json
    naming huge widths allocates nothing. Its first use costs 1-2 s (meta tensors' arithmetic
    imports PyTorch's Python kernels), which the bundled model's start-up is spared."""
    try:
        with torch.device("meta"):
            return ColorNet(config).state_dict()
    except RuntimeError as e:
        raise ValueError(f"{folder / 'config.json'}: describes a network that cannot be built ({e})") from None
