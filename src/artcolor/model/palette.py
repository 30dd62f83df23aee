"""The luminance-keyed palette: a reference's colours, band by band of lightness.

It is the second part of the style code, beside the learned latent. For each of `bins` bands of
L*, it holds the mean a*, b* and chroma of the reference's pixels in that band, and the band's share
of the pixels. The U-Net sees it painted back onto its input through the input's own L* (the
*palette prior*), so a reference's colours arrive where its lightness says they belong: the idea
behind Welsh et al. 2002, made differentiable and handed to the network, which decides how far to
follow it. The latent alone could only shift and scale whole feature maps; with the prior the
model cannot help but see its reference (training's hue-rotated self-references teach it to use it).

With `classes` > 1 each band is split further by *soft classes*: `PaletteKeys`, a small conv net,
reads a gray image and says, pixel by pixel, which of K groups it belongs to (sky-like, skin-like,
foliage-like: whatever training finds useful), and the palette keeps a colour per band and class.
The same net reads the reference's L* and the photo's, so a class means the same on both sides:
Welsh's matching on luminance and neighbourhood, learned. A palette of bands copied into every
class (`split_classes`) paints the same prior whatever the classes, so a model grown from a
bands-only one keeps its automatic mode exactly and starts near its old self with a reference.

All of it is plain tensor arithmetic, so it exports to ONNX with the rest of the network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..color.lab import AB_SCALE

FEATURES = 4  # per band: mean a*, mean b*, mean chroma (all / AB_SCALE), share of pixels (x bins)
EMPTY_BAND = 0.01  # pseudo-share of the reference's overall mean given to every band


def band_weights(l: torch.Tensor, bins: int) -> torch.Tensor:
    """L* (...) in [0, 100] -> (..., bins): hat functions over evenly spaced bands, summing to 1."""
    width = 100 / bins
    centres = (torch.arange(bins, device=l.device, dtype=l.dtype) + 0.5) * width
    l = l.clamp(width / 2, 100 - width / 2)  # beyond the outer centres, the outer band takes it all
    return (1 - (l[..., None] - centres).abs() / width).clamp(min=0)


def luminance_palette(lab: torch.Tensor, bins: int, keys: torch.Tensor | None = None) -> torch.Tensor:
    """Lab (B, 3, H, W) and soft classes (B, K, H, W) or None -> (B, bins * K * FEATURES), cell after cell.

    A cell with few pixels leans towards the reference's overall mean colour (EMPTY_BAND), so a
    lightness the reference lacks still gets its general colour rather than gray.
    """
    batch, classes = lab.shape[0], keys.shape[1] if keys is not None else 1
    cells = bins * classes
    l = lab[:, 0].flatten(1)  # (B, N)
    ab = lab[:, 1:].flatten(2).transpose(1, 2)  # (B, N, 2)
    colour = torch.cat([ab, ab.norm(dim=-1, keepdim=True)], dim=-1) / AB_SCALE  # (B, N, 3)
    per_class = torch.cat([colour, torch.ones_like(colour[..., :1])], dim=-1)  # (B, N, 4): colour, count
    if keys is not None:  # (B, N, K * 4): each pixel's colour and count, shared out among its classes
        per_class = (keys.flatten(2).transpose(1, 2)[..., None] * per_class[..., None, :]).flatten(2)
    sums = band_weights(l, bins).transpose(1, 2) @ per_class / l.shape[1]  # (B, bins, K * 4)
    sums = sums.view(batch, cells, 4)  # band-major cells (band * K + class), as palette_prior reads them
    share = sums[..., 3:]  # (B, cells, 1)
    empty = EMPTY_BAND * bins / cells  # with K classes alike, each cell holds what its band did
    means = (sums[..., :3] + empty * colour.mean(dim=1, keepdim=True)) / (share + empty)
    return torch.cat([means, share * cells], dim=-1).flatten(1)


def palette_prior(l: torch.Tensor, palette: torch.Tensor, bins: int, keys: torch.Tensor | None = None) -> torch.Tensor:
    """L* (B, 1, H, W), palettes and soft classes (B, K, H, W) or None -> (B, FEATURES, H, W): each pixel's cells, looked up.

    Each class's colour at the pixel's lightness (its bands, weighted), then the classes weighted by
    the pixel's keys: the same sum as over all band-class cells at once, in a tenth of the work.
    """
    b, _, h, w = l.shape
    classes = 1 if keys is None else keys.shape[1]
    per_class = band_weights(l.flatten(1), bins) @ palette.view(b, bins, classes * FEATURES)  # (B, HW, K * FEATURES)
    if keys is not None:
        per_class = (per_class.view(b, h * w, classes, FEATURES) * keys.flatten(2).transpose(1, 2)[..., None]).sum(dim=2)
    return per_class.transpose(1, 2).reshape(b, FEATURES, h, w)


def split_classes(palette: torch.Tensor, bins: int, classes: int) -> torch.Tensor:
    """A palette of bands (..., bins * FEATURES) -> the same colours in every class (..., bins * classes * FEATURES)."""
    cells = palette.unflatten(-1, (bins, 1, FEATURES)).expand(*palette.shape[:-1], bins, classes, FEATURES)
    return cells.flatten(-3)


class PaletteKeys(nn.Module):
    """L* (B, 1, H, W) in [0, 100] -> soft classes (B, K, H, W), from the gray image alone.

    A local branch sees a few pixels of texture; a context branch, at a quarter of the resolution,
    sees about a sixth of a 128-pixel image.
    """

    def __init__(self, classes: int, width: int = 16, activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        w = width
        self.local = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), activation(),
                                   nn.Conv2d(w, w, 3, padding=2, dilation=2), activation())
        self.context = nn.Sequential(nn.Conv2d(w, 2 * w, 3, padding=1), activation(),
                                     nn.Conv2d(2 * w, 2 * w, 3, padding=2, dilation=2), activation(),
                                     nn.Conv2d(2 * w, 2 * w, 3, padding=4, dilation=4), activation())
        self.head = nn.Conv2d(3 * w, classes, 1)
        # Classes must start apart: identical ones get identical gradients, and nearly identical ones
        # learn at second order (a zero head, then PyTorch's default init, which shrinks these
        # activations to a twentieth, left the classes uniform after hundreds of steps). He init keeps
        # the features near unit scale; the head's logits then vary by 0.1-0.6 over a photo.
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                nn.init.zeros_(conv.bias)
        nn.init.normal_(self.head.weight, std=(3 * w) ** -0.5)

    def forward(self, l: torch.Tensor) -> torch.Tensor:
        x = self.local(l / 50 - 1)
        context = self.context(F.avg_pool2d(x, 4, ceil_mode=True))
        # the 1x1 head on [local, context upsampled], as its two halves: the context's half runs at a
        # quarter of the resolution and is upsampled after it (both maps are linear: the same sum)
        width = self.local[-2].out_channels  # a number, not the traced shape: the export folds the slices
        local_weight, context_weight = self.head.weight[:, :width], self.head.weight[:, width:]
        context = F.interpolate(F.conv2d(context, context_weight), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return (F.conv2d(x, local_weight, self.head.bias) + context).softmax(dim=1)
