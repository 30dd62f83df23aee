"""`artcolor train-auto`: give a trained model (with an encoder) an automatic decoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..config import PRESETS
from ..training.config import AutoConfig, TrainConfig
from . import WEIGHTS_HELP, fail

# options that set a key of the run's config; their defaults are the config's (AutoConfig's unless a
# config file, --set or the resumed run's config.yaml says otherwise)
SETTINGS = {"epochs": "auto.epochs", "steps": "auto.steps", "variants": "auto.variants", "lr": "auto.lr",
            "tail_lr": "auto.tail_lr", "balance": "auto.balance", "colourful": "auto.colourful", "device": "device",
            "seed": "seed"}


def _default(key: str) -> str:
    return f"(default: the config's, {getattr(AutoConfig, key)})"


@click.command("train-auto")
@click.option("--weights", default=None, metavar="DIR|hf://ORG/NAME", help=WEIGHTS_HELP)
@click.option("--photos", required=True, multiple=True,
              help="Training photos: a folder or hf:NAME[:split]; repeat it to train on several.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (config, checkpoint, RUN/model).")
@click.option("--cache", default=None, type=click.Path(path_type=Path),
              help="Folder of the cached crops, one file per photo source (default: OUT/cache); runs may share it.")
@click.option("--config", "config", default="default", show_default=True,
              help=f"{', '.join(PRESETS)} or FILE.yaml: the run's `auto` section, held-out split (data), seed and device.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. auto.batch_size=16 or data.max_val=32.")
@click.option("--epochs", type=click.IntRange(min=1), help=f"Epochs over the cached crops {_default('epochs')}.")
@click.option("--steps", type=click.IntRange(min=0),
              help=f"Stop after this many steps in all, the schedule ending there; 0: every epoch {_default('steps')}.")
@click.option("--variants", type=click.IntRange(min=1), help=f"Random crops cached per photo {_default('variants')}.")
@click.option("--temperature", default=None, type=click.FloatRange(0.01, 10.0),
              help="Annealed-mean temperature (default: the model config's).")
@click.option("--mix", default=None, type=click.FloatRange(0.0, 1.0),
              help="Share of the annealed mean in the output (default: the model config's).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help=f"Peak learning rate of the decoder {_default('lr')}.")
@click.option("--tail", is_flag=True, help="Give the decoder its own copy of the encoder past stride 8, fine-tuned with it.")
@click.option("--tail-from", default=None, type=click.Choice(["4", "8"]),
              help="The stride that copy starts from (default: the model's, else 8); 4 fine-tunes the blocks of strides 8 to 32.")
@click.option("--tail-lr", type=click.FloatRange(min=0, min_open=True),
              help=f"Peak learning rate of that copy {_default('tail_lr')}.")
@click.option("--balance", type=click.FloatRange(min=0),
              help=f"Weight of a loss on each crop's mean and spread of a*b* (its colour balance) {_default('balance')}.")
@click.option("--colourful", type=click.FloatRange(0, 4),
              help=f"Draw crops with probability ~ colourfulness ** this; 0: each once per epoch {_default('colourful')}.")
@click.option("--device",
              help=f"auto, cpu, cuda or cuda:N, bfloat16 autocast on CUDA (default: the config's, {TrainConfig.device}).")
@click.option("--seed", type=click.IntRange(min=0),
              help=f"Seeds the cached crops, a new decoder and the batch order (default: the config's, {TrainConfig.seed}).")
@click.option("--resume", is_flag=True, help="Continue the run in --out (its config, cache and checkpoint).")
def command(weights, photos, out, cache, config, overrides, temperature, mix, tail, tail_from, resume, **settings):
    """Cache the frozen encoder's features of --photos, train an automatic decoder on them, and write
    the model with it to OUT/model. Rows coloured with no reference then use the decoder."""
    import torch

    from ..inference import Colorizer
    from ..training.auto import cache_path, decoder_device, train
    from ..training.auto import cache as write_cache

    try:
        cfg = run_config(config, out, resume, [*overrides, *(f"{SETTINGS[k]}={v}" for k, v in settings.items() if v is not None)])
        decoder_device(cfg.device)
        base = Colorizer.load(weights).net
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if base.semantic is None:
        fail("the model has no encoder (config encoder: none): an automatic decoder reads its features")
    torch.manual_seed(cfg.seed)  # a new decoder's (or tail's) initial weights
    try:
        net = with_decoder(base, tail or tail_from is not None, tail_from, temperature, mix)
    except ValueError as e:
        fail(str(e))
    cfg = dataclasses.replace(cfg, model=net.config)  # the network is --weights', with its decoder
    out.mkdir(parents=True, exist_ok=True)
    stages = net.auto.stages(hints=None)
    paths = [cache_path(cache or out / "cache", spec, cfg, stages) for spec in photos]
    try:
        for spec, path in zip(photos, paths):
            if not path.is_file():
                write_cache(net, spec, path, cfg, stages, device=decoder_device(cfg.device))
        train(net, paths, out, cfg, resume=resume)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    Colorizer(net).save(out / "model")
    click.echo(f"model saved to {out / 'model'}")


def run_config(config: str, out: Path, resume: bool, overrides: list[str]):
    """--config (a preset or a YAML file), or when resuming the run's own config.yaml, then the overrides."""
    from ..training import load_config

    if resume and (out / "config.yaml").is_file():
        return load_config(str(out / "config.yaml"), overrides, run=True)
    return load_config(config, overrides)


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
