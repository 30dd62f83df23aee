"""The painting path: a reference's palette laid on the photo's objects, not on its pixels.

With a photo of the same scene the reference's colours are found where they belong (the warp of
`correspondence.py` leads). With a painting nothing matches, and a pixel-wise map of the output's
a*b* onto the painting's (the transport) lets one object take several of its colours: its pixels
differ a little in a*b*, and their ranks spread them over the painting's modes. So, where the
reference matches nothing, the colour starts from what the photo shows (the automatic decoder) and
is made coherent over objects before the transport:

1. objects by what the encoder sees: every place (stride 8) takes the mean colour of the places
   whose keys (the matching's ImageNet features) and lightness are like its own, by attention at a
   low temperature (`object_colours`): a sail, a sea, a face each become one colour;
2. borders by lightness: a guided filter (He et al. 2010) with L* as the guide fits the colour to
   the photo's edges at the working size, so an object's colour stops where its lightness changes;
3. the palette: the global monotone transport (`correspondence.palette_transfer`) gives the output
   the reference's distribution of a*b*; pixels of one colour take one rank, so an object coloured
   as one keeps one colour family.

`InferenceOptions.coherence` says how far steps 1-2 go (0: pixel by pixel, as before 2026-12-04).
All of it is matmuls, pools and a softmax: deterministic, and exported to ONNX with the network.
The constants were chosen on the training run's held-out photos and paintings (docs/experiments.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import InferenceOptions
from .correspondence import STRIDE, Bank, match_keys, matched, palette_transfer, present, unmatched
from .palette import AB_SCALE
from .spread import spread_hints

OBJECT_TEMPERATURE = 0.05  # softmax temperature over the keys' cosines: low, so a place averages its own kind
OBJECT_L_SIGMA = 15.0  # lightness reach (L*): a dark and a light thing of one kind stay apart
GUIDE_RADIUS = 8  # the guided filter's window, working pixels (17 x 17 at the working size's 128)
GUIDE_EPS = 1e-3  # its regularisation, on L* / 100: edges of about 3 L* and more are followed
LEAD, LEAD_SPREAD = 0.5, 0.05  # a match this similar leads: no coherence is imposed there (a photo of the scene)


def object_colours(ab: torch.Tensor, keys: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, h, w), keys (B, C, h, w) (unit length) and L* (B, 1, h, w) at the keys' stride ->
    each place's colour averaged over the places like it (B, 2, h, w)."""
    b, _, h, w = ab.shape
    query = keys.flatten(2).transpose(1, 2)  # (B, hw, C)
    lightness = l.flatten(2)  # (B, 1, hw)
    logits = query @ query.transpose(1, 2) / OBJECT_TEMPERATURE  # (B, hw, hw)
    logits = logits - (lightness.transpose(1, 2) - lightness) ** 2 / (2 * OBJECT_L_SIGMA ** 2)
    return (logits.softmax(dim=-1) @ ab.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(b, 2, h, w)


def box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """The mean over a (2 radius + 1)^2 window of each pixel (B, C, H, W), the window cut at the borders:
    a mean over rows, then over columns (a window's count is its rows' times its columns')."""
    size = 2 * radius + 1
    x = F.avg_pool2d(x, (size, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, size), stride=1, padding=(0, radius), count_include_pad=False)


def guided_filter(x: torch.Tensor, guide: torch.Tensor, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS) -> torch.Tensor:
    """x (B, C, H, W) made locally an affine function of `guide` (B, 1, H, W) (He et al. 2010): smooth
    where the guide is flat, following its edges where it is not. The fast form (He and Sun 2015): the
    affine coefficients fitted at half the size, where windows cost a quarter, upsampled, and applied
    to the full-size guide."""
    c, size = x.shape[1], x.shape[-2:]
    small_x, small_g = F.avg_pool2d(x, 2), F.avg_pool2d(guide, 2)
    r = max(1, radius // 2)
    means = box(torch.cat([small_g, small_x, small_g * small_x, small_g * small_g], dim=1), r)  # one pass for all
    mean_g, mean_x, mean_gx, mean_gg = means.split([1, c, c, 1], dim=1)
    a = (mean_gx - mean_g * mean_x) / (mean_gg - mean_g * mean_g + eps)
    ab = box(torch.cat([a, mean_x - a * mean_g], dim=1), r)
    mean_a, mean_b = F.interpolate(ab, size=size, mode="bilinear", align_corners=False).split([c, c], dim=1)
    return mean_a * guide + mean_b


def coherent(ab: torch.Tensor, keys: torch.Tensor, l: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """a*b* (B, 2, H, W) moved `weight` (B, 1, H, W) in [0, 1] of the way to its objects' colours
    (`object_colours` at the keys' stride) and then to the photo's lightness edges (`guided_filter`)."""
    objects = object_colours(F.avg_pool2d(ab, STRIDE), keys, F.avg_pool2d(l, STRIDE))
    ab = ab + weight * (F.interpolate(objects, size=ab.shape[-2:], mode="bilinear", align_corners=False) - ab)
    return ab + weight * (guided_filter(ab, l / 100) - ab)


def leads(confidence: torch.Tensor, bank: Bank) -> torch.Tensor:
    """Where the reference shows the same thing so surely that its warp leads (B, 1, H, W) in [0, 1]
    (a photo of the scene: 1 nearly everywhere; a painting: seldom)."""
    return matched(confidence, bank) * torch.sigmoid((confidence - LEAD) / LEAD_SPREAD)


def paint(net, l: torch.Tensor, style: torch.Tensor | None, hints: torch.Tensor | None = None,
          bank: Bank | None = None, options: torch.Tensor | None = None) -> torch.Tensor:
    """What the network colourises at inference: `ColorNet.forward`'s prediction, then, with a
    reference's `bank` to match, the mapping onto it. `options` (4,): `InferenceOptions.as_vector()` (None: the
    defaults). Returns what `forward` returns (a*b* (B, 2, H, W) for a Lab model)."""
    if style is None or bank is None or not net.config.correspondence or net.config.color_space != "lab":
        return net(l, style, hints, bank)  # automatic, or nothing to map onto
    net.check_inputs(l, style)
    if options is None:
        options = l.new_tensor(InferenceOptions().as_vector())
    coherence, transfer, transfer_matched, trust = options.to(l).unbind()  # config.OPTION_ORDER
    encoded = net.semantic.features(l)
    warped = net.match(l, encoded, bank)
    out = net.unet(l, style, hints, encoded, warped)
    ab, confidence = warped[0] * AB_SCALE, warped[1]
    found, given = matched(confidence, bank), present(bank, l)  # given 0: the empty bank, no mapping
    out = out + trust * found * (ab - out)  # where the photo found its counterpart, the warped colour itself
    if net.auto is not None:  # elsewhere, what the photo shows, its objects each in one colour
        out = out + given * (1 - found) * (net.auto(encoded, l) - out)
        out = coherent(out, match_keys(encoded[1:]), l, coherence * given * (1 - leads(confidence, bank)))
    share = unmatched(confidence, bank) + transfer_matched * found
    out = out + transfer * share * (palette_transfer(out, bank) - out)
    if hints is not None and net.auto is not None:  # a hint overrides its region, palette or not
        spread = spread_hints(out, hints, encoded, l)
        out = out + given * (spread + hints[:, 2:3] * (hints[:, :2] - spread) - out)
    return out
