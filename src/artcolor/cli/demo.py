"""`artcolor demo`: the web app on this machine, with the model loaded once."""

from __future__ import annotations

import os
from pathlib import Path

import click

from . import WEIGHTS_HELP, fail

# a shared server decodes several uploads at once: about 1 GB of memory each at this size, twice
# that at the command line's limit
APP_MAX_PIXELS = 50_000_000


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; 0.0.0.0 lets anyone on the network use the app.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--styles", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of reference images added to the gallery.")
@click.option("--max-upload-mb", default=50, show_default=True, type=click.FloatRange(min=0.1),
              help="Largest accepted upload, in MB.")
@click.option("--max-pixels", default=APP_MAX_PIXELS, show_default=True, type=click.IntRange(min=0),
              help="Photos and references larger than this many pixels are refused (0: no limit).")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "torch", "mixed"]),
              help="torch, or mixed: the U-Net under a reference on onnxruntime (CPU), its graph made before the "
                   "app starts. auto: mixed when the onnx extra is installed.")
def command(host, port, weights, styles, max_upload_mb, max_pixels, device, backend):
    """Start the web app: upload a photo, pick a reference, download the colourised result."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        from ..app import build_app, gallery, launch
    except ImportError as e:
        fail(f"the web app needs the app extra: pip install 'artcolor[app]' ({e})")
    from ..inference.backend import onnx_installed
    from ..inference.request import ColorizeRequest, load_colorizer, onnx_missing

    if backend == "auto":  # a server colourises many times: the graph's load pays
        backend = "mixed" if onnx_installed() else "torch"
    try:
        colorizer = load_colorizer(ColorizeRequest(weights=weights, device=device, max_pixels=max_pixels,
                                                   backend=backend))
        if colorizer.backend.name == "mixed":
            click.echo("artcolor demo: loading the network's ONNX graph (exported once, then cached)")
            try:
                colorizer.backend.reference_graph()  # now, not on a visitor's first click
            except ImportError as e:
                raise onnx_missing(f"backend {backend!r}", e) from None
    except (FileNotFoundError, ValueError, ImportError) as e:  # ImportError: the onnx extra, named
        fail(str(e))
    references = gallery(styles)
    click.echo(f"artcolor demo: {len(references)} gallery references; http://{host}:{port} (Ctrl+C stops)")
    try:
        launch(build_app(colorizer, references), host=host, port=port, max_upload_mb=max_upload_mb)
    except OSError as e:
        fail(f"cannot serve on {host}:{port}: {e}")
