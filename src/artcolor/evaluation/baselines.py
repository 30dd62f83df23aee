"""Classical baselines to measure the network against: gray, and Welsh et al.'s exemplar transfer.

`gray` returns the input made gray (what a colouriser that adds nothing would give). `welsh` is the
global method of Welsh, Ashikhmin & Mueller, "Transferring Color to Greyscale Images" (SIGGRAPH
2002): the reference's lightness is remapped to the target's mean and spread, about 200 jittered
samples of the reference are described by 0.5 * L* + 0.5 * (std of L* in a 5x5 window), and each
target pixel takes the a*, b* of the sample whose feature is nearest its own.

Both keep the input's lightness exactly in the same way as the model: colour is found at a working
resolution (short side `size`), turned into a chroma ratio and laid over the full-resolution
luminance by `artcolor.inference.pipeline.recombine`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..color.lab import chroma_ratio, l_from_y, lab_to_linear_rgb, rgb_to_lab
from ..inputs.images import DEFAULT_MAX_PIXELS, ImageLike, alpha_of, luminance_plane, open_image, rgb_array
from ..inference.pipeline import recombine, resize_short_side

__all__ = ["gray", "welsh", "welsh_reference", "welsh_ab", "WelshReference", "make", "METHODS"]

Method = Literal["gray", "welsh"]
METHODS: tuple[str, ...] = ("gray", "welsh")
WORK_SIZE = 128  # working short side, the model's default too: colour is matched here, then laid over the full image
N_SAMPLES = 200  # the paper's ~200 jittered samples of the reference
WINDOW = 5  # the paper's 5x5 neighbourhood for the local standard deviation
_STD_EPS = 1e-6


# ---- pure tensor functions


def local_std(l: torch.Tensor, window: int = WINDOW) -> torch.Tensor:
    """Standard deviation of l (H, W) in a `window` x `window` neighbourhood (reflected borders)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    pad = window // 2
    x = l[None, None]
    mode = "reflect" if min(l.shape) > pad else "replicate"
    x = F.pad(x, (pad, pad, pad, pad), mode=mode)
    mean = F.avg_pool2d(x, window, stride=1)
    mean_sq = F.avg_pool2d(x * x, window, stride=1)
    return (mean_sq - mean * mean).clamp(min=0).sqrt()[0, 0]


