"""Inference's fast paths (model/fastpaths.py): batch norms folded into their convs (the same outputs,
a cache that follows the weights, training and saved layouts untouched) and 2x2 max pooling."""

from __future__ import annotations

import torch
from torch import nn

from artcolor.model.efficientnet import ConvBN
from artcolor.model.fastpaths import ConvBNSequential, MaxPool2x2


def _with_statistics(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=g))
            bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
            bn.weight.data.copy_(torch.randn(bn.num_features, generator=g))
            bn.bias.data.copy_(torch.randn(bn.num_features, generator=g))
    return module.eval()


def test_a_folded_conv_bn_computes_the_two_passes_output():
    x = torch.randn(2, 8, 16, 20)
    for block in (ConvBN(8, 12, 3), ConvBN(8, 12, 3, stride=2), ConvBN(8, 8, 5, groups=8)):  # TF padding, odd and even
        block = _with_statistics(block)
        two_passes = block(x)  # gradients on: the batch norm as it is
        with torch.no_grad():
            one = block(x)
        assert block.bn._folded is not None
        torch.testing.assert_close(one, two_passes, atol=1e-5, rtol=1e-5)


def test_the_folded_weights_follow_a_change_of_the_batch_norm():
    block = _with_statistics(ConvBN(4, 6, 3))
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        before = block(x)
        block.bn.running_mean.add_(1.0)  # an in-place change (as an optimiser's or load_state_dict's)
        after = block(x)
    assert (after - before).abs().max() > 0.1
    torch.testing.assert_close(after, block.act(block.bn(block.conv(torch.nn.functional.pad(x, block.pad)))))


def test_training_sees_the_batch_norm_and_the_saved_layout_is_a_sequentials():
    layers = [nn.Conv2d(3, 5, 3, padding=1, bias=False), nn.BatchNorm2d(5), nn.ReLU()]
    folded = _with_statistics(ConvBNSequential(*layers))
    assert list(folded.state_dict()) == list(nn.Sequential(*layers).state_dict())
    x = torch.randn(2, 3, 6, 6)
    folded(x).sum().backward()  # gradients on: the batch norm's own parameters learn
    assert folded[1].weight.grad is not None and folded[1].weight.grad.abs().sum() > 0
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), nn.Sequential(*layers)(x), atol=1e-5, rtol=1e-5)


def test_max_pooling_at_inference_gives_max_pool2ds_values_nan_included():
    x = torch.randn(2, 3, 8, 12)
    x[0, 1, 2, 3] = float("nan")
    x[1, 2] = 0.0  # ties, as after a ReLU
    with torch.no_grad():
        fast = MaxPool2x2()(x)
    assert torch.equal(fast.isnan(), torch.nn.functional.max_pool2d(x, 2).isnan()) and fast.isnan().sum() == 1
    torch.testing.assert_close(fast, torch.nn.functional.max_pool2d(x, 2), equal_nan=True, atol=0, rtol=0)
    x.requires_grad_(True)
    MaxPool2x2()(x.nan_to_num()).sum().backward()  # training: one input of each window takes the gradient
    assert x.grad.sum() == 2 * 3 * 4 * 6
