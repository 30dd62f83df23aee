"""The reference recipe: which reference each training sample sees, and what its target is.

- self: the ground truth is the reference, but one random colour transform (hue rotation and
  saturation scaling in ab, L untouched) is applied to target and reference alike, so colour cannot
  be guessed from content alone; the reference is also cropped, flipped, rotated and maybe
  patch-shuffled, so only its palette, not its layout, is of use.
- other: a painting (or another photo) is the reference; the palette loss pulls the output's chroma
  toward it while a lighter reconstruction loss keeps the photo plausible.
- none: the learned null style and the plain colourisation loss (automatic mode).
- seed: the report's implicit training: the untouched ground truth is the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..color.lab import lab_to_rgb, rgb_to_lab
from .config import RecipeConfig

SELF, OTHER, NONE = 0, 1, 2


@dataclass
class Sample:
    l: torch.Tensor  # (B, 1, S, S) L* of the photo, as inference computes it
    target_lab: torch.Tensor  # (B, 3, S, S): the photo, colour-transformed for self samples
    target_rgb: torch.Tensor  # (B, 3, S, S) sRGB in [0, 1]
    reference: torch.Tensor  # (B, 3, S, S) sRGB in [0, 1] (unused where mode is NONE)
    mode: torch.Tensor  # (B,) SELF, OTHER or NONE
    hints: torch.Tensor | None = None  # (B, 3, S, S): a*, b* and mask of colour hints taken from the target

    @property
    def reference_ab(self) -> torch.Tensor:
        return rgb_to_lab(self.reference)[:, 1:]


def color_transform(lab: torch.Tensor, angle: torch.Tensor, saturation: torch.Tensor) -> torch.Tensor:
    """Rotate ab by `angle` (B,) radians and scale it by `saturation` (B,); L is untouched."""
    cos, sin = (saturation * angle.cos())[:, None, None], (saturation * angle.sin())[:, None, None]
    a, b = lab[:, 1], lab[:, 2]
    return torch.stack([lab[:, 0], cos * a - sin * b, sin * a + cos * b], dim=1)


def scramble(image: torch.Tensor, g: torch.Generator, grid: int, p_shuffle: float, p_turn: float = 1.0) -> torch.Tensor:
    """Keep the palette, change the layout: random crop, flip, maybe a 90-degree turn (a random one of
    four with probability `p_turn`), maybe patch shuffle. Without shuffle, the same things are still
    there, elsewhere: what a model that matches the reference learns from.

    image (3, S, S) -> (3, S, S).
    """
    s = image.shape[-1]
    side = int(s * (0.5 + 0.5 * torch.rand((), generator=g).item()))
    y, x = (torch.randint(0, s - side + 1, (2,), generator=g)).tolist()
    out = F.interpolate(image[None, :, y:y + side, x:x + side], size=(s, s), mode="bilinear",
                        align_corners=False)[0]
    if torch.rand((), generator=g) < 0.5:
        out = out.flip(-1)
    turns = int(torch.randint(0, 4, (), generator=g))
    if p_turn < 1 and torch.rand((), generator=g) >= p_turn:
        turns = 0
    out = out.rot90(turns, dims=(-2, -1))
    if grid > 1 and s % grid == 0 and torch.rand((), generator=g) < p_shuffle:
        p = s // grid
        patches = out.unfold(1, p, p).unfold(2, p, p).reshape(3, grid * grid, p, p)
        patches = patches[:, torch.randperm(grid * grid, generator=g)]
        out = patches.reshape(3, grid, grid, p, p).permute(0, 1, 3, 2, 4).reshape(3, s, s)
    return out.contiguous()


def draw_modes(cfg: RecipeConfig, batch_size: int, g: torch.Generator) -> torch.Tensor:
    if cfg.kind == "seed":
        return torch.full((batch_size,), SELF)
    p = torch.tensor([cfg.p_self, cfg.p_other, cfg.p_none], dtype=torch.float64)
    if (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"recipe probabilities must be non-negative with a positive sum, got {p.tolist()}")
    return torch.multinomial(p / p.sum(), batch_size, replacement=True, generator=g)


def draw_hints(target_lab: torch.Tensor, cfg: RecipeConfig, g: torch.Generator) -> torch.Tensor:
    """Colour hints from the target: (B, 3, S, S) Lab -> (B, 3, S, S) a*, b*, mask.

    A share `p_hints` of the samples gets 1 + a geometric number of hints (mean `hint_count`), each a
    square patch of random side in `hint_size` at a uniform place, holding the patch's mean a*b*.
    """
    b, _, h, w = target_lab.shape
    hints = torch.zeros_like(target_lab)
    p = 1 / max(cfg.hint_count, 1.0)  # 1 + Geometric(p) has mean 1 / p
    for i in range(b):
        if torch.rand((), generator=g) >= cfg.p_hints:
            continue
        n = 1 + int(torch.log(torch.rand((), generator=g).clamp(min=1e-9)) / math.log1p(-p)) if p < 1 else 1
        for _ in range(min(n, 64)):
            side = int(torch.randint(cfg.hint_size[0], cfg.hint_size[1] + 1, (), generator=g))
            y, x = int(torch.randint(0, h - side + 1, (), generator=g)), int(torch.randint(0, w - side + 1, (), generator=g))
            patch = target_lab[i, 1:, y:y + side, x:x + side]
            hints[i, :2, y:y + side, x:x + side] = patch.mean(dim=(1, 2), keepdim=True)
            hints[i, 2, y:y + side, x:x + side] = 1
    return hints


def make_sample(photos: torch.Tensor, paintings: torch.Tensor | None, cfg: RecipeConfig,
                g: torch.Generator, hints: bool = False) -> Sample:
    """photos (B, 3, S, S) uint8, paintings (P, 3, S, S) uint8 or None -> the training sample
    (with colour hints drawn from the target when `hints`)."""
    rgb = photos.float() / 255
    lab = rgb_to_lab(rgb)
    b = rgb.shape[0]
    mode = draw_modes(cfg, b, g)
    if cfg.kind == "seed":
        return Sample(lab[:, :1], lab, rgb, rgb, mode)

    # colour transform for self samples (identity for a share of them, and for the others)
    transform = (mode == SELF) & (torch.rand(b, generator=g) >= cfg.p_identity)
    angle = (torch.rand(b, generator=g) * 2 - 1) * cfg.hue_max * transform
    lo, hi = cfg.saturation
    sat = torch.where(transform, lo + (hi - lo) * torch.rand(b, generator=g), torch.ones(b))
    target_lab = color_transform(lab, angle, sat)
    target_rgb = torch.where(transform[:, None, None, None], lab_to_rgb(target_lab), rgb)
    target_lab = torch.where(transform[:, None, None, None], rgb_to_lab(target_rgb), lab)

    reference = target_rgb.clone()
    others = _other_references(rgb, paintings, cfg, g)
    for i in range(b):
        if mode[i] == SELF:
            reference[i] = scramble(target_rgb[i], g, cfg.patch_grid, cfg.p_shuffle, cfg.p_turn)
        elif mode[i] == OTHER:
            reference[i] = others[i]
    drawn = draw_hints(target_lab, cfg, g) if hints else None
    return Sample(lab[:, :1], target_lab, target_rgb, reference, mode, drawn)


def _other_references(rgb, paintings, cfg, g):
    """For each photo, a different reference: a painting, or the next photo of the batch."""
    b = rgb.shape[0]
    refs = rgb.roll(1, dims=0)
    if paintings is not None and len(paintings):
        pick = torch.randint(0, len(paintings), (b,), generator=g)
        use = torch.rand(b, generator=g) < cfg.p_painting
        refs = torch.where(use[:, None, None, None], paintings[pick].float() / 255, refs)
    return refs

