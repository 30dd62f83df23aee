"""Training. `artcolor train`: `loop.py` runs the steps of a `Run` built in `run.py`, on the batches
`batches.py` assembles from `data.py`'s sources, with `recipe.py`'s references and `step.py`'s loss;
`growth.py` starts it from a smaller or older model (`--init`), `diagnostics.py` validates and plots,
`distributed.py` scales it out. `artcolor train-auto`: `auto.py`. Both are configured by `config.py`
and checkpoint through `checkpoint.py`."""

import importlib

from .config import TrainConfig, load_config, preset_config

__all__ = ["TrainConfig", "load_config", "preset_config", "train", "TrainingError"]

_LAZY = {"train": "loop", "TrainingError": "run"}


def __getattr__(name):
    # the loop imports torch and the network on first use: configs (and the CLI's help) need neither
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'artcolor.training' has no attribute {name!r}")
