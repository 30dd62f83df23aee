"""The Colorizer: load a model, colourise photos at their full resolution in the palette of a reference.

The network runs at a working resolution (short side `size`, the training size by default). Its
prediction is turned into a chroma ratio (colour relative to its own luminance), upsampled bilinearly
to the photo's size and multiplied by the photo's full-resolution luminance, so the output keeps the
input's lightness exactly and the full-size work is a few table look-ups per pixel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .color import chroma_ratio, encode_in_gamut, l_from_y
from .config import ModelConfig, preset
from .hub import push_folder, resolve_model, write_model_card
from .image import DEFAULT_MAX_PIXELS, ImageLike, alpha_of, atomic_write, luminance_plane, open_image, rgb_array
from .model import ColorNet

BUNDLED = Path(__file__).parent / "weights" / "default"
Backend = Literal["torch", "onnxruntime"]
MAX_ASPECT = 8  # the working image's long side is at most this many times its short side
STRIP_ROWS = 64  # recombine works on this many full-resolution rows at a time: they stay in cache


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device not in (None, "auto"):
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def working_size(height: int, width: int, size: int, multiple: int) -> tuple[int, int]:
    """The network's input size: short side about `size`, both sides multiples of `multiple`."""
    s = size / min(height, width)
    h, w = height * s, width * s
    cap = MAX_ASPECT * size
    if max(h, w) > cap:
        h, w = h * cap / max(h, w), w * cap / max(h, w)
    snap = lambda v: max(2 * multiple, int(round(v / multiple)) * multiple)  # noqa: E731
    return snap(h), snap(w)


