"""`artcolor export`: the colour network as an ONNX graph, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import click

from . import WEIGHTS_HELP, fail


@click.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default="onnx", show_default=True, type=click.Choice(["onnx"]), help="Output format.")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--preset", default=None, help="Export an untrained preset instead (tiny, default, seed).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(min=13), help="ONNX opset version.")
def command(out, fmt, weights, preset, opset):
    """Export the network to OUT (inputs l, style; output out) and compare it with PyTorch.

    The style encoder stays in PyTorch; the null style (automatic colourisation) is stored in the
    graph's metadata.
    """
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        fail(f"ONNX export needs the onnx extra: pip install 'artcolor[onnx]' ({e})")
    from ..export import RELATIVE_TOLERANCE, check_onnx, export_onnx
    from ..inference import Colorizer

    if weights is not None and preset is not None:
        fail("--weights and --preset are exclusive")
    try:
        colorizer = Colorizer.from_preset(preset) if preset else Colorizer.load(weights, device="cpu")
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(colorizer.net, out, opset=opset)
    diff, scale = check_onnx(colorizer.net, out)
    relative = diff / max(scale, 1e-6)
    unit = "ab" if colorizer.config.color_space == "lab" else "sRGB"
    click.echo(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, opset {opset})")
    click.echo(f"onnxruntime vs PyTorch: max abs difference {diff:.2e} on {unit} "
               f"(outputs up to {scale:.3g}; relative {relative:.1e})")
    if relative > RELATIVE_TOLERANCE:
        fail(f"the exported graph differs from PyTorch by {relative:.1e} (relative), above {RELATIVE_TOLERANCE:.0e}")
