"""Flicker, colour after cuts, lightness, palette and speed of video colourisation, per-frame vs video mode.

    python benchmarks/video_flicker.py                          # the bundled model
    python benchmarks/video_flicker.py --weights runs/x/model --threads 2 --carry 0.6,0.8,0.9

The clips are made in code from scikit-image's free photos (astronaut, coffee, chelsea, rocket): one
shot per photo, each a pan or a zoom of a window over the photo, joined by hard cuts, made gray and
aged like old film (per-frame exposure flicker and grain). Because the motion is made, the pixel of
frame t that each pixel of frame t+1 shows is known, and:

- flicker: mean |d a*b*| (Euclidean, Lab units) between corresponding pixels of consecutive output
  frames of a shot;
- after a cut: mean |d a*b*| between the video mode's and per-frame colourisation's k-th frame of
  each new shot (and in mid-shot, for scale: how far the two modes are apart anywhere);
- lightness: mean |d L*| between output and input frames;
- palette: sliced Wasserstein distance in a*b* between each output frame and the reference, averaged.

Speed: `colorize_video` end to end (decode, network, stabilisation, encode H.264) on made clips of
640x360 and 1280x720, frames per second, after a warm-up.

Fidelity (`film_fidelity.py`, beside this file): the film's four figures through whole files (a pan
and a cut to a still shot, grainy, untagged H.264 with audio): flicker share, colour after the cut,
mean L* against the input's per frame, worst L* SSIM.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from artcolor import Colorizer, palette_image  # noqa: E402
from artcolor.color import srgb  # noqa: E402
from artcolor.color.lab import Y_WEIGHTS, rgb_to_lab  # noqa: E402
from artcolor.color.srgb import SRGB8_TO_LINEAR, encode_linear16  # noqa: E402
from artcolor.evaluation.metrics import sample_ab, sliced_wasserstein_ab  # noqa: E402
from artcolor.video import ChromaStabilizer, colorize_frames, colorize_video  # noqa: E402
from film_fidelity import measure, print_table  # noqa: E402  (beside this file)

# (photo, motion): a pan moves the window across 30% of the photo's width, a zoom narrows it by a third
SHOTS = [("astronaut", "pan"), ("coffee", "zoom"), ("chelsea", "pan"), ("rocket", "zoom")]
REFERENCE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"]
RGB_TO_XYZ = np.array(srgb.RGB_TO_XYZ, np.float32)  # linear sRGB, D65 (the package's, as rgb_to_lab's)
WHITE = np.array(srgb.D65_WHITE, np.float32)


def affines(src_hw: tuple[int, int], out_hw: tuple[int, int], motion: str, n: int) -> list[np.ndarray]:
    """Per frame, the 2x3 map from output pixel (u, v, 1) to source pixel (x, y)."""
    (sh, sw), (h, w) = src_hw, out_hw
    base = 0.8 * min(sh / h, sw / w)  # source pixels per output pixel: the window is 80% of the photo
    maps = []
    for i in range(n):
        t = i / max(1, n - 1)
        s = base * (1 - t / 3) if motion == "zoom" else base * 0.75
        pan = t - 0.5 if motion == "pan" else 0.0
        cx, cy = sw / 2 + 0.3 * pan * sw, sh / 2 + 0.1 * pan * sh
        maps.append(np.array([[s, 0, cx - s * w / 2], [0, s, cy - s * h / 2]], np.float64))
    return maps


def make_clip(size: tuple[int, int], frames_per_shot: int, seed: int = 0):
    """Gray aged frames (H, W) uint8, their affines, and each frame's shot index."""
    w, h = size
    rng = np.random.default_rng(seed)
    frames, maps, shots = [], [], []
    for k, (name, motion) in enumerate(SHOTS):
        photo = getattr(data, name)()[..., :3]
        gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
        for a in affines(photo.shape[:2], (h, w), motion, frames_per_shot):
            f = cv2.warpAffine(gray, a, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
            f = f * (1 + 0.06 * rng.standard_normal()) + 4 * rng.standard_normal()  # exposure flicker
            f += cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 0.7)  # grain
            frames.append(np.clip(f, 0, 255).astype(np.uint8))
            maps.append(a)
            shots.append(k)
    return frames, maps, shots


def lab(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255)  # (3, H, W)


def ab_of(rgb: np.ndarray) -> np.ndarray:
    """a*, b* (H, W, 2) of an sRGB frame."""
    return lab(rgb)[1:].permute(1, 2, 0).numpy()


