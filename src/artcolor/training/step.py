"""One training step's objective, shared by training and validation: the network with its reference
choice inside one forward (so DistributedDataParallel sees every parameter), and the recipe's loss."""

from __future__ import annotations

import torch
from torch import nn

from . import losses
from ..model import ColorNet
from .config import TrainConfig
from .recipe import NONE, OTHER


class StyledNet(nn.Module):
    """Reference and null-style choice inside one forward, so DistributedDataParallel sees every parameter."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, l, reference, use_null, hints=None):
        style = self.net.encode_style(reference)
        # samples without a reference train the U-Net under the null style, given as a code (no style,
        # None, would be automatic colourisation: the automatic decoder, where the model has one)
        style = torch.where(use_null[:, None], self.net.null_styles(l.shape[0]), style)
        bank = None
        if self.net.config.correspondence:  # nothing in the bank learns unless the encoder does
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.net.semantic.encoder.stem.conv.weight.requires_grad):
                bank = self.net.encode_reference(reference)
        return self.net(l, style, hints, bank)


def compute_loss(model: nn.Module, net: ColorNet, sample, cfg: TrainConfig, g: torch.Generator, lpips=None):
    """The recipe's loss for one sample batch -> (scalar loss, {name: float})."""
    out = model(sample.l, sample.reference, sample.mode == NONE, sample.hints)
    ab, rgb = net.to_ab(sample.l, out), net.to_rgb(sample.l, out)
    w = cfg.loss
    weight = torch.where(sample.mode == OTHER, w.other_reconstruction, 1.0)
    parts, reconstruction = {}, torch.zeros_like(weight)
    terms = {"huber_ab": (w.huber_ab, lambda: losses.huber_ab(ab, sample.target_lab[:, 1:])),
             "mse": (w.mse, lambda: losses.mse(rgb, sample.target_rgb)),
             "ssim": (w.ssim, lambda: losses.ssim(rgb, sample.target_rgb)),
             "lpips": (w.lpips, lambda: lpips(rgb, sample.target_rgb)),
             "feature": (w.feature, lambda: losses.feature_distance(net.semantic.encoder, rgb, sample.target_rgb))}
    for name, (scale, fn) in terms.items():
        if scale:
            value = fn()
            parts[name] = value.mean().item()
            reconstruction = reconstruction + scale * value
    loss = (weight * reconstruction).mean()
    other = sample.mode == OTHER
    if w.palette and other.any():
        pal = losses.palette(ab[other], sample.reference_ab[other], generator=g)
        parts["palette"] = pal.mean().item()
        loss = loss + w.palette * pal.sum() / len(other)
    none = sample.mode == NONE
    if w.coherence and other.any():
        coh = losses.coherence(ab[other], sample.target_lab[other, 1:])
        parts["coherence"] = coh.mean().item()
        loss = loss + w.coherence * coh.sum() / len(other)
    if w.auto_palette and none.any():
        pal = losses.palette(ab[none], sample.target_lab[none, 1:], generator=g)
        parts["auto_palette"] = pal.mean().item()
        loss = loss + w.auto_palette * pal.sum() / len(none)
    if w.hint and sample.hints is not None and sample.hints[:, 2].any():
        hint = losses.hint(ab, sample.hints)
        parts["hint"] = hint.mean().item()
        loss = loss + w.hint * hint.mean()
    parts["loss"] = loss.item()
    return loss, parts
