"""Colourise with an exported model on ONNX Runtime: numpy, Pillow and onnxruntime, no torch.

    artcolor export --format onnx --weights DIR OUT_DIR      # where PyTorch is installed, once

    from artcolor.onnx import OnnxColorizer                  # anywhere: pip install onnxruntime pillow numpy
    colorizer = OnnxColorizer("OUT_DIR")
    colorizer.colorize("photo.jpg", style="painting.jpg").save("photo_colour.png")

An export folder holds `config.json` (the model config and the export's own section), two graphs
and the null style (automatic colourisation) as `null_style.npy`:

- `style_encoder.onnx`: `rgb` (B, 3, H, W) sRGB in [0, 1], any H, W -> `style` (B, code_dim), the
  palette keys included. References are resized to short side `style_size` first, as in PyTorch.
  With `correspondence` it also takes `match_rgb`, the reference at sizes divisible by 32, and
  returns its bank's `keys` (B, N, C) and `ab` (B, N, 2).
- `color_net.onnx`: `l` (B, 1, H, W) L* in [0, 100], any H, W (padded inside the graph to the
  network's multiple), `style` (B, code_dim) and, for models with hint inputs, `hints` (B, 3, H, W)
  (`hints.py`) and, for models with `correspondence`, the reference's bank `ref_keys` (1, N, C),
  `ref_ab` (1, N, 2), `ref_log_weight` (1, N) -> `out` (ab or sRGB, as `ColorNet.forward`) and
  `ratio` (B, 3, H, W), the chroma ratio the full-resolution recombination multiplies by luminance.

Everything around the graphs is `pipeline.py`, the code the PyTorch `Colorizer` runs too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .checks import MAX_SIZE, MIN_SIZE, PredictionError, integer
from .hints import HintSet, check_accepted, for_images
from .hints import resolve as resolve_hints
from .hub import resolve_model
from .image import DEFAULT_MAX_PIXELS, ImageLike
from .image import open_image, rgb_array
from .pipeline import Style, as_list, blend_style, match_input, prepare, recombine, reference_input, working_l, working_size

COLOR_GRAPH = "color_net.onnx"
STYLE_GRAPH = "style_encoder.onnx"
NULL_STYLE = "null_style.npy"
BANK_INPUTS = ("ref_keys", "ref_ab", "ref_log_weight")  # the colour graph's, for models with correspondence
FORMAT = 1  # the export folder's layout version, in config.json's "onnx" section


class Graph:
    """One ONNX graph on onnxruntime's CPU provider: named numpy arrays in, named outputs out."""

    def __init__(self, model: str | os.PathLike | bytes, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError(f"running ONNX graphs needs onnxruntime: pip install onnxruntime ({e})") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # idle threads sleep rather than spin, as torch's do under the CLI (OMP_WAIT_POLICY=PASSIVE): on a
        # busy 2-core machine spinning made the colour network 2-10x slower
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, outputs: Sequence[str], **feeds: np.ndarray) -> list[np.ndarray]:
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items() if k in self.inputs}
        return self.session.run(list(outputs), feeds)


def read_export(folder: Path) -> dict:
    """config.json of an export folder, checked to name its files."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{folder}: not an ONNX export folder ({path}: {e})") from None
    onnx = config.get("onnx") if isinstance(config, dict) else None
    if not isinstance(onnx, dict) or not isinstance(config.get("model"), dict):
        raise ValueError(f"{path}: not an ONNX export's config (no 'onnx' section); make one with "
                         f"`artcolor export --format onnx OUT_DIR`")
    if onnx.get("format") != FORMAT:
        raise ValueError(f"{path}: export format {onnx.get('format')!r}, this artcolor reads {FORMAT}")
    for name in (COLOR_GRAPH, STYLE_GRAPH, NULL_STYLE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder}: not an ONNX export folder (missing {name})")
    return config


def bank_feeds(bank: tuple | None, graph: Graph) -> dict[str, np.ndarray]:
    """A bank's three arrays as the colour graph's inputs; None gives an empty one (one place, no
    colour, no match), which is what PyTorch's network does without a reference."""
    if bank is None:
        channels = graph.session.get_inputs()[graph.inputs.index("ref_keys")].shape[2]
        bank = (np.zeros((1, 1, channels), np.float32), np.zeros((1, 1, 2), np.float32), np.zeros((1, 1), np.float32))
    return dict(zip(BANK_INPUTS, bank))


