"""The PyTorch backend: the network itself, on a CPU, CUDA or MPS device (see `backend.py`)."""

from __future__ import annotations

import numpy as np
import torch

from ..color.lab import chroma_ratio
from ..config import InferenceOptions, preset
from ..model import ColorNet
from ..model.correspondence import Bank
from ..model.mapping import paint
from ..model.folders import BUNDLED, load_net, load_options, save_net  # noqa: F401 (the Colorizer's model folders, through here)
from .backend import Backend, option_vector
from .pipeline import Style


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """A device by name, or for None and "auto" the best one here: CUDA, then MPS, then the CPU."""
    if device not in (None, "auto"):
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def preset_net(name: str, seed: int | None = 0) -> ColorNet:
    """An untrained network of a named preset, its weights drawn after `torch.manual_seed(seed)` (None: as they come)."""
    if seed is not None:
        torch.manual_seed(seed)
    return ColorNet(preset(name))


class TorchBackend(Backend):
    """A `ColorNet` on `device` (moved there and put in eval mode), numpy arrays in and out."""

    name = "torch"

    def __init__(self, net: ColorNet, device: str | torch.device | None = None):
        self.device = pick_device(device)
        self.net = net.to(self.device).eval()
        self.config = net.config

    @property
    def null_style(self) -> np.ndarray:
        return self.net.null_style.detach().cpu().numpy()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        # contiguous, as torch.cat made a bank: matmuls over strided keys round otherwise, and the
        # palette transfer's ranks can turn that rounding into visible changes
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    @torch.inference_mode()
    def encode_reference(self, rgb: np.ndarray, match_rgb: np.ndarray | None = None) -> tuple[np.ndarray, tuple | None]:
        code = self.net.encode_style(self._tensor(rgb))[0].cpu().numpy()
        if match_rgb is None:
            return code, None
        bank = self.net.encode_reference(self._tensor(match_rgb))
        return code, (bank.keys.cpu().numpy(), bank.ab.cpu().numpy())

    @torch.inference_mode()
    def predict_ratio(self, l: np.ndarray, style: Style, hints: np.ndarray | None = None,
                      options: InferenceOptions | None = None) -> np.ndarray:
        l = self._tensor(l)
        codes = None if style.automatic else self._tensor(style.code).expand(l.shape[0], -1)  # None: automatic
        bank = None if style.bank is None else Bank(*(self._tensor(a) for a in style.bank))
        hints = None if hints is None else self._tensor(hints)
        out = paint(self.net, l, codes, hints, bank, self._tensor(option_vector(options, style.strength)))
        return chroma_ratio(self.net.to_linear_rgb(l, out)).float().cpu().numpy()
