"""Film fidelity: the input's lightness, colour metadata and grain kept; cuts found and not smeared across.

Every clip is made here with PyAV from gray photos, aged like film (exposure flicker, grain), its
luma codes written straight into H.264 4:2:0 in the colour matrix and range under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from artcolor.color.lab import rgb_to_lab  # noqa: E402
from artcolor.inputs.images import luminance_plane  # noqa: E402
from artcolor.video import ChromaStabilizer, ClipColorizer, colorize_video, is_cut  # noqa: E402
from artcolor.video.colour import EXACT_SWS, ColourSpec, colour_spec, to_yuv  # noqa: E402

KINDS = {"bt601-limited": (6, 1), "bt709-limited": (1, 1), "bt601-full": (6, 2), "bt709-full": (1, 2),
         "untagged": (2, 0)}  # (FFmpeg's matrix tag, range tag)


def aged(photo: Image.Image, n: int, size=(96, 64), shift: int = 2, seed: int = 0) -> list[np.ndarray]:
    """n gray frames (H, W) uint8 panning `shift` px a frame over the photo, with exposure flicker and grain."""
    rng = np.random.default_rng(seed)
    big = np.asarray(photo.convert("L").resize((size[0] + n * shift + 8, size[1] + 8)), np.float32)
    frames = []
    for i in range(n):
        f = big[4:4 + size[1], i * shift:i * shift + size[0]] * (1 + 0.05 * rng.standard_normal())
        frames.append(np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], kind: str = "untagged", fps: int = 24) -> Path:
    """Gray frames -> H.264 yuv420p whose luma codes are the frames' in the kind's range, tagged as the kind."""
    colorspace, colour_range = KINDS[kind]
    h, w = frames[0].shape
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"crf": "10", "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.codec_context.colorspace, video.codec_context.color_range = colorspace, colour_range
        for i, g in enumerate(frames):
            y = g if colour_range == 2 else np.round(16 + g * (219 / 255)).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.concatenate([y, np.full((h // 2, w), 128, np.uint8)]),
                                               format="yuv420p")
            frame.colorspace, frame.color_range, frame.pts = colorspace, colour_range, i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def decoded(path: Path) -> tuple[list[np.ndarray], tuple[int, int]]:
    """A clip's frames (H, W, 3) uint8 as its tags say, converted exactly; and its (matrix, range) tags."""
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        return ([f.to_ndarray(format="rgb24", interpolation=EXACT_SWS) for f in c.decode(video=0)],
                (int(ctx.colorspace), int(ctx.color_range)))


def ys(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Gray frames -> their luminance planes (H, W) float32 in [0, 1], as a clip's frames are decoded."""
    return [luminance_plane(Image.fromarray(f)) for f in frames]


def lightness(rgb: np.ndarray) -> np.ndarray:
    """L* (H, W) of an sRGB frame."""
    import torch

    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)[0].numpy()


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return structural_similarity(a, b, data_range=100, win_size=7)


# ---- colour metadata and lightness


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_output_keeps_the_inputs_lightness_and_colour_tags(tmp_path, tiny_perturbed, astronaut, palettes, kind):
    src = write_clip(tmp_path / "clip.mp4", aged(astronaut, 6), kind)
    dst = colorize_video(src, tmp_path / "out.mp4", tiny_perturbed, style=palettes[0], crf=4)
    (ins, _), (outs, tags) = decoded(src), decoded(dst)
    assert np.ptp(np.stack(outs).astype(int), axis=-1).mean() > 3, "the frames came out gray"
    shifts = [lightness(o).mean() - lightness(i).mean() for o, i in zip(outs, ins)]
    assert np.abs(shifts).max() < 0.25, shifts
    matrix, colour_range = KINDS[kind]
    # an untagged SD input is read as decoders read it (BT.601, limited) and the output says so
    assert tags == ((6 if matrix == 2 else matrix), (1 if colour_range == 0 else colour_range))


def test_colour_spec_fills_what_the_stream_leaves_untagged():
    class Ctx:
        colorspace, color_range, color_primaries, color_trc, pix_fmt = 2, 0, 2, 2, "yuv420p"

    assert colour_spec(Ctx, 360) == ColourSpec(6, False, 6, 6)
    assert colour_spec(Ctx, 720) == ColourSpec(1, False, 1, 1)
    Ctx.pix_fmt, Ctx.color_primaries = "yuvj420p", 9
    assert colour_spec(Ctx, 720) == ColourSpec(1, True, 9, 1)
    Ctx.colorspace = 0  # RGB: no Y'CbCr matrix to keep
    assert colour_spec(Ctx, 480).matrix == 6


