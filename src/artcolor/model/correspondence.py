"""Correspondence with the reference: each place of the photo finds where the reference shows the same
kind of thing, and takes its colour from there (Deep Exemplar-based Colorization, He et al. 2018).

The palette prior (`palette.py`) puts a reference's colours where the photo's lightness and soft
classes say; matching puts them on the objects the reference shares with the photo. Both sides go
through the shared ImageNet encoder as gray images, so a painting or a colour photo meets the gray
photo in one domain:

- *keys*: the encoder's maps at strides 8, 16 and 32, resized to stride 8, each unit-normalised over
  its channels, joined, centred over the image's positions (what every place shares says nothing
  about where it is) and unit-normalised again: (B, C, h, w), C = 40 + 112 + 320 for Lite0;
- a reference becomes a *bank*: its keys at its own positions (B, N, C), its a*b* average-pooled to
  the same stride (B, N, 2), and a log-weight per position (B, N), which says which reference it
  came from when several are joined (`pipeline.bank_weights`): the best-matching reference leads
  each region, and `style_weights` tilt the choice;
- every photo position attends to every bank position by cosine similarity at a temperature: the
  warped a*b* (B, 2, h, w) and, as the confidence, the best match's similarity (B, 1, h, w).

The cost grows as (positions)^2, so it stays at stride 8 of the working size (256 x N at 128 px).
All of it is matmuls, a softmax and a max, so it exports to ONNX with the network.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..color import rgb_to_lab

STRIDE = 8  # keys and warped colours live at stride 8 of the working image


class Bank(NamedTuple):
    """A reference ready to be matched: keys (B, N, C), a*b* (B, N, 2), log-weights (B, N)."""

    keys: torch.Tensor
    ab: torch.Tensor
    log_weight: torch.Tensor


def match_keys(features: list[torch.Tensor]) -> torch.Tensor:
    """The encoder's maps at strides 8, 16, 32 (B, C_i, H / s, W / s) -> keys (B, C, H / 8, W / 8)."""
    size = features[0].shape[-2:]
    parts = [F.normalize(F.interpolate(f, size=size, mode="bilinear", align_corners=False) if f.shape[-2:] != size else f,
                         dim=1) for f in features]
    keys = torch.cat(parts, dim=1)
    return F.normalize(keys - keys.mean(dim=(2, 3), keepdim=True), dim=1)


def make_bank(keys: torch.Tensor, lab: torch.Tensor) -> Bank:
    """A reference's keys (B, C, h, w) and its Lab (B, 3, H, W), H = h * STRIDE -> its bank."""
    ab = F.avg_pool2d(lab[:, 1:], STRIDE)  # (B, 2, h, w)
    return Bank(keys.flatten(2).transpose(1, 2), ab.flatten(2).transpose(1, 2), keys.new_zeros(keys.shape[0], keys[0, 0].numel()))


def reference_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> Lab, the reference as matching sees it."""
    return rgb_to_lab(rgb.clamp(0, 1))


def warp(keys: torch.Tensor, bank: Bank, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Photo keys (B, C, h, w) against a bank -> warped a*b* (B, 2, h, w) and confidence (B, 1, h, w) in [-1, 1]."""
    b, _, h, w = keys.shape
    query = keys.flatten(2).transpose(1, 2)  # (B, hw, C)
    similarity = query @ bank.keys.transpose(1, 2)  # (B, hw, N), cosines
    attention = (similarity / temperature + bank.log_weight[:, None, :]).softmax(dim=-1)
    ab = (attention @ bank.ab).transpose(1, 2).reshape(b, 2, h, w)
    confidence = similarity.amax(dim=-1).reshape(b, 1, h, w)
    return ab, confidence
