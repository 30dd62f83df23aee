"""Statistics of colour images, shared by the losses, the metrics and the export's check: PSNR,
colourfulness, and the projections and quantiles that sliced Wasserstein distances compare."""

from __future__ import annotations

import math

import numpy as np
import torch

def projection_directions(n_proj: int = 64, generator: torch.Generator | None = None,
                          like: torch.Tensor | None = None) -> torch.Tensor:
    """n_proj unit vectors (2, n_proj) at evenly spaced angles over a half turn.

    Evenly spaced angles vary less than random ones; a generator rotates them all by a random offset.
    """
    if n_proj < 1:
        raise ValueError(f"n_proj must be positive, got {n_proj}")
    offset = torch.rand(1, generator=generator).item() if generator is not None else 0.0
    theta = (torch.arange(n_proj, dtype=torch.float64) + offset) * (math.pi / n_proj)
    directions = torch.stack([theta.cos(), theta.sin()])
    return directions if like is None else directions.to(like)


def projected_quantiles(ab: torch.Tensor, directions: torch.Tensor, n_quantiles: int | None = None) -> torch.Tensor:
    """Sorted projections of ab (..., N, 2) on directions (2, P) -> (..., P, Q), Q = n_quantiles or N.

    With Q != N each projection is read at the quantiles (q + 0.5) / Q of its step distribution.
    """
    proj = (ab @ directions.to(ab)).transpose(-1, -2).sort(dim=-1).values  # (..., P, N)
    n = proj.shape[-1]
    if n_quantiles is None or n_quantiles == n:
        return proj
    idx = ((torch.arange(n_quantiles, device=ab.device) + 0.5) * n / n_quantiles).long().clamp(max=n - 1)
    return proj[..., idx]


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk's (2003) colourfulness of sRGB (B, 3, H, W) in [0, 1], computed on 0-255 -> (B,).

    0 for a gray image; about 33 is "moderately", 59 "quite" and 82+ "highly" colourful.
    """
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected sRGB images of shape (B, 3, H, W), got {tuple(rgb.shape)}")
    r, g, b = (rgb.double() * 255).unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    std = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    mean = (rg.mean(dim=1).pow(2) + yb.mean(dim=1).pow(2)).sqrt()
    return (std + 0.3 * mean).to(rgb.dtype)


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of sRGB (B, 3, H, W) in [0, 1] -> (B,); identical images give inf."""
    for x in (pred, target):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected sRGB images of shape (B, 3, H, W), got {tuple(x.shape)}")
    if pred.shape != target.shape:
        raise ValueError(f"images differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    mse = (pred.double() - target.double()).pow(2).mean(dim=(1, 2, 3))
    return (10 * torch.log10(1 / mse)).to(pred.dtype)


def image_psnr(a, b) -> float:
    """`psnr` (dB) of two 8-bit RGB images (PIL images or (H, W, 3) uint8 arrays); inf when equal."""
    batch = lambda im: torch.from_numpy(np.asarray(im, np.float64) / 255).permute(2, 0, 1)[None]  # noqa: E731
    return float(psnr(batch(a), batch(b))[0])
