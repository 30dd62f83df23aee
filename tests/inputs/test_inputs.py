"""Everything a disk can hold, as photo and as reference, through the API, the CLI and the app:
each file gives a correct output at its own size, or an ImageError naming it; a batch goes past it.

The corpus is made here, in code: no binary fixture is stored.
"""

from __future__ import annotations

import gc
import os
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from artcolor import Colorizer, ImageError
from artcolor.cli import main
from artcolor.inputs.images import DEFAULT_MAX_PIXELS, open_image

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
SIZE = (60, 40)  # width, height of the corpus's ordinary images


# ---- the corpus


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw: bytes) -> bytes:
    """A PNG written by hand: `raw` is the filtered scanlines (a 0 filter byte before each row)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw))
            + png_chunk(b"IEND", b""))


def rgb16_png(a: np.ndarray) -> bytes:
    """(H, W, 3) uint16 -> a 16-bit RGB PNG (Pillow cannot write one)."""
    rows = [b"\x00" + row.astype(">u2").tobytes() for row in a]
    return png_bytes(a.shape[1], a.shape[0], 16, 2, b"".join(rows))


def bomb_png() -> bytes:
    """A valid PNG header claiming 60000 x 60000 gray pixels (3.6 GB decoded), in 70 bytes."""
    return png_bytes(60000, 60000, 8, 0, b"\x00" * 64)


def noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def smooth_rgb(seed=0) -> Image.Image:
    return Image.fromarray(noise((3, 4, 3), seed)).resize(SIZE, Image.BILINEAR)


def exif_rotated(path: Path) -> None:
    """Stored 60 wide and 40 high with its left half white; displayed (orientation 6) 40 x 60, white on top."""
    stored = np.zeros((40, 60), dtype=np.uint8)
    stored[:, :30] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)


def animation(path: Path, **params) -> None:
    """First frame white, then black and gray: the output must be the white frame's."""
    frames = [Image.new("RGB", SIZE, colour) for colour in ("white", "black", "gray")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)


