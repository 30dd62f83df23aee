"""Both training loops where a GPU runs them: a step under bfloat16 autocast (CPU autocast here, the
arithmetic CUDA's runs in), a step on the "meta" device under `device_check.OneDevice` (no tensor
of the step may sit on another device: a cached CPU table met by a CUDA batch crashed train-auto),
and, with CUDA, a step of each on the GPU (`-m cuda`)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch

from conftest import perturb
from device_check import META, OneDevice

from artcolor.config import preset
from artcolor.model import ColorNet
from artcolor.model.auto import in_gamut_bins, grid_index
from artcolor.training import auto, load_config
from artcolor.training.data import Batch
from artcolor.training.distributed import Dist
from artcolor.training.loop import train_step
from artcolor.training.run import build_run

AUTO = dataclasses.replace(preset("tiny"), encoder="efficientnet-lite0", hints=True, auto_decoder=True, auto_tail=True,
                           image_size=64)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def matching_config(device: str):
    """The correspondence fine-tune's recipe (configs/correspondence.yaml: matching, coherence, hints)
    at 64 pixels (the palette transfer is inference's, `mapping.paint`: training never runs it)."""
    return load_config(str(CONFIGS / "correspondence.yaml"), [
        "model.image_size=64", "optim.batch_size=4",
        "optim.warmup=1", f"device={device}", "threads=0"])


def batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    photos = torch.randint(0, 256, (4, 3, 64, 64), generator=g, dtype=torch.uint8)
    return Batch(photos, photos.flip(0)[:2], [])


def matching_run(tmp_path, device: str):
    torch.manual_seed(0)
    run = build_run(matching_config(device), tmp_path, Dist())
    if device == "cpu":
        perturb(run.net, scale=0.05)  # live matching inputs and blends (they start at zero)
    return run


def auto_batch(net: ColorNet, n: int = 4):
    """A cached batch as `auto.cached_batch` gives it: the encoder's features, L*, a*b*."""
    g = torch.Generator().manual_seed(0)
    l, ab = torch.rand(n, 1, 64, 64, generator=g) * 100, torch.randn(n, 2, 64, 64, generator=g) * 30
    with torch.no_grad():
        features = net.semantic.features(l, net.auto.stages(hints=None))
    return list(features), l, ab


def auto_step(decoder, data, weights, amp):
    cfg = auto.AutoConfig(balance=0.5)
    opt, sched = auto.optimizer(decoder, cfg, total=10)
    return auto.update(decoder, data, weights, cfg, opt, sched, amp)


def test_a_train_step_runs_under_bf16_autocast(tmp_path):
    run = matching_run(tmp_path, "cpu")
    before = copy.deepcopy(run.net.state_dict())
    dtypes = []
    hook = run.net.head.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        parts, seen = train_step(run, iter([batch()]), {})
    hook.remove()
    assert dtypes and set(dtypes) == {torch.bfloat16}  # the network did run in bfloat16
    assert seen == 4 and all(torch.isfinite(torch.tensor(v)) for v in parts.values())
    assert {"palette", "coherence", "loss"} <= set(parts)
    moved = [k for k, v in run.net.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    trained = [n for n, p in run.net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert len(trained) > 100 and set(trained) <= set(moved)  # AdamW moved every weight that got a gradient
    assert all(torch.isfinite(p).all() for p in run.net.parameters())


def test_a_train_auto_step_runs_under_bf16_autocast():
    torch.manual_seed(0)
    net = perturb(ColorNet(AUTO), scale=0.05)
    data = auto_batch(net)
    before = copy.deepcopy(net.auto.state_dict())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert net.auto.heads(data[0], data[1])[0].dtype == torch.bfloat16  # the decoder runs in bfloat16
    parts = auto_step(net.auto, data, auto.rebalance_weights(data[2], 0.5), torch.autocast("cpu", dtype=torch.bfloat16))
    assert all(torch.isfinite(torch.tensor(v)) and v > 0 for v in parts.values())
    after = net.auto.state_dict()
    assert sum(not torch.equal(after[k], v) for k, v in before.items() if v.is_floating_point()) > len(before) // 3


def test_a_train_step_keeps_every_tensor_on_the_device(tmp_path):
    run = matching_run(tmp_path, "meta")
    assert next(run.net.parameters()).device == META
    with OneDevice():
        parts, _ = train_step(run, iter([batch()]), {})
    assert {"palette", "coherence", "hint", "loss"} <= set(parts)  # every branch ran
    assert all(p.grad is None or p.grad.device == META for p in run.net.parameters())


def test_a_train_auto_step_keeps_every_tensor_on_the_device():
    torch.manual_seed(0)
    net = ColorNet(AUTO)
    features, l, ab = auto_batch(net)
    weights = auto.rebalance_weights(ab, 0.5)
    decoder = net.auto.to(META)
    with OneDevice():
        parts = auto_step(decoder, ([f.to(META) for f in features], l.to(META), ab.to(META)), weights.to(META),
                          torch.autocast("cpu", enabled=False))
    assert set(parts) == {"ce", "huber", "balance"}


def test_the_device_check_fails_a_cpu_table_meeting_a_device_tensor():
    ab = torch.zeros(1, 2, 4, 4, device=META)
    table = in_gamut_bins()[1]  # a CPU tensor, as the table train-auto crashed on
    with OneDevice(), pytest.raises(RuntimeError, match="2 devices"):
        table[grid_index(ab.movedim(1, -1))]
    with OneDevice():  # moved to the batch's device first, as nearest_bin does
        assert auto.nearest_bin(ab).device == META


@pytest.mark.cuda
@cuda
def test_a_train_step_on_cuda_matches_the_cpu(tmp_path):
    runs = [matching_run(tmp_path / d, d) for d in ("cpu", "cuda")]
    runs[1].net.load_state_dict(runs[0].net.state_dict())  # the CPU run's perturbed weights, copied over
    parts = [train_step(run, iter([batch()]), {})[0] for run in runs]
    assert parts[1]["loss"] == pytest.approx(parts[0]["loss"], rel=0.1)  # bfloat16 against float32


@pytest.mark.cuda
@cuda
def test_a_train_auto_step_on_cuda_matches_the_cpu():
    torch.manual_seed(0)
    net = perturb(ColorNet(AUTO), scale=0.05)
    data = auto_batch(net)
    weights = auto.rebalance_weights(data[2], 0.5)
    on_gpu = copy.deepcopy(net.auto).cuda()
    cpu = auto_step(net.auto, data, weights, torch.autocast("cpu", enabled=False))
    dev = torch.device("cuda")
    gpu = auto_step(on_gpu, ([f.to(dev) for f in data[0]], data[1].to(dev), data[2].to(dev)), weights.to(dev),
                    auto.autocast(dev))
    assert gpu["ce"] == pytest.approx(cpu["ce"], rel=0.05)