def resize_short_side(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize an (H, W, 3) uint8 image so its short side is `size` (long side capped by MAX_ASPECT)."""
    h, w = rgb.shape[:2]
    s = size / min(h, w)
    new = max(1, round(w * s)), max(1, round(h * s))
    new = min(new[0], MAX_ASPECT * size), min(new[1], MAX_ASPECT * size)
    return np.asarray(Image.fromarray(rgb).resize(new, Image.BILINEAR, reducing_gap=2.0))


def palette_image(colors: Sequence[str], size: int = 64) -> Image.Image:
    """A reference made of colours: equal vertical stripes, e.g. `palette_image(["#264653", "#e9c46a"])`."""
    from PIL import ImageColor

    if not colors:
        raise ValueError("a palette needs at least one colour")
    rgb = []
    for c in colors:
        c = c.strip()
        try:
            rgb.append(ImageColor.getrgb(c if c.startswith("#") or not _is_hex(c) else f"#{c}")[:3])
        except ValueError:
            raise ValueError(f"not a colour: {c!r} (use hex such as '#e9c46a' or a CSS name)") from None
    stripes = np.repeat(np.asarray(rgb, dtype=np.uint8)[None], size, axis=0)  # (size, n, 3)
    return Image.fromarray(stripes).resize((size * len(rgb), size), Image.NEAREST)


def _is_hex(s: str) -> bool:
    return len(s) in (3, 6) and all(ch in "0123456789abcdefABCDEF" for ch in s)


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
        self.size = size or self.config.image_size
        self.max_pixels = max_pixels
        self.batch_size = batch_size
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
                     style_weights: Sequence[float] | None = None) -> torch.Tensor:
        """Reference(s) -> one style code (code_dim,); None gives the null style (automatic)."""
        null = self.net.null_style.detach()
        if style is None:
            return null
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        weights = torch.as_tensor(style_weights if style_weights is not None else [1.0] * len(styles),
                                  dtype=torch.float32, device=self.device)
        if len(weights) != len(styles):
            raise ValueError(f"got {len(styles)} styles but {len(weights)} style weights")
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"style weights must be non-negative with a positive sum, got {weights.tolist()}")
        vectors = torch.stack([self._encode_one(s) for s in styles])
        blended = (weights[:, None] * vectors).sum(0) / weights.sum()
        return null + strength * (blended - null)

    def _encode_one(self, style: ImageLike) -> torch.Tensor:
        rgb = resize_short_side(rgb_array(open_image(style, self.max_pixels)), self.config.style_size)
        x = torch.from_numpy(rgb.copy()).to(self.device).permute(2, 0, 1)[None].float() / 255
        return self.net.encode_style(x)[0]

    # ---- colourisation

    def colorize(self, image: ImageLike | Sequence[ImageLike], style=None, strength: float = 1.0,
                 style_weights: Sequence[float] | None = None, size: int | None = None):
        """Colourise one image (returns a PIL image) or a list of them (returns a list).

        `style`: a reference (path, PIL image or array; a palette from `palette_image`), a list of
        them blended by `style_weights`, or None for automatic colourisation. `strength` moves from
        the null style (0) to the reference (1) and beyond.
        """
        single = not isinstance(image, (list, tuple))
        images = [image] if single else list(image)
        vector = self.encode_style(style, strength, style_weights)
        outputs = self.colorize_planes([self.prepare(im) for im in images], vector, size)
        return outputs[0] if single else outputs

    def prepare(self, image: ImageLike) -> tuple[np.ndarray, Image.Image | None]:
        """Decode an input into its luminance plane and alpha band."""
        im = open_image(image, self.max_pixels)
        return luminance_plane(im), alpha_of(im)

    @torch.inference_mode()
    def colorize_planes(self, planes: list[tuple[np.ndarray, Image.Image | None]], style: torch.Tensor,
                        size: int | None = None) -> list[Image.Image]:
        """Prepared inputs -> colour images; inputs of the same working size share a batch."""
        size = size or self.size
        shapes = [working_size(*y.shape, size, self.config.multiple) for y, _ in planes]
        ratios: list[torch.Tensor | None] = [None] * len(planes)
        for shape in dict.fromkeys(shapes):
            todo = [i for i, s in enumerate(shapes) if s == shape]
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start:start + self.batch_size]
                l = torch.cat([self._working_l(planes[i][0], shape) for i in batch])
                for i, ratio in zip(batch, self._predict_ratio(l, style)):
                    ratios[i] = ratio
        return [recombine(y, ratio, alpha) for (y, alpha), ratio in zip(planes, ratios)]

    def _working_l(self, y: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
        y_small = np.asarray(Image.fromarray(y, "F").resize(shape[::-1], Image.BILINEAR, reducing_gap=2.0))
        return l_from_y(torch.from_numpy(y_small.copy()).to(self.device)[None, None].clamp(0, 1))

    def _predict_ratio(self, l: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out = self._run(l, style.expand(l.shape[0], -1))
        return chroma_ratio(self.net.to_linear_rgb(l, out)).float().cpu()


def _onnx_runner(net: ColorNet):
    from .export import OnnxRunner

    return OnnxRunner.from_net(net)


def recombine(y: np.ndarray, ratio: torch.Tensor, alpha: Image.Image | None = None) -> Image.Image:
    """Full-resolution luminance y (H, W) in [0, 1] x low-resolution chroma ratio (3, h, w) -> sRGB image.

    The ratio is upsampled bilinearly; colours it takes out of gamut are brought toward gray at their
    own luminance (`color.encode_in_gamut`), so the output's luminance is y wherever the prediction goes.
    """
    h, w = y.shape
    # bilinear upsampling, separable: the horizontal pass at the ratio's height here (small), the
    # vertical one per strip of rows below, so every full-width temporary is a strip, not an image
    rows = F.interpolate(ratio[None].float(), size=(ratio.shape[1], w), mode="bilinear", align_corners=False)[0]
    top, bottom, frac = _bilinear_taps(ratio.shape[1], h)
    bands = np.empty((3, h, w), np.uint8)
    for start in range(0, h, STRIP_ROWS):
        strip = slice(start, start + STRIP_ROWS)
        up = torch.lerp(rows[:, top[strip]], rows[:, bottom[strip]], frac[strip, None]).numpy()  # (3, S, W)
        encode_in_gamut(y[strip], up, bands[:, strip])
    channels = [Image.fromarray(band, "L") for band in bands]
    if alpha is not None:
        return Image.merge("RGBA", channels + [alpha])
    return Image.merge("RGB", channels)


def _bilinear_taps(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows and weights of bilinear resizing n_in -> n_out, as F.interpolate (align_corners=False)."""
    src = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5).clamp(min=0)
    top = src.long().clamp(max=n_in - 1)
    return top, (top + 1).clamp(max=n_in - 1), (src - top).float()


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
    try:
        with torch.device("meta"):  # shapes only: a config.json naming huge widths allocates nothing
            expected = ColorNet(config).state_dict()
    except RuntimeError as e:
        raise ValueError(f"{folder / 'config.json'}: describes a network that cannot be built ({e})") from None
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{folder}: weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")
    bad = [k for k in expected if expected[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise ValueError(f"{folder}: {k} has shape {tuple(state[k].shape)}, config.json implies {tuple(expected[k].shape)}")
    net = ColorNet(config)
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net