def make_corpus(folder: Path) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """Write the corpus; returns ({good file: expected output size}, {bad file: words of its error})."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = smooth_rgb()
    photo.save(folder / "whole.jpg", quality=90)
    photo.save(folder / "whole.png")
    for name in ("whole.jpg", "whole.png"):
        data = (folder / name).read_bytes()
        (folder / f"truncated{Path(name).suffix}").write_bytes(data[: len(data) // 2])
    (folder / "zero.png").write_bytes(b"")
    (folder / "text.jpg").write_text("a text file, whatever its name says\n")
    (folder / "bomb.png").write_bytes(bomb_png())
    Image.new("L", (1, 1), 128).save(folder / "one.png")
    Image.fromarray(noise((5000, 3))).save(folder / "thin.png")
    ramp = np.tile(np.linspace(0, 65535, SIZE[0]).astype(np.uint16), (SIZE[1], 1))
    Image.fromarray(ramp).save(folder / "gray16.png")
    (folder / "rgb16.png").write_bytes(rgb16_png(np.stack([ramp, ramp[:, ::-1], ramp // 2], axis=-1)))
    photo.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    palette = photo.quantize(16)
    palette.save(folder / "palette.png", transparency=0)
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.fromarray(noise(SIZE[::-1], 1)))
    rgba.save(folder / "rgba.png")
    exif_rotated(folder / "exif.jpg")
    animation(folder / "anim.gif")
    animation(folder / "anim.webp", lossless=True)
    good = {"whole.jpg": SIZE, "whole.png": SIZE, "one.png": (1, 1), "thin.png": (3, 5000), "gray16.png": SIZE,
            "rgb16.png": SIZE, "cmyk.jpg": SIZE, "palette.png": SIZE, "rgba.png": SIZE, "exif.jpg": (40, 60),
            "anim.gif": SIZE, "anim.webp": SIZE}
    bad = {"truncated.jpg": "cannot decode", "truncated.png": "cannot decode", "zero.png": "not an image",
           "text.jpg": "not an image", "bomb.png": f"larger than the limit of {DEFAULT_MAX_PIXELS} pixels"}
    return good, bad


def heic_or_skip(folder: Path) -> Path:
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    pillow_heif.register_heif_opener()
    path = folder / "photo.heic"
    if not path.exists():
        smooth_rgb().save(path, quality=90)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    good, bad = make_corpus(folder)
    return folder, good, bad


@pytest.fixture(scope="module")
def colorizer(model_dir) -> Colorizer:
    return Colorizer.load(model_dir, device="cpu")


def pixels(im: Image.Image) -> np.ndarray:
    return np.asarray(im).astype(np.int32)


def opened(path: Path) -> Image.Image:
    """A file as Pillow decodes it (first frame), with the file closed again."""
    with Image.open(path) as im:
        im.load()
        return im


# ---- the API


def test_the_corpus_is_what_it_claims(corpus, monkeypatch):
    folder, good, bad = corpus
    assert (folder / "bomb.png").stat().st_size < 100 and (folder / "zero.png").stat().st_size == 0
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own guard, off to look at the header
    with Image.open(folder / "bomb.png") as im:  # a real PNG header: Pillow reads its claimed size
        assert im.size == (60000, 60000)
    assert opened(folder / "gray16.png").mode.startswith("I")
    assert opened(folder / "cmyk.jpg").mode == "CMYK"
    assert opened(folder / "rgb16.png").mode == "RGB"  # Pillow reads 16-bit RGB as 8-bit RGB
    assert opened(folder / "anim.webp").n_frames == 3
    assert sorted([*good, *bad]) == sorted(p.name for p in folder.iterdir())


def test_every_good_file_colourises_at_its_size(colorizer, corpus):
    folder, good, _ = corpus
    for name, size in good.items():
        out = colorizer.colorize(folder / name)
        assert out.size == size, name
        assert out.mode == ("RGBA" if name in ("rgba.png", "palette.png") else "RGB"), name


def test_every_bad_file_is_an_image_error_naming_it(colorizer, corpus):
    folder, _, bad = corpus
    for name, words in bad.items():
        with pytest.raises(ImageError, match=words) as info:
            colorizer.colorize(folder / name)
        assert str(folder / name) in str(info.value)


def test_every_file_as_a_reference_works_or_is_named(colorizer, corpus, gray_photo):
    folder, good, bad = corpus
    for name in good:
        assert colorizer.colorize(gray_photo, style=folder / name).size == gray_photo.size, name
    for name, words in bad.items():
        with pytest.raises(ImageError, match=words):
            colorizer.colorize(gray_photo, style=folder / name)


def test_sixteen_bits_are_read_as_their_eight_bit_values(colorizer, corpus, tmp_path):
    folder, _, _ = corpus
    ramp16 = np.asarray(opened(folder / "gray16.png")).astype(np.int64)
    Image.fromarray(((ramp16 + 128) // 257).astype(np.uint8)).save(tmp_path / "gray8.png")
    sixteen, eight = (colorizer.colorize(p) for p in (folder / "gray16.png", tmp_path / "gray8.png"))
    diff = np.abs(pixels(sixteen) - pixels(eight))
    assert diff.mean() < 2  # only rounding apart; a 16-bit photo misread as 8-bit comes out white (~100 apart)
    with Image.open(folder / "rgb16.png") as im:
        eight_bit = im.convert("RGB")
    assert np.array_equal(pixels(colorizer.colorize(folder / "rgb16.png")), pixels(colorizer.colorize(eight_bit)))


def test_cmyk_gives_what_its_rgb_gives(colorizer, corpus, tmp_path):
    folder, _, _ = corpus
    with Image.open(folder / "cmyk.jpg") as im:
        rgb = im.convert("RGB")
    assert np.abs(pixels(colorizer.colorize(folder / "cmyk.jpg")) - pixels(colorizer.colorize(rgb))).max() == 0


def test_transparency_is_kept(colorizer, corpus):
    folder, _, _ = corpus
    for name in ("rgba.png", "palette.png"):
        with Image.open(folder / name) as im:
            alpha = np.asarray(im.convert("RGBA").getchannel("A"))
        assert np.array_equal(np.asarray(colorizer.colorize(folder / name).getchannel("A")), alpha), name
    assert (np.asarray(colorizer.colorize(folder / "palette.png").getchannel("A")) == 0).any()


def test_exif_orientation_is_honoured(colorizer, corpus):
    folder, _, _ = corpus
    out = np.asarray(colorizer.colorize(folder / "exif.jpg").convert("L")).astype(int)
    assert out.shape == (60, 40)
    assert out[:30].mean() > 200 and out[30:].mean() < 50


def test_no_file_is_left_open(colorizer, corpus):
    folder, good, bad = corpus
    gc.collect()  # what earlier tests left is not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for name in [*good, *bad]:
            try:
                colorizer.colorize(folder / name)
            except ImageError:
                pass
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert [m for m in unclosed if str(folder) in m] == []


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp"])
def test_an_animation_gives_its_first_frame(colorizer, corpus, name):
    folder, _, _ = corpus
    first = colorizer.colorize(Image.new("RGB", SIZE, "white"))
    assert np.array_equal(pixels(colorizer.colorize(folder / name)), pixels(first))


def test_heic_colourises_when_pillow_heif_is_installed(colorizer, tmp_path):
    path = heic_or_skip(tmp_path)
    assert colorizer.colorize(path).size == SIZE


def test_the_default_pixel_limit_refuses_the_bomb_before_decoding(corpus):
    folder, _, _ = corpus
    assert 10_000_000 <= DEFAULT_MAX_PIXELS < 60000 * 60000
    colorizer = Colorizer.from_preset("tiny")
    assert colorizer.max_pixels == DEFAULT_MAX_PIXELS
    with pytest.raises(ImageError, match="refused before decoding"):
        colorizer.colorize(folder / "bomb.png")


def test_threads_opening_with_different_limits_keep_their_own_and_leave_pillows(tmp_path, monkeypatch):
    """The app opens files on several threads; Pillow's limit is one global for all of them."""
    path = tmp_path / "photo.png"
    Image.new("L", (8, 8)).save(path)
    before, real_open = Image.MAX_IMAGE_PIXELS, Image.open
    limits = {}
    first_inside, second_started, first_done = threading.Event(), threading.Event(), threading.Event()

    def open_watching_the_limit(*args, **kwargs):
        name = threading.current_thread().name
        limits[name] = Image.MAX_IMAGE_PIXELS
        if name == "first":  # stays open while the second thread sets out to open its file
            first_inside.set()
            second_started.wait(timeout=5)
            time.sleep(0.2)
            limits["first, later"] = Image.MAX_IMAGE_PIXELS
            first_done.set()
        else:  # and the second, once inside, stays until the first has looked again
            first_done.wait(timeout=5)
        return real_open(*args, **kwargs)

    def second():
        first_inside.wait(timeout=5)
        second_started.set()
        open_image(path, max_pixels=2000)

    monkeypatch.setattr(Image, "open", open_watching_the_limit)
    threads = [threading.Thread(target=open_image, args=(path, 1000), name="first"),
               threading.Thread(target=second, name="second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limits == {"first": 1000, "first, later": 1000, "second": 2000}
    assert Image.MAX_IMAGE_PIXELS == before


# ---- the CLI


def output_files(folder: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with Image.open(path) as im:
                sizes[path.name] = im.size
    return sizes


def test_cli_batch_goes_past_every_bad_file(corpus, model_dir, tmp_path):
    # a real process: what reaches the terminal is what a user sees
    folder, good, bad = corpus
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "artcolor", "colorize", str(folder), "-o", str(out),
                             "--weights", str(model_dir)], capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    expected = {Path(name).with_suffix(".png").name if name.endswith(".gif") else name: size
                for name, size in good.items()}
    assert output_files(out) == expected  # nothing for a bad file, and no temp file
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for name, words in bad.items():
        lines = [line for line in result.stderr.splitlines() if name in line]
        assert len(lines) == 1 and words in lines[0], (name, result.stderr)
    assert f"{len(good)} colourised, {len(bad)} failed" in result.stdout


def invoke(*args) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output, result.exception


@pytest.mark.parametrize("name", ["truncated.jpg", "truncated.png", "zero.png", "text.jpg", "bomb.png", "nowhere.png"])
def test_cli_bad_reference_is_a_clear_error(corpus, model_dir, tmp_path, name):
    folder, _, bad = corpus
    code, output, exception = invoke("colorize", folder / "whole.png", "-o", tmp_path / "out",
                                     "--weights", model_dir, "--style", folder / name)
    assert code == 1 and isinstance(exception, SystemExit)
    assert f"artcolor: error: {folder / name}: {bad.get(name, 'no such file')}" in output
    assert "Traceback" not in output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("method", ["model", "welsh"])
def test_cli_max_pixels_refuses_larger_photos_and_references(corpus, model_dir, tmp_path, method):
    folder, _, _ = corpus
    common = ["--weights", model_dir, "--method", method, "--max-pixels", 2000]
    code, output, _ = invoke("colorize", folder / "whole.png", folder / "one.png", "-o", tmp_path / "out",
                             "--style", folder / "one.png", *common)
    assert code == 1
    assert f"skipped {folder / 'whole.png'}: larger than the limit of 2000 pixels" in output  # 60 x 40 = 2400
    assert output_files(tmp_path / "out") == {"one.png": (1, 1)}
    code, output, exception = invoke("colorize", folder / "one.png", "-o", tmp_path / "out2",
                                     "--style", folder / "whole.png", *common)
    assert code == 1 and isinstance(exception, SystemExit)
    assert "larger than the limit of 2000 pixels" in output and not (tmp_path / "out2").exists()


def test_cli_max_pixels_must_not_be_negative(corpus, model_dir, tmp_path):
    folder, _, _ = corpus
    code, output, _ = invoke("colorize", folder / "one.png", "-o", tmp_path / "out", "--weights", model_dir,
                             "--max-pixels", -1)
    assert code == 2 and "--max-pixels" in output


def test_cli_outputs_are_readable_like_any_other_file(corpus, model_dir, tmp_path):
    folder, _, _ = corpus
    old = os.umask(0o022)
    try:
        invoke("colorize", folder / "one.png", "-o", tmp_path / "out", "--weights", model_dir)
    finally:
        os.umask(old)
    assert (tmp_path / "out" / "one.png").stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600


# ---- the app's handlers


def test_app_previews_and_colourises_the_corpus_or_names_the_file(colorizer, corpus, tmp_path):
    gr = pytest.importorskip("gradio")
    from artcolor.app.handlers import AUTOMATIC, UPLOADS, Handlers

    folder, good, bad = corpus
    handlers = Handlers(colorizer, [], str(tmp_path / "results"))
    for name, size in good.items():
        original, gray = handlers.preview(str(folder / name))
        assert gray.size == original.size and max(gray.size) <= 1024, name
        assert handlers.run(str(folder / name), AUTOMATIC, None, "", None, "", 1.0).colour.size == size, name
    photo = str(folder / "whole.png")
    for name, words in bad.items():
        for call in (lambda: handlers.preview(str(folder / name)),
                     lambda: handlers.run(str(folder / name), AUTOMATIC, None, "", None, "", 1.0),
                     lambda: handlers.run(photo, UPLOADS, [str(folder / name)], "", None, "", 1.0)):
            with pytest.raises(gr.Error, match=words) as info:
                call()
            assert str(info.value.message).startswith(name), "the server's folders must not leak"
