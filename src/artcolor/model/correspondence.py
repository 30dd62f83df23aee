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

import contextlib
import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..color.lab import rgb_to_lab

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


def encode_bank(features: Callable[[torch.Tensor], list[torch.Tensor]], rgb: torch.Tensor) -> Bank:
    """References (B, 3, H, W) sRGB in [0, 1], H and W divisible by 32, through `features` (L* -> the
    encoder's maps at strides 4 to 32, as `SemanticFeatures.features`) as gray -> their bank."""
    lab = rgb_to_lab(rgb.clamp(0, 1))
    return make_bank(match_keys(features(lab[:, :1])[1:]), lab)


def warp(keys: torch.Tensor, bank: Bank, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Photo keys (B, C, h, w) against a bank -> warped a*b* (B, 2, h, w) and confidence (B, 1, h, w) in [-1, 1]."""
    b, _, h, w = keys.shape
    query = keys.flatten(2).transpose(1, 2)  # (B, hw, C)
    similarity = query @ bank.keys.transpose(1, 2)  # (B, hw, N), cosines
    attention = (similarity / temperature + bank.log_weight[:, None, :]).softmax(dim=-1)
    ab = (attention @ bank.ab).transpose(1, 2).reshape(b, 2, h, w)
    confidence = similarity.amax(dim=-1).reshape(b, 1, h, w)
    return ab, confidence


TRANSFER_ROUNDS = 3  # rounds of two orthogonal directions of the a*b* plane, each turned by pi / (2 * rounds)
TRANSFER_LEVELS = 64  # quantiles of the reference kept per direction
RANK_BINS = 512  # bins over each image's range of a direction, where its pixels' ranks are counted
RANK_SMOOTHING = 9  # each pixel's count spread over this many bins (range / 57): nearly equal values rank alike
CONFIDENT, SPREAD = 0.35, 0.05  # a match this similar counts half; the gate turns over +-SPREAD around it


def smooth_ranks(values: torch.Tensor, bins: int = RANK_BINS, smoothing: int = RANK_SMOOTHING) -> torch.Tensor:
    """Values (B, P) -> the share of each row's values below each value (B, P), in [0, 1].

    Counted on a histogram of the row's range, each value spread over `smoothing` bins around its
    own, then read off the cumulative counts linearly within a bin: a continuous, non-decreasing
    function of the value. Equal values share one rank (a flat region's pixels all get the middle
    of its span), and values a float's last bits apart get ranks as close, where sorting would hand
    them the two ends of their span by those bits (and so speckle a flat region in two colours,
    differently on another machine or thread count). Its cost is linear in P: a count and a look-up.
    """
    pad = smoothing // 2
    lo = values.amin(dim=-1, keepdim=True)
    span = (values.amax(dim=-1, keepdim=True) - lo).clamp(min=1e-6)
    position = pad + 0.5 + (values - lo) / span * (bins - 2 * pad - 1)  # bin centres pad to bins - pad - 1: room to spread
    index = position.floor().long()
    counts = torch.zeros(values.shape[0], bins, dtype=values.dtype, device=values.device).scatter_add(
        -1, index, torch.ones_like(values))
    kernel = counts.new_ones(1, 1, smoothing) / smoothing
    counts = F.conv1d(counts[:, None], kernel, padding=pad)[:, 0] / values.shape[-1]  # (B, bins), summing to 1
    below = counts.cumsum(dim=-1) - counts  # the share in the bins before each one
    return below.gather(-1, index) + counts.gather(-1, index) * (position - index)


def palette_transfer(ab: torch.Tensor, bank: Bank, rounds: int = TRANSFER_ROUNDS) -> torch.Tensor:
    """Each image's a*b* (B, 2, H, W) moved onto the bank's distribution of a*b* (its places weighted
    by their log-weights) by sliced optimal transport (Pitie et al. 2005): along each direction every
    pixel takes the reference's quantile of its own rank (`smooth_ranks`). A global, monotone map:
    one object stays one colour family, and the image takes the reference's palette."""
    # ranks and quantiles in float32, under autocast too (a device without autocast, "meta" in the
    # tests' device check, has none to turn off)
    plain = torch.autocast(ab.device.type, enabled=False) if ab.device.type in ("cpu", "cuda") else contextlib.nullcontext()
    with plain:
        return _transfer(ab.float(), Bank(*(x.float() for x in bank)), rounds)


def _transfer(ab: torch.Tensor, bank: Bank, rounds: int) -> torch.Tensor:
    b, _, h, w = ab.shape
    moved = ab.flatten(2)  # (B, 2, P)
    weight = bank.log_weight.softmax(dim=-1)  # (B', N)
    levels = (torch.arange(TRANSFER_LEVELS, dtype=ab.dtype, device=ab.device) + 0.5) / TRANSFER_LEVELS
    for turn in range(rounds):
        angle = torch.tensor(math.pi / 2 * turn / rounds)
        for direction in (torch.stack([angle.cos(), angle.sin()]), torch.stack([-angle.sin(), angle.cos()])):
            direction = direction.to(ab)
            projected = (moved * direction[None, :, None]).sum(dim=1)  # (B, P)
            reference, order = (bank.ab @ direction).sort(dim=-1)  # (B', N), ascending
            cdf = weight.gather(-1, order).cumsum(dim=-1)
            at_level = (cdf[:, None, :] < levels[None, :, None]).sum(dim=-1).clamp(max=reference.shape[-1] - 1)  # (B', K)
            quantiles = reference.gather(-1, at_level).expand(b, -1)  # (B, K)
            place = (smooth_ranks(projected) * TRANSFER_LEVELS - 0.5).clamp(0, TRANSFER_LEVELS - 1)  # among the levels
            low = place.floor().long().clamp(max=TRANSFER_LEVELS - 2)
            target = torch.lerp(quantiles.gather(-1, low), quantiles.gather(-1, low + 1), place - low)
            moved = moved + (target - projected)[:, None, :] * direction[None, :, None]
    return moved.view(b, 2, h, w)


def matched(confidence: torch.Tensor, bank: Bank) -> torch.Tensor:
    """How surely each place found its counterpart (B, 1, H, W) in [0, 1]: a sigmoid of the best
    match's similarity around CONFIDENT; 0 everywhere for an empty bank (no reference)."""
    return present(bank, confidence) * torch.sigmoid((confidence - CONFIDENT) / SPREAD)


def unmatched(confidence: torch.Tensor, bank: Bank) -> torch.Tensor:
    """How little each place matched (B, 1, H, W) in [0, 1]: 1 where nothing in the reference is like
    it, 0 where it found its counterpart; 0 everywhere for an empty bank (no reference)."""
    return present(bank, confidence) - matched(confidence, bank)


def present(bank: Bank, like: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, 1) of `like`'s dtype: 1 for a bank of a reference, 0 for the empty one (all keys zero: no
    reference, as an ONNX graph is fed for none)."""
    return (bank.keys.abs().amax(dim=(1, 2)) > 0).to(like.dtype)[:, None, None, None]
