"""Spreading colour hints over what they are on (model/spread.py)."""

from __future__ import annotations

import pytest
import torch

from artcolor.model.spread import MAX_KEYS, spread_hints


def _two_halves(size: int = 64) -> list[torch.Tensor]:
    """Encoder-like features (strides 4, 8, 16) that see a left half and a different right half."""
    out = []
    for stride, c in ((4, 24), (8, 40), (16, 112)):
        f = torch.zeros(1, c, size // stride, size // stride)
        f[:, 0, :, : size // stride // 2], f[:, 1, :, size // stride // 2:] = 1.0, 1.0
        out.append(f)
    return out


def _hint(size: int, y: slice, x: slice, a: float, b: float) -> torch.Tensor:
    hints = torch.zeros(1, 3, size, size)
    hints[0, 0, y, x], hints[0, 1, y, x], hints[0, 2, y, x] = a, b, 1.0
    return hints


def test_a_hint_spreads_over_what_looks_like_it_and_not_beyond():
    ab, l = torch.zeros(1, 2, 64, 64), torch.full((1, 1, 64, 64), 50.0)
    out = spread_hints(ab, _hint(64, slice(28, 32), slice(4, 8), 30.0, -20.0), _two_halves(), l)
    left, right = out[0, :, :, :28], out[0, :, :, 44:]  # clear of the bilinear seam between the halves
    assert left[0].mean() > 20 and left[1].mean() < -13  # the left half takes most of the correction
    assert right.abs().max() < 0.5  # the right half looks different: it stays


def test_a_hint_the_prediction_already_meets_changes_nothing():
    ab, l = torch.randn(1, 2, 64, 64) * 10, torch.rand(1, 1, 64, 64) * 100
    hints = torch.zeros(1, 3, 64, 64)
    hints[0, :2, 8:12, 8:12], hints[0, 2, 8:12, 8:12] = ab[0, :, 8:12, 8:12], 1.0
    out = spread_hints(ab, hints, [torch.randn(1, 24, 16, 16), torch.randn(1, 40, 8, 8), torch.randn(1, 112, 4, 4)], l)
    assert torch.allclose(out, ab, atol=1e-4)


@pytest.mark.parametrize("size", [8, 128])  # fewer cells than MAX_KEYS; more hint cells than it
def test_spread_takes_any_number_of_cells(size):
    assert (size // 4) ** 2 < MAX_KEYS or (size // 4) ** 2 > MAX_KEYS
    ab, l = torch.zeros(1, 2, size, size), torch.full((1, 1, size, size), 50.0)
    features = [torch.ones(1, c, max(size // stride, 1), max(size // stride, 1)) for stride, c in ((4, 24), (8, 40), (16, 112))]
    out = spread_hints(ab, _hint(size, slice(None), slice(None), 10.0, 5.0), features, l)  # a scribble over everything
    assert torch.allclose(out[0, 0], torch.full((size, size), 10.0), rtol=0.05)
    assert torch.allclose(out[0, 1], torch.full((size, size), 5.0), rtol=0.05)
