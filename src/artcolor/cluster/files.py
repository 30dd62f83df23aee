"""Files for the Ray engine, anywhere fsspec reaches (local folders, file://, s3://, gs://, ...):
reading and writing one file, and the manifest. The plan (every input, its output, to do or not) is
the local engine's too: `inference.jobs.plan`. fsspec is imported here, not by the package:
`artcolor[ray]`.
"""

from __future__ import annotations

import csv
import io
import posixpath
import uuid
from collections.abc import Sequence

from PIL import Image

from ..inputs.images import encode_image, save_atomic
from ..inference.jobs import FileJob

MANIFEST = "artcolor-manifest.csv"
# stores where an object appears whole when its upload completes, or not at all: written in one put
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"}


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
