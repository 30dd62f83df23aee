"""Training: data, the reference recipe, the loop, diagnostics and multi-process scale-out."""

from .config import TrainConfig, load_config, preset_config
from .loop import TrainingError, train

__all__ = ["TrainConfig", "load_config", "preset_config", "train", "TrainingError"]
