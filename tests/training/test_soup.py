"""Weight averaging of the automatic path (training/soup.py, scripts/average_auto.py)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import perturb

from artcolor.config import preset
from artcolor.model.folders import load_net, save_net
from artcolor.model import ColorNet
from artcolor.training.soup import average_auto, tail_origin

TAIL = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", auto_decoder=True, auto_tail=True,
                           image_size=64)


def net(seed: int) -> ColorNet:
    return perturb(ColorNet(TAIL), scale=0.05, seed=seed)


def auto_floats(n: ColorNet) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in n.auto.state_dict().items() if v.is_floating_point()}


def test_the_blend_lies_between_the_two_decoders_and_leaves_the_rest_alone():
    a, b = net(0), net(1)
    mine, theirs = auto_floats(a), auto_floats(b)
    rest = {k: v.clone() for k, v in a.state_dict().items() if not k.startswith("auto.")}
    average_auto(a, b, weight=0.25)
    for k, v in auto_floats(a).items():
        assert torch.allclose(v, 0.75 * mine[k] + 0.25 * theirs[k], atol=1e-6), k
    assert any(not torch.equal(mine[k], theirs[k]) for k in mine)  # the two were apart to begin with
    for k, v in a.state_dict().items():
        if not k.startswith("auto."):
            assert torch.equal(v, rest[k]), k


def test_the_ends_of_the_blend_are_the_two_decoders():
    a, b = net(0), net(1)
    theirs = auto_floats(b)
    average_auto(a, b, weight=1.0)
    assert all(torch.equal(v, theirs[k]) for k, v in auto_floats(a).items())
    before = auto_floats(a)
    average_auto(a, net(2), weight=0.0)
    assert all(torch.equal(v, before[k]) for k, v in auto_floats(a).items())


def test_the_tail_moves_toward_the_imagenet_blocks_it_was_copied_from():
    a = net(0)
    tuned, origin = auto_floats(a), {k: v.clone() for k, v in tail_origin(a).items()}
    assert any(not torch.equal(tuned[k], origin[k]) for k in origin if k in tuned)  # perturbed apart
    average_auto(a, tail_weight=0.75)
    now = auto_floats(a)
    for k in tuned:
        expected = 0.75 * tuned[k] + 0.25 * origin[k] if k in origin else tuned[k]
        assert torch.allclose(now[k], expected, atol=1e-6), k
    average_auto(a, tail_weight=0.0)
    assert all(torch.allclose(now_v, origin[k]) for k, now_v in auto_floats(a).items() if k in origin)


@pytest.mark.parametrize("kwargs, message", [
    ({"weight": 1.5}, "weight must be in [0, 1], got 1.5"),
    ({"tail_weight": -0.1}, "tail_weight must be in [0, 1], got -0.1"),
])
def test_a_share_outside_zero_to_one_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        average_auto(net(0), net(1), **kwargs)


def test_decoders_of_another_architecture_do_not_blend():
    other = perturb(ColorNet(dataclasses.replace(TAIL, auto_tail=False)), scale=0.05)
    with pytest.raises(ValueError, match="differ in architecture"):
        average_auto(net(0), other)
    with pytest.raises(ValueError, match="no tail of its own"):
        average_auto(other, tail_weight=0.5)


def test_the_script_writes_a_model_that_loads(tmp_path):
    save_net(net(0), tmp_path / "a")
    save_net(net(1), tmp_path / "b")
    script = Path(__file__).parents[2] / "scripts" / "average_auto.py"
    done = subprocess.run([sys.executable, script, "--weights", tmp_path / "a", "--with", tmp_path / "b",
                           "--weight", "0.5", "--out", tmp_path / "soup"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    soup, a, b = (auto_floats(load_net(tmp_path / name)) for name in ("soup", "a", "b"))
    assert all(torch.allclose(v, (a[k] + b[k]) / 2, atol=1e-6) for k, v in soup.items())
    bad = subprocess.run([sys.executable, script, "--weights", tmp_path / "a", "--weight", "2", "--out",
                          tmp_path / "bad"], capture_output=True, text=True)
    assert bad.returncode != 0 and "weight must be in [0, 1], got 2" in bad.stderr
    assert not (tmp_path / "bad").exists()
