"""Spreading colour hints over what they are on, by what the pretrained encoder sees.

A hint says what the colour is in one place; the automatic prediction there is off by some
correction (the hint's a*b* minus the prediction). Every pixel takes the corrections of the hints
that look like it and lie near it: on cells of `CELL` pixels, a cell p weighs hint cell k by

    w(p, k) = exp((cos(f_p, f_k) - 1) / TAU - |x_p - x_k|^2 / (2 SIGMA^2) - (L_p - L_k)^2 / (2 L_SIGMA^2))

(f: the encoder's features at strides 4 and 8, each unit length; x: cell positions as a share of the
image's diagonal; L: mean L*) and moves by sum_k w c_k / (PRIOR + sum_k w), so far from every alike
hint the prediction stands. The correction is upsampled bilinearly.

Measured on the training run's held-out photos (10 hints from the ground truth, radius 3 px at short
side 150): PSNR +3.0 dB over automatic, where the decoder fed the hints as inputs, and trained so,
reached +0.34. The constants were chosen there, not on val: the most local spread (least change far
from a single hint) whose 10-hint gain reached 3 dB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CELL = 4  # cell size in pixels: the stride of the encoder's finest features
TAU = 0.15  # feature-similarity temperature
SIGMA = 0.3  # spatial reach, a share of the image diagonal
L_SIGMA = 15.0  # lightness reach, L* units
PRIOR = 0.03  # the weight of "no correction"
MAX_KEYS = 256  # hint cells taken into account per image, the most covered first


def spread_hints(ab: torch.Tensor, hints: torch.Tensor, features: list[torch.Tensor], l: torch.Tensor) -> torch.Tensor:
    """A prediction a*b* (B, 2, H, W), hints (B, 3, H, W) (a*, b*, mask), the encoder's features
    (strides 4, 8, ...) and L* (B, 1, H, W) -> a*b* moved towards the hints where the photo is alike."""
    mask = hints[:, 2:3]
    cover = F.avg_pool2d(mask, CELL)
    h, w = cover.shape[-2:]
    correction = F.avg_pool2d((hints[:, :2] - ab) * mask, CELL) / cover.clamp(min=1e-6)
    f = torch.cat([F.normalize(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False), dim=1)
                   for x in features[:2]], dim=1)
    yy, xx = torch.meshgrid(torch.arange(h, device=ab.device), torch.arange(w, device=ab.device), indexing="ij")
    diagonal = ((h * h + w * w) ** 0.5) if isinstance(h, int) else torch.sqrt((h * h + w * w).float())
    pos = torch.stack([yy, xx]).to(ab).flatten(1)[None].expand(ab.shape[0], -1, -1) / diagonal  # B 2 N
    cells = torch.cat([f.flatten(2), pos, F.avg_pool2d(l, CELL).flatten(2),
                       correction.flatten(2), cover.flatten(2)], dim=1)  # B C N, all a cell's facts
    # the hint cells: the MAX_KEYS most covered (zero-padded, so an image of fewer cells works too)
    padded = torch.cat([cells, cells.new_zeros(*cells.shape[:2], MAX_KEYS)], dim=2)
    keys = padded.gather(2, padded[:, -1].topk(MAX_KEYS, dim=1).indices[:, None].expand(-1, cells.shape[1], -1))
    c = f.shape[1]
    fq, fk = cells[:, :c], keys[:, :c]
    d2 = ((cells[:, c:c + 2, :, None] - keys[:, c:c + 2, None]) ** 2).sum(1)  # B N K
    dl2 = (cells[:, c + 2, :, None] - keys[:, c + 2, None]) ** 2
    similar = torch.einsum("bcn,bck->bnk", fq, fk) / 2  # the mean of two cosines
    weight = torch.exp((similar - 1) / TAU - d2 / (2 * SIGMA ** 2) - dl2 / (2 * L_SIGMA ** 2)) * (keys[:, None, -1] > 0)
    moved = torch.einsum("bnk,bck->bcn", weight, keys[:, c + 3:c + 5]) / (PRIOR + weight.sum(-1))[:, None]
    return ab + F.interpolate(moved.reshape(ab.shape[0], 2, h, w), size=ab.shape[-2:], mode="bilinear", align_corners=False)
