"""`artcolor colorize --hint X,Y,#RRGGBB[,R]` and `--hints FILE`: colour hints from the command line.

Every error here is a usage error (exit 2) naming the flag, the file and the hint: hints are read
and checked against every input's size before anything is colourised.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..inputs.hints import oriented_size, points, read_hints_file, resolve
from ..inputs.images import ImageError

HINT_HELP = "A colour hint at pixel X, Y of the input (R: radius in pixels); repeatable."
HINTS_HELP = "Colour hints: a JSON list of [x, y, colour(, radius)], or an RGBA scribble PNG of the input's size."


def parse(hint_texts: tuple[str, ...], hints_file: Path | None, max_pixels: int | None):
    """The flags -> (hints as `hints.resolve` takes them, labels naming each point) or (None, None)."""
    items, labels = [_point(text) for text in hint_texts], [f"--hint {text!r}" for text in hint_texts]
    if hints_file is None:
        return (items, labels) if items else (None, None)
    try:
        loaded = read_hints_file(hints_file, max_pixels)
    except ValueError as e:  # ImageError included
        raise click.BadParameter(str(e), param_hint="'--hints'") from None
    if not isinstance(loaded, list):  # a scribble
        if items:
            raise click.UsageError("give --hint points or a --hints scribble image, not both "
                                   "(a JSON --hints file can be combined with --hint)")
        return loaded, None
    labels += [f"--hints {hints_file}[{j}] = {item!r}" for j, item in enumerate(loaded)]
    _check_points(loaded, labels[len(items):], "'--hints'")
    return items + loaded, labels


def check(hints, labels, jobs, method: str) -> None:
    """Hints against every image input's size (videos take none) and against the method (the model
    is checked when the job is prepared: `request.prepare_job`)."""
    if hints is None:
        return
    if method != "model":
        raise click.UsageError(f"--hint/--hints need --method model; {method} takes no colour hints")
    from ..video.codec import is_video

    for src, dst in jobs:
        if dst is None:
            continue
        if is_video(src):
            raise click.UsageError(f"{src}: --hint/--hints apply to images, not videos")
        try:
            width, height = oriented_size(src)
        except ImageError:
            continue  # reported with the other unreadable files, by the colourising loop
        try:
            resolve(hints, width, height, labels=labels)
        except ValueError as e:
            raise click.UsageError(f"{src} ({width}x{height}): {e}") from None


def _point(text: str) -> tuple:
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        item = (float(parts[0]), float(parts[1]), parts[2], *(float(p) for p in parts[3:]))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected X,Y,#RRGGBB or X,Y,#RRGGBB,R (numbers, a colour, a radius)",
                                 param_hint="'--hint'") from None
    _check_points([item], [repr(text)], "'--hint'")
    return item


def _check_points(items: list, labels: list[str], flag: str) -> None:
    """What can be checked before the image's size is known: the fields, colours and radii."""
    try:
        points(items, math.inf, math.inf, labels)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=flag) from None
