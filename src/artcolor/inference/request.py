"""One colourisation job as every shell asks for it, and the one function that prepares it.

`artcolor colorize` (both engines), `colorize_on_ray` and the web app build a `ColorizeRequest`;
`prepare_job` turns it into a `PreparedJob` once per run: the model loaded, the hints checked
against it, the style encoded once, the backend chosen. Each image is then `job(image)`.

    request = ColorizeRequest(inputs=("photos/",), output="colour/", style=("painting.jpg",))
    job = prepare_job(request, files=120)           # --backend auto: decided for 120 files to do
    job("photos/a.jpg").save("colour/a.jpg")

A setting is one line here: a field with its default, and for a number its range
(`number(default, low, high)`), checked when the request is made, so a bad value is a ValueError
naming the field before anything is loaded. The command line builds the request from its flags by
name (`ColorizeRequest.from_options`), so a flag named as a field reaches the request with no other
code; `prepare_job` is the one place a setting reaches the Colorizer. No torch at import: the
command line builds its request before the model loads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..inputs.checks import MAX_SIZE, MAX_STRENGTH, MIN_SIZE, blend_weights, finite_number, integer
from ..inputs.hints import check_accepted
from ..inputs.images import DEFAULT_MAX_PIXELS, ImageLike
from .backend import BackendName, auto_backend, check_backend
from .jobs import colorize_image
from .pipeline import Style, as_list

if TYPE_CHECKING:
    from PIL import Image

    from .colorizer import Colorizer

ONNX_EXTRA = "the onnx extra: pip install 'artcolor[onnx]'"


class RequestError(ValueError):
    """The request itself cannot run (hints for a model that takes none): a usage error at a command
    line, where a ValueError from a file (an unreadable reference) is that file's error."""


def onnx_missing(what: str, error: ImportError) -> ImportError:
    """The one message for a missing onnx extra: "`what` needs the onnx extra: pip install ... (error)"."""
    return ImportError(f"{what} needs {ONNX_EXTRA} ({error})")


def number(default: float, low: float | None = None, high: float | None = None):
    """A numeric field of `ColorizeRequest`, checked to be finite and in [low, high] when a request is made."""
    return field(default=default, metadata={"range": (low, high)})


