"""The luminance-keyed palette: a reference's colours, band by band of lightness.

It is the second part of the style code, beside the learned latent. For each of `bins` bands of
L*, it holds the mean a*, b* and chroma of the reference's pixels in that band, and the band's share
of the pixels. The U-Net sees it painted back onto its input through the input's own L* (the
*palette prior*), so a reference's colours arrive where its lightness says they belong: the idea
behind Welsh et al. 2002, made differentiable and handed to the network, which decides how far to
follow it. The latent alone could only shift and scale whole feature maps; with the prior the
model cannot help but see its reference (training's hue-rotated self-references teach it to use it).

Both functions are plain tensor arithmetic, so they export to ONNX with the rest of the network.
"""

from __future__ import annotations

import torch

AB_SCALE = 110.0  # a*, b* of sRGB colours stay within about +-110
FEATURES = 4  # per band: mean a*, mean b*, mean chroma (all / AB_SCALE), share of pixels (x bins)
EMPTY_BAND = 0.01  # pseudo-share of the reference's overall mean given to every band


def band_weights(l: torch.Tensor, bins: int) -> torch.Tensor:
    """L* (...) in [0, 100] -> (..., bins): hat functions over evenly spaced bands, summing to 1."""
    width = 100 / bins
    centres = (torch.arange(bins, device=l.device, dtype=l.dtype) + 0.5) * width
    l = l.clamp(width / 2, 100 - width / 2)  # beyond the outer centres, the outer band takes it all
    return (1 - (l[..., None] - centres).abs() / width).clamp(min=0)


def luminance_palette(lab: torch.Tensor, bins: int) -> torch.Tensor:
    """Lab (B, 3, H, W) -> (B, bins * FEATURES), band after band.

    A band with few pixels leans towards the reference's overall mean colour (EMPTY_BAND), so a
    lightness the reference lacks still gets its general colour rather than gray.
    """
    l = lab[:, 0].flatten(1)  # (B, N)
    ab = lab[:, 1:].flatten(2).transpose(1, 2)  # (B, N, 2)
    colour = torch.cat([ab, ab.norm(dim=-1, keepdim=True)], dim=-1) / AB_SCALE  # (B, N, 3)
    w = band_weights(l, bins)  # (B, N, bins)
    share = w.mean(dim=1)[..., None]  # (B, bins, 1)
    sums = w.transpose(1, 2) @ colour / l.shape[1]  # (B, bins, 3)
    means = (sums + EMPTY_BAND * colour.mean(dim=1, keepdim=True)) / (share + EMPTY_BAND)
    return torch.cat([means, share * bins], dim=-1).flatten(1)


def palette_prior(l: torch.Tensor, palette: torch.Tensor, bins: int) -> torch.Tensor:
    """L* (B, 1, H, W) and palettes (B, bins * FEATURES) -> (B, FEATURES, H, W): each pixel's band, looked up."""
    b, _, h, w = l.shape
    weights = band_weights(l.flatten(1), bins)  # (B, HW, bins)
    prior = weights @ palette.view(b, bins, FEATURES)  # (B, HW, FEATURES)
    return prior.transpose(1, 2).reshape(b, FEATURES, h, w)
