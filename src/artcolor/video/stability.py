"""Temporal stability: the previous output's colour carried along optical flow into the next frame.

Colouring each frame alone flickers: grain, exposure flicker and small motions move the network's
prediction from frame to frame. Here, at the network's working size (the chroma ratio is low-res, so
this is cheap), each new prediction is blended with the previous output warped onto the new frame by
dense optical flow (OpenCV's DIS) on the gray frames, wherever that flow is trustworthy:

- forward-backward consistency (Sundaram et al. 2010, as in Ruder et al.'s video style transfer): a
  pixel followed to the previous frame and back must land where it started;
- the warped previous gray frame must look like the new one (after normalising each frame's
  exposure, so exposure flicker is not mistaken for occlusion);
- it must come from inside the previous frame.

Along a trusted trajectory the output is an exponential moving average of the predictions with
weight `carry` on the past; new content (occlusions, the border of a pan) takes the new prediction.
At a scene cut, found from the difference of the gray frames' histograms (`is_cut`, which the clip
colouriser runs before the network, so its shots are known there too) or from a flow that can
follow almost nothing, the stabiliser forgets the past: the new shot's first frame is its
prediction as it is, and the weight on the past grows back over the next `ramp` frames, so the first
frames of a shot are coloured almost as they would be alone rather than smeared from one noisy
first frame.
Blending chroma ratios (and scaling their chroma, see `_blend`) keeps the luminance of every pixel
exactly 1, so the lightness is untouched.
"""

from __future__ import annotations

import numpy as np

from ..color.srgb import Y_WEIGHTS

MATCH_DIRECTIONS = 4  # directions of the chroma plane per round of `ChromaStabilizer._redistribute`
MATCH_ROUNDS = 2  # rounds, each with the directions rotated
_PLANE = np.linalg.svd(np.asarray(Y_WEIGHTS, np.float64)[None])[2][1:].T  # (3, 2): orthonormal, luminance 0


def require_cv2():
    try:
        import cv2
    except ImportError as e:
        raise ImportError(f"video stabilisation needs OpenCV: pip install 'artcolor[video]' ({e})") from None
    return cv2


CUT_THRESHOLD = 0.3  # histogram distance above which a frame starts a new shot
CHANGE_THRESHOLD = 0.7  # change of the layout (`layout_change`) above which it does too


def is_cut(previous: np.ndarray, gray: np.ndarray, threshold: float = CUT_THRESHOLD,
           change: float = CHANGE_THRESHOLD) -> bool:
    """Whether gray frame `gray` (h, w) uint8 starts a new shot after `previous`.

    A cut changes what is in the frame, and where: either their histograms differ by more than
    `threshold` (`histogram_distance`) or their layouts by more than `change` (`layout_change`).
    Both are exposure-normalised, so flicker is no cut. On made grainy clips (96x64 to 640x360),
    cuts between photos: histograms 0.15-0.9, layouts 1.06-1.40; within a shot panning 2% of the
    frame a frame: 0.04-0.08 and 0.17-0.36. Frames of different sizes are always a cut.
    """
    if previous.shape != gray.shape:
        return True
    return histogram_distance(previous, gray) > threshold or layout_change(previous, gray) > change


def layout_change(gray_a: np.ndarray, gray_b: np.ndarray, size: tuple[int, int] = (16, 12)) -> float:
    """Mean absolute difference of two gray frames shrunk to `size` (w, h) and standardised (zero
    mean, unit spread): where the light and dark of the picture lie, without its grain or exposure.
    0 for one picture; about 1.1 for two unrelated ones."""
    import cv2

    a, b = (_standardise(cv2.resize(g, size, interpolation=cv2.INTER_AREA)) for g in (gray_a, gray_b))
    return float(np.abs(a - b).mean())


def histogram_distance(gray_a: np.ndarray, gray_b: np.ndarray, bins: int = 32) -> float:
    """Half the L1 distance between the histograms of two exposure-normalised gray frames, in [0, 1].

    Each frame is standardised (zero mean, unit spread) first, so a global exposure change or
    flicker moves it little; a cut to another scene moves it a lot.
    """
    hists = []
    for g in (gray_a, gray_b):
        z = _standardise(g)
        h, _ = np.histogram(np.clip(z, -3, 3), bins=bins, range=(-3, 3))
        hists.append(h / max(1, h.sum()))
    return 0.5 * float(np.abs(hists[0] - hists[1]).sum())


