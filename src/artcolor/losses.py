"""Training objectives, kept out of the network: each takes predictions and targets and returns a
per-sample loss (B,), so the training recipe can weight samples by the reference they saw.

Also the pure functions that training shares with evaluation (which re-exports them from
`evaluation.metrics`): the sliced-Wasserstein projections of the palette loss, and colourfulness."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from kornia.losses import ssim_loss

from .model import AB_SCALE


def huber_ab(ab_pred: torch.Tensor, ab_target: torch.Tensor, delta: float = 0.05) -> torch.Tensor:
    """Huber on ab / 110: (B, 2, H, W) x2 -> (B,)."""
    loss = F.huber_loss(ab_pred / AB_SCALE, ab_target / AB_SCALE, delta=delta, reduction="none")
    return loss.mean(dim=(1, 2, 3)) / delta


def mse(rgb_pred: torch.Tensor, rgb_target: torch.Tensor) -> torch.Tensor:
    """MSE on sRGB in [0, 1] (the report's loss): (B, 3, H, W) x2 -> (B,)."""
    return (rgb_pred - rgb_target).square().mean(dim=(1, 2, 3))


def ssim(rgb_pred: torch.Tensor, rgb_target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """1 - SSIM on sRGB, (B,): kornia's loss is (1 - SSIM) / 2 per pixel."""
    return 2 * ssim_loss(rgb_pred, rgb_target, window, reduction="none").mean(dim=(1, 2, 3))


def projection_directions(n_proj: int = 64, generator: torch.Generator | None = None,
                          like: torch.Tensor | None = None) -> torch.Tensor:
    """n_proj unit vectors (2, n_proj) at evenly spaced angles over a half turn.

    Evenly spaced angles vary less than random ones; a generator rotates them all by a random offset.
    """
    if n_proj < 1:
        raise ValueError(f"n_proj must be positive, got {n_proj}")
    offset = torch.rand(1, generator=generator).item() if generator is not None else 0.0
    theta = (torch.arange(n_proj, dtype=torch.float64) + offset) * (math.pi / n_proj)
    directions = torch.stack([theta.cos(), theta.sin()])
    return directions if like is None else directions.to(like)


def projected_quantiles(ab: torch.Tensor, directions: torch.Tensor, n_quantiles: int | None = None) -> torch.Tensor:
    """Sorted projections of ab (..., N, 2) on directions (2, P) -> (..., P, Q), Q = n_quantiles or N.

    With Q != N each projection is read at the quantiles (q + 0.5) / Q of its step distribution.
    """
    proj = (ab @ directions.to(ab)).transpose(-1, -2).sort(dim=-1).values  # (..., P, N)
    n = proj.shape[-1]
    if n_quantiles is None or n_quantiles == n:
        return proj
    idx = ((torch.arange(n_quantiles, device=ab.device) + 0.5) * n / n_quantiles).long().clamp(max=n - 1)
    return proj[..., idx]


def palette(ab_pred: torch.Tensor, ab_reference: torch.Tensor, n_points: int = 1024, n_proj: int = 64,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Palette loss: sliced Wasserstein between the ab distributions of output and reference, in
    units of 110; (B, 2, H, W), (B, 2, H', W') -> (B,). Pixels are subsampled to `n_points`."""
    directions = projection_directions(n_proj, generator, ab_pred)

    def quantiles(ab):
        flat = ab.flatten(2).transpose(1, 2) / AB_SCALE  # (B, HW, 2)
        idx = torch.randint(0, flat.shape[1], (n_points,), generator=generator).to(ab.device)
        return projected_quantiles(flat[:, idx], directions)  # (B, P, n_points)

    return (quantiles(ab_pred) - quantiles(ab_reference)).abs().mean(dim=(1, 2))


def coherence(ab_pred: torch.Tensor, ab_target: torch.Tensor, pool: int = 4, sigma: float = 6.0) -> torch.Tensor:
    """Colour that follows objects: differences of predicted a*b* between neighbours (at 1 / `pool` of
    the size, so a neighbourhood spans a few pixels), weighted by how alike the true a*b* are there
    (exp(-d^2 / 2 sigma^2), sigma in a*b* units). (B, 2, H, W) x2 -> (B,), in units of 110."""
    pred, target = F.avg_pool2d(ab_pred, pool) / AB_SCALE, F.avg_pool2d(ab_target, pool)
    total = 0
    for dim in (-1, -2):
        d_pred = pred.diff(dim=dim).norm(dim=1)
        alike = torch.exp(-target.diff(dim=dim).square().sum(dim=1) / (2 * sigma**2))
        total = total + (alike * d_pred).mean(dim=(1, 2))
    return total / 2


def hint(ab_pred: torch.Tensor, hints: torch.Tensor, delta: float = 0.05) -> torch.Tensor:
    """Huber on ab / 110 at the hints' pixels: (B, 2, H, W), hints (B, 3, H, W) a*, b*, mask -> (B,), 0 without hints."""
    mask = hints[:, 2:3]
    loss = F.huber_loss(ab_pred / AB_SCALE, hints[:, :2] / AB_SCALE, delta=delta, reduction="none") * mask
    return loss.sum(dim=(1, 2, 3)) / (2 * mask.sum(dim=(1, 2, 3))).clamp(min=1) / delta


def feature_distance(encoder, rgb_pred: torch.Tensor, rgb_target: torch.Tensor, stages: int = 2) -> torch.Tensor:
    """Distance between EfficientNet-Lite features of output and target sRGB (B, 3, H, W) -> (B,).

    LPIPS' recipe on another backbone: each feature map unit-normalised along its channels, squared
    differences averaged, one term per stage (strides 4 and 8 by default: texture and parts, the
    cheap stages). Gradients flow through the frozen encoder to the prediction.
    """
    with torch.no_grad():
        target = encoder.features(rgb_target, stages)
    total = 0
    for a, b in zip(encoder.features(rgb_pred.clamp(0, 1), stages), target):
        total = total + (F.normalize(a, dim=1) - F.normalize(b, dim=1)).square().sum(dim=1).mean(dim=(1, 2))
    return total / stages


class LPIPSUnavailable(RuntimeError):
    pass


def lpips_loss():
    """LPIPS needs a pretrained backbone (AlexNet/VGG) that cannot be downloaded here."""
    try:
        import lpips  # noqa: F401  (optional; pulls torchvision)

        model = lpips.LPIPS(net="alex", verbose=False)
    except Exception as e:  # any import or download failure means the same thing to the user
        raise LPIPSUnavailable(
            f"the LPIPS loss needs the optional `lpips` package and its pretrained AlexNet weights, "
            f"which could not be loaded ({type(e).__name__}: {e}); set loss.lpips=0"
        ) from None
    return lambda pred, target: model(pred * 2 - 1, target * 2 - 1).flatten()


# ---- not a loss: colourfulness, by which train-auto draws crops (evaluation reports it)


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk's (2003) colourfulness of sRGB (B, 3, H, W) in [0, 1], computed on 0-255 -> (B,).

    0 for a gray image; about 33 is "moderately", 59 "quite" and 82+ "highly" colourful.
    """
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected sRGB images of shape (B, 3, H, W), got {tuple(rgb.shape)}")
    r, g, b = (rgb.double() * 255).unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    std = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    mean = (rg.mean(dim=1).pow(2) + yb.mean(dim=1).pow(2)).sqrt()
    return (std + 0.3 * mean).to(rgb.dtype)
