"""Training objectives, kept out of the network: each takes predictions and targets and returns a
per-sample loss (B,), so the training recipe can weight samples by the reference they saw.

Also the pure functions that training shares with evaluation (which re-exports them from
`evaluation.metrics`): the sliced-Wasserstein projections of the palette loss, and colourfulness."""

from __future__ import annotations


import torch
import torch.nn.functional as F
from kornia.losses import ssim_loss

from ..color.lab import AB_SCALE
from ..color.statistics import projected_quantiles, projection_directions


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