def _standardise(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.float32)
    return (g - g.mean()) / max(float(g.std()), 1.0)


class ChromaStabilizer:
    """Stabilises a sequence of chroma ratios, one frame at a time.

    >>> stabilise = ChromaStabilizer()
    >>> ratio_out = stabilise(gray, ratio)       # gray (h, w) uint8, ratio (3, h, w) float32

    `carry` in [0, 1): the weight of the warped past where the flow is trusted (0: per-frame
    colourisation). `cut_threshold`: the histogram distance above which a frame starts a new shot.
    `photometric_tolerance`: the largest difference, in standard deviations of the frame, between a
    pixel and its warped previous self that still counts as the same surface. `min_trusted`: the
    share of trusted pixels below which a frame is taken for a cut too (made cuts between photos:
    0 to 2%; between two random textures of one histogram: about 20%; within made shots: 56 to 99%).
    `keep_saturation`: blend the chroma's length apart from its direction (see `_blend`).
    `match_colours`: give each stabilised frame the distribution of colours of its own prediction (see
    `_redistribute`), so carrying the past smooths grain-born colour noise without narrowing the
    palette. `ramp`: after a cut, the weight on the past grows from carry / ramp to carry over this
    many frames (1: at once).

    `shot_starts` lists the frames (counted from 0) that started a shot: the first, each cut.
    """

    def __init__(self, carry: float = 0.8, cut_threshold: float = CUT_THRESHOLD, photometric_tolerance: float = 0.4,
                 min_trusted: float = 0.3, keep_saturation: bool = True, match_colours: bool = True, ramp: int = 6):
        if not 0 <= carry < 1:
            raise ValueError(f"carry must be in [0, 1), got {carry}")
        if not 0 < cut_threshold <= 1:
            raise ValueError(f"cut_threshold must be in (0, 1], got {cut_threshold}")
        if isinstance(ramp, bool) or not isinstance(ramp, int) or ramp < 1:
            raise ValueError(f"ramp must be a whole number of frames >= 1, got {ramp!r}")
        cv2 = require_cv2()
        self.cv2 = cv2
        self.carry, self.cut_threshold, self.photometric_tolerance = carry, cut_threshold, photometric_tolerance
        self.min_trusted, self.keep_saturation, self.match_colours = min_trusted, keep_saturation, match_colours
        self.ramp = ramp
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.cuts = 0  # scene cuts seen so far (the first frame not counted)
        self.trusted = []  # per frame, the share of pixels that took colour from the past
        self.shot_starts: list[int] = []
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame is colourised as it is (a new shot)."""
        self._gray: np.ndarray | None = None
        self._ratio: np.ndarray | None = None  # (h, w, 3) float32, the previous output
        self._in_shot = 0  # frames of the current shot so far

    def __call__(self, gray: np.ndarray, ratio: np.ndarray, new_shot: bool | None = None) -> np.ndarray:
        """gray (h, w) uint8 and the network's ratio (3, h, w) float32 -> the stabilised ratio (3, h, w).

        `new_shot`: whether the caller found a cut here (`is_cut`); None: look for one here.
        """
        ratio_hwc = np.ascontiguousarray(np.moveaxis(ratio, 0, -1), dtype=np.float32)
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        trusted = 0.0
        if new_shot and self._gray is not None:
            self.cuts += 1
            self.reset()
        if self._follows(gray, check_histograms=new_shot is None):
            weight, warped = self._carried(gray)
            trusted = float((weight > 0).mean())
            if trusted >= self.min_trusted:
                weight *= min(1.0, self._in_shot / self.ramp)
                blended = self._blend(warped, ratio_hwc, weight[..., None])
                ratio_hwc = self._redistribute(blended, ratio_hwc) if self.match_colours else blended
            else:  # almost nothing can be followed from the last frame: a cut the histograms missed
                self.cuts += 1
                self._in_shot = 0
        if self._in_shot == 0:
            self.shot_starts.append(len(self.trusted))
        self._in_shot += 1
        self.trusted.append(trusted)
        self._gray, self._ratio = gray, ratio_hwc
        return np.ascontiguousarray(np.moveaxis(ratio_hwc, -1, 0))

    def _blend(self, past: np.ndarray, new: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """past * weight + new * (1 - weight), each (h, w, 3), the chroma's length blended on its own.

        A ratio minus (1, 1, 1) is the pixel's chroma (gray is 0). Averaging chromas whose hue
        wavers shortens them, so the plain blend would fade the palette; with `keep_saturation`
        the blend's chroma is given the blended length of the two.
        """
        blend = past * weight + new * (1 - weight)
        if not self.keep_saturation:
            return blend
        length = lambda r: np.linalg.norm(r - 1, axis=-1, keepdims=True)  # noqa: E731
        target = length(past) * weight + length(new) * (1 - weight)
        return 1 + (blend - 1) * (target / np.maximum(length(blend), 1e-6))

    @staticmethod
    def _redistribute(blend: np.ndarray, new: np.ndarray) -> np.ndarray:
        """`blend` (h, w, 3) with its chroma moved so its colours are distributed as `new`'s are.

        Averaging over time also averages away the colour noise that grain puts into each
        prediction, so the frame's colours gather closer together than the palette's do. Sliced
        distribution transfer (Pitie et al. 2005) gives them back their spread and shape: along each
        of a few directions of the chroma plane (luminance 0), every pixel takes the value that
        `new` has at the pixel's own rank; each round rotates the directions. The map is monotone
        along each direction and global, so pixels keep their order and the frame its smoothness,
        and it moves only chroma, so the luminance stays 1.
        """
        chroma = (blend.reshape(-1, 3) - 1) @ _PLANE  # (N, 2)
        target = (new.reshape(-1, 3) - 1) @ _PLANE
        moved = chroma.copy()
        for r in range(MATCH_ROUNDS):
            for t in (np.arange(MATCH_DIRECTIONS) + r / (2 * MATCH_ROUNDS)) * np.pi / MATCH_DIRECTIONS:
                d = np.array([np.cos(t), np.sin(t)])
                along = moved @ d
                ranked = np.empty_like(along)
                ranked[np.argsort(along)] = np.sort(target @ d)
                moved += np.outer(ranked - along, d)
        return (blend + ((moved - chroma) @ _PLANE.T).reshape(blend.shape)).astype(np.float32)

    def _follows(self, gray: np.ndarray, check_histograms: bool = True) -> bool:
        """Whether this frame continues the last one's shot (False for the first frame and at cuts,
        where the shot starts again)."""
        if self._gray is None or self.carry == 0:
            self._in_shot = 0 if self._gray is None else self._in_shot
            return False
        if (check_histograms or self._gray.shape != gray.shape) and is_cut(self._gray, gray, self.cut_threshold):
            self.cuts += 1
            self._in_shot = 0
            return False
        return True

    def _carried(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weight (h, w) in [0, carry], previous output warped onto this frame (h, w, 3))."""
        cv2 = self.cv2
        h, w = gray.shape
        back = self.flow.calc(gray, self._gray, None)  # (h, w, 2): this frame -> previous frame
        fwd = self.flow.calc(self._gray, gray, None)   # previous frame -> this frame
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        map_x, map_y = xs + back[..., 0], ys + back[..., 1]

        def warp(a: np.ndarray) -> np.ndarray:
            return cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        # forward-backward consistency: back(x) + fwd(x + back(x)) ~ 0, with slack for long motions
        fwd_w = warp(fwd)
        mismatch = ((back + fwd_w) ** 2).sum(-1)
        consistent = mismatch <= 0.01 * ((back ** 2).sum(-1) + (fwd_w ** 2).sum(-1)) + 0.5
        inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        looks_same = np.abs(_standardise(gray) - warp(_standardise(self._gray))) < self.photometric_tolerance
        trust = (consistent & inside & looks_same).astype(np.float32)
        # soft edges, so a trusted region does not end in a hard seam of colour
        trust = np.minimum(trust, cv2.blur(trust, (5, 5)))
        return self.carry * trust, warp(self._ratio)