def ab_at_fixed_lightness(rgb: np.ndarray) -> np.ndarray:
    """a*, b* (H, W, 2) of each pixel's chromaticity moved to L* = 50: colour without its lightness.

    A fixed chromaticity under the input's exposure flicker and grain changes a*b* (they scale with
    lightness); this does not. Pixels darker than L* 15 (8-bit noise) are NaN.
    """
    lin = SRGB8_TO_LINEAR[rgb]
    xyz = lin @ RGB_TO_XYZ.T  # (H, W, 3)
    y = xyz[..., 1:2]
    f = np.cbrt(xyz / np.maximum(y, 1e-6) * 0.1842 / WHITE)  # at Y = 0.1842 (L* = 50) all are above CIE's knee
    ab = np.stack([500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1).astype(np.float32)
    ab[y[..., 0] < 0.02] = np.nan
    return ab


def flicker(outs: list[np.ndarray], maps: list[np.ndarray], shots: list[int], feature=ab_of) -> float:
    """Mean |d a*b*| between each pixel of frame t+1 and the point of frame t showing the same spot."""
    h, w = outs[0].shape[:2]
    us, vs = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    total, count = 0.0, 0
    ab_prev = feature(outs[0])
    for t in range(1, len(outs)):
        ab = feature(outs[t])
        if shots[t] == shots[t - 1]:
            a0, a1 = maps[t - 1], maps[t]
            x, y = a1[0, 0] * us + a1[0, 2], a1[1, 1] * vs + a1[1, 2]  # source position of each pixel of t
            u0, v0 = (x - a0[0, 2]) / a0[0, 0], (y - a0[1, 2]) / a0[1, 1]  # the same spot in frame t-1
            warped = cv2.remap(ab_prev, u0.astype(np.float32), v0.astype(np.float32), cv2.INTER_LINEAR)
            valid = (u0 >= 0) & (u0 <= w - 1) & (v0 >= 0) & (v0 <= h - 1)
            d = np.sqrt(((ab - warped) ** 2).sum(-1))[valid]
            d = d[np.isfinite(d)]
            total, count = total + d.sum(), count + d.size
        ab_prev = ab
    return total / count


def true_colour_frames(frames: list[np.ndarray], maps: list[np.ndarray], shots: list[int]) -> list[np.ndarray]:
    """The photos' own colours moved with the made motion over the aged lightness: chromaticity
    perfectly stable, so their flicker is what the input's lightness flicker alone gives."""
    outs = []
    for f, a, s in zip(frames, maps, shots):
        lin = SRGB8_TO_LINEAR[getattr(data, SHOTS[s][0])()[..., :3]]
        ratio = (lin + 1e-3) / (lin @ np.float32(Y_WEIGHTS) + 1e-3)[..., None]
        ratio = cv2.warpAffine(ratio, a, f.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
        outs.append(encode_linear16(ratio * SRGB8_TO_LINEAR[f][..., None]))
    return outs


def mode_gap(video: list[np.ndarray], per_frame: list[np.ndarray], shots: list[int], k: int | None,
             whole_frame: bool = False) -> float:
    """Mean |d a*b*| between the two modes' k-th frame of every shot after the first (None: mid-shot),
    pixel by pixel, or between the frames' mean a*b* (`whole_frame`: the shot's colour cast)."""
    gaps = []
    for shot in sorted(set(shots))[1:]:
        idx = [i for i, s in enumerate(shots) if s == shot]
        i = idx[len(idx) // 2] if k is None else idx[k]
        d = lab(video[i])[1:] - lab(per_frame[i])[1:]  # (2, H, W)
        gaps.append(float(d.mean((1, 2)).norm() if whole_frame else d.norm(dim=0).mean()))
    return float(np.mean(gaps))


def lightness_error(outs: list[np.ndarray], frames: list[np.ndarray]) -> float:
    return float(np.mean([(lab(o)[0] - lab(np.repeat(f[..., None], 3, -1))[0]).abs().mean() for o, f in zip(outs, frames)]))


def palette_distance(outs: list[np.ndarray], reference) -> float:
    """Mean over frames of the sliced Wasserstein distance between a frame's a*b* and the reference's."""
    g = torch.Generator().manual_seed(0)
    as_tensor = lambda im: torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255  # noqa: E731
    ref = sample_ab(as_tensor(reference.convert("RGB")), 4096, g)
    return float(np.mean([float(sliced_wasserstein_ab(sample_ab(as_tensor(o), 4096, g), ref)) for o in outs]))


def quality(colorizer: Colorizer, frames, maps, shots, style, carries: list[float]) -> None:
    per_frame = list(colorize_frames(frames, colorizer, style=style, stabilize=False))
    rows = [("per-frame", per_frame, None)]
    for carry, match in [(c, True) for c in carries] + [(carries[-1], False)]:
        stabilizer = ChromaStabilizer(carry=carry, match_colours=match)
        name = f"video, carry {carry}" + ("" if match else ", colours not matched")
        rows.append((name, list(colorize_frames(frames, colorizer, style=style, stabilize=stabilizer)), stabilizer))
    base = flicker(per_frame, maps, shots)
    print("| mode | flicker: mean abs d a\\*b\\* | at fixed lightness | abs d L\\* | palette SWD | cuts found |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, outs, stab in rows:
        f = flicker(outs, maps, shots)
        pal = f"{palette_distance(outs, style):.2f}" if style is not None else "n/a"
        cuts = f"{stab.cuts} of {len(SHOTS) - 1}" if stab else "n/a"
        print(f"| {name} | {f:.2f} ({f / base:.0%}) | {flicker(outs, maps, shots, ab_at_fixed_lightness):.2f} "
              f"| {lightness_error(outs, frames):.2f} | {pal} | {cuts} |")
    print()
    print("| mode | after a cut, frame 0 / 1 / 2 / 4 vs per-frame, per pixel | mid-shot, per pixel "
          "| frame 0 / 1 / 2 / 4, mean colour | mid-shot, mean colour |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, outs, _ in rows[1:]:
        cells = []
        for whole in (False, True):
            cells.append(" / ".join(f"{mode_gap(outs, per_frame, shots, k, whole):.2f}" for k in (0, 1, 2, 4)))
            cells.append(f"{mode_gap(outs, per_frame, shots, None, whole):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 24) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape
        stream.pix_fmt = "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="gray")))
        out.mux(stream.encode(None))


def speed(colorizer: Colorizer, size: tuple[int, int], n: int, stabilize: bool, preset: str | None = None) -> float:
    frames, _, _ = make_clip(size, max(2, n // len(SHOTS)))
    encode = {"preset": preset} if preset else {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "clip.mp4"
        write_clip(src, frames)
        style = colorizer.encode_style(palette_image(REFERENCE))
        colorize_video(src, Path(tmp) / "warm.mp4", colorizer, style=style, stabilize=stabilize, **encode)  # warm-up
        start = time.perf_counter()
        colorize_video(src, Path(tmp) / "out.mp4", colorizer, style=style, stabilize=stabilize, **encode)
        return len(frames) / (time.perf_counter() - start)


def quality_tables(colorizer: Colorizer, args) -> None:
    carries = [float(c) for c in args.carry.split(",")]
    frames, maps, shots = make_clip((640, 360), args.frames_per_shot)
    print(f"clip: {len(SHOTS)} shots x {args.frames_per_shot} frames, 640x360, {args.threads} threads\n")
    ideal = true_colour_frames(frames, maps, shots)
    print(f"the photos' own colours, stable by construction: flicker {flicker(ideal, maps, shots):.2f}, "
          f"at fixed lightness {flicker(ideal, maps, shots, ab_at_fixed_lightness):.2f}\n")
    for label, style in (("palette reference", palette_image(REFERENCE)), ("automatic", None)):
        print(f"**{label}**\n")
        quality(colorizer, frames, maps, shots, style, carries)
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames-per-shot", type=int, default=24)
    parser.add_argument("--speed-frames", type=int, default=96)
    parser.add_argument("--carry", default="0.8", help="comma-separated stabiliser carries to measure")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--backend", default="torch", choices=["torch", "mixed", "onnxruntime"],
                        help="what runs the network (the CLI's --backend auto takes mixed for a film with a reference)")
    parser.add_argument("--speed-only", action="store_true", help="the frames/s table alone")
    parser.add_argument("--reference", default=None, help="fidelity: a reference image (default: the palette)")
    parser.add_argument("--preset", default=None, help="speed: x264's preset (default: colorize_video's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    colorizer = Colorizer.load(args.weights, device="cpu", backend=args.backend)
    if not args.speed_only:
        quality_tables(colorizer, args)
        reference = Image.open(args.reference).convert("RGB") if args.reference else palette_image(REFERENCE)
        print_table([measure(colorizer, reference)], f"film fidelity, {args.backend}")
        print()
    if args.skip_speed:
        return
    print(f"| frames/s (colorize_video end to end, {args.backend}, load {os.getloadavg()[0]:.1f}) | 640x360 | 1280x720 |"
          "\n| --- | ---: | ---: |")
    for stabilize in (False, True):
        fps = [speed(colorizer, size, args.speed_frames, stabilize, args.preset) for size in ((640, 360), (1280, 720))]
        print(f"| {'video mode' if stabilize else 'per-frame'} | {fps[0]:.1f} | {fps[1]:.1f} |")


if __name__ == "__main__":
    main()
