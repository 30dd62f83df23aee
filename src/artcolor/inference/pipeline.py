"""The steps of colourisation around the network, in numpy and Pillow (and numba's compiled loops).

`Colorizer` runs these whatever its backend (PyTorch or ONNX Runtime, `backend.py`), so what differs
between backends is the network's arithmetic and nothing else:

    photo -> luminance Y (H, W) -> working L* (1, 1, h, w) -> network -> chroma ratio (3, h, w)
    reference -> sRGB (1, 3, h', w'), short side `style_size` -> style encoder -> code (code_dim,)
    Y x ratio upsampled bilinearly -> sRGB image of the photo's size, its luminance kept
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..color import kernels
from ..inputs.checks import MAX_STRENGTH, PredictionError, blend_weights, finite_number
from ..inputs.hints import HintSet
from ..inputs.images import ImageLike, alpha_of, luminance_plane, open_image, rgb_array
from ..color.srgb import LINEAR16_TO_SRGB8, encode_in_gamut, l_from_y

MAX_ASPECT = 8  # the working image's long side is at most this many times its short side
MATCH_LONG = 2  # a reference's long side for matching is at most this many times `style_size`
STRIP_ROWS = 64  # recombine's numpy path works on this many full-resolution rows at a time: they stay in cache


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


def prepare(image: ImageLike, max_pixels: int | None) -> tuple[np.ndarray, Image.Image | None]:
    """Decode an input into its luminance plane Y (H, W) float32 in [0, 1] and its alpha band (or None)."""
    im = open_image(image, max_pixels)
    return luminance_plane(im), alpha_of(im)


def reference_input(style: ImageLike, style_size: int, max_pixels: int | None) -> np.ndarray:
    """A reference as the style encoder takes it: (1, 3, h, w) float32 sRGB in [0, 1], short side `style_size`."""
    return _nchw(resize_short_side(rgb_array(open_image(style, max_pixels)), style_size))


def match_input(style: ImageLike, style_size: int, max_pixels: int | None, multiple: int = 32) -> np.ndarray:
    """A reference as matching takes it (models with `correspondence`): (1, 3, h, w) float32 sRGB in
    [0, 1], short side about `style_size` but the long side at most MATCH_LONG times that (a 5:1
    palette strip holds no more places worth matching than a square), both sides multiples of
    `multiple` (the encoder's 32)."""
    rgb = rgb_array(open_image(style, max_pixels))
    height, width = rgb.shape[:2]
    short = min(style_size, MATCH_LONG * style_size * min(height, width) / max(height, width))
    h, w = working_size(height, width, max(1, round(short)), multiple)
    return _nchw(np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR, reducing_gap=2.0)))


def _nchw(rgb: np.ndarray) -> np.ndarray:
    """sRGB (H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 1], contiguous."""
    return (rgb.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)).copy()


def bank_weights(sizes: Sequence[int], weights: Sequence[float] | None) -> np.ndarray:
    """Each reference's bank size and blend weight -> the log-weight of every bank position (1, N):
    log(w / mean w), so equal weights add nothing and a reference of weight 0 never wins a place."""
    if weights is None:
        w = np.full(len(sizes), 1 / len(sizes))
    else:
        w = np.asarray(blend_weights("style_weights", weights, len(sizes)), np.float64)
    with np.errstate(divide="ignore"):
        log_w = np.log(w / w.mean()).clip(-1e4)  # -1e4: never picked, still finite (ONNX, softmax)
    return np.concatenate([np.full(n, lw, np.float32) for n, lw in zip(sizes, log_w)])[None]


