"""Reading and writing video files with PyAV (FFmpeg's libraries, shipped in its wheel).

A `VideoReader` turns a file into a stream of items in file order: decoded frames as full-resolution
luminance planes Y (H, W) float32 in [0, 1] with their timestamps, and the audio packets untouched.
A `VideoWriter` encodes colour frames (H, W, 3) uint8 with those timestamps and muxes the audio
packets as they came (no re-encoding), so frame count, frame rate, duration and audio are the input's.
Both convert between Y'CbCr and RGB in the input's colour metadata (`colour.ColourSpec`), and the
output is tagged with it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image

from ..color import kernels
from ..inputs.images import VIDEO_SUFFIXES, ImageError, luminance_plane
from .colour import ColourSpec, colour_spec, frame_luminance, to_yuv

# the output keeps the input's container, so its audio can be copied as it is
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}
_DEFAULT_CODECS = {"webm": "libvpx-vp9"}  # WebM holds only VP8/VP9/AV1; H.264 everywhere else
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libsvtav1"}
# x264's and x265's speed presets, fastest first. The default: with grain tuning, veryfast kept the
# grain of made 1280x720 film (worst frame's L* SSIM 0.967 against 0.938 with faster untuned, at CRF
# 18) and encoded faster (48 frames/s against 35, 2 cores), into files 1.7 times as large
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
X26X_PRESET = "veryfast"
# tunings: "grain" keeps film grain (x264 and x265: psychovisual settings and no deblocking that
# smooth it); "none" is the encoder's own, smaller files with the grain smoothed
TUNES = ("grain", "none")
EXTRA = "pip install 'artcolor[video]'"


class VideoError(ImageError):
    """A video that cannot be used; the message names the file and says why."""


def is_video(path: str | Path) -> bool:
    """Whether `path` names a video by its suffix (one of `VIDEO_SUFFIXES`, any case); the file is not opened."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def require_av():
    """The `av` module, or an ImportError that names the extra to install."""
    try:
        import av
    except ImportError as e:
        raise ImportError(f"video needs PyAV: {EXTRA} ({e})") from None
    return av


class Frame(NamedTuple):
    """One decoded frame: luminance (H, W) float32 in [0, 1], its pts and duration in the stream's time base."""

    y: np.ndarray
    pts: int
    duration: int


