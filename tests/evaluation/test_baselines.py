import numpy as np
import pytest
import torch
from PIL import Image

from artcolor.evaluation import baselines
from artcolor.color.lab import rgb_to_lab
from artcolor.evaluation import metrics
from artcolor.inputs.images import luminance_plane


def photo(h=64, w=80, seed=0):
    """A landscape whose colour follows its lightness: light smooth sky, textured green hills, dark soil."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None].repeat(w, 1)
    coarse = np.asarray(Image.fromarray(rng.random((h // 8 + 1, w // 8 + 1)).astype(np.float32), "F")
                        .resize((w, h), Image.BILINEAR))
    texture = 0.15 * coarse + 0.05 * rng.random((h, w))
    sky = np.array([0.55, 0.75, 0.95]) * (1 - 0.2 * y[..., None])
    hills = np.array([0.25, 0.5, 0.15]) * (0.8 + texture[..., None] * 2)
    soil = np.array([0.3, 0.18, 0.08]) * (0.7 + texture[..., None] * 2)
    band = np.where(y < 0.4, 0, np.where(y < 0.75, 1, 2))[..., None]
    rgb = np.where(band == 0, sky, np.where(band == 1, hills, soil))
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def reference(kind, h=48, w=48, seed=1):
    """A painting in warm (reds, oranges) or cool (blues, teals) colours, dark to light."""
    rng = np.random.default_rng(seed)
    light = np.linspace(0.15, 1.0, w)[None, :].repeat(h, 0) * (0.8 + 0.2 * rng.random((h, w)))
    tint = np.array([1.0, 0.45, 0.1]) if kind == "warm" else np.array([0.1, 0.55, 1.0])
    return (np.clip(light[..., None] * tint, 0, 1) * 255).astype(np.uint8)


def tensor(im):
    return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None].float() / 255


# ---- gray


def test_gray_is_gray_and_keeps_luminance():
    src = photo()
    out = baselines.gray(src)
    rgb = np.asarray(out)
    assert out.mode == "RGB" and out.size == (80, 64)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert metrics.colorfulness(tensor(out)).item() == 0
    y_in, y_out = luminance_plane(Image.fromarray(src)), luminance_plane(out)
    assert np.abs(y_in - y_out).max() < 0.01


def test_gray_keeps_transparency():
    rgba = np.dstack([photo(), np.full((64, 80), 128, np.uint8)])
    out = baselines.gray(rgba)
    assert out.mode == "RGBA" and (np.asarray(out)[..., 3] == 128).all()


# ---- Welsh et al.


@pytest.mark.parametrize("shape", [(37, 53), (53, 37), (301, 259)])
def test_welsh_output_has_the_input_size(shape):
    out = baselines.welsh(photo(*shape), reference("warm"))
    assert out.size == (shape[1], shape[0]) and out.mode == "RGB"


def test_welsh_keeps_lightness():
    src, ref = photo(), reference("warm")
    out = tensor(baselines.welsh(src, ref))
    l_kept = metrics.l_ssim(out, tensor(Image.fromarray(src))).item()
    assert l_kept > 0.99
    assert metrics.colorfulness(out).item() > 10  # and it did add colour


def test_welsh_takes_the_palette_of_its_reference():
    src = photo()
    g = torch.Generator().manual_seed(0)
    ab = {kind: metrics.sample_ab(tensor(Image.fromarray(reference(kind)))[0], 2048, g) for kind in ("warm", "cool")}
    for kind, other in (("warm", "cool"), ("cool", "warm")):
        out_ab = metrics.sample_ab(tensor(baselines.welsh(src, reference(kind)))[0], 2048, g)
        assert metrics.sliced_wasserstein_ab(out_ab, ab[kind]) < 0.5 * metrics.sliced_wasserstein_ab(out_ab, ab[other])


def test_welsh_is_deterministic_and_reuses_a_prepared_reference():
    src, ref = photo(), reference("cool")
    prepared = baselines.welsh_reference(ref)
    a, b = np.asarray(baselines.welsh(src, ref)), np.asarray(baselines.welsh(src, prepared))
    assert (a == b).all()


def test_welsh_self_reference_beats_gray():
    src = photo(seed=3)
    gt = tensor(Image.fromarray(src))
    assert metrics.psnr(tensor(baselines.welsh(src, src)), gt) > metrics.psnr(tensor(baselines.gray(src)), gt) + 2


def test_reference_samples_count_and_range():
    lab = rgb_to_lab(tensor(Image.fromarray(reference("warm", 60, 90)))[0])
    ref = baselines.reference_samples(lab, n_samples=200)
    assert 180 <= len(ref.l) <= 220 and ref.ab.shape == (len(ref.l), 2)
    assert (ref.l >= 0).all() and (ref.l <= 100).all() and (ref.std >= 0).all()


def test_local_std_matches_brute_force():
    l = torch.rand(9, 11, dtype=torch.float64) * 100
    padded = torch.nn.functional.pad(l[None, None], (2, 2, 2, 2), mode="reflect")[0, 0]
    brute = torch.stack([torch.stack([padded[i:i + 5, j:j + 5].std(unbiased=False) for j in range(11)])
                         for i in range(9)])
    assert torch.allclose(baselines.local_std(l), brute, atol=1e-6)
    assert baselines.local_std(torch.full((6, 6), 40.0)).abs().max() < 1e-3


def test_nearest_matches_brute_force():
    x, candidates = torch.randn(500), torch.randn(37)
    brute = (x[:, None] - candidates[None]).abs().argmin(1)
    assert (candidates[baselines.nearest(x, candidates)] == candidates[brute]).all()
    assert (baselines.nearest(x, torch.tensor([0.3])) == 0).all()


def test_jittered_grid_stays_inside_and_is_seeded():
    rows, cols = baselines.jittered_grid(30, 70, 200, torch.Generator().manual_seed(0))
    again, _ = baselines.jittered_grid(30, 70, 200, torch.Generator().manual_seed(0))
    assert (rows == again).all() and 180 <= len(rows) <= 220
    assert rows.min() >= 0 and rows.max() < 30 and cols.min() >= 0 and cols.max() < 70


# ---- make, as `artcolor colorize --method` uses it


def test_make_welsh_needs_a_reference():
    with pytest.raises(ValueError, match="reference"):
        baselines.make("welsh", [])


def test_make_rejects_unknown_methods():
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.make("sepia", [])


def test_make_welsh_uses_the_heaviest_reference():
    src, warm, cool = photo(), reference("warm"), reference("cool")
    picked = baselines.make("welsh", [warm, cool], style_weights=[0.2, 0.8])(src)
    assert (np.asarray(picked) == np.asarray(baselines.welsh(src, cool))).all()
    first = baselines.make("welsh", [warm, cool])(src)
    assert (np.asarray(first) == np.asarray(baselines.welsh(src, warm))).all()


def test_make_gray_reads_files(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(photo()).save(path)
    assert baselines.make("gray")(path).size == (80, 64)
