"""The hints mode of the evaluation: colour hints sampled from the ground truth, as Zhang et al. 2017 did.

For each photo, 10 hints are drawn at random places (fixed seed): small disks carrying the ground
truth's mean a*b* there; runs with the first 1, 5 and 10 of them (nested) are compared with the
automatic run (no hints). Reported:

- PSNR and CIEDE2000 per hint count (0: automatic);
- at each hint, |ab error| between the output's mean a*b* over the disk and the hint's, and the
  share within `WITHIN` (6) of it;
- with one hint, how it spreads: ab error inside the hint's ground-truth region (the SLIC
  superpixel of the ground truth holding the hint, its disk excluded) with and without the hint,
  and the mean |ab change| far from it (beyond `FAR` of the image diagonal);
- palette retrieval with each painting as the reference plus 5 hints.

ab error is the Euclidean distance in (a*, b*), Lab units.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from ..color.lab import rgb_to_lab
from ..inputs.hints import HintSet, rgb_to_ab
from . import metrics
from .paintings import against_paintings, to_tensor

HINT_COUNTS = (1, 5, 10)
HINT_RADIUS = 3.0  # pixels at the evaluation size (256): 1.5 working pixels at 128, as training's 1-5 px patches
PAINTING_HINTS = 5  # hints per photo in the paintings-plus-hints run
N_SEGMENTS = 100  # SLIC superpixels per ground-truth photo (about 25 px across at short side 256)
FAR = 0.25  # "far from the hint": beyond this share of the image diagonal
WITHIN = 6.0  # ab distance counted as "at the hint's colour"


def draw_points(gt_ab: np.ndarray, n: int, rng: np.random.Generator, radius: float = HINT_RADIUS) -> np.ndarray:
    """n hints at uniform places on a ground truth's a*b* (H, W, 2) -> (n, 5) x, y, a*, b*, radius,
    each holding the ground truth's mean a*b* over its disk."""
    h, w = gt_ab.shape[:2]
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    rows = [(x, y, *gt_ab[disk(h, w, x, y, radius)].mean(0), radius) for x, y in zip(xs, ys)]
    return np.array(rows, np.float64).reshape(n, 5)


def disk(h: int, w: int, x: float, y: float, radius: float) -> np.ndarray:
    """(H, W) bool: the pixels whose centres lie within `radius` of pixel (x, y)'s centre (itself included)."""
    yy, xx = np.mgrid[:h, :w]
    return (xx - x) ** 2 + (yy - y) ** 2 <= max(radius, 0.5) ** 2


def hint_errors(out_ab: np.ndarray, points: np.ndarray) -> list[float]:
    """|output mean a*b* over each hint's disk - the hint's a*b*|, one per hint."""
    h, w = out_ab.shape[:2]
    return [float(np.linalg.norm(out_ab[disk(h, w, x, y, r)].mean(0) - (a, b))) for x, y, a, b, r in points]


def spread(out_ab: np.ndarray, auto_ab: np.ndarray, gt_ab: np.ndarray, segments: np.ndarray,
           point: np.ndarray) -> tuple[float, float, float]:
    """One hint's reach: (ab error in its superpixel with it, the same without it, mean |ab change| far from it)."""
    h, w = gt_ab.shape[:2]
    x, y, _, _, r = point
    region = (segments == segments[int(y), int(x)]) & ~disk(h, w, x, y, r)
    if not region.any():  # a superpixel no larger than the hint: its own pixels, then
        region = segments == segments[int(y), int(x)]
    yy, xx = np.mgrid[:h, :w]
    far = (xx - x) ** 2 + (yy - y) ** 2 > (FAR * np.hypot(h, w)) ** 2
    error = lambda ab: float(np.linalg.norm(ab[region] - gt_ab[region], axis=-1).mean())  # noqa: E731
    change = float(np.linalg.norm(out_ab[far] - auto_ab[far], axis=-1).mean()) if far.any() else 0.0
    return error(out_ab), error(auto_ab), change


def photo_hints(photos: list, n: int, seed: int) -> list[np.ndarray]:
    """n hint points per photo (name, sRGB (H, W, 3) uint8), drawn with a generator per photo index."""
    return [draw_points(rgb_to_ab(gt), n, np.random.default_rng(seed * 1_000_003 + i)) for i, (_, gt) in enumerate(photos)]


def with_hints(m, photos: list, paintings: list, seed: int = 0, progress: bool = False) -> dict:
    """Run the hints mode for a Method whose `hinted(photo, code, HintSet)` colourises with hints."""
    from skimage.segmentation import slic

    draws = photo_hints(photos, max(HINT_COUNTS), seed)
    null = m.encode(None)
    rows, seconds = [], 0.0
    for i, (_, gt) in enumerate(tqdm(photos, desc=f"{m.name} hints", disable=not progress, leave=False)):
        h, w = gt.shape[:2]
        gt_ab = rgb_to_ab(gt)
        start = time.perf_counter()
        outs = {0: m.colorize(gt, null)} | {n: m.hinted(gt, null, HintSet(w, h, draws[i][:n])) for n in HINT_COUNTS}
        seconds += time.perf_counter() - start
        ab = {n: rgb_to_ab(out) for n, out in outs.items()}
        row = {}
        for n, out in outs.items():
            row[f"psnr_{n}"] = metrics.psnr(to_tensor(out), to_tensor(gt)).item()
            row[f"ciede2000_{n}"] = metrics.ciede2000(*(rgb_to_lab(to_tensor(x)) for x in (out, gt))).mean().item()
        for n in HINT_COUNTS:
            errors = hint_errors(ab[n], draws[i][:n])
            row[f"hint_ab_error_{n}"] = float(np.mean(errors))
            row[f"hint_within_{n}"] = float(np.mean(np.array(errors) <= WITHIN))
        segments = slic(gt, n_segments=N_SEGMENTS, compactness=10.0, start_label=0)
        row["region_ab_error"], row["region_ab_error_auto"], row["far_ab_change"] = spread(
            ab[1], ab[0], gt_ab, segments, draws[i][0])
        rows.append(row)
    summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    summary["psnr_gain_10"] = summary["psnr_10"] - summary["psnr_0"]
    hinted = [HintSet(gt.shape[1], gt.shape[0], d[:PAINTING_HINTS]) for (_, gt), d in zip(photos, draws)]
    cross = against_paintings(m, photos, paintings, seed, progress, hints=hinted)
    summary |= {f"paintings_{k}": v for k, v in cross.items() if k in (
        "retrieval_accuracy", "retrieval_chance", "palette_distance", "sensitivity", "l_ssim")}
    summary |= {"hint_counts": list(HINT_COUNTS), "hint_radius_px": HINT_RADIUS, "painting_hints": PAINTING_HINTS,
                "n_segments": N_SEGMENTS, "far": FAR, "within": WITHIN,
                "seconds_per_image": seconds / (len(photos) * (1 + len(HINT_COUNTS)))}
    return summary
