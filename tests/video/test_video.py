"""Video: frame count, size, frame rate, duration and audio kept; flicker damped; bad files named.

Every clip is made here with PyAV (64x48, a few frames, AAC or Opus audio) from a shifting photo.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from artcolor.inputs.images import luminance_plane  # noqa: E402
from artcolor.video import ChromaStabilizer, VideoError, colorize_frames, colorize_video, style_code  # noqa: E402


def gray_frames(photo: Image.Image, n: int, size=(64, 48), shift: int = 2) -> list[np.ndarray]:
    """n gray frames (H, W) uint8: a window panning `shift` pixels per frame across the photo."""
    big = np.asarray(photo.convert("L").resize((size[0] + n * shift + 8, size[1] + 8)))
    return [big[4:4 + size[1], i * shift:i * shift + size[0]].copy() for i in range(n)]


def make_clip(path: Path, frames: list[np.ndarray], fps: int = 10, audio: bool = True) -> Path:
    """A clip from gray frames, with a 440 Hz tone (AAC; Opus in WebM) as long as the video."""
    webm = path.suffix == ".webm"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libvpx-vp9" if webm else "libx264", rate=fps)
        video.height, video.width = frames[0].shape
        video.pix_fmt = "yuv420p" if video.width % 2 == 0 and video.height % 2 == 0 else "yuv444p"
        if audio:
            sound = out.add_stream("libopus" if webm else "aac", rate=48000 if webm else 8000)
            sound.layout = "mono"
        for f in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.repeat(f[..., None], 3, -1), format="rgb24")))
        out.mux(video.encode(None))
        if audio:
            _tone(out, sound, len(frames) / fps)
    return path


def _tone(out, sound, seconds: float) -> None:
    rate, size = sound.codec_context.sample_rate, sound.codec_context.frame_size or 1024
    wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)
    for start in range(0, len(wave) - size + 1, size):
        chunk = wave[None, start:start + size]
        chunk = (chunk * 32767).astype(np.int16) if sound.format.name.startswith("s16") else chunk.astype(np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format=sound.format.name, layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


def probe(path: Path) -> dict:
    """What must survive: frame count, size, frame rate, duration, audio packets (bytes) and timestamps."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        audio = [(bytes(p), p.pts) for p in c.demux(*c.streams.audio) if p.size] if c.streams.audio else []
        c.seek(0)
        frames = list(c.decode(video=0))
        return {"frames": len(frames), "size": (v.codec_context.width, v.codec_context.height),
                "rate": v.average_rate, "duration": c.duration, "audio": audio,
                # sorted: FFmpeg guesses AVI's presentation times, out of order where B-frames are
                "codec": v.codec_context.name, "pts": sorted(f.time for f in frames)}


@pytest.fixture
def frames(astronaut) -> list[np.ndarray]:
    return gray_frames(astronaut, 10)


@pytest.fixture
def clip(tmp_path, frames) -> Path:
    return make_clip(tmp_path / "clip.mp4", frames)


# ---- the frame generator


def test_colorize_frames_gives_one_colour_frame_per_input_with_its_lightness(tiny_perturbed, frames, palettes):
    outs = list(colorize_frames(iter(frames), tiny_perturbed, style=palettes[0], batch_size=3))
    assert len(outs) == len(frames)
    for gray, rgb in zip(frames, outs):
        assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
        y_in, y_out = luminance_plane(Image.fromarray(gray)), luminance_plane(Image.fromarray(rgb))
        assert np.abs(y_in - y_out).mean() < 0.01
    spread = np.ptp(np.stack(outs).astype(int), axis=-1).mean()
    assert spread > 2, "the frames came out gray"


def test_one_style_code_for_the_whole_clip_given_or_encoded(tiny_perturbed, frames, palettes):
    code = style_code(tiny_perturbed, palettes[1])
    from_code = list(colorize_frames(frames, tiny_perturbed, style=code))
    from_image = list(colorize_frames(frames, tiny_perturbed, style=palettes[1]))
    other = list(colorize_frames(frames, tiny_perturbed, style=palettes[0]))
    assert all(np.array_equal(a, b) for a, b in zip(from_code, from_image))
    assert not np.array_equal(from_code[3], other[3])


