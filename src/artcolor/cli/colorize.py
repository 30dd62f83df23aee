"""`artcolor colorize`: files and folders in, a mirrored folder of colourised images out."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from . import WEIGHTS_HELP, colorize_ray, fail, hint_args
from ..inputs.checks import MAX_SIZE, MAX_STRENGTH, MIN_SIZE, blend_weights, finite_number
from ..inputs.images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageError, list_images, save_atomic
from ..inference.backend import MIXED_FROM, auto_backend
from ..inference.jobs import colorize_image, output_name
from ..video.codec import TUNES, VIDEO_SUFFIXES, X26X_PRESET, X26X_PRESETS, is_video
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
def command(ctx, inputs, out, style, style_weights, palette, strength, size, weights, method, device, backend,
            max_pixels, overwrite, codec, crf, preset, tune, hint_texts, hints_file, workers, engine, **ray_flags):
    """Colourise INPUTS (files or folders, recursive) into OUT, mirroring their relative paths.

    With --engine ray, INPUTS and OUT may be fsspec URLs (s3://, gs://, ...), and a manifest of every
    file, failures with their reasons, is written beside the outputs.
    """
    from ..inference import palette_image
    from ..inference import PredictionError

    styles = [str(s) for s in style]
    if palette:
        try:
            styles.append(palette_image(palette.split(",")))
        except ValueError as e:
            fail(f"--palette: {e}")
    weights_list = _parse_weights(style_weights, len(styles))
    hints, hint_labels = hint_args.parse(hint_texts, hints_file, max_pixels)
    colorize_ray.check_flags(ctx, engine)
    if engine == "ray":
        colorize_ray.run(ctx, inputs, out, styles, weights_list, strength, hints, hint_labels, weights=weights,
                         size=size, max_pixels=max_pixels, overwrite=overwrite, device=device, backend=backend,
                         workers=workers, **ray_flags)
    if workers > MAX_LOCAL_WORKERS:
        raise click.BadParameter(f"at most {MAX_LOCAL_WORKERS} with --engine local, got {workers}",
                                 param_hint="'--workers'")
    inputs, out = [Path(item) for item in inputs], Path(out)
    jobs = _plan(inputs, out, overwrite)
    hint_args.check(hints, hint_labels, jobs, method)
    rank, world = _rank_and_world()
    jobs = jobs[rank::world]
    backend = _pick_backend(backend, jobs, bool(styles) and strength > 0) if method == "model" else backend
    colorize_one, colorize_video = _make_colorizer(method, weights, device, backend, max_pixels, size, styles,
                                                   weights_list, strength, hints, hint_labels)
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
    results = run_jobs(jobs, work, errors, workers)
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


def _parse_weights(text, n_styles):
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint="'--style-weights'") from None
    try:
        blend_weights("--style-weights", values, n_styles)
    except ValueError as e:  # a usage error (exit 2), like any other bad number
        raise click.BadParameter(str(e), param_hint="'--style-weights'") from None
    return values


def _strength(value):
    try:
        return finite_number("strength", value, 0.0, MAX_STRENGTH)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--strength'") from None


def _plan(inputs, out, overwrite):
    """(input, output-or-None-if-skipped) pairs; refuses to write over any input."""
    for item in inputs:
        if not item.exists():
            fail(f"{item}: no such file or folder")
    jobs = []
    out_root, found = out.resolve(), []
    for item in inputs:
        # an output folder nested inside an input folder holds earlier results, not inputs
        nested = item.is_dir() and item.resolve() != out_root
        found += [(p, rel) for p, rel in list_images([item], IMAGE_SUFFIXES | VIDEO_SUFFIXES)
                  if not (nested and out_root in p.resolve().parents)]
    sources = {p.resolve() for p, _ in found}
    for src, rel in found:
        dst = out / output_name(rel, is_video(src))
        if dst.resolve() in sources:
            fail(f"{dst}: output would overwrite an input; choose another output folder")
        jobs.append((src, None if dst.exists() and not overwrite else dst))
    return jobs


def _pick_backend(backend, jobs, referenced):
    """--backend auto -> what `auto_backend` says for the files to do; any other name as it is."""
    if backend != "auto":
        return backend
    todo = [src for src, dst in jobs if dst is not None]
    return auto_backend(len(todo), referenced, film=any(is_video(src) for src in todo))


def _rank_and_world():
    """Under torchrun each process takes every WORLD_SIZE-th input."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _make_colorizer(method, weights, device, backend, max_pixels, size, styles, style_weights, strength,
                    hints=None, hint_labels=None):
    if method != "model":
        from ..evaluation import baselines

        try:
            return baselines.make(method, styles, style_weights=style_weights, max_pixels=max_pixels), None
        except ValueError as e:  # ImageError included: an unreadable reference, or none given
            fail(str(e))
    from ..inference import Colorizer, pick_device

    dev = pick_device(device)
    if dev.type == "cuda" and "LOCAL_RANK" in os.environ:
        dev = f"cuda:{os.environ['LOCAL_RANK']}"
    try:
        colorizer = Colorizer.load(weights, device=dev, max_pixels=max_pixels, size=size, backend=backend)
        vector = colorizer.encode_style(styles or None, strength, style_weights)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    except ImportError as e:
        fail(f"--backend {backend} needs the onnx extra: pip install 'artcolor[onnx]' ({e})")
    hint_args.check(hints, hint_labels, [], method, colorizer.config.hints)  # the inputs were checked
    if colorizer.backend.name == "mixed" and not vector.automatic:
        path = colorizer.backend.cache_path
        if not path.is_file():  # a silent pause of seconds would look like a hang
            click.echo(f"artcolor: exporting the network to ONNX for --backend mixed, once (cached in {path.parent})",
                       err=True)
    from ..video import colorize_video  # PyAV is needed once a video is opened, not before

    return (functools.partial(colorize_image, colorizer, style=vector, hints=hints, hint_labels=hint_labels),
            functools.partial(colorize_video, colorizer=colorizer, style=vector, progress=None))
