"""The arithmetic both training loops run their forward passes in: bfloat16 autocast on CUDA (its
tensor cores; no loss scaling needed, bfloat16 has float32's range), float32 elsewhere.

Ops that need float32 under autocast turn it off themselves (`correspondence.palette_transfer`'s
ranks and quantiles); tests/training/test_gpu_training.py runs a step of each loop under CPU bfloat16 autocast
and on the "meta" device, where a CPU tensor meeting the step's tensors fails as it would on CUDA.
"""

from __future__ import annotations

import contextlib

import torch


def autocast(device: torch.device):
    """The forward pass's context on `device`: bfloat16 autocast on CUDA, else nothing."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
