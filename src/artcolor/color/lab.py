"""Colour maths: sRGB, linear RGB, CIE Lab (D65) and the luminance that ties them together.

Everything here is a pure function. Tensors are (*, C, H, W) with sRGB and linear RGB in [0, 1],
L* in [0, 100] and a*, b* roughly in [-110, 110]. The conversions are kornia's; this module adds the
luminance helpers the colouriser needs to keep the input's lightness exactly; the numpy look-up
tables and gamut mapping for the full-resolution path are `srgb.py`'s.
"""

from __future__ import annotations

import torch
from kornia.color import lab_to_rgb, linear_rgb_to_rgb, rgb_to_lab, rgb_to_linear_rgb, xyz_to_rgb

from ..deprecation import moved

# the numpy side (tables, L* from Y, gamut mapping) lives in srgb.py, which needs no torch
from .srgb import D65_WHITE, EPS_F, F_KNEE, F_SLOPE, Y_WEIGHTS

__all__ = [
    "rgb_to_lab",
    "lab_to_rgb",
    "srgb_to_linear",
    "linear_to_srgb",
    "luminance",
    "l_from_y",
    "y_from_l",
    "lab_to_linear_rgb",
    "chroma_ratio",
    "Y_WEIGHTS",
    "AB_SCALE",
]

AB_SCALE = 110.0  # a*, b* of sRGB colours stay within about +-110: the networks see a*b* / AB_SCALE

srgb_to_linear = rgb_to_linear_rgb
linear_to_srgb = linear_rgb_to_rgb

_RATIO_EPS = 1e-3  # keeps chroma ratios bounded in the blacks, where they fade to gray


def luminance(linear_rgb: torch.Tensor) -> torch.Tensor:
    """CIE Y of linear RGB: (*, 3, H, W) -> (*, 1, H, W), in [0, 1] for in-gamut colours."""
    w = linear_rgb.new_tensor(Y_WEIGHTS).view(3, 1, 1)
    return (linear_rgb * w).sum(dim=-3, keepdim=True)


def l_from_y(y: torch.Tensor) -> torch.Tensor:
    """CIE L* in [0, 100] from luminance Y in [0, 1]; matches `rgb_to_lab`'s L channel."""
    f = torch.where(y > EPS_F, y.clamp(min=EPS_F).pow(1 / 3), F_SLOPE * y + 4 / 29)
    return 116 * f - 16


def y_from_l(l: torch.Tensor) -> torch.Tensor:
    """Luminance Y in [0, 1] from CIE L* in [0, 100]; the inverse of `l_from_y`."""
    f = (l + 16) / 116
    return torch.where(f > F_KNEE, f.pow(3), (f - 4 / 29) / F_SLOPE)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (*, 3, H, W) -> linear RGB, unclipped: out-of-gamut colours keep their exact luminance."""
    l, a, b = lab.unbind(-3)
    fy = (l + 16) / 116
    fxyz = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    xyz = torch.where(fxyz > F_KNEE, fxyz.pow(3), (fxyz - 4 / 29) / F_SLOPE)
    white = lab.new_tensor(D65_WHITE).view(3, 1, 1)
    return xyz_to_rgb(xyz * white)


def chroma_ratio(linear_rgb: torch.Tensor) -> torch.Tensor:
    """Colour relative to its own luminance: (*, 3, H, W) whose luminance is exactly 1.

    Multiplying a ratio by any luminance Y gives linear RGB of luminance Y, and ratios can be
    interpolated without changing that, which is how a low-resolution prediction is laid over a
    full-resolution gray photo without touching its lightness.
    """
    rgb = linear_rgb.clamp(min=0)  # out-of-gamut negatives would blow up in dark pixels
    return (rgb + _RATIO_EPS) / (luminance(rgb) + _RATIO_EPS)


# once re-exported here; the numpy side's names live in srgb.py
MOVED = dict.fromkeys(["LINEAR16_TO_SRGB8", "SRGB8_TO_LINEAR", "encode_in_gamut", "encode_linear16"], "artcolor.color.srgb")


def __getattr__(name):
    return moved(__name__, MOVED, name)
