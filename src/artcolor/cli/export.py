"""`artcolor export`: the whole model as an ONNX folder that runs without PyTorch, checked against it."""

from __future__ import annotations

from pathlib import Path

import click

from . import WEIGHTS_HELP, fail


@click.command("export")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", default="onnx", show_default=True, type=click.Choice(["onnx"]), help="Output format.")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--preset", default=None, help="Export an untrained preset instead (tiny, default, seed).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(min=13), help="ONNX opset version.")
def command(out, fmt, weights, preset, opset):
    """Export the model into the folder OUT and compare it with PyTorch.

    OUT gets style_encoder.onnx, color_net.onnx, auto_net.onnx (a model with an automatic decoder),
    null_style.npy and config.json: what `artcolor.onnx.OnnxColorizer(OUT)` needs to colourise with
    onnxruntime alone, no PyTorch.
    """
    from ..inference.request import onnx_missing

    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        fail(str(onnx_missing("ONNX export", e)))
    from ..inference.export import export_model
    from ..inference.export_checks import EXPORT_TOLERANCE, PSNR_FLOOR, check_export
    from ..inference import Colorizer

    if weights is not None and preset is not None:
        fail("--weights and --preset are exclusive")
    if out.is_file():
        fail(f"{out}: is a file; OUT is the folder to write the export into")
    try:
        colorizer = Colorizer.from_preset(preset) if preset else Colorizer.load(weights, device="cpu")
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    export_model(colorizer.net, out, opset=opset, options=colorizer.options)
    checks = check_export(colorizer.net, out)
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    click.echo(f"wrote {out}/ ({size:.2f} MB, opset {opset}): {', '.join(sorted(p.name for p in out.iterdir()))}")
    auto = f", automatic decoder {checks['auto']:.1e}" if "auto" in checks else ""
    click.echo(f"onnxruntime vs PyTorch: colour network {checks['color']:.1e}, style encoder {checks['style']:.1e}"
               f"{auto} (max relative difference); colourised photo PSNR {checks['psnr']:.1f} dB")
    if max(v for k, v in checks.items() if k != "psnr") > EXPORT_TOLERANCE:
        fail(f"the exported graphs differ from PyTorch by more than {EXPORT_TOLERANCE:.0e} (relative)")
    if checks["psnr"] < PSNR_FLOOR:
        fail(f"the ONNX colourisation differs from PyTorch's: PSNR {checks['psnr']:.1f} dB < {PSNR_FLOOR:.0f} dB")
