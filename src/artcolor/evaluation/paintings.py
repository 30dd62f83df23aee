"""Every photo with every painting as its reference: what a reference does to the output (palette
distance to it and to the others, retrieval of it among them, sensitivity to it, incoherence), shared
by the harness's paintings mode and the hints mode's paintings-plus-hints run."""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from ..inputs.hints import HintSet
from . import metrics

N_PIXELS = 4096  # pixels sampled per image for palette distances
N_QUANTILES = 256  # quantiles kept per projection when many palettes are compared at once
N_SUPERPIXELS = 16  # SLIC regions per ground truth for incoherence
GRAPH_SCALE = 300  # Felzenszwalb's scale for the graph-based segments, the second measure of incoherence


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """sRGB (H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255


def pixels(seed: int, index: int) -> torch.Generator:
    """The generator that picks image `index`'s pixels: every output of one photo is sampled alike,
    so identical outputs are at distance 0 and results do not depend on the order of the modes."""
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


def against_paintings(m, photos: list, paintings: list, seed: int = 0, progress: bool = False,
                      hints: list[HintSet] | None = None) -> dict:
    """Every photo with every painting, for the harness's `Method` m: palette distance, retrieval,
    sensitivity, lightness kept (with `hints`, one HintSet per photo, given to `m.hinted` beside each
    painting)."""
    directions = metrics.projection_directions(64)
    palette = lambda x, index: metrics.projected_quantiles(  # noqa: E731
        metrics.sample_ab(x[0], N_PIXELS, pixels(seed, index)), directions, N_QUANTILES)
    n, k = len(photos), len(paintings)
    ref_q = torch.stack([palette(to_tensor(rgb), n + j) for j, (_, rgb) in enumerate(paintings)])  # (K, P, Q)
    out_q = torch.empty(n, k, *ref_q.shape[1:])  # (N, K, P, Q)
    l_ssim, colorful, seconds = [], [], 0.0
    segmentations = {"incoherence": [metrics.superpixels(gt, N_SUPERPIXELS) for _, gt in photos],
                     "incoherence_graph": [metrics.graph_segments(gt, GRAPH_SCALE) for _, gt in photos]}
    incoherent = {key: [] for key in segmentations}
    for j, (_, painting) in enumerate(tqdm(paintings, desc=f"{m.name} paintings", disable=not progress, leave=False)):
        start = time.perf_counter()
        code = m.encode(painting)
        seconds += time.perf_counter() - start
        for i, (_, gt) in enumerate(photos):
            start = time.perf_counter()
            out = to_tensor(m.colorize(gt, code) if hints is None else m.hinted(gt, code, hints[i]))
            seconds += time.perf_counter() - start
            out_q[i, j] = palette(out, i)
            l_ssim.append(metrics.l_ssim(out, to_tensor(gt)).item())
            colorful.append(metrics.colorfulness(out).item())
            for key, regions in segmentations.items():
                incoherent[key].append(metrics.incoherence(out, regions[i]))
    to_refs = metrics.pairwise_sliced_wasserstein(out_q.flatten(0, 1), ref_q).view(n, k, k)
    between_outputs = torch.stack([metrics.pairwise_sliced_wasserstein(q, q) for q in out_q])  # (N, K, K)
    between_refs = metrics.pairwise_sliced_wasserstein(ref_q, ref_q)
    own = torch.eye(k, dtype=torch.bool).expand(n, k, k)
    return {
        "palette_distance": to_refs[own].mean().item(),
        "palette_distance_other": to_refs[~own].mean().item(),
        "retrieval_accuracy": metrics.retrieval_accuracy(to_refs),
        "retrieval_chance": 1 / k,
        "sensitivity": metrics.reference_sensitivity(between_outputs, between_refs),
        "l_ssim": float(np.mean(l_ssim)),
        "colorfulness": float(np.mean(colorful)),
        **{key: _mean(values) for key, values in incoherent.items()},
        **{f"{key}_gt": _mean([metrics.incoherence(to_tensor(gt), r) for (_, gt), r in zip(photos, segmentations[key])])
           for key in segmentations},
        "colorfulness_references": float(np.mean([metrics.colorfulness(to_tensor(p)).item() for _, p in paintings])),
        "seconds_per_image": seconds / (n * k),
    }


def _mean(values: list[float]) -> float:
    """The mean of what is not NaN (a gray output has no incoherence), NaN if nothing is."""
    return float(np.nanmean(values)) if not np.isnan(values).all() else float("nan")
