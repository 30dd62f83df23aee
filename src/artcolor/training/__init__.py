"""Training: data, the reference recipe, the loop, diagnostics and multi-process scale-out."""

from .config import TrainConfig, load_config, preset_config
from .loop import train
from .run import TrainingError

__all__ = ["TrainConfig", "load_config", "preset_config", "train", "TrainingError"]
