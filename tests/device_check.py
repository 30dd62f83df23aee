"""A device check without a GPU: run a step on the "meta" device under `OneDevice`, which fails any
op whose tensors sit on two devices (a CPU table, constant or kernel meeting the step's tensors),
as CUDA fails it, and where torch itself lets some through (a CPU table indexed by meta indices
gives a CPU tensor instead of an error).

Meta tensors hold no values, so `.item()` (and `if tensor:`) answers a stand-in: True, 1 or 0.5;
and masks are taken as all true, so the branches behind them run.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

META = torch.device("meta")
_MOVES = {torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default}  # .to(device): the way across


class OneDevice(TorchDispatchMode):
    """Every op's tensors on one device, a 0-dim CPU tensor (a Python scalar) excepted."""

    def __enter__(self):
        import torch.fx.experimental._config as fx_config  # boolean masks on meta: all true

        self._nonzero = fx_config.meta_nonzero_assume_all_nonzero
        fx_config.meta_nonzero_assume_all_nonzero = True
        return super().__enter__()

    def __exit__(self, *exc):
        import torch.fx.experimental._config as fx_config

        fx_config.meta_nonzero_assume_all_nonzero = self._nonzero
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._local_scalar_dense.default and args[0].is_meta:
            t = args[0]
            return True if t.dtype == torch.bool else 0.5 if t.is_floating_point() else 1
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        devices = {str(t.device) for t in tensors if not (t.device.type == "cpu" and t.dim() == 0)}
        if len(devices) > 1 and func not in _MOVES:
            shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
            raise RuntimeError(f"{func}: tensors on {len(devices)} devices: {shapes}")
        return func(*args, **kwargs)