def test_frames_of_different_sizes_are_refused(tiny, frames):
    mixed = frames[:2] + [np.zeros((40, 64), np.uint8)]
    with pytest.raises(ValueError, match="one size"):
        list(colorize_frames(mixed, tiny, batch_size=8))


def test_video_mode_flickers_less_than_per_frame_on_a_grainy_static_shot(tiny_perturbed, astronaut):
    rng = np.random.default_rng(0)
    still = gray_frames(astronaut, 1, size=(96, 64))[0].astype(np.float32)
    grainy = [np.clip(still * (1 + 0.05 * rng.standard_normal()) + rng.normal(0, 6, still.shape), 0, 255)
              .astype(np.uint8) for _ in range(8)]

    def flicker(outs):
        return np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(outs, outs[1:])])

    per_frame = flicker(list(colorize_frames(grainy, tiny_perturbed, stabilize=False)))
    video = flicker(list(colorize_frames(grainy, tiny_perturbed, stabilize=True)))
    assert video < per_frame


# ---- the stabiliser


def texture(seed: int, shape=(48, 64)) -> np.ndarray:
    g = np.random.default_rng(seed).integers(0, 255, (shape[0] // 4, shape[1] // 4)).astype(np.uint8)
    return np.asarray(Image.fromarray(g).resize(shape[::-1], Image.BICUBIC))


def test_stabiliser_damps_noisy_predictions_along_motion():
    rng = np.random.default_rng(0)
    big = texture(1, (48, 96))
    stabilise = ChromaStabilizer(carry=0.8)
    raw, out = [], []
    for t in range(12):
        gray = big[:, t:t + 64]
        ratio = (1 + 0.2 * rng.standard_normal((3, 48, 64))).astype(np.float32)
        raw.append(ratio)
        out.append(stabilise(gray, ratio))
    # consecutive frames compared where both show the same spot (the pan moves one pixel a frame)
    step = lambda seq: np.mean([np.abs(b[:, :, 8:-8] - a[:, :, 9:-7]).mean() for a, b in zip(seq, seq[1:])])  # noqa: E731
    assert step(out[4:]) < 0.5 * step(raw[4:])
    assert min(stabilise.trusted[1:]) > 0.5 and stabilise.cuts == 0


def _colourful(rng, shape, noise):
    """Chroma ratios (3, h, w) of luminance 1: a fixed pattern of colours plus per-frame noise."""
    from artcolor.color.lab import Y_WEIGHTS

    v = np.sin(np.arange(shape[1])[None, None] / 5 + np.array([0, 2, 4])[:, None, None]) * 0.4
    v = np.broadcast_to(v, (3, *shape)) + noise * rng.standard_normal((3, *shape))
    w = np.asarray(Y_WEIGHTS, np.float64)[:, None, None]
    return (1 + v - (w * v).sum(0)).astype(np.float32)


def test_stabiliser_keeps_the_distribution_of_colours_and_the_luminance():
    rng = np.random.default_rng(0)
    gray = texture(2, (48, 64))
    spread = lambda r: np.sqrt(((r - r.mean((1, 2), keepdims=True)) ** 2).sum(0).mean())  # noqa: E731
    outs = {}
    for keep in (True, False):
        stabilise, rng = ChromaStabilizer(match_colours=keep), np.random.default_rng(0)
        for _ in range(8):
            ratio = _colourful(rng, (48, 64), noise=0.3)
            out = stabilise(gray, ratio)
        outs[keep] = (spread(out) / spread(ratio), out)
        quantile_gap = max(np.abs(np.sort(out[c].ravel()) - np.sort(ratio[c].ravel())).mean() for c in range(3))
        outs[keep] += (quantile_gap / spread(ratio),)
    (kept, _, kept_gap), (narrowed, _, narrowed_gap) = outs[True], outs[False]
    assert narrowed < 0.95 and abs(kept - 1) < 1e-2  # averaging the noise narrowed the colours; kept: restored
    assert kept_gap < 0.2 * narrowed_gap  # and not just their spread: each channel's distribution
    from artcolor.color.lab import Y_WEIGHTS

    luminance = np.tensordot(np.asarray(Y_WEIGHTS), outs[True][1], axes=1)
    assert np.abs(luminance - 1).max() < 1e-4


def test_clip_matches_colours_with_a_reference_only(tiny, palettes):
    from artcolor.video.pipeline import ClipColorizer

    assert ClipColorizer(tiny, style=palettes[0]).stabilizer.match_colours
    assert not ClipColorizer(tiny).stabilizer.match_colours
    assert ClipColorizer(tiny, stabilize=False).stabilizer is None


def test_stabiliser_takes_the_new_prediction_at_a_cut(astronaut, coffee):
    stabilise = ChromaStabilizer()
    before, after = gray_frames(astronaut, 1)[0], gray_frames(coffee, 1)[0]
    for _ in range(4):
        stabilise(before, np.full((3, 48, 64), 2.0, np.float32))
    new = np.full((3, 48, 64), 0.5, np.float32)
    assert np.array_equal(stabilise(after, new), new)
    assert stabilise.cuts == 1


@pytest.mark.parametrize("kwargs", [{"carry": 1.0}, {"carry": -0.1}, {"cut_threshold": 0}])
def test_stabiliser_settings_are_checked(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ChromaStabilizer(**kwargs)


# ---- files: what must survive


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm", ".avi"])
def test_video_keeps_frames_size_rate_duration_and_audio(tmp_path, tiny_perturbed, frames, palettes, suffix):
    src = make_clip(tmp_path / f"clip{suffix}", frames)
    dst = colorize_video(src, tmp_path / "out" / f"clip{suffix}", tiny_perturbed, style=palettes[0])
    before, after = probe(src), probe(dst)
    for key in ("frames", "size", "rate", "pts"):
        assert after[key] == before[key], key
    assert [b for b, _ in after["audio"]] == [b for b, _ in before["audio"]] != []  # packet for packet
    if suffix != ".avi":  # AVI derives audio times and duration from where its chunks lie
        assert after["audio"] == before["audio"]
        assert after["duration"] == pytest.approx(before["duration"], abs=20_000)  # microseconds
    assert after["codec"] == ("vp9" if suffix == ".webm" else "h264")
    assert sorted(p.name for p in dst.parent.iterdir()) == [f"clip{suffix}"]  # no temporary file left


def test_odd_sized_clip_without_audio_keeps_its_size(tmp_path, tiny, astronaut):
    src = make_clip(tmp_path / "odd.mkv", gray_frames(astronaut, 4, size=(63, 47)), audio=False)
    after = probe(colorize_video(src, tmp_path / "out.mkv", tiny, codec="libx264", crf=30))
    assert after["size"] == (63, 47) and after["frames"] == 4 and after["audio"] == []


def test_colours_survive_the_encoder(tmp_path, tiny_perturbed, astronaut, palettes):
    # an odd size is encoded 4:4:4, so at crf 0 only the colour matrix and range could change colours
    clip = make_clip(tmp_path / "odd.mkv", gray_frames(astronaut, 5, size=(63, 47)), audio=False)
    expected = list(colorize_frames(gray_frames_of(clip), tiny_perturbed, style=palettes[0]))
    dst = colorize_video(clip, tmp_path / "out.mkv", tiny_perturbed, style=palettes[0], crf=0)
    decoded = gray_frames_of(dst)
    assert np.abs(np.stack(decoded).astype(int) - np.stack(expected)).mean() < 1.5


def gray_frames_of(path: Path) -> list[np.ndarray]:
    """A clip's decoded frames (H, W, 3) uint8."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


# ---- bad input


def _truncated(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    cut = path.with_name(f"cut_{path.name}")
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


EXPECTED_ERRORS = {"text": "not a video", "empty": "not a video", "truncated_mp4": "not a video|truncated|no frames",
                   "truncated_mkv": "truncated", "audio_only": "no video stream", "no_frames": "no frames"}


@pytest.mark.parametrize("case", sorted(EXPECTED_ERRORS))
def test_bad_videos_are_named_and_leave_nothing(tmp_path, tiny, frames, case):
    if case == "text":
        src = tmp_path / "notes.mp4"
        src.write_text("these are notes, not a film")
    elif case == "empty":
        src = tmp_path / "empty.mov"
        src.write_bytes(b"")
    elif case.startswith("truncated"):
        src = _truncated(make_clip(tmp_path / f"long.{case[-3:]}", frames * 3), 0.6)
    elif case == "audio_only":
        src = tmp_path / "sound.mp4"
        with av.open(str(src), "w") as out:
            sound = out.add_stream("aac", rate=8000)
            sound.layout = "mono"
            _tone(out, sound, 1.0)
    else:
        src = _no_frames(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(VideoError, match=re.escape(str(src))) as info:
        colorize_video(src, out / src.name, tiny)
    assert re.search(EXPECTED_ERRORS[case], str(info.value))
    assert list(out.iterdir()) == []


def _no_frames(tmp_path: Path) -> Path:
    """A Matroska file with a video stream (and audio) but not one frame."""
    path = tmp_path / "nothing.mkv"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=8000)
        sound.layout = "mono"
        _tone(out, sound, 0.5)
    return path


def test_missing_pyav_names_the_extra(monkeypatch, tmp_path, tiny, clip):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    with pytest.raises(ImportError, match=r"artcolor\[video\]"):
        colorize_video(clip, tmp_path / "out.mp4", tiny)


def test_unknown_codec_and_bad_crf_are_refused(tmp_path, tiny, clip):
    with pytest.raises(ValueError, match="nope"):
        colorize_video(clip, tmp_path / "a.mp4", tiny, codec="nope")
    with pytest.raises(ValueError, match="crf"):
        colorize_video(clip, tmp_path / "b.mp4", tiny, crf=99)
    with pytest.raises(ValueError, match="input itself"):
        colorize_video(clip, clip, tiny)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


# ---- the command line


def test_cli_round_trips_a_clip_with_its_audio(run_cli, tmp_path, clip, model_dir):
    code, stdout, stderr = run_cli("colorize", clip, "-o", tmp_path / "out", "--weights", model_dir,
                                   "--palette", "#e76f51,#2a9d8f", "--crf", "20")
    assert code == 0, stderr
    before, after = probe(clip), probe(tmp_path / "out" / "clip.mp4")
    assert (after["frames"], after["size"], after["rate"], after["audio"]) == \
        (before["frames"], before["size"], before["rate"], before["audio"])


def test_cli_folder_mixing_images_videos_and_a_broken_video(run_cli, tmp_path, frames, coffee, model_dir):
    folder = tmp_path / "in"
    (folder / "reels").mkdir(parents=True)
    make_clip(folder / "reels" / "a.mkv", frames)
    coffee.save(folder / "photo.jpg")
    (folder / "reels" / "broken.mp4").write_bytes(b"\x00" * 100)
    code, stdout, stderr = run_cli("colorize", folder, "-o", tmp_path / "out", "--weights", model_dir)
    assert code == 1
    assert "broken.mp4" in stderr and "2 colourised, 1 failed" in stdout
    made = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert made == ["photo.jpg", "reels/a.mkv"]
    assert probe(tmp_path / "out" / "reels" / "a.mkv")["frames"] == len(frames)


def test_cli_unusable_codec_is_a_usage_error(run_cli, tmp_path, clip, model_dir):
    code, _, stderr = run_cli("colorize", clip, "-o", tmp_path / "out", "--weights", model_dir, "--codec", "aac")
    assert code == 2 and "not a video encoder" in stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_videos_need_the_model_method(run_cli, tmp_path, clip):
    code, _, stderr = run_cli("colorize", clip, "-o", tmp_path / "out", "--method", "gray")
    assert code == 1 and "--method model" in stderr
