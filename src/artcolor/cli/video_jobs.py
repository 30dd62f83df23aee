"""The video side of `artcolor colorize`: one job per clip, the encoder checked before any starts."""

from __future__ import annotations

import click

from ..inputs.images import ImageError


def video_job(colorize_video, codec: str | None, crf: int, suffixes: set[str], preset: str = "veryfast",
              tune: str = "grain"):
    """`job(src, dst)` colourising one clip; `colorize_video` is None for the classical baselines;
    `preset` and `tune`: x264's and x265's (see `video.colorize_video`).

    A `--codec` that no output container in `suffixes` can take is a usage error (exit 2), found
    before the first clip rather than once per clip.
    """
    if suffixes and codec is not None:
        try:
            from ..video.codec import check_encoder

            for suffix in sorted(suffixes):
                check_encoder(codec, suffix)
        except ImportError:
            pass  # without PyAV each clip is reported as needing the extra
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--codec") from None

    def job(src, dst):
        if colorize_video is None:
            raise ImageError(f"{src}: videos are colourised with --method model only")
        colorize_video(src, dst, codec=codec, crf=crf, preset=preset, tune=tune)

    return job
