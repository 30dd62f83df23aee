"""Metrics for colourisation, as pure functions on tensors.

Conventions: sRGB images are (B, 3, H, W) floats in [0, 1]; Lab images are (*, 3, H, W) with L* in
[0, 100]; per-image metrics return (B,). Palette distances compare distributions of a*, b* (N, 2)
in Lab units. `sliced_wasserstein_ab` is differentiable, so training code can use it as a loss.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..color.lab import rgb_to_lab
from ..color.statistics import colorfulness, projected_quantiles, projection_directions, psnr  # metrics too (in __all__)

__all__ = [
    "psnr",
    "ssim",
    "ciede2000",
    "colorfulness",
    "l_ssim",
    "sample_ab",
    "sliced_wasserstein_ab",
    "projection_directions",
    "projected_quantiles",
    "pairwise_sliced_wasserstein",
    "retrieval_accuracy",
    "reference_sensitivity",
]


def _check_rgb(*images: torch.Tensor) -> None:
    for x in images:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected sRGB images of shape (B, 3, H, W), got {tuple(x.shape)}")
    if len(images) == 2 and images[0].shape != images[1].shape:
        raise ValueError(f"images differ in shape: {tuple(images[0].shape)} vs {tuple(images[1].shape)}")


# ---- fidelity to the ground truth


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Structural similarity (Gaussian 11x11, sigma 1.5) of images (B, C, H, W) in [0, 1] -> (B,).

    Needs torchmetrics (the `eval` extra), imported here so the palette distance works without it.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) images of one shape, "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")
    return structural_similarity_index_measure(pred, target, data_range=1.0, reduction="none")


def l_ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """How well lightness is kept: SSIM between the CIE L* / 100 of two sRGB images (B, 3, H, W) -> (B,)."""
    _check_rgb(pred, target)
    return ssim(rgb_to_lab(pred)[:, :1] / 100, rgb_to_lab(target)[:, :1] / 100)


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005) of Lab (*, 3, H, W) -> (*, H, W).

    kL = kC = kH = 1. Differences below about 1 are invisible; a mean over an image summarises it.
    """
    if lab1.shape != lab2.shape or lab1.ndim < 3 or lab1.shape[-3] != 3:
        raise ValueError(f"expected two Lab tensors (*, 3, H, W) of one shape, "
                         f"got {tuple(lab1.shape)} and {tuple(lab2.shape)}")
    l1, a1, b1 = lab1.unbind(-3)
    l2, a2, b2 = lab2.unbind(-3)
    c_bar7 = ((a1.hypot(b1) + a2.hypot(b2)) / 2).pow(7)
    g = 0.5 * (1 - (c_bar7 / (c_bar7 + 25.0**7)).sqrt())
    a1, a2 = a1 * (1 + g), a2 * (1 + g)
    c1, c2 = a1.hypot(b1), a2.hypot(b2)
    h1, h2 = torch.atan2(b1, a1) % (2 * math.pi), torch.atan2(b2, a2) % (2 * math.pi)
    chromatic = (c1 * c2) != 0

    dh = h2 - h1
    dh = torch.where(dh > math.pi, dh - 2 * math.pi, torch.where(dh < -math.pi, dh + 2 * math.pi, dh))
    dh = torch.where(chromatic, dh, torch.zeros_like(dh))
    d_l, d_c = l2 - l1, c2 - c1
    d_h = 2 * (c1 * c2).sqrt() * torch.sin(dh / 2)

    h_sum = h1 + h2
    h_bar = torch.where((h1 - h2).abs() <= math.pi, h_sum / 2,
                        torch.where(h_sum < 2 * math.pi, (h_sum + 2 * math.pi) / 2, (h_sum - 2 * math.pi) / 2))
    h_bar = torch.where(chromatic, h_bar, h_sum)
    l_bar, c_bar = (l1 + l2) / 2, (c1 + c2) / 2
    deg = math.pi / 180
    t = (1 - 0.17 * torch.cos(h_bar - 30 * deg) + 0.24 * torch.cos(2 * h_bar)
         + 0.32 * torch.cos(3 * h_bar + 6 * deg) - 0.20 * torch.cos(4 * h_bar - 63 * deg))
    d_theta = 30 * deg * torch.exp(-(((h_bar / deg) - 275) / 25).pow(2))
    r_c = 2 * (c_bar.pow(7) / (c_bar.pow(7) + 25.0**7)).sqrt()
    s_l = 1 + 0.015 * (l_bar - 50).pow(2) / (20 + (l_bar - 50).pow(2)).sqrt()
    s_c = 1 + 0.045 * c_bar
    s_h = 1 + 0.015 * c_bar * t
    r_t = -torch.sin(2 * d_theta) * r_c
    terms = (d_l / s_l).pow(2) + (d_c / s_c).pow(2) + (d_h / s_h).pow(2) + r_t * (d_c / s_c) * (d_h / s_h)
    return terms.clamp(min=0).sqrt()


# ---- colour without a ground truth


def sample_ab(rgb: torch.Tensor, n: int = 4096, generator: torch.Generator | None = None) -> torch.Tensor:
    """a*, b* of n random pixels of one sRGB image (3, H, W) in [0, 1] -> (n, 2); with replacement only if too few."""
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"expected one sRGB image (3, H, W), got {tuple(rgb.shape)}")
    ab = rgb_to_lab(rgb)[1:].flatten(1).T  # (H*W, 2)
    if len(ab) >= n:
        idx = torch.randperm(len(ab), generator=generator)[:n]
    else:
        idx = torch.randint(len(ab), (n,), generator=generator)
    return ab[idx]


