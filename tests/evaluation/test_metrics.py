import math

import numpy as np
import pytest
import torch

from artcolor.color.lab import rgb_to_lab
from artcolor.evaluation import metrics

skimage_color = pytest.importorskip("skimage.color")


def random_lab(n, generator):
    lo, span = torch.tensor([0.0, -110, -110]), torch.tensor([100.0, 220, 220])
    return (torch.rand(3, n, n, generator=generator, dtype=torch.float64) * span[:, None, None].double()
            + lo[:, None, None].double())


# ---- CIEDE2000


def test_ciede2000_matches_scikit_image():
    g = torch.Generator().manual_seed(0)
    lab1 = random_lab(40, g)
    lab2 = lab1 + 8 * torch.randn(lab1.shape, generator=g, dtype=torch.float64)
    lab2[1:, :5] = 0  # achromatic pixels take the formula's special cases
    lab2[:, 5:10] = lab1[:, 5:10]
    expected = skimage_color.deltaE_ciede2000(lab1.permute(1, 2, 0).numpy(), lab2.permute(1, 2, 0).numpy())
    assert np.abs(metrics.ciede2000(lab1, lab2).numpy() - expected).max() < 1e-3
    assert np.abs(metrics.ciede2000(lab1.float(), lab2.float()).numpy() - expected).max() < 1e-3


def test_ciede2000_on_sharma_test_pairs():
    # rows 1, 7, 17 and 25 of Sharma, Wu & Dalal's (2005) published test data
    lab1 = torch.tensor([[50, 2.6772, -79.7751], [50, 0, 0], [50, 2.5, 0], [60.2574, -34.0099, 36.2677]])
    lab2 = torch.tensor([[50, 0, -82.7485], [50, -1, 2], [73, 25, -18], [60.4626, -34.1751, 39.4387]])
    expected = torch.tensor([2.0425, 2.3669, 27.1492, 1.2644])
    got = metrics.ciede2000(lab1.T[:, :, None], lab2.T[:, :, None])[:, 0]
    assert torch.allclose(got, expected, atol=1e-4)


def test_ciede2000_of_identical_is_zero_and_shapes_are_checked():
    lab = random_lab(8, torch.Generator().manual_seed(1))
    assert metrics.ciede2000(lab[None], lab[None]).shape == (1, 8, 8)
    assert metrics.ciede2000(lab, lab).abs().max() < 1e-6
    with pytest.raises(ValueError, match="Lab"):
        metrics.ciede2000(lab, lab[:, :4])


# ---- PSNR, SSIM, lightness


def test_psnr_known_values():
    x = torch.rand(2, 3, 16, 16)
    assert torch.isinf(metrics.psnr(x, x)).all()
    y = torch.full((1, 3, 8, 8), 0.5)
    assert metrics.psnr(y + 0.1, y).item() == pytest.approx(20.0, abs=1e-3)


def test_ssim_is_one_for_identical_and_lower_for_noise():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(metrics.ssim(x, x), torch.ones(2))
    assert (metrics.ssim((x + 0.2 * torch.randn_like(x)).clamp(0, 1), x) < 0.9).all()


def test_l_ssim_ignores_colour_but_not_lightness():
    rgb = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    shifted = rgb[:, [1, 2, 0]]  # other hues, mostly other lightness too
    lab = rgb_to_lab(rgb)
    from artcolor.color.lab import lab_to_rgb

    recoloured = lab_to_rgb(torch.cat([lab[:, :1], lab[:, 1:] * 0.3], 1)).clamp(0, 1)
    assert metrics.l_ssim(recoloured, rgb).item() > 0.99
    assert metrics.l_ssim(shifted, rgb).item() < 0.9


def test_rgb_metrics_reject_wrong_shapes():
    with pytest.raises(ValueError, match="B, 3, H, W"):
        metrics.psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="differ"):
        metrics.psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


# ---- colourfulness


