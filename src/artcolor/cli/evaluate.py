"""`artcolor evaluate`: measure a model or a baseline on photos and paintings; or tabulate past runs."""

from __future__ import annotations

from pathlib import Path

import click

from . import WEIGHTS_HELP, fail

# `--mode`: the evaluation modes each runs (evaluation.harness.MODES)
MODE_SETS = {"standard": ("automatic", "self", "reframed", "paintings"), "automatic": ("automatic",),
             "hints": ("hints",), "reframed": ("reframed",),
             "reference": ("self", "reframed", "paintings"),
             "all": ("automatic", "self", "reframed", "paintings", "hints")}
COMPOSITIONS = ("transfer", "match")  # baselines built on a model's parts (evaluation/compositions.py)


@click.command("evaluate")
@click.argument("tables", nargs=-1, type=click.Path(path_type=Path))
@click.option("--photos", type=click.Path(path_type=Path), help="Folder of colour photos (the ground truth).")
@click.option("--paintings", type=click.Path(path_type=Path), help="Folder of reference paintings (first K by name).")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--preset", default=None, help="Evaluate an untrained model of this preset (a sanity check).")
@click.option("--method", default="model", type=click.Choice(["model", "gray", "welsh", *COMPOSITIONS]),
              show_default=True, help="The network (--weights, --preset or the bundled model), or a baseline: "
              "gray, welsh, or on the model's parts (--weights or the bundled model) transfer (automatic, then "
              "its a*b* moved onto the reference's) or match (untrained matching where confident).")
@click.option("--k", "k", default=8, show_default=True, type=click.IntRange(min=2),
              help="Paintings used as references.")
@click.option("--n-photos", default=None, type=click.IntRange(min=1), help="Use the first N photos (default: all).")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=16), help="Evaluation short side.")
@click.option("--name", default=None, help="Row label in the table (default: the model folder, preset or method).")
@click.option("--out", type=click.Path(path_type=Path), help="Write results.json and results.md here.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--mode", "mode", default="standard", show_default=True, type=click.Choice(list(MODE_SETS)),
              help="standard: automatic, self-reference, reframed self-reference and paintings; automatic or "
                   "reframed: that mode alone; hints: colour hints "
                   "sampled from the ground truth (a model with hint inputs); "
                   "reference: every mode with a reference; all: every mode.")
@click.option("--coherence", default=None, type=click.FloatRange(0.0, 1.0),
              help="The model's coherence with a reference (default: its own; see `artcolor colorize --coherence`).")
@click.option("--sheet", type=click.Path(path_type=Path),
              help="Also write a contact sheet (JPEG or PNG): input, painting, the output beside its baselines "
                   "(the model at coherence 0, transfer, welsh), ground truth, for --sheet-rows pairs.")
@click.option("--sheet-rows", default=8, show_default=True, type=click.IntRange(min=1), help="Rows of the contact sheet.")
@click.option("--table", is_flag=True, help="Instead: print one table of the results.json files given as arguments.")
def command(tables, photos, paintings, weights, preset, method, k, n_photos, size, name, out, device, mode, coherence,
            sheet, sheet_rows, table):
    """Evaluate automatic, self-reference and painting-reference colourisation; print a Markdown table.

    \b
    artcolor evaluate --photos val/photos --paintings val/paintings --method welsh --out runs/eval/welsh
    artcolor evaluate --table runs/eval/*/results.json
    """
    from ..evaluation import report

    if table or tables:
        if not table or not tables:
            fail("give --table with one or more results.json files (and nothing to evaluate)")
        try:
            click.echo(report.markdown_table(report.load(list(tables))))
        except (ValueError, KeyError) as e:
            fail(f"--table: {e}")
        return
    if photos is None:
        fail("--photos is required")
    from ..evaluation.harness import READ_PAINTINGS

    if paintings is None and set(MODE_SETS[mode]) & set(READ_PAINTINGS):
        fail(f"--mode {mode} needs --paintings")
    subject, label = _subject(method, weights, preset, device)
    if coherence is not None:
        if method != "model":
            fail("--coherence is the model's option: it needs --method model")
        subject, label = subject.using(coherence=coherence), f"{label}, coherence {coherence:g}"
    if sheet is not None:
        _sheet(sheet, subject, method, photos, paintings, k, size, sheet_rows, label)
    result = _run(subject, photos, paintings, k, n_photos, size, MODE_SETS[mode])
    result["name"] = name or label
    click.echo(report.markdown_table([result]))
    if out is not None:
        json_path, _ = report.save(result, out)
        click.echo(f"wrote {json_path} and results.md")


def _subject(method, weights, preset, device):
    """The Colorizer or baseline name to evaluate, and its default row label."""
    if method in COMPOSITIONS:
        from ..evaluation.compositions import method as composition

        colorizer, label = _subject("model", weights, preset, device)
        try:
            return composition(method, colorizer), f"{method} ({label})"
        except ValueError as e:
            fail(str(e))
    if method != "model":
        if weights or preset:
            fail(f"--method {method} is a baseline; it takes no --weights or --preset")
        return method, method
    if weights and preset:
        fail("give --weights or --preset, not both")
    from ..inference import Colorizer

    try:
        if preset:
            return Colorizer.from_preset(preset, device=device), f"{preset} (untrained)"
        label = (weights if weights.startswith("hf://") else Path(weights).name) if weights else "bundled"
        return Colorizer.load(weights, device=device), label
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))


def _run(subject, photos, paintings, k, n_photos, size, modes):
    from ..evaluation import evaluate
    from ..inputs.images import ImageError

    try:
        return evaluate(subject, photos, paintings, k=k, n_photos=n_photos, size=size, progress=True, modes=modes)
    except ImportError as e:
        fail(f"{e}; evaluation needs the eval extra: pip install 'artcolor[eval]'")
    except (FileNotFoundError, ImageError, ValueError) as e:
        fail(str(e))


def _sheet(path: Path, subject, method: str, photos: Path, paintings: Path | None, k: int, size: int, rows: int, label: str):
    """Write the contact sheet of `subject` beside its baselines (`evaluation.sheet`)."""
    from ..evaluation.compositions import method as composition
    from ..evaluation.harness import as_method, load_folder
    from ..evaluation.sheet import contact_sheet
    from ..inputs.images import save_atomic

    if paintings is None:
        fail("--sheet needs --paintings")
    methods = [as_method(subject)]
    methods[0].name = label
    if method == "model":
        pixelwise = as_method(subject.using(coherence=0.0))
        pixelwise.name = "coherence 0"
        methods += [pixelwise] + ([composition("transfer", subject)] if subject.config.encoder != "none" else [])
    methods.append(as_method("welsh"))
    try:
        image = contact_sheet(methods, load_folder(photos, rows, size), load_folder(paintings, k, size), rows)
        save_atomic(image, path)
    except (FileNotFoundError, ValueError, OSError) as e:
        fail(f"--sheet: {e}")
    click.echo(f"wrote {path}")
