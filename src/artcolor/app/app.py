"""The web app's page: widgets and their wiring; what they do lives in handlers.py.

Fully offline: analytics are off (set before gradio is imported, in `artcolor.app`), the theme
uses the system's fonts (no Google Fonts), and nothing is loaded from outside the server.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..inputs.images import IMAGE_SUFFIXES
from ..inference import Colorizer
from . import hinting
from .handlers import AUTOMATIC, COLOURS, MODES, UPLOADS, Handlers
from .presets import Reference, gallery

FILE_TYPES = sorted(IMAGE_SUFFIXES)
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
SYSTEM_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]
HAS_SLIDER = hasattr(gr, "ImageSlider")

INTRO = """# artcolor
Colourise a photo in the palette of a reference: upload images, pick a palette or style from the
gallery, type colours, or let the model choose (automatic). Colour photos are made gray first."""


def theme() -> gr.themes.Base:
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=SYSTEM_MONO)


def build_app(colorizer: Colorizer, references: list[Reference] | None = None,
              results_dir: str | None = None) -> gr.Blocks:
    """The page, over a loaded model; `references` is the gallery (default: the palettes)."""
    references = gallery() if references is None else references
    handlers = Handlers(colorizer, references, results_dir)
    with gr.Blocks(title="artcolor", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                inputs = {**photo_panel(colorizer.config.hints), **reference_panel(references)}
            with gr.Column():
                outputs = result_panel()
        page = SimpleNamespace(**inputs, **outputs)
        wire_reference_kind(page, handlers)
        wire_photo_and_hints(page, handlers)
        wire_colourise(page, handlers)
    return demo


# ---- the page's parts (the left column top to bottom, then the right): each returns its widgets by name


def photo_panel(takes_hints: bool) -> dict[str, gr.components.Component]:
    """The photo's upload and previews and, for a model with hint inputs, the hints' tools."""
    photo = gr.File(label="Photo", file_types=FILE_TYPES, elem_id="photo")
    with gr.Row():
        original = gr.Image(label="Your photo", interactive=False, elem_id="original")
        gray = gr.Image(label="Gray input (click: hint)" if takes_hints else "Gray input", interactive=False,
                        elem_id="gray")
    view, hints = gr.State(None), gr.State([])  # the photo as shown; hints in its pixels
    with gr.Column(visible=takes_hints):
        gr.Markdown(hinting.HELP)
        with gr.Row():
            hint_colour = gr.ColorPicker("#c0392b", label="Hint colour", elem_id="hint-colour")
            undo = gr.Button("Remove last hint", size="sm", elem_id="hint-undo")
            clear = gr.Button("Clear hints", size="sm", elem_id="hint-clear")
        hint_list = gr.Textbox(hinting.listing([]), label="Hints", interactive=False, lines=2, elem_id="hint-list")
    return dict(photo=photo, original=original, gray=gray, view=view, hints=hints, hint_colour=hint_colour,
                undo=undo, clear=clear, hint_list=hint_list)


def reference_panel(references: list[Reference]) -> dict[str, gr.components.Component]:
    """The reference's kind, its three sources (uploads, gallery, colours), the strength, the coherence
    and the button."""
    mode = gr.Radio(list(MODES), value=AUTOMATIC, label="Reference", elem_id="mode")
    with gr.Tab("Reference images"):
        uploads = gr.File(label="One or more images (blended)", file_count="multiple", file_types=FILE_TYPES,
                          elem_id="references")
        weights = gr.Textbox(label="Blend weights", placeholder="1, 1  (one per image; empty: equal)", elem_id="weights")
    with gr.Tab("Gallery"):
        shelf = gr.Gallery([(r.thumbnail, r.name) for r in references], label="Palettes and styles", columns=4,
                           height=320, allow_preview=False, interactive=False, elem_id="gallery")
        chosen = gr.State(None)  # an index into `references`: the client never sends a path
    with gr.Tab("Colours"):
        colours = gr.Textbox(label="Hex colours", placeholder="#264653, #2a9d8f, #e9c46a", elem_id="colours")
    strength = gr.Slider(0, 2, value=1, step=0.05, label="Strength (0: automatic, 1: reference)", elem_id="strength")
    coherence = gr.Slider(0, 1, value=1, step=0.05, label="Coherence (1: each object one colour family, "
                          "0: the palette pixel by pixel)", elem_id="coherence")
    run = gr.Button("Colourise", variant="primary", elem_id="run")
    return dict(mode=mode, uploads=uploads, weights=weights, shelf=shelf, chosen=chosen, colours=colours,
                strength=strength, coherence=coherence, run=run)


def result_panel() -> dict[str, gr.components.Component | list[gr.components.Component]]:
    """Before and after (one slider where gradio has it), the full-resolution download and the caption."""
    if HAS_SLIDER:
        comparison = [gr.ImageSlider(label="Before / after", elem_id="comparison")]
    else:
        with gr.Row():
            comparison = [gr.Image(label="Before", elem_id="before"), gr.Image(label="After", elem_id="after")]
    download = gr.File(label="Download (full resolution PNG)", interactive=False, elem_id="download")
    caption = gr.Markdown(elem_id="caption")
    return dict(comparison=comparison, download=download, caption=caption)


# ---- what the widgets do (images go to the page as files of their own: see Handlers.as_file)

PRIVATE = dict(queue=False, api_visibility="private", show_progress="hidden")  # switches that skip the queue


def wire_reference_kind(page: SimpleNamespace, handlers: Handlers) -> None:
    """The reference kind follows the user's last action."""
    page.uploads.upload(lambda: UPLOADS, None, page.mode, **PRIVATE)
    page.colours.input(lambda: COLOURS, None, page.mode, **PRIVATE)
    page.shelf.select(handlers.select, None, [page.chosen, page.mode], **PRIVATE)


