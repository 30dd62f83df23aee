"""The evaluation harness: one function runs a model or a baseline through its modes.

- automatic: the gray photo, no reference; fidelity to the colour photo it came from.
- self_reference: the colour photo itself is the reference; fidelity again (an upper bound on
  what a reference can give, and the only fair fidelity test for exemplar methods).
- reframed: the reference is the colour photo mirrored and cropped to 60% of its area (a photo of
  the same place taken otherwise); fidelity of the whole output, so colour must be found by what
  is in the photo, not where.
- paintings: each of N photos with each of K paintings (the first K by file name); palette
  distance to the reference, palette retrieval accuracy, reference sensitivity, and incoherence
  (the share of the output's a*b* variance inside the ground truth's SLIC superpixels: colour that
  follows objects varies between them, blotches vary inside them).
- hints (on request, models with hint inputs): colour hints sampled from the ground truth
  (`hints_mode.py`).

Photos and paintings are resized so their short side is `size` (256 by default) before anything
runs, so results are comparable between methods and fast to compute; a method sees only the
luminance of each photo. Every mode reports how well lightness is kept (SSIM of L*) and seconds per
image (colourisation only, metrics excluded).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from .. import __version__
from . import baselines
from ..color.lab import rgb_to_lab
from ..inputs.hints import HintSet
from ..inputs.images import list_images, open_image, rgb_array
from ..inference import Colorizer
from ..inference.pipeline import resize_short_side
from . import metrics
from .hints_mode import with_hints
from .paintings import N_PIXELS, against_paintings, pixels, to_tensor
from .reframe import REFRAMED_AREA, reframe

EVAL_SIZE = 256  # short side of every photo and painting during evaluation
MODES = ("automatic", "self", "reframed", "paintings", "hints")
READ_PAINTINGS = ("paintings", "hints")  # the modes that take references from the paintings folder
STANDARD_MODES = ("automatic", "self", "reframed", "paintings")  # hints: on request (`--mode hints`)


@dataclass
class Method:
    """A colouriser seen by the harness: `encode(reference or None)` once, then `colorize(photo, code)`."""

    name: str
    encode: Callable[[np.ndarray | None], object]
    colorize: Callable[[np.ndarray, object], np.ndarray]
    automatic: bool = True  # False: it needs a reference, so the automatic mode is not applicable
    hinted: Callable[[np.ndarray, object, HintSet], np.ndarray] | None = None  # colourise with hints, if it can


def as_method(method: Colorizer | str | Method) -> Method:
    """A Colorizer, "gray" or "welsh" -> the harness's view of it."""
    if isinstance(method, Method):
        return method
    if isinstance(method, Colorizer):
        c = method
        hinted = lambda photo, style, h: rgb_array(c.colorize(photo, style=style, hints=h))  # noqa: E731
        return Method("model", c.encode_style, lambda photo, style: rgb_array(c.colorize(photo, style=style)),
                      hinted=hinted if c.config.hints else None)
    if method == "gray":
        return Method("gray", lambda ref: None, lambda photo, _: rgb_array(baselines.gray(photo)))
    if method == "welsh":
        return Method("welsh", lambda ref: baselines.welsh_reference(ref),
                      lambda photo, ref: rgb_array(baselines.welsh(photo, ref)), automatic=False)
    raise ValueError(f"expected a Colorizer or one of {list(baselines.METHODS)}, got {method!r}")


def load_folder(folder: str | os.PathLike, n: int | None = None, size: int = EVAL_SIZE) -> list[tuple[str, np.ndarray]]:
    """The first n images of a folder by path, as (name, sRGB (H, W, 3) uint8 with short side `size`)."""
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = [path for path, _ in list_images([folder])][:n]
    if not files:
        raise ValueError(f"{folder}: no images found")
    return [(str(p.relative_to(folder)), resize_short_side(rgb_array(open_image(p)), size)) for p in files]


