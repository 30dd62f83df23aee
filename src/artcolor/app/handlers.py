"""What the app's buttons do: each handler takes the widgets' values and only calls inference.

Handlers raise `gr.Error` for anything the user can fix; its message is shown on the page and the
server carries on. Uploaded files arrive as paths chosen by gradio inside its upload cache; error
messages name them by their file name only.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import Image

from ..inputs.checks import parse_blend_weights
from ..inputs.images import ImageError, alpha_of, gray_image, luminance_plane, open_image, palette_image, save_atomic
from ..inference import Colorizer
from ..inference.request import ColorizeRequest, prepare_job
from . import hinting
from .hinting import View
from .presets import Reference

AUTOMATIC, UPLOADS, GALLERY, COLOURS = "Automatic", "Reference images", "Gallery", "Colours"
MODES = (AUTOMATIC, UPLOADS, GALLERY, COLOURS)
PREVIEW = 1024  # the uploaded photo's previews are at most this large; the result is full size
KEEP_RESULTS_S = 3600  # result files older than this are deleted


@dataclass
class Result:
    gray: Image.Image  # the photo as the model sees it, full resolution
    colour: Image.Image  # the result, full resolution
    file: str  # the result as a PNG, for the download button
    caption: str


def _user_error(e: Exception, *paths: str | None) -> gr.Error:
    """The library's message, with gradio's upload folders cut from the file names."""
    message = str(e)
    for path in filter(None, paths):
        message = message.replace(str(path), Path(path).name)
    return gr.Error(message)


class Handlers:
    def __init__(self, colorizer: Colorizer, references: list[Reference], results_dir: str | None = None):
        self.colorizer = colorizer
        self.references = references
        self.results_dir = Path(results_dir or tempfile.mkdtemp(prefix="artcolor-app-"))

    def preview(self, photo: str | None) -> tuple[Image.Image | None, Image.Image | None]:
        """An uploaded photo -> (the photo, its gray version), both at most PREVIEW pixels."""
        return self.preview_and_view(photo)[:2]

    def preview_and_view(self, photo: str | None) -> tuple[Image.Image | None, Image.Image | None, View | None]:
        """An uploaded photo -> its previews and the `hinting.View` that maps clicks on them to its pixels."""
        if photo is None:
            return None, None, None
        im = self._open(photo)
        gray = gray_image(luminance_plane(im))
        # 16-bit and float photos are gray already; browsers show only 8-bit RGB(A) and L
        original = gray.copy() if im.mode[0] in "IF" else im.convert("RGBA" if alpha_of(im) is not None else "RGB")
        for preview in (original, gray):
            preview.thumbnail((PREVIEW, PREVIEW), Image.BILINEAR)
        return original, gray, View(im.width, im.height, gray)

    def add_hint(self, view: View | None, hints: list | None, colour: str | None, evt: gr.SelectData) -> list:
        """A click on the gray preview -> the hints with one more, at that point, in the picker's colour."""
        try:
            return hinting.add(view, hints, colour, evt.index)
        except ValueError as e:
            raise gr.Error(str(e)) from None

    def select(self, evt: gr.SelectData) -> tuple[int, str]:
        """A gallery click -> (its index, the Gallery mode)."""
        return evt.index, GALLERY

    def references_for(self, mode: str, uploads: list[str] | None, weights: str | None,
                       chosen: int | None, colours: str | None) -> tuple[list | None, list[float] | None, str]:
        """The reference widgets -> (styles or None for automatic, blend weights, a description)."""
        if mode == AUTOMATIC:
            return None, None, "automatic"
        if mode == UPLOADS:
            if not uploads:
                raise gr.Error("Upload one or more reference images, or choose another kind of reference")
            try:
                blend = parse_blend_weights(weights, len(uploads), "blend weights")
            except ValueError as e:
                raise gr.Error(str(e)) from None
            return [self._open(p) for p in uploads], blend, f"{len(uploads)} reference image(s)"
        if mode == GALLERY:
            if chosen is None or not 0 <= int(chosen) < len(self.references):
                raise gr.Error("Click a palette or style in the gallery first")
            reference = self.references[int(chosen)]
            return [reference.image], None, f"gallery: {reference.name}"
        if mode == COLOURS:
            try:
                return [palette_image(re.split(r"[,\s]+", (colours or "").strip()))], None, f"colours {colours}"
            except ValueError as e:
                raise gr.Error(f"Colours: {e}") from None
        raise gr.Error(f"unknown reference kind {mode!r}; choose one of {', '.join(MODES)}")

    def run(self, photo: str | None, mode: str, uploads: list[str] | None, weights: str | None,
            chosen: int | None, colours: str | None, strength: float, hints: list | None = None,
            coherence: float | None = None) -> Result:
        """The Colourise button: the photo in the chosen reference; `hints`: [x, y, colour] in the
        photo's pixels, or None; `coherence`: None for the model's."""
        if photo is None:
            raise gr.Error("Upload a photo first")
        start = time.perf_counter()
        styles, blend, described = self.references_for(mode, uploads, weights, chosen, colours)
        try:
            y, alpha = self.colorizer.prepare(photo)  # its luminance is the page's gray image too
            request = ColorizeRequest(style=styles, style_weights=blend, strength=strength, hints=hints or None,
                                      max_pixels=self.colorizer.max_pixels, coherence=coherence)
            job = prepare_job(request, colorizer=self.colorizer)  # the model loaded once, at start-up
            colour = job.colorizer.colorize_plane(y, alpha, job.style, request.hints)
        except (ImageError, ValueError) as e:
            raise _user_error(e, photo, *(uploads or [])) from None
        file = self._save(colour, f"{Path(photo).stem}-artcolor.png")
        seconds = time.perf_counter() - start
        described += f" · {len(hints)} hint(s)" if hints else ""
        coherent = f" · coherence {job.colorizer.options.coherence:.2f}" if request.referenced else ""
        caption = f"{colour.width}×{colour.height} · {described} · strength {strength:.2f}{coherent} · {seconds:.1f} s"
        return Result(gray_image(y), colour, file, caption)

    def as_file(self, image: Image.Image | None, name: str) -> str | None:
        """An image for the page, as a PNG of its own. gradio copies a file into its cache atomically,
        but rewrites the cached copy of a returned PIL image in place: two requests giving the same
        picture (the same photo uploaded twice) would truncate each other's download."""
        return None if image is None else self._save(image, name)

    def _open(self, path: str) -> Image.Image:
        """An upload, refused above the model's pixel limit like the photo it colourises."""
        try:
            return open_image(path, self.colorizer.max_pixels)
        except ImageError as e:
            raise _user_error(e, path) from None

    def _save(self, image: Image.Image, name: str) -> str:
        """An image as `name` in a folder of its own; files older than KEEP_RESULTS_S are deleted."""
        now = time.time()
        for old in self.results_dir.glob("*"):
            try:
                stale = now - old.stat().st_mtime > KEEP_RESULTS_S
            except OSError:  # deleted meanwhile by a concurrent request
                continue
            if stale:
                shutil.rmtree(old, ignore_errors=True)
        path = self.results_dir / uuid.uuid4().hex / name
        save_atomic(image, path)
        return str(path)
