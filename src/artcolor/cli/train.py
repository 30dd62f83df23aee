"""`artcolor train`: a thin shell over `artcolor.training.train`."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import PRESETS
from . import fail


@click.command("train")
@click.option("--config", "config", default="default", show_default=True, help=f"{', '.join(PRESETS)} or FILE.yaml.")
@click.option("--photos", default=None, help="Training photos: a folder or hf:NAME[:split].")
@click.option("--paintings", default=None, help="Style references: a folder or hf:NAME[:split].")
@click.option("--val-photos", default=None, help="Validation photos (default: a split of --photos).")
@click.option("--val-paintings", default=None, help="Validation references (default: a split of --paintings).")
@click.option("--out", default=None, type=click.Path(path_type=Path), help="Run folder (default: runs/<config>).")
@click.option("--steps", default=None, type=click.IntRange(min=1), help="Total optimiser steps.")
@click.option("--until", default=None, type=click.IntRange(min=1), help="Stop at this step (the schedule still runs to --steps).")
@click.option("--init", default=None, metavar="DIR|hf://ORG/NAME",
              help="Start from a model folder's weights (a folder, or hf://ORG/NAME[@REVISION] from the Hub).")
@click.option("--resume", default=None, type=click.Path(path_type=Path), help="Continue this run folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value, e.g. optim.lr=1e-3.")
def command(config, photos, paintings, val_photos, val_paintings, out, steps, until, init, resume, overrides):
    """Train a colourisation model; the final model folder is RUN/model (RUN/best: best validation)."""
    from ..inference.hub import resolve_model
    from ..training import TrainingError, load_config, train

    overrides = list(overrides)
    for key, value in [("data.photos", photos), ("data.paintings", paintings), ("data.val_photos", val_photos),
                       ("data.val_paintings", val_paintings), ("optim.steps", steps)]:
        if value is not None:
            overrides.append(f"{key}={value}")
    try:
        if resume is not None:  # the run's own config, then the overrides
            if not (resume / "config.yaml").is_file():
                fail(f"{resume}: not a run folder (no config.yaml)")
            cfg, out = load_config(str(resume / "config.yaml"), overrides, run=True), resume
        else:
            cfg = load_config(config, overrides)
            out = out or Path("runs") / Path(config).stem
        init = resolve_model(init) if init is not None else None  # hf://: the snapshot's folder
        model_dir = train(cfg, out, resume=resume is not None, until=until, init=init)
    except (TrainingError, ValueError, FileNotFoundError, ImportError) as e:
        fail(str(e))
    click.echo(f"model saved to {model_dir}")
