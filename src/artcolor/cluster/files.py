"""Files for the Ray engine, anywhere fsspec reaches (local folders, file://, s3://, gs://, ...):
the plan (every input, its output, done or to do), reading and writing one file, and the manifest.

Names follow `artcolor colorize`: an input folder's files keep their path relative to it under the
output folder (`jobs.output_name`), an existing output is skipped unless `overwrite`, and an output
that would land on an input is refused. fsspec is imported here, not by the package: `artcolor[ray]`.
"""

from __future__ import annotations

import csv
import io
import posixpath
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from PIL import Image

from ..inputs.images import IMAGE_SUFFIXES, encode_image, save_atomic
from ..inference.jobs import output_name
from ..video.codec import VIDEO_SUFFIXES

MANIFEST = "artcolor-manifest.csv"
# stores where an object appears whole when its upload completes, or not at all: written in one put
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"}
VIDEO_REASON = "a video: --engine ray colourises images; run videos with the local engine"

# todo -> done or failed; skipped: its output exists; pending: the run stopped before it
State = Literal["todo", "done", "skipped", "failed", "pending"]


@dataclass
class FileJob:
    """One input file: `src`, `dst` as the user named them (messages, manifest), `*_url` as workers open them."""

    src: str
    dst: str
    src_url: str
    dst_url: str
    state: State = "todo"
    reason: str = ""


def plan(inputs: Sequence[str], output: str, overwrite: bool = False,
         storage_options: dict | None = None) -> list[FileJob]:
    """Inputs (files or folders, recursive; paths or URLs) and an output folder -> one FileJob per file.

    Raises FileNotFoundError naming a missing input, ValueError naming an output that would overwrite
    an input. An existing output is "skipped" (unless `overwrite`); a video is "failed" with its reason.
    """
    from fsspec.core import url_to_fs

    options = storage_options or {}
    out_fs, out_root = url_to_fs(output, **options)
    out_root = out_root.rstrip("/")
    found = []
    for item in inputs:
        found += _listing(item, out_fs, out_root, options)
    sources = {url for _, url, _ in found}
    existing = set(out_fs.find(out_root)) if not overwrite and out_fs.isdir(out_root) else set()
    jobs = []
    for src, src_url, rel in found:
        video = PurePosixPath(rel).suffix.lower() in VIDEO_SUFFIXES
        out_rel = output_name(PurePosixPath(rel), video).as_posix()
        path = f"{out_root}/{out_rel}"
        job = FileJob(src, f"{output.rstrip('/')}/{out_rel}", src_url, out_fs.unstrip_protocol(path))
        if job.dst_url in sources:
            raise ValueError(f"{job.dst}: output would overwrite an input; choose another output folder")
        if video:
            job.state, job.reason = "failed", VIDEO_REASON
        elif path in existing:
            job.state = "skipped"
        jobs.append(job)
    return jobs


def _listing(item: str, out_fs, out_root: str, options: dict) -> list[tuple[str, str, str]]:
    """(name as given, URL, path relative to the input) of an input file, or of a folder's images
    and videos in a stable order, less any inside the output folder (earlier results, not inputs)."""
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(item, **options)
    root = root.rstrip("/") or "/"
    if not fs.exists(root):
        raise FileNotFoundError(f"{item}: no such file or folder")
    if not fs.isdir(root):
        return [(item, fs.unstrip_protocol(root), posixpath.basename(root))]
    nested = fs.protocol == out_fs.protocol and out_root != root
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    paths = [p for p in fs.find(root) if PurePosixPath(p).suffix.lower() in suffixes
             and not (nested and p.startswith(out_root + "/"))]
    rels = sorted((PurePosixPath(posixpath.relpath(p, root)) for p in paths), key=lambda r: r.parts)
    prefix = item.rstrip("/")
    return [(f"{prefix}/{rel}", fs.unstrip_protocol(f"{root}/{rel}"), rel.as_posix()) for rel in rels]


def read_bytes(url: str, storage_options: dict | None = None) -> bytes:
    """The whole file at `url` (an image is decoded from memory: one file's bytes at a time per worker)."""
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    fs, path = url_to_fs(url, **(storage_options or {}))
    if isinstance(fs, LocalFileSystem):  # read as a stream: fsspec's local files also seek
        with open(path, "rb") as f:
            return f.read()
    return fs.cat_file(path)  # one request on an object store


def save_image(im: Image.Image, url: str, storage_options: dict | None = None) -> None:
    """Write an image to `url` (format from its suffix, as `image.save_atomic`) so that no reader ever
    sees half a file: a rename on filesystems, one put on object stores."""
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    fs, path = url_to_fs(url, **(storage_options or {}))
    if isinstance(fs, LocalFileSystem):
        save_atomic(im, path)  # the local CLI's writer: the same bytes
        return
    put_atomic(fs, path, encode_image(im, path))


def put_atomic(fs, path: str, data: bytes) -> None:
    """`data` to `path` on `fs`, whole or not at all."""
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & OBJECT_STORES:
        fs.pipe_file(path, data)
        return
    parent, name = posixpath.split(path)
    fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        fs.pipe_file(tmp, data)
        fs.mv(tmp, path)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp)
        raise


def write_manifest(jobs: Sequence[FileJob], output: str, storage_options: dict | None = None) -> str:
    """A CSV beside the outputs, one row per input: input, output, status (done, skipped, failed,
    or pending: not reached before the run stopped), reason. Returns where it is, as `output` names it."""
    from fsspec.core import url_to_fs

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["input", "output", "status", "reason"])
    writer.writerows([job.src, job.dst, job.state, job.reason] for job in jobs)
    fs, root = url_to_fs(output, **(storage_options or {}))
    put_atomic(fs, f"{root.rstrip('/')}/{MANIFEST}", text.getvalue().encode())
    return f"{output.rstrip('/')}/{MANIFEST}"