@dataclass(frozen=True)
class ColorizeRequest:
    """One colourisation job: what to colourise, how, with which model, where to write it.

    `inputs`: files or folders (paths, or fsspec URLs on the Ray engine); `output`: a folder.
    `style`: reference(s) as `Colorizer.colorize` takes them (paths, PIL images, arrays; a palette
    from `palette_image`), none for automatic colour; `style_weights`: one weight >= 0 per reference
    (`checks.parse_blend_weights` reads them from text); `strength`: 0 automatic, 1 the reference, up
    to 4. `hints`: as `inputs.hints.resolve` takes them, the same for every image, named in messages
    by `hint_labels`. `weights`: a model folder or hf://ORG/NAME (None: the bundled model); `size`:
    the working short side (None: the model's); `max_pixels`: larger inputs are refused (None or 0:
    no limit). `device`: cpu, cuda, mps or auto; `backend`: torch, onnxruntime, mixed or auto
    (`choose_backend`). `overwrite`: replace existing outputs. `coherence`: with a reference, how
    strongly each object keeps one colour family, in [0, 1] (None: the model's `InferenceOptions`).
    """

    inputs: tuple[str, ...] = ()
    output: str | None = None
    style: tuple[ImageLike, ...] = ()
    style_weights: tuple[float, ...] | None = None
    strength: float = number(1.0, 0.0, MAX_STRENGTH)
    hints: object = None
    hint_labels: tuple[str, ...] | None = None
    weights: str | None = None
    size: int | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    device: str = "auto"
    backend: BackendName | str = "torch"
    overwrite: bool = False
    coherence: float | None = None  # None: the model's own (`InferenceOptions`)

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        put("inputs", tuple(str(item) for item in as_list(self.inputs)))
        put("style", () if self.style is None else tuple(as_list(self.style)))
        if self.style_weights is not None:
            put("style_weights", tuple(float(w) for w in self.style_weights))
            blend_weights("style_weights", self.style_weights, len(self.style))
        if self.hint_labels is not None:
            put("hint_labels", tuple(self.hint_labels))
        for f in dataclasses.fields(self):
            if "range" in f.metadata:
                put(f.name, finite_number(f.name, getattr(self, f.name), *f.metadata["range"]))
        if self.coherence is not None:
            put("coherence", finite_number("coherence", self.coherence, 0.0, 1.0))
        if self.size is not None:
            integer("size", self.size, MIN_SIZE, MAX_SIZE)
        if self.max_pixels is not None:
            integer("max_pixels", self.max_pixels, 0)
        if self.backend != "auto":
            check_backend(self.backend)

    @classmethod
    def from_options(cls, options: Mapping[str, object], **given) -> "ColorizeRequest":
        """A request from a command's options by name (those that are not fields are left out), `given`
        taking precedence: `ColorizeRequest.from_options(ctx.params, style=styles, ...)`."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in options.items() if k in names}, **given})

    def replace(self, **changes) -> "ColorizeRequest":
        """A copy with `changes`, checked again."""
        return dataclasses.replace(self, **changes)

    @property
    def referenced(self) -> bool:
        """Whether the job runs under a reference (else automatic: no reference, or strength 0)."""
        return bool(self.style) and self.strength > 0


@dataclass(frozen=True)
class PreparedJob:
    """A request ready to run: its `colorizer`, its `style` encoded once and the `backend` chosen for
    it (the colorizer's, unless `prepare_job(..., ship=True)` loaded the network to send elsewhere)."""

    request: ColorizeRequest
    colorizer: "Colorizer"
    style: Style
    backend: BackendName

    def __call__(self, image: ImageLike) -> "Image.Image":
        """`job(image)`: one input (a path, or a PIL image already decoded) -> its colour image, full resolution."""
        return colorize_image(self.colorizer, image, self.style, self.request.hints, self.request.hint_labels)


def choose_backend(request: ColorizeRequest, files: int = 0, film: bool = False) -> BackendName:
    """The request's backend, "auto" decided for `files` images to do (or a `film`): `auto_backend`."""
    if request.backend != "auto":
        return request.backend
    return auto_backend(files, request.referenced, film=film)


def prepare_job(request: ColorizeRequest, files: int = 0, film: bool = False, colorizer: "Colorizer | None" = None,
            ship: bool = False) -> PreparedJob:
    """Load the model (unless a `colorizer` is given: the web app loads once), check the hints
    against it, encode the style once, choose the backend (`choose_backend` for `files` and `film`).

    `ship`: load the network in PyTorch on the CPU, to be sent to workers that build the chosen
    backend on `request.device` themselves (the Ray engine); the onnx extra is still checked here.
    Raises FileNotFoundError (no model), ValueError (a bad reference, hints the model takes none of),
    ImportError naming the onnx extra.
    """
    backend = choose_backend(request, files, film)
    if colorizer is None:
        colorizer = load_colorizer(request, "torch" if ship else backend, "cpu" if ship else None)
    if ship and backend != "torch":
        try:
            import onnx  # noqa: F401 (here, not in a worker that would fail to start)
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise onnx_missing(f"backend {backend!r}", e) from None
    try:
        check_accepted(colorizer.config.hints, [request.hints])
    except ValueError as e:
        raise RequestError(str(e)) from None
    style = colorizer.encode_style(request.style or None, request.strength, request.style_weights)
    return PreparedJob(request, colorizer.using(coherence=request.coherence), style, backend)


def load_colorizer(request: ColorizeRequest, backend: BackendName | None = None, device=None) -> "Colorizer":
    """The request's model (`weights`) as a Colorizer on `backend` (default: the request's, "auto" as
    `choose_backend` reads it for no files) and `device` (default: the request's; under torchrun,
    CUDA is each process's own GPU, LOCAL_RANK)."""
    from .colorizer import Colorizer
    from .torch_backend import pick_device

    backend = backend or choose_backend(request)
    if device is None:
        try:
            device = pick_device(request.device)
        except RuntimeError as e:  # torch's word for a device name it does not know
            raise ValueError(f"device: {e}") from None
        if device.type == "cuda" and "LOCAL_RANK" in os.environ:
            device = f"cuda:{os.environ['LOCAL_RANK']}"
    try:
        return Colorizer.load(request.weights, device=device, max_pixels=request.max_pixels, size=request.size,
                              backend=backend)
    except ImportError as e:
        if backend == "torch":
            raise
        raise onnx_missing(f"backend {backend!r}", e) from None

