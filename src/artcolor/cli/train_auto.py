"""`artcolor train-auto`: give a trained model (with an encoder) an automatic decoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from . import WEIGHTS_HELP, fail


@click.command("train-auto")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--photos", required=True, help="Training photos: a folder or hf:NAME[:split].")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (cache, checkpoint, RUN/model).")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(min=1))
@click.option("--variants", default=2, show_default=True, type=click.IntRange(min=1), help="Random crops cached per photo.")
@click.option("--temperature", default=None, type=click.FloatRange(0.01, 10.0),
              help="Annealed-mean temperature (default: the config's).")
@click.option("--mix", default=None, type=click.FloatRange(0.0, 1.0),
              help="Share of the annealed mean in the output (default: the config's).")
@click.option("--lr", default=2e-3, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate of the decoder.")
@click.option("--tail", is_flag=True, help="Give the decoder its own copy of the encoder past stride 8, fine-tuned with it.")
@click.option("--tail-lr", default=1e-4, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate of that copy.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seeds the cached crops and the batch order.")
@click.option("--resume", is_flag=True, help="Continue the run in --out (its cache and checkpoint).")
def command(weights, photos, out, epochs, variants, temperature, mix, lr, tail, tail_lr, seed, resume):
    """Cache the frozen encoder's features of --photos, train an automatic decoder on them, and write
    the model with it to OUT/model. Rows coloured with no reference then use the decoder."""
    from ..inference import Colorizer
    from ..model import ColorNet
    from ..model.efficientnet import EncoderTail
    from ..training.auto import AutoConfig, cache, train

    try:
        base = Colorizer.load(weights).net
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if base.semantic is None:
        fail("the model has no encoder (config encoder: none): an automatic decoder reads its features")
    changes = {"auto_decoder": True, "auto_tail": tail or base.config.auto_tail}
    changes.update({k: v for k, v in (("auto_temperature", temperature), ("auto_mix", mix)) if v is not None})
    net = ColorNet(dataclasses.replace(base.config, **changes))
    net.load_state_dict(base.state_dict(), strict=False)  # all but the new decoder (a decoder it had is retrained)
    if net.config.auto_tail and not base.config.auto_tail:
        net.auto.tail = EncoderTail(net.semantic.encoder)  # a new tail starts as the encoder's blocks
    cfg = AutoConfig(epochs=epochs, variants=variants, size=base.config.image_size, lr=lr, tail_lr=tail_lr, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if not (resume and (out / "cache.pt").is_file()):
            cache(net, photos, out, cfg)
        train(net, out, out, cfg, resume=resume)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    Colorizer(net).save(out / "model")
    click.echo(f"model saved to {out / 'model'}")