class VideoReader:
    """An input video: its first video stream decoded, its audio streams passed on as packets."""

    def __init__(self, path: str | Path):
        av = require_av()
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        try:
            self.container = av.open(str(self.path), "r")
        except (av.FFmpegError, OSError, ValueError) as e:
            raise VideoError(f"{self.path}: not a video, or a format that cannot be read ({_reason(e)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path}: no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"  # frame-threaded decoding
        self.audio = list(self.container.streams.audio)
        self.width, self.height = self.video.codec_context.width, self.video.codec_context.height
        if self.width < 1 or self.height < 1:
            self.close()
            raise VideoError(f"{self.path}: video stream of size {self.width}x{self.height}")
        self.rate: Fraction = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        self.time_base: Fraction = self.video.time_base or 1 / self.rate
        self.declared_frames = int(self.video.frames or 0)  # 0 where the container does not say
        # AVI stores no presentation times (FFmpeg guesses them, out of order with B-frames): its
        # frames are evenly spaced, in the order the decoder gives them
        self.evenly_spaced = self.container.format.name == "avi"
        self.colour: ColourSpec = colour_spec(self.video.codec_context, self.height)
        self.decoded = 0

    @property
    def frame_count(self) -> int | None:
        """The number of frames, as declared or estimated from the duration (None if unknown)."""
        if self.declared_frames:
            return self.declared_frames
        seconds = self.video.duration * self.time_base if self.video.duration else None
        if seconds is None and self.container.duration:
            seconds = self.container.duration / 1_000_000
        return max(1, round(seconds * self.rate)) if seconds else None

    def items(self) -> Iterator[Frame | object]:
        """Frames and audio packets in file order; raises VideoError on damaged or empty streams."""
        av = require_av()
        first_pts, last_pts, end_pts = None, -1, 0
        frame_step = max(1, round(1 / (self.rate * self.time_base)))
        try:
            for packet in self.container.demux([self.video, *self.audio]):
                if packet.stream.index != self.video.index:
                    if packet.dts is not None:  # the demuxer's end-of-stream packets carry nothing
                        yield packet
                    continue
                for frame in packet.decode():
                    # players need strictly increasing timestamps; broken files get the next free one
                    if self.evenly_spaced or frame.pts is None:
                        pts = self.decoded * frame_step if self.evenly_spaced else last_pts + frame_step
                    else:
                        pts = max(frame.pts, last_pts + 1)
                    duration = int(frame.duration or frame_step)
                    first_pts = pts if first_pts is None else first_pts
                    last_pts, end_pts = pts, pts + duration
                    self.decoded += 1
                    yield Frame(frame_luminance(frame, self.colour), pts, duration)
        except (av.FFmpegError, OSError, ValueError) as e:
            raise VideoError(f"{self.path}: cannot decode frame {self.decoded + 1} ({_reason(e)})") from None
        self._check_complete(float((end_pts - (first_pts or 0)) * self.time_base))

    def _check_complete(self, decoded_seconds: float) -> None:
        if self.decoded == 0:
            raise VideoError(f"{self.path}: the video stream holds no frames (empty, or cut short)")
        # a file cut short still opens and decodes up to the cut; its header says how long it was
        if self.declared_frames and self.decoded < self.declared_frames - 1:
            raise VideoError(f"{self.path}: truncated: {self.decoded} of {self.declared_frames} frames decoded")
        declared = self._declared_seconds()
        if declared and decoded_seconds < declared - 1.5 / float(self.rate):
            raise VideoError(f"{self.path}: truncated: its frames last {decoded_seconds:.2f} s of the "
                             f"{declared:.2f} s its header declares")

    def _declared_seconds(self) -> float | None:
        """The video stream's duration as the file's header gives it, if it does."""
        if self.video.duration:
            return float(self.video.duration * self.time_base)
        tag = self.video.metadata.get("DURATION")  # Matroska and WebM, per stream: "00:00:03.000000000"
        if tag:
            try:
                h, m, sec = tag.split(":")
                return int(h) * 3600 + int(m) * 60 + float(sec)
            except ValueError:
                pass
        # the whole file's duration is the video's only when nothing else is in it
        if self.container.duration and not self.audio and len(self.container.streams) == 1:
            return self.container.duration / 1_000_000
        return None

    def close(self) -> None:
        self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


class VideoWriter:
    """An output video with the reader's size, timestamps and audio; written to a binary file object."""

    def __init__(self, file: BinaryIO, suffix: str, reader: VideoReader, codec: str | None = None, crf: int = 18,
                 preset: str = X26X_PRESET, tune: str = "grain"):
        av = require_av()
        fmt = _muxer(suffix)
        if not 0 <= crf <= 63:
            raise ValueError(f"crf must be in 0..63, got {crf}")
        if preset not in X26X_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(X26X_PRESETS)}, got {preset!r}")
        if tune not in TUNES:
            raise ValueError(f"tune must be one of {', '.join(TUNES)}, got {tune!r}")
        codec = codec or _DEFAULT_CODECS.get(fmt, "libx264")
        self.av, self.colour = av, reader.colour
        self.container = av.open(file, "w", format=fmt)
        try:
            self.video = self._add_video(codec, reader, crf, preset, tune)
            self.audio = {s.index: self.container.add_stream_from_template(s) for s in reader.audio}
        except BaseException:
            self.container.close()
            raise
        self.time_base = reader.time_base
        self.written = 0

    def _add_video(self, codec: str, reader: VideoReader, crf: int, preset: str, tune: str):
        encoder = _encoder(self.av, codec, self.container)
        stream = self.container.add_stream(encoder.name, rate=reader.rate)
        stream.width, stream.height = reader.width, reader.height
        stream.pix_fmt = _pixel_format(encoder, reader.width, reader.height)
        stream.codec_context.time_base = reader.time_base  # the input's timestamps, unrounded
        # the input's colour metadata, so players convert the output back as the input was converted
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_range = self.colour.matrix, self.colour.color_range
        ctx.color_primaries, ctx.color_trc = self.colour.primaries, self.colour.transfer
        options = {"crf": str(crf)} if encoder.name in _CRF_CODECS else {}
        if "vpx" in encoder.name:
            options["b"] = "0"  # constant quality, no bitrate target
        if encoder.name in ("libx264", "libx265"):
            options["preset"] = preset
            if tune != "none":
                options["tune"] = tune
        if encoder.name == "libx265":
            options["x265-params"] = "log-level=error"  # x265 prints a page of settings otherwise
        if self.container.format.name == "avi":
            options["bf"] = "0"  # AVI has no presentation times to reorder B-frames by
        stream.options = options
        return stream

    def write(self, rgb: np.ndarray, pts: int, duration: int, luminance: np.ndarray | None = None) -> None:
        """One colour frame (H, W, 3) uint8 at `pts` in the input stream's time base; `luminance`
        (H, W) float32 in [0, 1]: the CIE luminance its decoded pixels should have (default: its own)."""
        frame = self._yuv_frame(rgb, luminance)
        frame.colorspace, frame.color_range = self.colour.matrix, self.colour.color_range
        frame.pts, frame.time_base, frame.duration = pts, self.time_base, duration
        self.container.mux(self.video.encode(frame))
        self.written += 1

    def _yuv_frame(self, rgb: np.ndarray, luminance: np.ndarray | None):
        pix_fmt = self.video.pix_fmt
        if kernels.AVAILABLE and pix_fmt in ("yuv420p", "yuv444p"):
            if luminance is None:
                luminance = luminance_plane(Image.fromarray(rgb))
            planes = to_yuv(rgb, luminance, self.colour, subsampled=pix_fmt == "yuv420p")
            return self.av.VideoFrame.from_ndarray(planes, format=pix_fmt)
        # without numba (or for an encoder's own format): swscale, in the same matrix and range
        frame = self.av.VideoFrame.from_ndarray(rgb, format="rgb24")
        return frame.reformat(format=pix_fmt, dst_colorspace=self.colour.sws_colorspace,
                              dst_color_range=self.colour.color_range)

    def mux_audio(self, packet) -> None:
        packet.stream = self.audio[packet.stream_index]
        self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        self.container.mux(self.video.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except self.av.FFmpegError:
            pass


def _muxer(suffix: str) -> str:
    fmt = _MUXERS.get(suffix.lower())
    if fmt is None:
        raise ValueError(f"output suffix {suffix!r}: expected one of {sorted(_MUXERS)}")
    return fmt


def _encoder(av, codec: str, container):
    """FFmpeg's encoder named `codec`, if it encodes video and the output container can hold it."""
    try:
        encoder = av.codec.Codec(codec, "w")
    except (av.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
        raise ValueError(f"codec {codec!r}: no such encoder in this FFmpeg") from None
    if encoder.type != "video":
        raise ValueError(f"codec {codec!r}: not a video encoder")
    if encoder.name not in container.supported_codecs:
        raise ValueError(f"codec {codec!r}: the {container.format.name} container cannot hold it")
    return encoder


def check_encoder(codec: str, suffix: str) -> None:
    """Raise ValueError unless `codec` can encode video into a file ending in `suffix`."""
    av = require_av()
    container = av.open(io.BytesIO(), "w", format=_muxer(suffix))
    try:
        _encoder(av, codec, container)
    finally:
        container.close()


def _pixel_format(encoder, width: int, height: int) -> str:
    """4:2:0 where the size allows it (what every player reads), 4:4:4 for odd sizes."""
    formats = [f.name for f in encoder.video_formats or []]
    even = width % 2 == 0 and height % 2 == 0
    for name in (["yuv420p"] if even else []) + ["yuv444p"]:
        if name in formats or not formats:
            return name
    return formats[0]
