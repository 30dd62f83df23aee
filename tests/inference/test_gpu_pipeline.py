"""The GPU pipeline (inference/gpu.py, device_jobs.py), checked on the CPU by running its torch path
on the CPU device: the same bytes as numba's full-resolution loops, and a folder through the batched
path within the 45 dB rule of the file-at-a-time one; with CUDA (`-m cuda`), the same on the GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artcolor import Colorizer
from artcolor.inference.gpu import Recombiner, accelerator, recombine_image
from artcolor.inference.pipeline import recombine
from artcolor.inputs.images import luminance_plane

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
PALETTE = "#e76f51,#f4a261,#e9c46a,#264653"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return np.inf if mse == 0 else 10 * np.log10(255**2 / mse)


def planes(rng, height: int, width: int, small: tuple[int, int]):
    """A luminance plane (some values a hair outside [0, 1], as table sums give) and a chroma ratio,
    some of it far out of gamut (ratios up to 4)."""
    y = (rng.random((height, width), dtype=np.float32) * 1.02 - 0.01).astype(np.float32)
    ratio = (rng.random((3, *small), dtype=np.float32) * 4).astype(np.float32)
    return y, ratio


@pytest.mark.parametrize("shape", [(96, 128, 24, 32), (37, 21, 32, 32), (130, 77, 9, 40), (1, 1, 1, 1)])
def test_device_recombination_on_the_cpu_is_the_cpu_paths_bytes(shape):
    rng = np.random.default_rng(sum(shape))
    y, ratio = planes(rng, shape[0], shape[1], shape[2:])
    device = Recombiner("cpu").recombine(torch.from_numpy(y), torch.from_numpy(ratio)).numpy()
    assert device.shape == (*shape[:2], 3) and device.dtype == np.uint8
    np.testing.assert_array_equal(device, np.asarray(recombine(y, ratio)))


def test_device_recombination_keeps_alpha_and_the_image_mode():
    rng = np.random.default_rng(1)
    y, ratio = planes(rng, 40, 50, (8, 10))
    alpha = Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8))
    out = recombine_image(torch.device("cpu"), y, ratio, alpha)
    assert out.mode == "RGBA" and out.size == (50, 40)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(recombine(y, ratio, alpha)))


def test_device_luminance_is_the_image_paths():
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (33, 47), dtype=np.uint8)
    colour = rng.integers(0, 256, (33, 47, 3), dtype=np.uint8)
    grayish = np.repeat(gray[..., None], 3, axis=2)  # a gray photo stored as RGB
    device = Recombiner("cpu")
    for pixels, image in ((gray, Image.fromarray(gray)), (colour, Image.fromarray(colour)), (grayish, Image.fromarray(grayish))):
        np.testing.assert_array_equal(device.luminance(torch.from_numpy(pixels)).numpy(), luminance_plane(image))


def test_only_an_accelerator_takes_the_device_path(tiny):
    assert accelerator(tiny.backend) is None  # on the CPU, numba's loops stay


def _folder(root, rng):
    """Gray JPEGs of two sizes, a colour PNG with alpha, a 16-bit PNG, and a file that is no image."""
    root.mkdir()
    for i in range(5):
        size = (64, 48) if i % 2 else (40, 56)
        small = rng.integers(0, 256, (6, 8), dtype=np.uint8)
        Image.fromarray(small).resize(size, Image.BILINEAR).save(root / f"gray_{i}.jpg", quality=90)
    rgba = rng.integers(0, 256, (30, 20, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(root / "alpha.png")
    Image.fromarray((rng.random((24, 32)) * 65535).astype(np.uint16)).save(root / "deep.png")
    (root / "broken.jpg").write_bytes(b"not a jpeg")


def test_a_folder_through_the_batched_path_matches_the_file_at_a_time_path(tmp_path, run_cli, model_dir, monkeypatch):
    from artcolor.inference import device_jobs

    _folder(tmp_path / "in", np.random.default_rng(3))
    batches, real = [], device_jobs.DeviceBatch.images
    monkeypatch.setattr(device_jobs.DeviceBatch, "images", lambda self, items: batches.append(len(items)) or real(self, items))
    outputs = {}
    for way in ("files", "batched"):
        monkeypatch.setenv("ARTCOLOR_DEVICE_PATH", "1" if way == "batched" else "0")
        code, out, err = run_cli("colorize", tmp_path / "in", "-o", tmp_path / way, "--palette", PALETTE,
                                 "--weights", model_dir, "--device", "cpu")
        assert code == 1 and "7 colourised, 1 failed" in out and "broken.jpg" in err
        outputs[way] = {p.name: Image.open(p) for p in sorted((tmp_path / way).iterdir())}
    assert sum(batches) == 7  # the batched run went through DeviceBatch, the other did not
    assert outputs["files"].keys() == outputs["batched"].keys() and len(outputs["files"]) == 7
    for name, ref in outputs["files"].items():
        got = outputs["batched"][name]
        assert (got.mode, got.size) == (ref.mode, ref.size), name
        assert psnr(np.asarray(got), np.asarray(ref)) >= 45, name
    assert outputs["batched"]["alpha.png"].mode == "RGBA"
    # a second run skips what is there, and says so
    code, out, _ = run_cli("colorize", tmp_path / "in", "-o", tmp_path / "batched", "--palette", PALETTE,
                           "--weights", model_dir, "--device", "cpu")
    assert "0 colourised, 1 failed, 7 skipped" in out


@pytest.mark.cuda
@cuda
def test_device_recombination_on_cuda_is_within_a_level_of_the_cpus():
    rng = np.random.default_rng(4)
    y, ratio = planes(rng, 768, 1024, (96, 128))
    dev = torch.device("cuda")
    out = Recombiner(dev).recombine(torch.from_numpy(y).to(dev), torch.from_numpy(ratio).to(dev)).cpu().numpy()
    ref = np.asarray(recombine(y, ratio)).astype(int)
    assert np.abs(out.astype(int) - ref).max() <= 1 and (out != ref).mean() < 1e-3


@pytest.mark.cuda
@cuda
def test_a_photo_on_cuda_is_within_45_db_of_the_cpu(gray_photo, palettes):
    big = gray_photo.resize((1000, 1000), Image.BICUBIC)
    for style in (None, palettes[0]):
        on_gpu = Colorizer.load(device="cuda").colorize(big, style=style)
        on_cpu = Colorizer.load(device="cpu").colorize(big, style=style)
        assert psnr(np.asarray(on_gpu), np.asarray(on_cpu)) >= 45


@pytest.mark.cuda
@cuda
def test_a_folder_on_cuda_is_within_45_db_of_the_cpu(tmp_path, run_cli):
    _folder(tmp_path / "in", np.random.default_rng(5))
    for device in ("cpu", "cuda"):
        code, out, _ = run_cli("colorize", tmp_path / "in", "-o", tmp_path / device, "--palette", PALETTE, "--device", device)
        assert "7 colourised, 1 failed" in out
    for ref in sorted((tmp_path / "cpu").iterdir()):
        got = Image.open(tmp_path / "cuda" / ref.name)
        assert psnr(np.asarray(got), np.asarray(Image.open(ref))) >= 45, ref.name


def test_a_ray_worker_with_a_gpu_takes_the_batched_path(tmp_path, tiny_perturbed, palettes):
    """`cluster.worker.ColorizeFiles` with a DeviceBatch (as a `--num-gpus` worker builds it), here on
    the CPU device: the files its one-at-a-time path writes, within 45 dB, and each failure named."""
    pytest.importorskip("fsspec")
    from artcolor.cluster.worker import ColorizeFiles, WorkerSettings
    from artcolor.inference.device_jobs import DeviceBatch

    _folder(tmp_path / "in", np.random.default_rng(6))
    srcs = sorted(str(p) for p in (tmp_path / "in").iterdir())
    style = tiny_perturbed.encode_style(palettes[1])
    written = {}
    for way in ("one", "batched"):
        worker = object.__new__(ColorizeFiles)  # what __init__ builds, without Ray
        worker.settings, worker.colorizer = WorkerSettings(style), tiny_perturbed
        worker.device_batch = DeviceBatch(tiny_perturbed, style) if way == "batched" else None
        dsts = [str(tmp_path / way / Path(s).name) for s in srcs]
        out = worker({"index": np.arange(len(srcs)), "src": np.array(srcs), "src_url": np.array(srcs), "dst_url": np.array(dsts)})
        reasons = dict(zip(srcs, out["reason"]))
        assert [s for s, r in reasons.items() if r] == [str(tmp_path / "in" / "broken.jpg")]
        assert reasons[str(tmp_path / "in" / "broken.jpg")].startswith(str(tmp_path / "in" / "broken.jpg"))
        written[way] = {Path(d).name: np.asarray(Image.open(d)) for d in dsts if Path(d).exists()}
    assert written["one"].keys() == written["batched"].keys() and len(written["one"]) == 7
    for name, ref in written["one"].items():
        assert psnr(written["batched"][name], ref) >= 45, name


def test_the_batched_path_is_taken_only_where_it_applies(tiny_perturbed, monkeypatch, tmp_path):
    from artcolor.cli.image_jobs import batched_run
    from artcolor.inference.request import ColorizeRequest, PreparedJob

    style = tiny_perturbed.encode_style(None)
    one = PreparedJob(ColorizeRequest(), tiny_perturbed, style, "torch")
    photos = [(tmp_path / "a.jpg", tmp_path / "out" / "a.jpg")]
    monkeypatch.delenv("ARTCOLOR_DEVICE_PATH", raising=False)
    assert batched_run(one, photos) is None  # a CPU: numba's file-at-a-time path
    monkeypatch.setenv("ARTCOLOR_DEVICE_PATH", "1")
    assert batched_run(one, photos) == (tiny_perturbed, style)
    with_hints = PreparedJob(ColorizeRequest(hints=[(1, 1, "#ff0000")]), tiny_perturbed, style, "torch")
    assert batched_run(with_hints, photos) is None
    assert batched_run(one, photos + [(tmp_path / "clip.mp4", tmp_path / "out" / "clip.mp4")]) is None
    assert batched_run(lambda src: None, photos) is None  # a classical baseline


def test_the_device_steps_keep_every_tensor_on_the_device():
    """Recombination and luminance on the "meta" device under `device_check.OneDevice`: every table
    and tap moved to the device, nothing left on the CPU to meet a CUDA tensor."""
    from device_check import META, OneDevice

    device = Recombiner(META)
    with OneDevice():
        rgb = device.recombine(torch.empty(40, 50, device=META), torch.empty(3, 8, 10, device=META))
        ys = [device.luminance(torch.empty(shape, dtype=torch.uint8, device=META)) for shape in ((40, 50), (40, 50, 3))]
    assert rgb.shape == (40, 50, 3) and rgb.dtype == torch.uint8 and rgb.device == META
    assert all(y.shape == (40, 50) and y.dtype == torch.float32 for y in ys)
