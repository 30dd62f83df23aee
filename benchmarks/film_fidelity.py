"""Film fidelity: what a restorer compares frame by frame, on a made clip through whole files.

    python benchmarks/film_fidelity.py --reference painting.jpg        # a palette made in code by default

The clip is made in code: a 2 px/frame pan over one photo, a hard cut to a still scene of another,
both gray and aged like film (per-frame exposure flicker, grain), an audio tone; H.264 yuv420p at 24
frames/s, with the colour metadata asked for (untagged by default, as most scans come). It is
coloured with `colorize_video` in video mode and per frame, and the shot after the cut on its own;
every output is decoded as a player would (its own tags) and compared with the decoded input:

- flicker share: mean |d a*b*| between pixels of consecutive frames that show the same spot (the
  motion is known), video mode over per-frame;
- after the cut: mean |d a*b*| over frames 1-5 of the new shot between the clip's output and the
  new shot coloured alone (video mode from its first frame);
- lightness: per frame, mean L* of the output minus the input's (the range over frames), and the
  worst frame's SSIM of L* (window 7, data range 100).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from skimage import data
from skimage.metrics import structural_similarity

from artcolor import Colorizer, palette_image
from artcolor.color.lab import rgb_to_lab
from artcolor.video.colour import EXACT_SWS
import torch

PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"]
KINDS = {  # name: (colorspace tag, range tag) as FFmpeg numbers them; 0 and 2 mean untagged
    "untagged": (2, 0), "bt601-limited": (6, 1), "bt709-limited": (1, 1), "bt601-full": (6, 2), "bt709-full": (1, 2)}


def aged(gray: np.ndarray, rng: np.random.Generator, grain: float = 10.0) -> np.ndarray:
    """A gray frame (H, W) float32 in [0, 255] with exposure flicker and film grain -> uint8."""
    f = gray * (1 + 0.06 * rng.standard_normal()) + 4 * rng.standard_normal()
    f += cv2.GaussianBlur(rng.normal(0, grain, gray.shape).astype(np.float32), (0, 0), 0.7)
    return np.clip(f, 0, 255).astype(np.uint8)


def film_frames(size=(640, 360), pan_frames: int = 24, still_frames: int = 24, photos=("astronaut", "coffee"),
                step: int = 2, seed: int = 0) -> tuple[list[np.ndarray], int]:
    """Gray aged frames (H, W) uint8 of a pan (`step` px a frame) and a still shot, and the cut's index."""
    w, h = size
    rng = np.random.default_rng(seed)
    first = cv2.cvtColor(getattr(data, photos[0])()[..., :3], cv2.COLOR_RGB2GRAY)
    first = cv2.resize(first, (w + step * pan_frames + 8, h + 8), interpolation=cv2.INTER_AREA).astype(np.float32)
    frames = [aged(first[4:4 + h, i * step:i * step + w], rng) for i in range(pan_frames)]
    second = cv2.cvtColor(getattr(data, photos[1])()[..., :3], cv2.COLOR_RGB2GRAY)
    second = cv2.resize(second, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    frames += [aged(second, rng) for _ in range(still_frames)]
    return frames, pan_frames


def write_gray_clip(path: Path, frames: list[np.ndarray], kind: str = "untagged", fps: int = 24,
                    audio: bool = True, crf: int = 12) -> None:
    """Gray frames -> an H.264 yuv420p clip whose luma codes are the frames' in the kind's range and
    tags (limited range: 16 + 219 v / 255), with a 440 Hz AAC tone as long as the video."""
    colorspace, colour_range = KINDS[kind]
    h, w = frames[0].shape
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "fast"})
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        ctx = video.codec_context
        ctx.colorspace, ctx.color_range = colorspace, colour_range
        if colorspace != 2:
            ctx.color_primaries = ctx.color_trc = colorspace
        sound = out.add_stream("aac", rate=8000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i, g in enumerate(frames):
            y = g if colour_range == 2 else (16 + g.astype(np.float32) * (219 / 255)).round().astype(np.uint8)
            planes = np.concatenate([y, np.full((h // 2, w), 128, np.uint8)])  # (H * 3 / 2, W): Y, then U and V
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.colorspace, frame.color_range, frame.pts = colorspace, colour_range, i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            _tone(out, sound, len(frames) / fps)


def _tone(out, sound, seconds: float) -> None:
    rate, size = sound.codec_context.sample_rate, sound.codec_context.frame_size or 1024
    wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)
    for start in range(0, len(wave) - size + 1, size):
        frame = av.AudioFrame.from_ndarray(wave[None, start:start + size].astype(np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


def decoded(path: Path, exact: bool = True) -> list[np.ndarray]:
    """A clip's frames (H, W, 3) uint8 sRGB, converted as its own tags say (what a player shows);
    `exact`: swscale with exact rounding and interpolated chroma, else its default fast path."""
    kwargs = {"interpolation": EXACT_SWS} if exact else {}
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24", **kwargs) for f in c.decode(video=0)]


def lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 sRGB -> (3, H, W) CIE Lab."""
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255).numpy()


def flicker(outs: list[np.ndarray], cut: int, step: int) -> float:
    """Mean |d a*b*| between consecutive frames at pixels that show the same spot: the pan moves the
    picture `step` px left a frame before the cut, the still shot not at all; the cut itself skipped."""
    total, count = 0.0, 0
    for t in range(1, len(outs)):
        if t == cut:
            continue
        a, b = lab(outs[t - 1])[1:], lab(outs[t])[1:]
        s = step if t < cut else 0
        d = np.sqrt(((b[:, :, :b.shape[2] - s] - a[:, :, s:]) ** 2).sum(0))
        total, count = total + d.sum(), count + d.size
    return total / count


def lightness(outs: list[np.ndarray], ins: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, mean L* of output minus input's, and the SSIM of their L* planes."""
    shifts, ssims = [], []
    for o, i in zip(outs, ins):
        lo, li = lab(o)[0], lab(i)[0]
        shifts.append(float(lo.mean() - li.mean()))
        ssims.append(structural_similarity(lo, li, data_range=100, win_size=7))
    return np.array(shifts), np.array(ssims)


def after_cut(outs: list[np.ndarray], alone: list[np.ndarray], cut: int, frames=range(1, 6)) -> float:
    """Mean |d a*b*| of frames cut+1..cut+5 between the clip's output and the shot coloured alone."""
    return float(np.mean([np.sqrt(((lab(outs[cut + k])[1:] - lab(alone[k])[1:]) ** 2).sum(0)).mean() for k in frames]))


def measure(colorizer: Colorizer, reference, kind: str = "untagged", size=(640, 360), ramp: int | None = None,
            **encode) -> dict:
    """The four figures (and the output's tags) for one made clip; `ramp`: the stabiliser's (None:
    its default); `encode`: colorize_video's crf, preset, tune."""
    from artcolor.video import ChromaStabilizer, colorize_video

    if ramp is not None:
        encode["stabilize"] = lambda: ChromaStabilizer(ramp=ramp)  # a fresh one per clip

    frames, cut = film_frames(size)
    style = colorizer.encode_style(reference)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_gray_clip(tmp / "clip.mp4", frames, kind)
        write_gray_clip(tmp / "alone.mp4", frames[cut:], kind)
        stabilizer = encode.pop("stabilize", lambda: True)
        colorize_video(tmp / "clip.mp4", tmp / "video.mp4", colorizer, style=style, stabilize=stabilizer(), **encode)
        colorize_video(tmp / "clip.mp4", tmp / "frame.mp4", colorizer, style=style, stabilize=False, **encode)
        colorize_video(tmp / "alone.mp4", tmp / "alone_out.mp4", colorizer, style=style, stabilize=stabilizer(),
                       **encode)
        ins, video, per_frame = decoded(tmp / "clip.mp4"), decoded(tmp / "video.mp4"), decoded(tmp / "frame.mp4")
        alone = decoded(tmp / "alone_out.mp4")
        fast_shifts, _ = lightness(decoded(tmp / "video.mp4", exact=False), decoded(tmp / "clip.mp4", exact=False))
        with av.open(str(tmp / "video.mp4")) as c:
            ctx = c.streams.video[0].codec_context
            tags = (int(ctx.colorspace), int(ctx.color_range))
    shifts, ssims = lightness(video, ins)
    return {"kind": kind + (f", ramp {ramp}" if ramp else ""), "flicker": flicker(video, cut, 2) / flicker(per_frame, cut, 2),
            "after_cut": after_cut(video, alone, cut), "after_cut_per_frame": after_cut(video, per_frame[cut:], cut),
            "shift": (shifts.min(), shifts.max()), "ssim": ssims.min(), "ssim_grain": ssims[:cut].min(),
            "tags": tags, "fast_shift": (fast_shifts.min(), fast_shifts.max())}


def print_table(rows: list[dict], label: str) -> None:
    print(f"| {label} | flicker share | after the cut, frames 1-5 (vs per-frame) | mean L* out - in, per frame "
          "| (swscale's fast path) | worst L* SSIM | output tags (matrix, range) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['kind']} | {r['flicker']:.0%} | {r['after_cut']:.2f} ({r['after_cut_per_frame']:.2f}) "
              f"| {r['shift'][0]:+.2f} to {r['shift'][1]:+.2f} | {r['fast_shift'][0]:+.2f} to {r['fast_shift'][1]:+.2f} "
              f"| {r['ssim']:.4f} | {r['tags'][0]}, {r['tags'][1]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--reference", default=None, help="reference image (default: a 5-colour palette made in code)")
    parser.add_argument("--kinds", default="untagged", help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--backend", default="torch", choices=["torch", "mixed", "onnxruntime"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ramps", default=None, help="comma-separated stabiliser ramps to compare (default: its own)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    colorizer = Colorizer.load(args.weights, device="cpu", backend=args.backend)
    reference = Image.open(args.reference).convert("RGB") if args.reference else palette_image(PALETTE)
    ramps = [int(r) for r in args.ramps.split(",")] if args.ramps else [None]
    rows = [measure(colorizer, reference, kind, ramp=ramp) for kind in args.kinds.split(",") for ramp in ramps]
    print_table(rows, f"{args.backend}, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
