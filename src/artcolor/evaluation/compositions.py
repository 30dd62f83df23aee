"""Two compositions of the bundled model's parts, no learning in either: the baselines a model that
matches its reference is measured against (beside `welsh` and `gray`).

- `transfer`: the automatic output, then its a*b* moved onto the reference's a*b* distribution (4096
  of its pixels) by the product's sliced optimal transport (`correspondence.palette_transfer`:
  Pitie et al. 2005, quantile matching along rotating directions of the a*b* plane, ranks read off
  histograms), lightness kept. A global, monotone map: one object stays one colour family, and the
  output takes the reference's palette, wherever its colours belong.
- `match`: Deep Exemplar-based Colorization's matching (He et al. 2018) untrained: the gray photo
  and the reference as gray through the model's ImageNet encoder, keys and warp as
  `model/correspondence.py` computes them (temperature 0.01), the warped a*b* blended with the
  automatic output by how surely each place matched (`correspondence.matched`: a sigmoid of the best
  match's similarity around 0.35).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..color.lab import chroma_ratio, lab_to_rgb, rgb_to_lab
from ..inputs.images import rgb_array
from ..inference import Colorizer
from ..inference.pipeline import match_input, recombine
from ..model.correspondence import Bank, encode_bank, match_keys, matched, palette_transfer, warp
from . import metrics
from .harness import Method

TEMPERATURE = 0.01


def pixel_bank(ab: torch.Tensor) -> Bank:
    """Reference pixels' a*b* (N, 2) -> a bank of them, equally weighted and with no keys: all that
    `palette_transfer` reads of a bank."""
    return Bank(keys=ab.new_zeros(1, len(ab), 0), ab=ab[None], log_weight=ab.new_zeros(1, len(ab)))


def transfer(colorizer: Colorizer, photo: np.ndarray, reference_ab: torch.Tensor | None) -> np.ndarray:
    """Automatic colourisation of `photo` (H, W, 3) uint8, its a*b* moved onto `reference_ab` (M, 2)
    (none: the automatic output as it is) -> sRGB (H, W, 3) uint8."""
    auto = rgb_array(colorizer.colorize(photo))
    if reference_ab is None:
        return auto
    lab = rgb_to_lab(torch.from_numpy(auto.copy()).permute(2, 0, 1)[None].float() / 255)  # (1, 3, H, W)
    moved = palette_transfer(lab[:, 1:], pixel_bank(reference_ab))  # (1, 2, H, W)
    rgb = lab_to_rgb(torch.cat([lab[:, :1], moved], dim=1)).clamp(0, 1)
    return (rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def reference_ab(reference: np.ndarray, n: int = 4096, seed: int = 0) -> torch.Tensor:
    """A reference's a*b*: n of its pixels (fixed seed) -> (n, 2)."""
    rgb = torch.from_numpy(reference.copy()).permute(2, 0, 1).float() / 255
    return metrics.sample_ab(rgb, n, torch.Generator().manual_seed(seed))


@torch.inference_mode()
def reference_bank(colorizer: Colorizer, reference: np.ndarray) -> Bank:
    """A reference (H, W, 3) uint8 through the model's encoder as gray -> its bank (any model with an encoder)."""
    rgb = torch.from_numpy(match_input(reference, colorizer.net.config.style_size, None)).to(colorizer.device)
    return encode_bank(colorizer.net.semantic.features, rgb)


@torch.inference_mode()
def match(colorizer: Colorizer, photo: np.ndarray, bank: Bank | None) -> np.ndarray:
    """The photo (H, W, 3) uint8 coloured by untrained matching where it is confident and by the
    automatic decoder elsewhere (none: the automatic output) -> sRGB (H, W, 3) uint8."""
    if bank is None:
        return rgb_array(colorizer.colorize(photo))
    net = colorizer.net
    y, alpha = colorizer.prepare(photo)
    l = torch.from_numpy(colorizer.working_l(y)).to(colorizer.device)  # (1, 1, h, w)
    automatic = net(l)  # (1, 2, h, w) a*b*: the null style is the automatic decoder's
    ab, confidence = warp(match_keys(net.semantic.features(l)[1:]), bank, TEMPERATURE)
    up = lambda x: F.interpolate(x, size=l.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
    weight = matched(up(confidence), bank)
    out = automatic + weight * (up(ab) - automatic)
    ratio = chroma_ratio(net.to_linear_rgb(l, out)).float().cpu()[0]
    return rgb_array(recombine(y, ratio.numpy(), alpha))


def method(name: str, colorizer: Colorizer):
    """`transfer` or `match` on a model (with an encoder and the automatic decoder) -> the harness's Method."""
    if colorizer.net.semantic is None:
        raise ValueError(f"the {name} baseline needs a model with an encoder (its config has encoder: none)")
    if name == "transfer":
        return Method("transfer", lambda ref: None if ref is None else reference_ab(ref),
                      lambda photo, ref_ab: transfer(colorizer, photo, ref_ab))
    if name == "match":
        return Method("match", lambda ref: None if ref is None else reference_bank(colorizer, ref),
                      lambda photo, bank: match(colorizer, photo, bank))
    raise ValueError(f"unknown composition {name!r}; choose transfer or match")
