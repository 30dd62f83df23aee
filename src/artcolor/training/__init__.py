"""Training: data, the reference recipe, the loop, diagnostics and multi-process scale-out."""

import importlib

from .config import TrainConfig, load_config, preset_config

__all__ = ["TrainConfig", "load_config", "preset_config", "train", "TrainingError"]

_LAZY = {"train": "loop", "TrainingError": "run"}


def __getattr__(name):
    # the loop imports torch and the network on first use: configs (and the CLI's help) need neither
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'artcolor.training' has no attribute {name!r}")
