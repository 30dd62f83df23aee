"""Model folders and decoder states saved in an older layout of the automatic decoder load as today's
(`model.auto.upgrade_state`, `AutoDecoder._load_from_state_dict`) and colour exactly as they did."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import perturb

from artcolor import Colorizer
from artcolor.config import preset
from artcolor.model import ColorNet
from artcolor.model.auto import upgrade_state

AUTO = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True, image_size=64)

SLOTTED = ("top.0.weight", "fuse.0.0.weight", "fuse.1.0.weight", "fuse.2.0.weight", "stem.0.weight")


def with_hint_slots(state: dict, prefix: str = "auto.") -> dict:
    """`state` as decoders were saved before the hint slots went: three more input columns in each
    conv that took them (random, so that a slice keeping any of them would show)."""
    g = torch.Generator().manual_seed(1)
    return {k: torch.cat([v, torch.randn(v.shape[0], 3, *v.shape[2:], generator=g)], dim=1)
            if k.removeprefix(prefix) in SLOTTED else v for k, v in state.items()}


@pytest.mark.parametrize("tail_from", [None, 8, 4])
def test_a_model_saved_with_hint_slots_loads_and_colours_as_today(tail_from, tmp_path, gray_photo):
    config = AUTO if tail_from is None else dataclasses.replace(AUTO, auto_tail=True, auto_tail_from=tail_from)
    torch.manual_seed(0)
    today = Colorizer(perturb(ColorNet(config), scale=0.05))
    today.save(tmp_path / "m")
    save_file(with_hint_slots(today.net.state_dict()), tmp_path / "m" / "model.safetensors")  # the old layout
    again = Colorizer.load(tmp_path / "m")
    assert np.array_equal(np.asarray(again.colorize(gray_photo)), np.asarray(today.colorize(gray_photo)))
    decoder = ColorNet(config).auto  # a training checkpoint's decoder state, loaded by the module itself
    decoder.load_state_dict(with_hint_slots(today.net.auto.state_dict(), prefix=""))
    assert all(torch.equal(a, b) for a, b in zip(decoder.state_dict().values(), today.net.auto.state_dict().values()))


def test_upgrade_state_slices_the_slot_columns_into_a_new_dict():
    torch.manual_seed(0)
    net = ColorNet(AUTO)
    state = net.state_dict()
    old = with_hint_slots(state)
    assert old["auto.top.0.weight"].shape[1] == net.auto.top[0].in_channels + 3
    new = upgrade_state(old)
    assert all(torch.equal(new[k], v) for k, v in state.items())
    assert old["auto.stem.0.weight"].shape[1] == 4, "the caller's dict is left as it was"
    assert all(upgrade_state(state)[k] is v for k, v in state.items())  # today's layout: nothing to do
    assert upgrade_state({"unet.w": state["auto.top.0.weight"]}).keys() == {"unet.w"}  # no decoder
