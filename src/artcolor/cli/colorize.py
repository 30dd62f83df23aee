"""`artcolor colorize`: files and folders in, a mirrored folder of colourised images out."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from . import WEIGHTS_HELP, colorize_ray, fail, hint_args
from ..inputs.checks import MAX_SIZE, MAX_STRENGTH, MIN_SIZE, PredictionError, finite_number, parse_blend_weights
from ..inputs.images import DEFAULT_MAX_PIXELS, ImageError, palette_image, save_atomic
from ..inference.backend import MIXED_FROM
from ..inference.jobs import plan
from ..inference.request import ColorizeRequest, RequestError, prepare_job
from ..video.codec import TUNES, X26X_PRESET, X26X_PRESETS, is_video
from .image_jobs import run_jobs
from .video_jobs import video_job

MAX_LOCAL_WORKERS = 64  # files in flight in one process; a cluster's workers may be many more


@click.command("colorize")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "out", required=True, help="Output folder (--engine ray: a folder or an fsspec URL).")
@click.option("--style", multiple=True, type=click.Path(path_type=Path), help="Reference image (repeat to blend).")
@click.option("--style-weights", default=None, help="Blend weights, comma-separated, one per --style.")
@click.option("--palette", default=None, help="Reference as colours: '#264653,#e9c46a,...'.")
@click.option("--strength", default=1.0, show_default=True, type=float, callback=lambda ctx, param, v: _strength(v),
              help=f"0 = automatic, 1 = reference, up to {MAX_STRENGTH:g}.")
@click.option("--coherence", default=None, type=click.FloatRange(0.0, 1.0),
              help="With a reference: how strongly each object keeps one colour family, 0 (the palette pixel by "
                   "pixel) to 1 (object by object) (default: the model's, 1 for the bundled one).")
@click.option("--size", default=None, type=click.IntRange(MIN_SIZE, MAX_SIZE),
              help="Working short side (default: training size).")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--method", default="model", type=click.Choice(["model", "welsh", "gray"]), show_default=True,
              help="The network, or a classical baseline.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "torch", "onnxruntime", "mixed"]),
              help="Run the network in PyTorch, exported to ONNX on onnxruntime (the onnx extra), or mixed: the "
                   f"U-Net under a reference on onnxruntime, the rest in PyTorch (CPU). auto: mixed for a reference "
                   f"over {MIXED_FROM} or more images (the files to do, with either engine) or a film when the onnx extra "
                   f"is installed, else torch.")
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=0),
              help="Refuse inputs with more pixels (0: no limit).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 1024),
              help="Files in flight at once, so decoding and encoding overlap the network (1: one at a time); "
                   "--engine ray: worker processes (default: as many as the cluster fits).")
@click.option("--hint", "hint_texts", multiple=True, metavar="X,Y,#RRGGBB[,R]", help=hint_args.HINT_HELP)
@click.option("--hints", "hints_file", default=None, type=click.Path(path_type=Path), help=hint_args.HINTS_HELP)
@click.option("--codec", default=None, help="Videos: FFmpeg encoder (default: libx264; libvpx-vp9 for .webm).")
@click.option("--crf", default=18, show_default=True, type=click.IntRange(0, 51),
              help="Videos: the encoder's constant quality (lower: better, larger).")
@click.option("--preset", default=X26X_PRESET, show_default=True, type=click.Choice(X26X_PRESETS),
              help="Videos, x264/x265: encoding speed against file size at the same quality (slower: smaller).")
@click.option("--tune", default="grain", show_default=True, type=click.Choice(TUNES),
              help="Videos, x264/x265: grain keeps film grain; none lets the encoder smooth it (smaller files).")
@colorize_ray.options
@click.pass_context
def command(ctx, inputs, out, style, style_weights, palette, strength, coherence, size, weights, method, device, backend,
            max_pixels, overwrite, codec, crf, preset, tune, hint_texts, hints_file, workers, engine, **ray_flags):
    """Colourise INPUTS (files or folders, recursive) into OUT, mirroring their relative paths.

    With --engine ray, INPUTS and OUT may be fsspec URLs (s3://, gs://, ...), and a manifest of every
    file, failures with their reasons, is written beside the outputs.
    """
    styles = _styles(style, palette)
    hints, hint_labels = hint_args.parse(hint_texts, hints_file, max_pixels)
    request = ColorizeRequest.from_options(ctx.params, output=out, style=styles, hints=hints, hint_labels=hint_labels,
                                           style_weights=_parse_weights(style_weights, len(styles)))
    colorize_ray.check_flags(ctx, engine)
    if engine == "ray":
        colorize_ray.run(ctx, request)
    if workers > MAX_LOCAL_WORKERS:
        raise click.BadParameter(f"at most {MAX_LOCAL_WORKERS} with --engine local, got {workers}",
                                 param_hint="'--workers'")
    jobs = _plan(request)
    hint_args.check(hints, hint_labels, jobs, method)
    rank, world = _rank_and_world()
    jobs = jobs[rank::world]
    colorize_one, colorize_video = _make_colorizer(method, request, jobs)
    video_one = video_job(colorize_video, codec, crf, {dst.suffix for src, dst in jobs if dst and is_video(src)},
                          preset, tune)

    def work(src, dst):
        if is_video(src):
            video_one(src, dst)
        else:
            save_atomic(colorize_one(src), dst)

    errors = (ImageError, OSError, MemoryError, ImportError, PredictionError)
    workers = 1 if any(is_video(src) for src, _ in jobs) else workers  # a clip runs its frames in batches
    done, failed, skipped = 0, 0, 0
    results = run_jobs(jobs, work, errors, workers, colorize_one)  # on a GPU: batched (image_jobs.batched_run)
    for src, dst, e in tqdm(results, total=len(jobs), desc="colorize", unit="img", disable=None, dynamic_ncols=True):
        if dst is None:
            skipped += 1
        elif e is None:
            done += 1
        else:
            failed += 1
            message = f"artcolor: skipped {e}" if isinstance(e, ImageError) else f"artcolor: skipped {src}: {e}"
            tqdm.write(message, file=sys.stderr)  # tqdm.write goes to stdout unless told
    click.echo(f"{done} colourised, {failed} failed, {skipped} skipped (exists; --overwrite replaces) -> {out}")
    raise SystemExit(1 if failed else 0)


def _styles(style, palette) -> list:
    """--style files, then the --palette as an image."""
    styles = [str(s) for s in style]
    if palette:
        try:
            styles.append(palette_image(palette.split(",")))
        except ValueError as e:
            fail(f"--palette: {e}")
    return styles


def _parse_weights(text, n_styles):
    try:
        return parse_blend_weights(text, n_styles)
    except ValueError as e:  # a usage error (exit 2), like any other bad number
        raise click.BadParameter(str(e), param_hint="'--style-weights'") from None


def _strength(value):
    try:
        return finite_number("strength", value, 0.0, MAX_STRENGTH)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--strength'") from None


def _plan(request: ColorizeRequest) -> list[tuple[Path, Path | None]]:
    """(input, output-or-None-if-skipped) pairs (`jobs.plan`); refuses to write over any input."""
    try:
        jobs = plan(request.inputs, request.output, request.overwrite)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    return [(Path(job.src), None if job.state == "skipped" else Path(job.dst)) for job in jobs]


def _work(jobs) -> tuple[int, bool]:
    """The files to do (not skipped) and whether a film is among them: what --backend auto reads."""
    todo = [src for src, dst in jobs if dst is not None]
    return len(todo), any(is_video(src) for src in todo)


def _rank_and_world():
    """Under torchrun each process takes every WORLD_SIZE-th input."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _make_colorizer(method, request: ColorizeRequest, jobs):
    """(colourise one image, colourise one clip or None) for the method; the model's job prepared
    once (`request.prepare_job`), --backend auto decided for the files to do."""
    if method != "model":
        from ..evaluation import baselines

        try:
            return baselines.make(method, list(request.style), style_weights=request.style_weights,
                                  max_pixels=request.max_pixels), None
        except ValueError as e:  # ImageError included: an unreadable reference, or none given
            fail(str(e))
    try:
        job = prepare_job(request, *_work(jobs))
    except RequestError as e:
        raise click.UsageError(str(e)) from None
    except (FileNotFoundError, ValueError, ImportError) as e:
        fail(str(e))
    if job.colorizer.backend.name == "mixed" and not job.style.automatic:
        path = job.colorizer.backend.cache_path
        if not path.is_file():  # a silent pause of seconds would look like a hang
            click.echo(f"artcolor: exporting the network to ONNX for --backend mixed, once (cached in {path.parent})",
                       err=True)
    from ..video import colorize_video  # PyAV is needed once a video is opened, not before

    return job, functools.partial(colorize_video, colorizer=job.colorizer, style=job.style, progress=None)