def test_colorfulness_of_gray_is_zero_and_of_red_is_known():
    gray = torch.rand(1, 1, 16, 16).expand(1, 3, 16, 16)
    assert metrics.colorfulness(gray).item() == pytest.approx(0.0, abs=1e-4)
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1
    assert metrics.colorfulness(red).item() == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-5)
    noisy = torch.rand(1, 3, 16, 16)
    assert metrics.colorfulness(noisy).item() > metrics.colorfulness(noisy * 0.5 + 0.25).item() > 0


# ---- palette distance


def test_swd_of_identical_is_zero_and_grows_with_shift():
    ab = 20 * torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    assert metrics.sliced_wasserstein_ab(ab, ab).item() < 1e-6
    shifts = [metrics.sliced_wasserstein_ab(ab, ab + torch.tensor([d, d])).item() for d in (1.0, 5.0, 20.0)]
    assert shifts[0] < shifts[1] < shifts[2]
    assert shifts[1] == pytest.approx(5 * math.sqrt(2) * 2 / math.pi, rel=0.01)


def test_swd_is_symmetric_handles_unequal_sizes_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 2, generator=g), torch.randn(200, 2, generator=g) + 3
    assert metrics.sliced_wasserstein_ab(a, b).item() == pytest.approx(metrics.sliced_wasserstein_ab(b, a).item())
    seeded = [metrics.sliced_wasserstein_ab(a, b, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert seeded[0] == seeded[1]
    with pytest.raises(ValueError, match="N, 2"):
        metrics.sliced_wasserstein_ab(a[:, :1], b)


def test_swd_is_differentiable():
    target = torch.randn(256, 2) * 10 + 30
    ab = torch.randn(256, 2, requires_grad=True)
    loss = metrics.sliced_wasserstein_ab(ab, target)
    loss.backward()
    assert ab.grad is not None and torch.isfinite(ab.grad).all() and ab.grad.abs().sum() > 0
    with torch.no_grad():
        ab -= 100 * ab.grad
    assert metrics.sliced_wasserstein_ab(ab, target) < loss


def test_pairwise_swd_matches_the_function():
    g = torch.Generator().manual_seed(0)
    sets = torch.randn(3, 500, 2, generator=g) * torch.tensor([1.0, 4.0, 9.0])[:, None, None]
    directions = metrics.projection_directions(64)
    q = metrics.projected_quantiles(sets, directions)
    table = metrics.pairwise_sliced_wasserstein(q, q)
    assert table.shape == (3, 3) and torch.allclose(table.diagonal(), torch.zeros(3))
    assert table[0, 2].item() == pytest.approx(metrics.sliced_wasserstein_ab(sets[0], sets[2]).item(), rel=1e-4)


def test_sample_ab_takes_distinct_pixels_when_it_can():
    rgb = torch.rand(3, 10, 10)
    ab = metrics.sample_ab(rgb, 100, torch.Generator().manual_seed(0))
    assert ab.shape == (100, 2) and len(torch.unique(ab, dim=0)) == 100
    assert metrics.sample_ab(rgb, 500).shape == (500, 2)


# ---- reference retrieval and sensitivity


def test_retrieval_accuracy_on_a_toy_case():
    dist = torch.tensor([[[0.0, 1, 2], [1, 0, 1], [2, 1, 0]],  # photo 0: every output nearest its own reference
                         [[0.0, 1, 2], [0, 1, 2], [0, 1, 2]]])  # photo 1: every output nearest reference 0
    assert metrics.retrieval_accuracy(dist) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="N, K, K"):
        metrics.retrieval_accuracy(dist[:, :2])


def test_reference_sensitivity_is_zero_when_ignored_and_one_when_copied():
    refs = torch.tensor([[0.0, 2, 4], [2, 0, 6], [4, 6, 0]])
    assert metrics.reference_sensitivity(torch.zeros(5, 3, 3), refs) == 0
    assert metrics.reference_sensitivity(refs.expand(5, 3, 3), refs) == pytest.approx(1.0)
    assert metrics.reference_sensitivity(refs.expand(5, 3, 3) / 2, refs) == pytest.approx(0.5)