def working_l(y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Luminance Y (H, W) -> L* (1, 1, h, w) float32 at the working size `shape` = (h, w)."""
    y_small = np.asarray(_image_over(y, "F").resize(shape[::-1], Image.BILINEAR, reducing_gap=2.0))
    return l_from_y(np.clip(y_small, 0, 1))[None, None]


def blend_codes(null: np.ndarray, codes: Sequence[np.ndarray], weights: Sequence[float] | None,
                strength: float) -> np.ndarray:
    """Style codes (code_dim,) of several references -> one: their weighted mean, then `strength`
    along the line from the null style (0: automatic, 1: the blend, beyond: stronger, up to 4).
    Weights and strength are checked as `Colorizer.encode_style` checks them (`checks.py`)."""
    strength = finite_number("strength", strength, 0.0, MAX_STRENGTH)
    w = blend_weights("style_weights", weights, len(codes)) if weights is not None else [1 / len(codes)] * len(codes)
    blended = (np.asarray(w, np.float32)[:, None] * np.stack(codes)).sum(0)
    code = (null + np.float32(strength) * (blended - null)).astype(np.float32)
    if not np.isfinite(code).all():  # would become a black image, not an error
        raise PredictionError("the style code is not finite (NaN or inf): the model's style encoder or null style is damaged")
    return code


class ReferenceBank(NamedTuple):
    """The places of one or more references to match (models with `correspondence`), numpy float32:
    keys (1, N, C), a*b* (1, N, 2) and log-weights (1, N) (`bank_weights`)."""

    keys: np.ndarray
    ab: np.ndarray
    log_weight: np.ndarray


class Style(NamedTuple):
    """An encoded reference, as `Colorizer.encode_style` makes it (numpy arrays, whatever the backend).

    `code`: the style code (code_dim,) float32. `bank`: for models with `correspondence`, the places
    of the reference(s) to match (a `ReferenceBank`); None otherwise.
    `automatic`: no reference (or strength 0): the automatic path, the model's automatic decoder
    where it has one (else the U-Net under `code`, the null style). A code given with `automatic`
    False always runs the U-Net, even one equal to the null style. `strength`: as given to
    `encode_style` (already applied to `code`; the mapping onto the bank's palette takes it too).
    """

    code: np.ndarray
    bank: ReferenceBank | None = None
    automatic: bool = False
    strength: float = 1.0  # how far the output moves onto the reference's palette (`InferenceOptions.as_vector`)


def blend_style(null: np.ndarray, encoded: Sequence[tuple[np.ndarray, tuple | None]], weights: Sequence[float] | None,
                strength: float) -> Style:
    """Encoded references, each (code (code_dim,), bank (keys, a*b*) or None), none for automatic ->
    one Style: the codes blended as `blend_codes` does, the banks joined along their positions, each
    position tilted by its reference's weight (`bank_weights`). No reference, or strength 0, gives
    the automatic Style (the null code)."""
    codes = [c for c, _ in encoded] or [null]
    code = blend_codes(null, codes, weights if encoded else None, strength)
    if not encoded or strength == 0:
        return Style(code, automatic=True)
    w = [1.0] * len(encoded) if weights is None else list(weights)  # checked by blend_codes
    kept = [(b, wi) for (_, b), wi in zip(encoded, w) if b is not None and wi > 0]  # weight 0: not matched
    if not kept:
        return Style(code, strength=float(strength))
    banks, kept_weights = [b for b, _ in kept], [wi for _, wi in kept]
    log_weight = bank_weights([b[0].shape[1] for b in banks], kept_weights)
    keys, ab = (np.concatenate([b[i] for b in banks], 1) for i in (0, 1))
    return Style(code, ReferenceBank(keys, ab, log_weight), strength=float(strength))


def hint_batch(hints: Sequence[HintSet | None], shape: tuple[int, int], always: bool = False) -> np.ndarray | None:
    """A batch's hints at the working size `shape` = (h, w): (B, 3, h, w) float32 (a*, b*, mask), zeros
    ("no hint") for the images without; None when none has any, unless `always` (a graph that must be fed)."""
    if not always and all(h is None for h in hints):
        return None
    none = np.zeros((1, 3, *shape), np.float32)
    return np.concatenate([none if h is None else h.raster(shape) for h in hints])


def as_list(style) -> list:
    """One reference or a list (tuple) of them -> a list."""
    return list(style) if isinstance(style, (list, tuple)) else [style]


def recombine(y: np.ndarray, ratio: np.ndarray, alpha: Image.Image | None = None) -> Image.Image:
    """Full-resolution luminance y (H, W) in [0, 1] x low-resolution chroma ratio (3, h, w) -> sRGB image.

    The ratio is upsampled bilinearly (as torch's `F.interpolate(..., align_corners=False)`); colours
    it takes out of gamut are brought toward gray at their own luminance (`srgb.encode_in_gamut`),
    so the output's luminance is y wherever the prediction goes. One compiled pass over the pixels
    (`kernels.recombine_into`) where numba is installed, else numpy strips: the same bytes.
    """
    h, w = y.shape
    ratio = np.asarray(ratio, dtype=np.float32)
    # separable: the horizontal pass at the ratio's height here (small), the vertical one per row
    rows, step = _horizontal_pass(ratio, w)
    top, _, fy = bilinear_taps(ratio.shape[1], h)
    if not kernels.AVAILABLE:
        return _recombine_strips(y, rows, step, top, fy, alpha)
    # RGBX is a Pillow image's own layout, so the image maps this array instead of copying it
    rgbx = np.empty((h, w, 4), np.uint8)
    kernels.recombine_into(np.ascontiguousarray(y, np.float32), rows, step, top, fy, LINEAR16_TO_SRGB8, rgbx)
    if alpha is not None:
        rgbx[:, :, 3] = np.asarray(alpha)
        return Image.frombuffer("RGBA", (w, h), rgbx, "raw", "RGBA", 0, 1)
    return _image_over(rgbx, "RGB")


def _image_over(array: np.ndarray, mode: str) -> Image.Image:
    """A Pillow image over an array, without copying it: "RGB" over (H, W, 4) uint8 (Pillow keeps RGB
    as 4 bytes a pixel), "F" over (H, W) float32. A copy costs 3 ns a pixel for RGB, and for F, which
    Pillow unpacks value by value, 44 ms at 4096 x 4096, ten times the resize that follows.

    Pillow's public `frombuffer` maps only a few modes (not RGB, not F); this does what it does,
    naming the mode. The image keeps the array alive and is read-only: Pillow copies it before any
    change.
    """
    array = np.ascontiguousarray(array, np.uint8 if mode == "RGB" else np.float32)
    h, w = array.shape[:2]
    try:
        im = Image.new(mode, (0, 0))._new(Image.core.map_buffer(array, (w, h), "raw", 0, (mode, 0, 1)))
    except (AttributeError, TypeError, ValueError):  # a Pillow without this route: one copy
        return Image.fromarray(array[:, :, :3] if mode == "RGB" else array, mode)
    im.readonly = 1
    return im


def _horizontal_pass(ratio: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The ratio (3, h, w) resized to `width` columns, rows (3, h, width), and step: row t + 1 minus
    row t (zero after the last), both C-contiguous (a fancy index alone leaves them strided)."""
    left, right, fx = bilinear_taps(ratio.shape[2], width)
    rows = np.ascontiguousarray(ratio[:, :, left])
    rows += (ratio[:, :, right] - rows) * fx  # (3, h, W)
    return rows, np.diff(rows, axis=1, append=rows[:, -1:])


def _recombine_strips(y: np.ndarray, rows: np.ndarray, step: np.ndarray, top: np.ndarray, fy: np.ndarray,
                      alpha: Image.Image | None) -> Image.Image:
    """`recombine` in numpy, STRIP_ROWS rows at a time, so every full-width temporary is a strip."""
    h, w = y.shape
    bands = np.empty((3, h, w), np.uint8)
    up = np.empty((3, min(STRIP_ROWS, h), w), np.float32)
    for start in range(0, h, STRIP_ROWS):
        strip = slice(start, start + STRIP_ROWS)
        n = len(top[strip])
        np.take(rows, top[strip], axis=1, out=up[:, :n])
        up[:, :n] += step[:, top[strip]] * fy[strip, None]  # (3, S, W)
        encode_in_gamut(y[strip], up[:, :n], bands[:, strip])
    channels = [Image.fromarray(band, "L") for band in bands]
    if alpha is not None:
        return Image.merge("RGBA", channels + [alpha])
    return Image.merge("RGB", channels)


def bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear resizing n_in -> n_out as torch's (align_corners=False): for each output index, the
    source indices below and above it and the weight of the one above, (n_out,) each."""
    src = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0)
    low = np.minimum(src.astype(np.int64), n_in - 1)
    return low, np.minimum(low + 1, n_in - 1), (src - low).astype(np.float32)