@pytest.mark.parametrize("spec", [ColourSpec(6, False, 6, 6), ColourSpec(1, True, 1, 1)])
def test_yuv_420_decodes_to_the_luminance_of_grainy_colour(spec):
    # a saturated orange whose lightness the grain moves pixel by pixel: 4:2:0 shares one chroma among
    # 2x2 of them, so the plain matrix decodes darker; the chosen luma codes must not
    rng = np.random.default_rng(0)
    rgb = (np.array([210, 110, 40], np.float32) * rng.uniform(0.4, 1.2, (64, 64, 1))).clip(0, 255).astype(np.uint8)
    target = luminance_plane(Image.fromarray(rgb))

    def decoded_luminance(planes):
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.colorspace, frame.color_range = spec.matrix, spec.color_range
        return luminance_plane(Image.fromarray(frame.to_ndarray(format="rgb24", interpolation=EXACT_SWS)))

    ours = decoded_luminance(to_yuv(rgb, target, spec, subsampled=True)) - target
    plain = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace=spec.sws_colorspace, dst_color_range=spec.color_range).to_ndarray()
    theirs = decoded_luminance(plain) - target
    assert abs(ours.mean()) < abs(theirs.mean()) / 4
    assert np.abs(ours).mean() < np.abs(theirs).mean()


def test_gray_pixels_keep_their_luma_codes():
    gray = np.random.default_rng(1).integers(0, 256, (8, 8), dtype=np.uint8)
    rgb = np.repeat(gray[..., None], 3, -1)
    planes = to_yuv(rgb, luminance_plane(Image.fromarray(rgb)), ColourSpec(1, False, 1, 1), subsampled=True)
    assert np.abs(planes[:8].astype(int) - np.round(16 + gray.astype(float) * 219 / 255)).max() <= 1
    assert (planes[8:] == 128).all()


# ---- grain


def test_grain_is_kept_and_the_tune_flag_trades_it(tmp_path, tiny_perturbed, astronaut, palettes):
    src = write_clip(tmp_path / "clip.mp4", aged(astronaut, 6, size=(128, 96)))
    ins, _ = decoded(src)
    worst = {}
    for tune in ("grain", "none"):
        outs, _ = decoded(colorize_video(src, tmp_path / f"{tune}.mp4", tiny_perturbed, style=palettes[0], tune=tune))
        worst[tune] = min(ssim(lightness(o), lightness(i)) for o, i in zip(outs, ins))
    assert worst["grain"] >= 0.95
    assert worst["grain"] > worst["none"]


@pytest.mark.parametrize("kwargs", [{"preset": "warp"}, {"tune": "film"}])
def test_encoder_settings_are_checked(tmp_path, tiny, astronaut, kwargs):
    src = write_clip(tmp_path / "clip.mp4", aged(astronaut, 2))
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        colorize_video(src, tmp_path / "out.mp4", tiny, **kwargs)
    assert not (tmp_path / "out.mp4").exists()


def test_cli_takes_preset_and_tune(run_cli, tmp_path, astronaut, model_dir):
    src = write_clip(tmp_path / "clip.mp4", aged(astronaut, 3))
    code, _, err = run_cli("colorize", src, "-o", tmp_path / "out", "--weights", model_dir,
                           "--preset", "ultrafast", "--tune", "none")
    assert code == 0, err
    assert decoded(tmp_path / "out" / "clip.mp4")[1] == (6, 1)
    code, _, err = run_cli("colorize", src, "-o", tmp_path / "out2", "--preset", "warp")
    assert code == 2 and "--preset" in err


# ---- cuts


def test_is_cut_finds_a_cut_and_not_exposure_flicker(astronaut, coffee):
    a, b = aged(astronaut, 2), aged(coffee, 1)
    assert is_cut(a[0], b[0])
    assert not is_cut(a[0], a[1])
    assert not is_cut(a[0], np.clip(a[0] * 1.3, 0, 255).astype(np.uint8))  # a brighter frame of one shot


def test_the_stabiliser_does_not_smear_across_a_cut(tiny_perturbed, astronaut, coffee, palettes):
    before, after = ys(aged(astronaut, 8)), ys(aged(coffee, 7, shift=0, seed=1))  # a pan, cut to a still shot

    def coloured(frames, **kwargs):  # in batches of 4, as a clip's frames come
        clip = ClipColorizer(tiny_perturbed, style=palettes[0], **kwargs)
        return clip, [r for i in range(0, len(frames), 4) for r in clip.ratios(frames[i:i + 4])]

    clip, outs = coloured(before + after)
    assert clip.shot_starts == [0, 8]
    assert clip.stabilizer.shot_starts == [0, 8]
    _, alone = coloured(after)
    # the new shot is coloured exactly as it is alone, from its first frame
    assert all(np.allclose(o, a, atol=1e-5) for o, a in zip(outs[8:], alone))
    # and its first frames close to colouring each frame by itself: the carry grows back over `ramp` frames
    per_frame = coloured(after, stabilize=False)[1]
    at_once = coloured(after, stabilize=ChromaStabilizer(ramp=1))[1]
    gap = lambda outs: np.mean([np.abs(o - p).mean() for o, p in zip(outs[1:6], per_frame[1:6])])  # noqa: E731
    assert gap(alone) < gap(at_once)


def test_shot_starts_without_a_stabiliser(tiny, astronaut, coffee):
    frames = ys(aged(astronaut, 3) + aged(coffee, 3))
    clip = ClipColorizer(tiny, stabilize=False)
    clip.ratios(frames[:4])
    clip.ratios(frames[4:])
    assert clip.shot_starts == [0, 3]