class OnnxColorizer:
    """An exported model (a folder, or hf://ORG/NAME of one) ready to colourise, without PyTorch.

    >>> colorizer = OnnxColorizer("export/")
    >>> out = colorizer.colorize("photo.jpg", style="painting.jpg", strength=1.0)
    """

    def __init__(self, folder: str | os.PathLike, size: int | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, threads: int | None = None):
        folder = resolve_model(folder)
        exported = read_export(folder)
        self.config: dict = exported["model"]
        self.multiple, self.style_size = exported["onnx"]["multiple"], self.config["style_size"]
        self.size = self.config["image_size"] if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        self.max_pixels = None if max_pixels is None else integer("max_pixels", max_pixels, 0)
        self.null_style = np.load(folder / NULL_STYLE).astype(np.float32)  # (code_dim,)
        self.style_graph = Graph(folder / STYLE_GRAPH, threads)
        self.color_graph = Graph(folder / COLOR_GRAPH, threads)

    def encode_style(self, style: ImageLike | Sequence[ImageLike] | None, strength: float = 1.0,
                     style_weights: Sequence[float] | None = None) -> Style:
        """Reference(s) -> one `Style` (numpy arrays): the style code (code_dim,) float32 and, for a model
        with `correspondence`, the bank its places are matched in; None gives the null style (automatic)."""
        encoded = [] if style is None else [self._encode_one(s) for s in as_list(style)]
        return blend_style(self.null_style, encoded, style_weights, strength, np.concatenate)

    def _encode_one(self, style: ImageLike) -> tuple[np.ndarray, tuple | None]:
        rgb = rgb_array(open_image(style, self.max_pixels))
        feeds = {"rgb": reference_input(rgb, self.style_size, None)}
        if "match_rgb" not in self.style_graph.inputs:
            return self.style_graph(["style"], **feeds)[0][0], None
        code, keys, ab = self.style_graph(["style", "keys", "ab"], match_rgb=match_input(rgb, self.style_size, None), **feeds)
        return code[0], (keys, ab)

    def colorize(self, image: ImageLike | Sequence[ImageLike], style=None, strength: float = 1.0,
                 style_weights: Sequence[float] | None = None, size: int | None = None, hints=None):
        """Colourise one image (returns a PIL image) or a list of them (returns a list), at full resolution.

        `style`: a reference (path, PIL image or array; a palette from `artcolor.palette_image`), a
        list of them blended by `style_weights`, or None for automatic colourisation. `strength`
        moves from the null style (0) to the reference (1) and beyond. `hints`: as
        `Colorizer.colorize` takes them (models with hint inputs).
        """
        single = not isinstance(image, (list, tuple))
        per_image = for_images(hints, len(as_list(image)), single)
        check_accepted("hints" in self.color_graph.inputs, per_image)
        encoded = self.encode_style(style, strength, style_weights)
        planes = [prepare(im, self.max_pixels) for im in as_list(image)]
        outputs = [self.colorize_plane(y, alpha, encoded, size, resolve_hints(h, y.shape[1], y.shape[0], self.max_pixels))
                   for (y, alpha), h in zip(planes, per_image)]
        return outputs[0] if single else outputs

    def colorize_plane(self, y: np.ndarray, alpha: Image.Image | None, style: Style | np.ndarray,
                       size: int | None = None, hints: HintSet | None = None) -> Image.Image:
        """Luminance Y (H, W) in [0, 1], alpha or None, a Style from `encode_style` (or a bare code
        (code_dim,)), hints or None -> the colour image."""
        style = style if isinstance(style, Style) else Style(style)
        size = self.size if size is None else integer("size", size, MIN_SIZE, MAX_SIZE)
        l = working_l(y, working_size(*y.shape, size, self.multiple))  # (1, 1, h, w)
        feeds = {"l": l, "style": style.code[None]}
        if "ref_keys" in self.color_graph.inputs:  # a model that matches its reference
            feeds.update(bank_feeds(style.bank, self.color_graph))
        if "hints" in self.color_graph.inputs:  # a model that takes colour hints
            feeds["hints"] = np.zeros((1, 3, *l.shape[-2:]), np.float32) if hints is None else hints.raster(l.shape[-2:])
        ratio = self.color_graph(["ratio"], **feeds)[0][0]  # (3, h, w)
        if not np.isfinite(ratio).all():
            raise PredictionError("the network's prediction is not finite (NaN or inf): the exported model is damaged")
        return recombine(y, ratio, alpha)
