"""Weight averaging of the automatic path: a retrained decoder blended with the one it started from.

Fine-tuning on new photos teaches a decoder those photos' colours; averaging its weights with the
weights it started from (same architecture, same start, so the average stays a working network)
keeps much of what each knew, as robust fine-tuning does (WiSE-FT, Wortsman et al. 2022). The
decoder's own copy of the encoder (its tail) can also be pulled back toward the shared encoder's
ImageNet blocks it was copied from.

    blended = (1 - weight) * net + weight * other        (every float tensor of `net.auto`)
    tail    = tail_weight * blended tail + (1 - tail_weight) * ImageNet's blocks

Counters (batch norm's `num_batches_tracked`) stay `net`'s. `scripts/average_auto.py` is the command.
"""

from __future__ import annotations

import torch

from ..model import ColorNet


def tail_origin(net: ColorNet) -> dict[str, torch.Tensor]:
    """The shared encoder's blocks the automatic decoder's tail was copied from, keyed as `net.auto`'s."""
    tail, encoder = net.auto.tail, net.semantic.encoder
    first = len(encoder.blocks) - len(tail.blocks)
    return {f"tail.blocks.{i}.{k}": v for i in range(len(tail.blocks))
            for k, v in encoder.blocks[first + i].state_dict().items()}


@torch.no_grad()
def average_auto(net: ColorNet, other: ColorNet | None = None, weight: float = 0.5,
                 tail_weight: float = 1.0) -> ColorNet:
    """Move `net`'s automatic decoder `weight` of the way to `other`'s (None: stay), then keep
    `tail_weight` of its tail against ImageNet's blocks; in place, returns `net`."""
    for name, value in (("weight", weight), ("tail_weight", tail_weight)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if net.auto is None:
        raise ValueError("the model has no automatic decoder to average")
    state = net.auto.state_dict()
    if other is not None:
        theirs = other.auto.state_dict() if other.auto is not None else {}
        if theirs.keys() != state.keys() or any(theirs[k].shape != v.shape for k, v in state.items()):
            raise ValueError("the two automatic decoders differ in architecture: only the same one averages")
        for k, v in state.items():
            if v.is_floating_point():
                v.lerp_(theirs[k].to(v.dtype), weight)
    if tail_weight != 1:
        if net.auto.tail is None:
            raise ValueError("tail_weight: this decoder has no tail of its own (config auto_tail: false)")
        for k, origin in tail_origin(net).items():
            if state[k].is_floating_point():
                state[k].lerp_(origin.to(state[k].dtype), 1 - tail_weight)
    return net
