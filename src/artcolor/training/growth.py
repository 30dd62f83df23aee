"""Starting a run from a trained model's weights (`artcolor train --init`), grown to fit a larger
network: a palette, more palette classes, the pretrained encoder, hint inputs or correspondence added.
What the source lacks starts where it computes nothing new, so step 0 computes what the source did."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..model.folders import load_net
from ..model import ColorNet
from ..model.palette import split_classes
from .run import Run, TrainingError, pretrained_encoder


def start_from(run: Run, folder: str | Path) -> None:
    """Load the model folder's weights, grown to the run's network, into the network and its EMA."""
    try:
        source = load_net(folder)
    except (FileNotFoundError, ValueError) as e:
        raise TrainingError(f"--init: {e}") from None
    if source.semantic is None:  # a model grown an encoder takes ImageNet's
        pretrained_encoder(run)
    try:
        state, grown = init_state(source, run.net)
    except TrainingError as e:
        raise TrainingError(f"--init {folder}: {e}") from None
    if grown and run.dist.is_main:
        print(f"--init: grown, new parts: {', '.join(grown)}", file=sys.stderr)
    for net in filter(None, (run.net, run.ema)):
        net.load_state_dict(state)


def init_state(source: ColorNet, target: ColorNet) -> tuple[dict, list[str]]:
    """A trained network's weights for a network that may add a palette, classes to its palette's bands,
    the pretrained encoder (taken from `target`) or hint inputs."""
    c, t = source.config, target.config
    grown = replace(c, palette_bins=t.palette_bins, palette_classes=t.palette_classes, hints=c.hints or t.hints,
                    encoder=t.encoder if c.encoder == "none" else c.encoder,
                    correspondence=c.correspondence or t.correspondence, match_temperature=t.match_temperature)
    same = grown == t
    fits = c.palette_bins in (0, t.palette_bins) and c.classes in (1, t.palette_classes)
    if not (same and fits):
        raise TrainingError("its model config differs from the run's; use --config with the same model section")
    state = source.state_dict()
    if c.palette_bins and c.classes != t.palette_classes:  # each band's colour goes to all its classes
        null = state["null_style"]
        palette = split_classes(null[c.style_dim:], c.palette_bins, t.palette_classes)
        state = {**state, "null_style": torch.cat([null[:c.style_dim], palette])}
    return grow_state(state, target.state_dict())


def grow_state(source: dict, target: dict) -> tuple[dict, list[str]]:
    """Fit a model's weights into a larger one: each tensor fills the leading corner of its place,
    and tensors the source lacks keep the target's initial values.

    Adding a palette to a trained model only widens its first conv (new input channels) and its null
    style (new trailing entries); with zeros there, the grown model computes what the source did.
    Adding palette classes adds `palette_keys` (fresh) and copies each band's null colour to its classes.
    """
    state, grown = {}, []
    for name, t in target.items():
        if name not in source:
            state[name] = t
            grown.append(name.split(".")[0])
            continue
        s = source[name]
        if s.shape != t.shape:
            if s.dim() != t.dim() or any(a > b for a, b in zip(s.shape, t.shape)):
                raise TrainingError(f"--init: {name} has shape {tuple(s.shape)}, cannot grow to {tuple(t.shape)}")
            wider = torch.zeros_like(t)
            wider[tuple(slice(0, n) for n in s.shape)] = s
            s = wider
            grown.append(name)
        state[name] = s
    return state, list(dict.fromkeys(grown))
