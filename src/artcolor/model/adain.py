"""Adaptive Instance Normalization with a learned, style-conditioned affine (StyleGAN-style)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def adain(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Instance-normalise x (B, C, H, W), then `x * (1 + scale) + shift` with scale, shift (B, C)."""
    x = F.instance_norm(x, eps=eps)
    return x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class AdaIN(nn.Module):
    """One call site's AdaIN: a Linear maps the style vector to per-channel scale and shift.

    The Linear starts at zero, so at initialisation the module is a plain instance norm and
    features keep unit scale (the report's init multiplied them by about 30).
    """

    def __init__(self, channels: int, style_dim: int):
        super().__init__()
        self.proj = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(style).chunk(2, dim=1)
        return adain(x, scale, shift)