def wire_photo_and_hints(page: SimpleNamespace, handlers: Handlers) -> None:
    """A new photo: its previews, and no hints; a click on the gray preview adds one, the buttons remove them."""
    def on_preview(photo):
        original, gray_preview, shown = handlers.preview_and_view(photo)
        return handlers.as_file(original, "photo.png"), handlers.as_file(gray_preview, "gray.png"), shown

    def hints_changed(shown, new):
        return new, handlers.as_file(hinting.shown(shown, new), "gray.png"), hinting.listing(new)

    def on_hint(shown, old, colour, evt: gr.SelectData):
        return hints_changed(shown, handlers.add_hint(shown, old, colour, evt))

    # the API's preview gives (photo, gray) as before: a State is not an API output
    page.photo.change(on_preview, page.photo, [page.original, page.gray, page.view], api_name="preview",
                      concurrency_limit=2)
    page.photo.change(lambda: ([], hinting.listing([])), None, [page.hints, page.hint_list], **PRIVATE)
    marks = [page.hints, page.gray, page.hint_list]
    page.gray.select(on_hint, [page.view, page.hints, page.hint_colour], marks, **PRIVATE)
    page.undo.click(lambda shown, old: hints_changed(shown, (old or [])[:-1]), [page.view, page.hints], marks, **PRIVATE)
    page.clear.click(lambda shown: hints_changed(shown, []), page.view, marks, **PRIVATE)


def wire_colourise(page: SimpleNamespace, handlers: Handlers) -> None:
    """The button: the photo in the chosen reference's colours, before and after, and its download."""
    def on_run(*values):
        result = handlers.run(*values)
        before = handlers.as_file(result.gray, "gray.png")
        pair = [(before, result.file)] if HAS_SLIDER else [before, result.file]
        return *pair, result.file, result.caption

    inputs = [page.photo, page.mode, page.uploads, page.weights, page.chosen, page.colours, page.strength, page.hints,
              page.coherence]
    page.run.click(on_run, inputs, [*page.comparison, page.download, page.caption], api_name="colorize",
                   concurrency_limit=1)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, max_upload_mb: float = 50,
           block: bool = True, quiet: bool = False) -> str:
    """Queue requests (one colourisation at a time) and serve; returns the local URL."""
    demo.queue(default_concurrency_limit=1, max_size=32)
    _, url, _ = demo.launch(
        server_name=host, server_port=port, max_file_size=int(max_upload_mb * 1024 * 1024),
        theme=theme(), share=False, inbrowser=False, ssr_mode=False, pwa=False, mcp_server=False,
        prevent_thread_lock=not block, quiet=quiet,
    )
    return url