def jittered_grid(height: int, width: int, n: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """About n sample positions, one at a random place in each cell of a grid: (rows, cols) int64."""
    if n < 1:
        raise ValueError(f"the number of samples must be positive, got {n}")
    n_rows = max(1, min(height, round((n * height / width) ** 0.5)))
    n_cols = max(1, min(width, round(n / n_rows)))
    rows = (torch.arange(n_rows)[:, None] + torch.rand(n_rows, n_cols, generator=generator)) * (height / n_rows)
    cols = (torch.arange(n_cols)[None, :] + torch.rand(n_rows, n_cols, generator=generator)) * (width / n_cols)
    return rows.long().clamp(max=height - 1).flatten(), cols.long().clamp(max=width - 1).flatten()


@dataclass(frozen=True)
class WelshReference:
    """A reference's samples: L* (S,), local std of L* (S,), ab (S, 2), and the L* mean and std of the whole image."""

    l: torch.Tensor
    std: torch.Tensor
    ab: torch.Tensor
    l_mean: float
    l_std: float


def reference_samples(lab: torch.Tensor, n_samples: int = N_SAMPLES, seed: int = 0) -> WelshReference:
    """Jittered samples of a reference in Lab (3, H, W); the same seed gives the same samples."""
    if lab.ndim != 3 or lab.shape[0] != 3:
        raise ValueError(f"expected Lab of shape (3, H, W), got {tuple(lab.shape)}")
    l = lab[0]
    rows, cols = jittered_grid(*l.shape, n_samples, torch.Generator().manual_seed(seed))
    std = local_std(l)
    return WelshReference(l=l[rows, cols], std=std[rows, cols], ab=lab[1:, rows, cols].T.contiguous(),
                          l_mean=float(l.mean()), l_std=float(l.std(unbiased=False)))


def welsh_ab(l: torch.Tensor, ref: WelshReference) -> torch.Tensor:
    """Target L* (H, W) in [0, 100] -> the transferred a*, b* (2, H, W).

    Luminance remapping is affine, L' = s * L + t, so the remapped samples' local std is s * std and
    the samples' features can be remapped without going back to the reference image.
    """
    l_mean, l_std = l.mean(), l.std(unbiased=False)
    scale = l_std / ref.l_std if ref.l_std > _STD_EPS else torch.ones_like(l_std)
    shift = l_mean - scale * ref.l_mean
    sample_feature = 0.5 * (scale * ref.l + shift) + 0.5 * scale * ref.std  # (S,)
    feature = 0.5 * l + 0.5 * local_std(l)  # (H, W)
    return ref.ab[nearest(feature.flatten(), sample_feature)].T.reshape(2, *l.shape)


def nearest(x: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """For each value of x (N,), the index of the nearest of the 1-D candidates (S,): (N,) int64."""
    order = candidates.argsort()
    sorted_c = candidates[order].contiguous()
    right = torch.searchsorted(sorted_c, x.contiguous()).clamp(max=len(sorted_c) - 1)
    left = (right - 1).clamp(min=0)
    take_left = (x - sorted_c[left]).abs() <= (sorted_c[right] - x).abs()
    return order[torch.where(take_left, left, right)]


# ---- images in, images out


def gray(image: ImageLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The input made gray through its CIE luminance, as an RGB image (RGBA if it has transparency)."""
    im = open_image(image, max_pixels)
    return recombine(luminance_plane(im), torch.ones(3, 1, 1), alpha_of(im))


def welsh_reference(reference: ImageLike, size: int = WORK_SIZE, n_samples: int = N_SAMPLES, seed: int = 0,
                    max_pixels: int | None = DEFAULT_MAX_PIXELS) -> WelshReference:
    """Decode a reference (path, PIL image or array), shrink it to short side `size`, take its samples."""
    rgb = rgb_array(open_image(reference, max_pixels))
    if min(rgb.shape[:2]) > size:
        rgb = resize_short_side(rgb, size)
    lab = rgb_to_lab(torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255)
    return reference_samples(lab, n_samples, seed)


def welsh(image: ImageLike, reference: ImageLike | WelshReference, size: int = WORK_SIZE,
          max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Colourise `image` with Welsh et al.'s transfer from `reference`; the input's L* is kept exactly.

    `reference` is an image, or a `WelshReference` from `welsh_reference` to reuse across many images.
    """
    if not isinstance(reference, WelshReference):
        reference = welsh_reference(reference, size, max_pixels=max_pixels)
    im = open_image(image, max_pixels)
    y, alpha = luminance_plane(im), alpha_of(im)
    l = l_from_y(torch.from_numpy(_shrink(y, size)))
    lab = torch.cat([l[None], welsh_ab(l, reference)])  # (3, h, w)
    return recombine(y, chroma_ratio(lab_to_linear_rgb(lab)), alpha)


def _shrink(y: np.ndarray, size: int) -> np.ndarray:
    """Luminance (H, W) resized so its short side is at most `size`."""
    h, w = y.shape
    s = size / min(h, w)
    if s >= 1:
        return y
    shape = max(1, round(w * s)), max(1, round(h * s))
    return np.asarray(Image.fromarray(y, "F").resize(shape, Image.BILINEAR, reducing_gap=2.0)).clip(0, 1)


def make(method: Method, styles: Sequence[ImageLike] = (), style_weights: Sequence[float] | None = None,
         max_pixels: int | None = DEFAULT_MAX_PIXELS, size: int = WORK_SIZE) -> Callable[[ImageLike], Image.Image]:
    """A one-argument colouriser `src -> PIL image` for `artcolor colorize --method gray|welsh`.

    Welsh transfers from one reference: the first of `styles`, or the one with the largest weight.
    The reference is decoded and sampled once, here.
    """
    if method == "gray":
        return lambda src: gray(src, max_pixels)
    if method != "welsh":
        raise ValueError(f"unknown baseline {method!r}; choose from {list(METHODS)}")
    styles = list(styles)
    if not styles:
        raise ValueError("the welsh baseline transfers colour from a reference image: pass one (--style or --palette)")
    if style_weights is not None and len(style_weights) != len(styles):
        raise ValueError(f"got {len(styles)} styles but {len(style_weights)} style weights")
    pick = 0 if style_weights is None else int(np.argmax(style_weights))
    ref = welsh_reference(styles[pick], size, max_pixels=max_pixels)
    return lambda src: welsh(src, ref, size, max_pixels)
