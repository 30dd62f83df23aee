"""A job's files and one image's work, the same under every engine (`artcolor colorize`'s threads,
Ray's workers): the plan (every input, its output, to do or not), and one image's colourisation
with the run's style code and hints.

The plan reads local paths with the standard library and URLs (s3://, gs://, file://, ...) with
fsspec (imported only for a URL: `artcolor[ray]`). Either way an input folder's files keep their
path relative to it under the output folder (`output_name`), an existing output is skipped unless
`overwrite`, an output folder inside an input folder is not read as input, and an output that would
land on an input is refused.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Literal

from ..inputs.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageLike

if TYPE_CHECKING:
    from PIL import Image

    from . import Colorizer, Style

# formats Pillow writes as well as reads; inputs in any other (GIF, HEIC, ...) come out as PNG
OUTPUT_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES  # what a folder's listing takes

# todo -> done or failed; skipped: its output exists; pending: the run stopped before it
State = Literal["todo", "done", "skipped", "failed", "pending"]


@dataclass
class FileJob:
    """One input file: `src`, `dst` as the user named them (messages, manifest), `*_url` as workers
    open them (an absolute path, or a URL), its `state` and, if failed, the `reason`."""

    src: str
    dst: str
    src_url: str
    dst_url: str
    state: State = "todo"
    reason: str = ""

    @property
    def video(self) -> bool:
        return PurePosixPath(self.src).suffix.lower() in VIDEO_SUFFIXES


def output_name(rel: PurePath, video: bool = False) -> PurePath:
    """An input's path relative to its input folder -> its output's, relative to the output folder:
    the same name, as PNG where the input's format is one images are not written in."""
    if video or rel.suffix.lower() in OUTPUT_SUFFIXES:
        return rel
    return rel.with_suffix(".png")


def is_url(name: str) -> bool:
    """Whether `name` is a URL (`protocol://...`) rather than a local path."""
    return "://" in str(name)


def plan(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, overwrite: bool = False,
         storage_options: dict | None = None) -> list[FileJob]:
    """Inputs (files or folders, recursive; paths or URLs) and an output folder -> one FileJob per
    file, in a stable order: "todo", or "skipped" where the output exists (unless `overwrite`).
    With `storage_options` (even {}), or any name a URL, every name is read through fsspec and the
    `*_url`s are URLs (file:// for local paths: what the Ray engine's workers open); else the
    standard library reads local paths and the `*_url`s are absolute paths.

    Raises FileNotFoundError naming a missing input, ValueError naming an output that would overwrite
    an input.
    """
    inputs, output = [str(item) for item in inputs], str(output)
    remote = storage_options is not None or any(map(is_url, [*inputs, output]))
    files = _Fsspec(output, storage_options or {}) if remote else _Local(output)
    for item in inputs:
        if not files.exists(item):
            raise FileNotFoundError(f"{item}: no such file or folder")
    found = [entry for item in inputs for entry in files.listing(item)]
    sources = {files.key(url) for _, url, _ in found}
    jobs = []
    for src, src_url, rel in found:
        out_rel = output_name(PurePosixPath(rel), PurePosixPath(rel).suffix.lower() in VIDEO_SUFFIXES).as_posix()
        dst, dst_url = files.output(out_rel)
        if files.key(dst_url) in sources:
            raise ValueError(f"{dst}: output would overwrite an input; choose another output folder")
        skipped = not overwrite and files.written(dst_url)
        jobs.append(FileJob(src, dst, src_url, dst_url, "skipped" if skipped else "todo"))
    return jobs


class _Local:
    """Local paths, as given (messages) and absolute (workers); identity by the resolved path."""

    def __init__(self, output: str):
        self.folder, self.root = Path(output), Path(output).resolve()
        self.resolved: dict[str, Path] = {}  # absolute path -> resolved (symbolic links followed), once

    def exists(self, item: str) -> bool:
        return Path(item).exists()

    def key(self, path: str) -> Path:
        if path not in self.resolved:
            self.resolved[path] = Path(path).resolve()
        return self.resolved[path]

    def listing(self, item: str) -> list[tuple[str, str, str]]:
        """(name, absolute path, path relative to the input) of a file, or of a folder's images and
        videos (less any inside the output folder: earlier results, not inputs)."""
        path = Path(item)
        if not path.is_dir():
            return [(item, os.path.abspath(item), path.name)]
        nested = path.resolve() != self.root
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        found = [(str(p), os.path.abspath(p), p.relative_to(path).as_posix()) for p in files]
        return [entry for entry in found if not (nested and self.root in self.key(entry[1]).parents)]

    def output(self, rel: str) -> tuple[str, str]:
        dst = self.folder / rel
        return str(dst), os.path.abspath(dst)

    def written(self, path: str) -> bool:
        return os.path.exists(path)


class _Fsspec:
    """Anything fsspec reaches; the output folder listed once (one request on an object store)."""

    def __init__(self, output: str, options: dict):
        from fsspec.core import url_to_fs

        self.options, self.name = options, output.rstrip("/")
        self.fs, root = url_to_fs(output, **options)
        self.root = root.rstrip("/")
        self.existing = None

    def exists(self, item: str) -> bool:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(item, **self.options)
        return fs.exists(root.rstrip("/") or "/")

    def key(self, url: str) -> str:
        return url

    def listing(self, item: str) -> list[tuple[str, str, str]]:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(item, **self.options)
        root = root.rstrip("/") or "/"
        if not fs.isdir(root):
            return [(item, fs.unstrip_protocol(root), posixpath.basename(root))]
        nested = fs.protocol == self.fs.protocol and self.root != root
        paths = [p for p in fs.find(root) if PurePosixPath(p).suffix.lower() in SUFFIXES
                 and not (nested and p.startswith(self.root + "/"))]
        rels = sorted((PurePosixPath(posixpath.relpath(p, root)) for p in paths), key=lambda r: r.parts)
        prefix = item.rstrip("/")
        return [(f"{prefix}/{rel}", fs.unstrip_protocol(f"{root}/{rel}"), rel.as_posix()) for rel in rels]

    def output(self, rel: str) -> tuple[str, str]:
        return f"{self.name}/{rel}", self.fs.unstrip_protocol(f"{self.root}/{rel}")

    def written(self, url: str) -> bool:
        if self.existing is None:
            found = self.fs.find(self.root) if self.fs.isdir(self.root) else []
            self.existing = {self.fs.unstrip_protocol(p) for p in found}
        return url in self.existing


def colorize_image(colorizer: "Colorizer", image: ImageLike, style: "Style", hints=None,
                   hint_labels=None) -> "Image.Image":
    """One input (a path, or a PIL image already decoded) -> its colour image, full resolution.

    `style`: the run's encoded style (its code and, for a matching model, its bank) from
    `Colorizer.encode_style`; `hints`: the run's hints
    as `hints.resolve` takes them (the same for every image), checked against this image's size, a
    ValueError naming the hint (by `hint_labels`) if one falls outside it.
    """
    return colorizer.colorize(image, style=style, hints=hints, hint_labels=hint_labels)
