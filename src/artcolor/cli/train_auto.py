"""`artcolor train-auto`: give a trained model (with an encoder) an automatic decoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from . import WEIGHTS_HELP, fail


@click.command("train-auto")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--photos", required=True, multiple=True,
              help="Training photos: a folder or hf:NAME[:split]; repeat it to train on several.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (checkpoint, RUN/model).")
@click.option("--cache", default=None, type=click.Path(path_type=Path),
              help="Folder of the cached crops, one file per photo source (default: OUT/cache); runs may share it.")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=0, show_default=True, type=click.IntRange(min=0),
              help="Stop after this many steps in all, the schedule ending there (0: every epoch).")
@click.option("--variants", default=2, show_default=True, type=click.IntRange(min=1), help="Random crops cached per photo.")
@click.option("--temperature", default=None, type=click.FloatRange(0.01, 10.0),
              help="Annealed-mean temperature (default: the config's).")
@click.option("--mix", default=None, type=click.FloatRange(0.0, 1.0),
              help="Share of the annealed mean in the output (default: the config's).")
@click.option("--lr", default=2e-3, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate of the decoder.")
@click.option("--tail", is_flag=True, help="Give the decoder its own copy of the encoder past stride 8, fine-tuned with it.")
@click.option("--tail-from", default=None, type=click.Choice(["4", "8"]),
              help="The stride that copy starts from (default: the model's, else 8); 4 fine-tunes the blocks of strides 8 to 32.")
@click.option("--tail-lr", default=1e-4, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate of that copy.")
@click.option("--balance", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Weight of a loss on each crop's mean and spread of a*b* (its colour balance).")
@click.option("--colourful", default=0.0, show_default=True, type=click.FloatRange(0, 4),
              help="Draw crops with probability ~ colourfulness ** this (0: each once per epoch).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (bfloat16 autocast on CUDA).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seeds the cached crops and the batch order.")
@click.option("--resume", is_flag=True, help="Continue the run in --out (its cache and checkpoint).")
def command(weights, photos, out, cache, epochs, steps, variants, temperature, mix, lr, tail, tail_from, tail_lr,
            balance, colourful, device, seed, resume):
    """Cache the frozen encoder's features of --photos, train an automatic decoder on them, and write
    the model with it to OUT/model. Rows coloured with no reference then use the decoder."""
    import torch

    from ..inference import Colorizer
    from ..training.auto import AutoConfig, cache_path, train
    from ..training.auto import cache as write_cache

    if device != "cpu" and not (device.startswith("cuda") and torch.cuda.is_available()):
        fail(f"--device {device}: not available here (cpu{', cuda' if torch.cuda.is_available() else ''})")
    try:
        base = Colorizer.load(weights).net
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if base.semantic is None:
        fail("the model has no encoder (config encoder: none): an automatic decoder reads its features")
    try:
        net = with_decoder(base, tail or tail_from is not None, tail_from, temperature, mix)
    except ValueError as e:
        fail(str(e))
    cfg = AutoConfig(epochs=epochs, steps=steps, variants=variants, size=base.config.image_size, lr=lr, tail_lr=tail_lr,
                     balance=balance, colourful=colourful, device=device, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    stages = net.auto.stages(hints=None)
    paths = [cache_path(cache or out / "cache", spec, cfg, stages) for spec in photos]
    try:
        for spec, path in zip(photos, paths):
            if not path.is_file():
                write_cache(net, spec, path, cfg, stages)
        train(net, paths, out, cfg, resume=resume)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    Colorizer(net).save(out / "model")
    click.echo(f"model saved to {out / 'model'}")


def with_decoder(base, tail: bool, tail_from: str | None, temperature, mix):
    """`base` with an automatic decoder: its own if it has one (a tail grown to a finer start if asked),
    else a new one; the read-out's settings changed where given."""
    from ..model import ColorNet
    from ..model.efficientnet import EncoderTail

    c = base.config
    changes = {"auto_decoder": True, "auto_tail": tail or c.auto_tail,
               "auto_tail_from": int(tail_from) if tail_from else c.auto_tail_from}
    changes.update({k: v for k, v in (("auto_temperature", temperature), ("auto_mix", mix)) if v is not None})
    net = ColorNet(dataclasses.replace(c, **changes))
    new = net.config
    regrown = new.auto_tail_from != c.auto_tail_from
    state = {k: v for k, v in base.state_dict().items() if not (regrown and k.startswith("auto.tail."))}
    net.load_state_dict(state, strict=False)  # all but a new decoder, or a tail of another start
    if new.auto_tail and not c.auto_tail:
        net.auto.tail = EncoderTail(net.semantic.encoder, new.auto_tail_from)  # a new tail starts as the encoder's blocks
    elif new.auto_tail and regrown:
        net.auto.tail = base.auto.tail.grown(net.semantic.encoder, new.auto_tail_from)
    return net
