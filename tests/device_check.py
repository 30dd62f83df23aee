"""A device check without a GPU: run a step on the "meta" device under `OneDevice`, which fails any
op whose tensors sit on two devices (a CPU table, constant or kernel meeting the step's tensors),
as CUDA fails it, and where torch itself lets some through (a CPU table indexed by meta indices
gives a CPU tensor instead of an error).

Meta tensors hold no values, so `.item()` (and `if tensor:`) answers a stand-in: True, 1 or 0.5;
and masks are taken as all true, so the branches behind them run (`_stand_in`).
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

META = torch.device("meta")
_MOVES = {torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default}  # .to(device): the way across


class OneDevice(TorchDispatchMode):
    """Every op's tensors on one device, a 0-dim CPU tensor (a Python scalar) excepted."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        devices = {str(t.device) for t in tensors if not (t.device.type == "cpu" and t.dim() == 0)}
        if len(devices) > 1 and func not in _MOVES:
            shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
            raise RuntimeError(f"{func}: tensors on {len(devices)} devices: {shapes}")
        if args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            stand_in = _stand_in(func, args)
            if stand_in is not None:
                return stand_in
        return func(*args, **kwargs)


def _stand_in(func, args):
    """What a meta tensor cannot answer: a value (True, 1 or 0.5), the places of a mask (all of them),
    or a boolean-mask index (as if every place were true); None for every other op."""
    t = args[0]
    if func is torch.ops.aten._local_scalar_dense.default:
        return True if t.dtype == torch.bool else 0.5 if t.is_floating_point() else 1
    if func is torch.ops.aten.nonzero.default:
        return torch.ones(t.shape, dtype=torch.bool).nonzero().to(META)
    if func is torch.ops.aten.index.Tensor and any(i is not None and i.dtype == torch.bool for i in args[1]):
        indices = []
        for i in args[1]:
            if i is not None and i.dtype == torch.bool:  # a mask: every place it covers
                indices += [p.to(META) for p in torch.ones(i.shape, dtype=torch.bool).nonzero(as_tuple=True)]
            else:
                indices.append(i)
        return func(t, indices)
    return None
