"""Model folders: a network saved as `config.json` + `model.safetensors` + a model card, and read back
checked against its config (training writes them, inference reads them; neither needs the other)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from ..config import InferenceOptions, ModelConfig, read_config
from .card import write_model_card
from ..inputs.images import atomic_write
from .auto import upgrade_state
from .unet import ColorNet

BUNDLED = Path(__file__).parents[1] / "weights" / "default"  # the model installed with the package


def save_net(net: ColorNet, path: str | os.PathLike, dtype: torch.dtype | None = torch.float32,
             options: InferenceOptions | None = None) -> None:
    """A model folder in the Hugging Face Hub layout: config.json (the architecture and the inference
    `options`, the defaults if None) + model.safetensors (weights as `dtype`; None: float32) + README.md (card)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype or torch.float32).contiguous() for k, v in net.state_dict().items()}
    with atomic_write(folder / "model.safetensors") as f:
        f.write(save(state, metadata={"format": "pt", "artcolor": "ColorNet"}))
    with atomic_write(folder / "config.json") as f:
        f.write(net.config.to_json(options).encode())
    write_model_card(folder, net.config)


def load_net(path: str | os.PathLike) -> ColorNet:
    """A model folder -> its network; a folder whose weights do not match its config (or
    hold NaN or inf) is a ValueError naming the file and the tensor."""
    folder = Path(path)
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder}: not a model folder (missing {name})")
    config = ModelConfig.load(folder / "config.json")
    try:
        state = load_file(str(folder / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{folder / 'model.safetensors'}: cannot read weights ({e})") from None
    state = upgrade_state(state)  # a decoder saved with its hint slots: sliced to today's layout
    _check_state(folder, config, state)
    net = ColorNet(config)
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net


def load_options(path: str | os.PathLike) -> InferenceOptions:
    """A model folder's inference options (config.json's "inference" section; older folders' from their
    "model" section)."""
    return read_config(Path(path) / "config.json")[1]


def _check_state(folder: Path, config: ModelConfig, state: dict[str, torch.Tensor]) -> None:
    """ValueError unless `state` holds exactly the tensors `config` describes, of its shapes, all finite."""
    # the bundled model matches its config (the tests load it): its weights stand in for the shapes
    expected = state if folder.resolve() == BUNDLED.resolve() else _expected_state(folder, config)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{folder}: weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")
    bad = [k for k in expected if expected[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise ValueError(f"{folder}: {k} has shape {tuple(state[k].shape)}, config.json implies {tuple(expected[k].shape)}")
    for k, v in state.items():  # a NaN weight would make every output black, not an error
        if v.is_floating_point() and not torch.isfinite(v).all():
            n = int((~torch.isfinite(v)).sum())
            raise ValueError(f"{folder / 'model.safetensors'}: {k} holds {n} non-finite values (NaN or inf) "
                             f"of {v.numel()}; the weights are damaged")


def _expected_state(folder: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The state dict `config` describes, built on the meta device: shapes only, so a config.json
    naming huge widths allocates nothing. Its first use costs 1-2 s (meta tensors' arithmetic
    imports PyTorch's Python kernels), which the bundled model's start-up is spared."""
    try:
        with torch.device("meta"):
            return ColorNet(config).state_dict()
    except RuntimeError as e:
        raise ValueError(f"{folder / 'config.json'}: describes a network that cannot be built ({e})") from None