def sliced_wasserstein_ab(ab1: torch.Tensor, ab2: torch.Tensor, n_proj: int = 64,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Sliced 1-Wasserstein distance between two a*, b* distributions (N, 2) and (M, 2), in Lab units.

    The mean over n_proj directions of the 1-D Wasserstein-1 distance between the projected samples
    (exact when N = M or one divides the other). A shift of both a* and b* by d gives about
    d * sqrt(2) * 2 / pi. Differentiable in both inputs; without a generator the directions are fixed.
    """
    if ab1.ndim != 2 or ab1.shape[1] != 2 or ab2.ndim != 2 or ab2.shape[1] != 2:
        raise ValueError(f"expected ab samples of shape (N, 2) and (M, 2), "
                         f"got {tuple(ab1.shape)} and {tuple(ab2.shape)}")
    if len(ab1) == 0 or len(ab2) == 0:
        raise ValueError("cannot compare an empty set of colours")
    directions = projection_directions(n_proj, generator, ab1)
    q = max(len(ab1), len(ab2))
    return (projected_quantiles(ab1, directions, q) - projected_quantiles(ab2, directions, q)).abs().mean()


def pairwise_sliced_wasserstein(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """All distances between two sets of `projected_quantiles` (A, P, Q) and (B, P, Q) -> (A, B)."""
    if q1.shape[1:] != q2.shape[1:]:
        raise ValueError(f"quantiles differ in shape: {tuple(q1.shape)} vs {tuple(q2.shape)}")
    return torch.cdist(q1.flatten(1).double(), q2.flatten(1).double(), p=1).to(q1.dtype) / q1[0].numel()


# ---- how much the reference matters


def retrieval_accuracy(dist: torch.Tensor) -> float:
    """Share of outputs whose own reference is the nearest of the K references by palette distance.

    dist (N, K, K): dist[i, j, k] is the distance between photo i coloured with reference j and
    reference k. Counts (i, j) with argmin_k dist[i, j, k] == j; chance is 1 / K.
    """
    if dist.ndim != 3 or dist.shape[1] != dist.shape[2]:
        raise ValueError(f"expected distances of shape (N, K, K), got {tuple(dist.shape)}")
    own = torch.arange(dist.shape[1], device=dist.device)
    return (dist.argmin(dim=2) == own).double().mean().item()


def reference_sensitivity(output_dist: torch.Tensor, reference_dist: torch.Tensor) -> float:
    """How much the outputs move when the reference changes, relative to how much the references differ.

    output_dist (N, K, K): distances between photo i's outputs under references j and k;
    reference_dist (K, K): distances between the references. Returns
    mean_i mean_{j<k} output_dist[i, j, k] / mean_{j<k} reference_dist[j, k]:
    0 when the reference is ignored, about 1 when outputs differ as much as their references.
    """
    k = reference_dist.shape[0]
    if k < 2 or output_dist.ndim != 3 or output_dist.shape[1:] != (k, k) or reference_dist.shape != (k, k):
        raise ValueError(f"expected (N, K, K) and (K, K) with K >= 2, "
                         f"got {tuple(output_dist.shape)} and {tuple(reference_dist.shape)}")
    j, kk = torch.triu_indices(k, k, offset=1)
    return (output_dist[:, j, kk].mean() / reference_dist[j, kk].mean()).item()


# ---- colour that follows objects


def superpixels(rgb: np.ndarray, n_segments: int = 16) -> np.ndarray:
    """SLIC superpixels of an sRGB (H, W, 3) uint8 image -> labels (H, W) int, about `n_segments` of
    them: the regions whose colour an object-following colourisation keeps in one family."""
    from skimage.segmentation import slic

    return slic(rgb, n_segments=n_segments, compactness=10, start_label=0)


def graph_segments(rgb: np.ndarray, scale: float = 300) -> np.ndarray:
    """Felzenszwalb and Huttenlocher's graph-based segments of an sRGB (H, W, 3) uint8 image -> labels
    (H, W) int: regions cut where colour changes, of any shape (SLIC's are compact and about equal in
    size), a second measure of incoherence that no colouriser cuts its regions by."""
    from skimage.segmentation import felzenszwalb

    return felzenszwalb(rgb, scale=scale, sigma=0.8, min_size=20)


def incoherence(rgb: torch.Tensor, labels: np.ndarray) -> float:
    """The share of an image's a*b* variance that lies inside regions (labels (H, W) of sRGB (1, 3, H, W)
    in [0, 1]): near 0 when each region is one colour, 1 when colour varies as much inside regions as
    across the image. NaN for an image whose a*b* spread is under 1 (gray to the eye)."""
    ab = rgb_to_lab(rgb)[0, 1:].flatten(1).double().numpy()  # (2, HW)
    index = labels.ravel()
    count = np.bincount(index).clip(min=1)
    means = np.stack([np.bincount(index, weights=c) / count for c in ab])  # (2, regions)
    within = ((ab - means[:, index]) ** 2).sum()
    total = ((ab - ab.mean(axis=1, keepdims=True)) ** 2).sum()
    return float(within / total) if total > ab.shape[1] else float("nan")  # a*b* spread under 1: gray