def evaluate(method: Colorizer | str | Method, photos_dir: str | os.PathLike, paintings_dir: str | os.PathLike | None,
             k: int = 8, n_photos: int | None = None, size: int = EVAL_SIZE, seed: int = 0,
             progress: bool = False, modes: Sequence[str] = STANDARD_MODES) -> dict:
    """Run the `modes` (of MODES; the hints mode needs a model with hint inputs; paintings are read
    only by the paintings and hints modes); returns a JSON-ready dict (a mode not run, or one a
    method cannot run, is None)."""
    if k < 2:
        raise ValueError(f"k must be at least 2 to compare references, got {k}")
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise ValueError(f"modes must be some of {list(MODES)}, got {list(modes)}")
    m = as_method(method)
    if "hints" in modes and m.hinted is None:
        raise ValueError(f"the hints mode needs a model with colour hint inputs; {m.name} takes none")
    photos = load_folder(photos_dir, n_photos, size)
    needs_paintings = bool(set(modes) & set(READ_PAINTINGS))
    if needs_paintings and paintings_dir is None:
        raise ValueError("the paintings and hints modes need a folder of paintings")
    paintings = load_folder(paintings_dir, k, size) if needs_paintings else []
    if needs_paintings and len(paintings) < k:
        raise ValueError(f"{paintings_dir}: k={k} paintings asked for, only {len(paintings)} found")
    with torch.inference_mode():
        auto = fidelity(m, photos, "automatic", seed, progress) if m.automatic and "automatic" in modes else None
        own = fidelity(m, photos, "self", seed, progress) if "self" in modes else None
        reframed = fidelity(m, photos, "reframed", seed, progress) if "reframed" in modes else None
        cross = against_paintings(m, photos, paintings, seed, progress) if "paintings" in modes else None
        hinted = with_hints(m, photos, paintings, seed, progress) if "hints" in modes else None
    return {
        "name": m.name, "method": m.name, "artcolor_version": __version__,
        "photos": str(photos_dir), "paintings": str(paintings_dir) if needs_paintings else None, "n_photos": len(photos), "k": k,
        "size": size, "seed": seed, "references": [name for name, _ in paintings],
        "automatic": auto, "self_reference": own, "reframed": reframed, "paintings_mode": cross, "hints_mode": hinted,
    }


def fidelity(m: Method, photos: list, mode: Literal["automatic", "self", "reframed"], seed: int = 0,
             progress: bool = False) -> dict:
    """Colourise each photo without a reference, with itself, or with itself reframed (`reframe`) as
    the reference; compare with the photo."""
    if mode not in ("automatic", "self", "reframed"):
        raise ValueError(f"mode must be 'automatic', 'self' or 'reframed', got {mode!r}")
    rows, seconds = [], 0.0
    for i, (_, gt) in enumerate(tqdm(photos, desc=f"{m.name} {mode}", disable=not progress, leave=False)):
        place = np.random.default_rng([seed, i])  # where the reframed reference's crop sits
        reference = None if mode == "automatic" else gt if mode == "self" else reframe(gt, REFRAMED_AREA, place)
        start = time.perf_counter()
        out = m.colorize(gt, m.encode(reference))
        seconds += time.perf_counter() - start
        rows.append(compare(to_tensor(out), to_tensor(gt), seed, i))
    summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    summary["colorfulness_ratio"] = summary["colorfulness"] / max(summary["colorfulness_gt"], 1e-9)
    summary["seconds_per_image"] = seconds / len(photos)
    return summary


def compare(out: torch.Tensor, gt: torch.Tensor, seed: int = 0, index: int = 0) -> dict[str, float]:
    """Fidelity metrics of one output (1, 3, H, W) against its ground truth (the same pixels sampled in both)."""
    return {
        "psnr": metrics.psnr(out, gt).item(),
        "ssim": metrics.ssim(out, gt).item(),
        "ciede2000": metrics.ciede2000(rgb_to_lab(out), rgb_to_lab(gt)).mean().item(),
        "colorfulness": metrics.colorfulness(out).item(),
        "colorfulness_gt": metrics.colorfulness(gt).item(),
        "palette_distance_gt": metrics.sliced_wasserstein_ab(
            metrics.sample_ab(out[0], N_PIXELS, pixels(seed, index)),
            metrics.sample_ab(gt[0], N_PIXELS, pixels(seed, index))).item(),
        "l_ssim": metrics.l_ssim(out, gt).item(),
    }
