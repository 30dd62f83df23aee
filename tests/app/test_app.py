"""The web app: its handlers called directly, then the page driven in headless Chromium.

The browser tests need Debian's `chromium` and the `playwright` package (never a browser download);
they skip when either is missing.
"""

from __future__ import annotations

import shutil
import socket
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

gr = pytest.importorskip("gradio")

from artcolor import Colorizer  # noqa: E402
from artcolor.app import PALETTES, build_app, gallery, launch  # noqa: E402
from artcolor.app.handlers import AUTOMATIC, COLOURS, GALLERY, UPLOADS, Handlers  # noqa: E402
from artcolor.inputs.checks import parse_blend_weights  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # gradio's own pandas use

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def is_gray(im: Image.Image) -> bool:
    rgb = np.asarray(im.convert("RGB")).astype(int)
    return int(np.abs(rgb[..., 0] - rgb[..., 2]).max()) <= 2 and int(np.abs(rgb[..., 0] - rgb[..., 1]).max()) <= 2


@pytest.fixture(scope="module")
def files(tmp_path_factory, coffee, palettes):
    folder = tmp_path_factory.mktemp("app")
    paths = {"photo": folder / "coffee.jpg", "warm": folder / "warm.png", "cold": folder / "cold.png",
             "notes": folder / "notes.png", "notes_txt": folder / "notes.txt"}
    coffee.save(paths["photo"], quality=95)
    palettes[0].save(paths["warm"])
    palettes[1].save(paths["cold"])
    paths["notes"].write_text("not an image, whatever its name says\n")
    paths["notes_txt"].write_text("plain text\n")
    noise = np.random.default_rng(0).integers(0, 256, (700, 700, 3), dtype=np.uint8)
    paths["big"] = folder / "big.png"  # 1.5 MB of noise, over the served app's 1 MB upload limit
    Image.fromarray(noise).save(paths["big"], compress_level=1)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def colorizer(model_dir) -> Colorizer:
    return Colorizer.load(model_dir, device="cpu")


@pytest.fixture(scope="module")
def handlers(colorizer, tmp_path_factory) -> Handlers:
    return Handlers(colorizer, gallery(), str(tmp_path_factory.mktemp("results")))


# ---- handlers, without a browser


def test_gallery_palettes_then_styles_folder(tmp_path, palettes):
    palettes[0].save(tmp_path / "warm.png")
    (tmp_path / "sub").mkdir()
    palettes[1].save(tmp_path / "sub" / "cold.jpg")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="broken.png"):
        references = gallery(tmp_path)
    names = [r.name for r in references]
    assert names == [*PALETTES, "sub/cold", "warm"]
    assert all(max(r.thumbnail.size) <= 160 for r in references)


def test_preview_shows_photo_and_gray(handlers, files, coffee):
    original, gray = handlers.preview(files["photo"])
    assert original.size == gray.size == coffee.size
    assert not is_gray(original) and gray.mode == "L"
    assert handlers.preview(None) == (None, None)


def test_preview_of_a_text_file_names_it(handlers, files):
    with pytest.raises(gr.Error, match="notes.png: not an image") as info:
        handlers.preview(files["notes"])
    assert str(info.value.message).startswith("notes.png"), "the server's upload folder must not leak"


@pytest.mark.parametrize("mode", [UPLOADS, GALLERY, COLOURS, AUTOMATIC])
def test_colorize_each_kind_of_reference(handlers, files, coffee, mode):
    result = handlers.run(files["photo"], mode, [files["warm"], files["cold"]], "3, 1", 1, "#ff0000 #00ff00", 1.0)
    assert result.colour.size == result.gray.size == coffee.size
    assert not is_gray(result.colour) and is_gray(result.gray)
    with Image.open(result.file) as saved:
        assert saved.format == "PNG" and saved.size == coffee.size
        assert np.array_equal(np.asarray(saved), np.asarray(result.colour))
    assert result.file.endswith("coffee-artcolor.png")
    assert f"{coffee.width}×{coffee.height}" in result.caption


def test_reference_and_strength_change_the_result(handlers, files):
    def colours(uploads, strength=1.0):
        return np.asarray(handlers.run(files["photo"], UPLOADS, uploads, "", None, "", strength).colour, float)

    warm, cold = colours([files["warm"]]), colours([files["cold"]])
    assert np.abs(warm - cold).mean() > 1
    assert np.abs(colours([files["warm"]], 0.0) - warm).mean() > 1
    blend = colours([files["warm"], files["cold"]])
    assert np.abs(blend - warm).mean() > 0.1 and np.abs(blend - cold).mean() > 0.1


def test_the_coherence_slider_reaches_the_model_and_leaves_the_loaded_one_as_it_was(files, tmp_path):
    bundled = Colorizer.load(device="cpu")  # a model that maps onto its reference (the tiny one has no matching)
    app = Handlers(bundled, gallery(), str(tmp_path))
    runs = {c: app.run(files["photo"], UPLOADS, [files["warm"]], "", None, "", 1.0, None, c) for c in (0.0, 1.0)}
    assert np.abs(np.asarray(runs[0.0].colour, float) - np.asarray(runs[1.0].colour, float)).mean() > 0.2
    assert "coherence 0.00" in runs[0.0].caption and "coherence 1.00" in runs[1.0].caption
    assert bundled.options.coherence == 1.0  # each request has its own options; the app's model is shared


def test_gallery_click_selects_index_and_mode(handlers):
    event = gr.SelectData(None, {"index": 2, "value": None, "selected": True})
    assert handlers.select(event) == (2, GALLERY)


@pytest.mark.parametrize("args, message", [
    ((None, AUTOMATIC, None, "", None, "", 1.0), "Upload a photo"),
    (("PHOTO", UPLOADS, None, "", None, "", 1.0), "Upload one or more reference images"),
    (("PHOTO", UPLOADS, ["WARM"], "1, 2", None, "", 1.0), "2 blend weights for 1 reference"),
    (("PHOTO", GALLERY, None, "", None, "", 1.0), "Click a palette"),
    (("PHOTO", GALLERY, None, "", 99, "", 1.0), "Click a palette"),
    (("PHOTO", COLOURS, None, "", None, "#12345g", 1.0), "Colours: not a colour"),
    (("PHOTO", "Telepathy", None, "", None, "", 1.0), "unknown reference kind"),
    (("NOTES", AUTOMATIC, None, "", None, "", 1.0), "notes.png: not an image"),
    (("PHOTO", UPLOADS, ["NOTES"], "", None, "", 1.0), "notes.png: not an image"),
])
def test_colorize_errors_are_messages(handlers, files, args, message):
    lookup = {"PHOTO": files["photo"], "WARM": files["warm"], "NOTES": files["notes"]}
    args = [[lookup[a] for a in x] if isinstance(x, list) else lookup.get(x, x) if isinstance(x, str) else x
            for x in args]
    with pytest.raises(gr.Error, match=message):
        handlers.run(*args)


@pytest.mark.parametrize("text, expected", [("", None), ("1, 2", [1.0, 2.0]), ("0.5 1.5", [0.5, 1.5])])
def test_parse_weights(text, expected):
    assert parse_blend_weights(text, 2) == expected


@pytest.mark.parametrize("text", ["a, b", "1", "-1, 2", "0, 0"])
def test_parse_weights_rejects(text):
    with pytest.raises(ValueError):
        parse_blend_weights(text, 2)


def test_build_app_is_titled_artcolor(colorizer):
    demo = build_app(colorizer)
    assert demo.title == "artcolor"


def test_demo_command_names_a_missing_model_folder(tmp_path):
    from click.testing import CliRunner

    from artcolor.cli import main

    result = CliRunner().invoke(main, ["demo", "--weights", str(tmp_path / "nowhere"), "--port", "1"])
    assert result.exit_code == 1
    assert "nowhere: not a model folder" in result.output


def test_uploads_above_the_models_pixel_limit_are_refused_by_name(model_dir, files, tmp_path):
    limited = Handlers(Colorizer.load(model_dir, device="cpu", max_pixels=32 * 32), gallery(), str(tmp_path / "out"))
    small = tmp_path / "small.png"
    Image.new("RGB", (32, 32), (90, 120, 60)).save(small)
    with pytest.raises(gr.Error, match="coffee.jpg: .*larger than the limit of 1024 pixels"):
        limited.preview(files["photo"])
    with pytest.raises(gr.Error, match="warm.png: .*larger than the limit of 1024 pixels"):
        limited.run(str(small), UPLOADS, [files["warm"]], "", None, "", 1.0)
    assert limited.run(str(small), AUTOMATIC, None, "", None, "", 1.0).colour.size == (32, 32)


def test_demo_command_gives_the_model_its_pixel_limit(model_dir, monkeypatch):
    from click.testing import CliRunner

    import artcolor.app
    from artcolor.cli import main
    from artcolor.cli.demo import APP_MAX_PIXELS

    served = []
    monkeypatch.setattr(artcolor.app, "build_app", lambda colorizer, references: served.append(colorizer))
    monkeypatch.setattr(artcolor.app, "launch", lambda *args, **kwargs: None)
    for args, limit in [([], APP_MAX_PIXELS), (["--max-pixels", "5000"], 5000)]:
        result = CliRunner().invoke(main, ["demo", "--weights", str(model_dir), *args])
        assert result.exit_code == 0, result.output
        assert served.pop().max_pixels == limit


# ---- the page in headless Chromium


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(colorizer, tmp_path_factory):
    demo = build_app(colorizer, results_dir=str(tmp_path_factory.mktemp("served")))
    url = launch(demo, port=free_port(), max_upload_mb=1, block=False, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    yield url
    demo.close()


def test_server_reads_no_path_the_client_names(server):
    """A client can only pass files it uploaded: gradio refuses any other path before our handlers."""
    import httpx

    payload = {"data": [{"path": __file__, "meta": {"_type": "gradio.FileData"}}]}
    event = httpx.post(f"{server}gradio_api/call/preview", json=payload).json()["event_id"]
    reply = httpx.get(f"{server}gradio_api/call/preview/{event}", timeout=30).text
    assert "event: error" in reply and "test_app" not in reply


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server)
    page.locator("#run").wait_for(timeout=30_000)
    yield page
    page.close()
    external = [u for u in requests if not u.startswith(server) and not u.startswith(("data:", "blob:"))]
    assert external == [], "the app must work offline"


def upload_photo(page, path):
    page.locator("#photo input[type=file]").set_input_files(path)
    page.locator("#gray img").wait_for(timeout=20_000)


def wait_for_result(page, caption):
    page.locator("#caption", has_text=caption).wait_for(timeout=30_000)
    href = page.locator("#download a").first.get_attribute("href")
    response = page.request.get(href)
    assert response.ok
    return Image.open(BytesIO(response.body()))


def test_page_colorizes_with_uploaded_reference_then_gallery(page, files, coffee, tmp_path):
    assert page.title() == "artcolor"
    upload_photo(page, files["photo"])
    page.get_by_role("tab", name="Reference images").click()
    page.locator("#references input[type=file]").set_input_files([files["warm"]])
    page.locator("#mode input[value='Reference images']:checked").wait_for(timeout=10_000)
    page.locator("#run").click()
    result = wait_for_result(page, "1 reference image")
    assert result.size == coffee.size
    assert not is_gray(result)
    page.screenshot(path=tmp_path / "app.png", full_page=True)
    assert (tmp_path / "app.png").stat().st_size > 10_000

    page.get_by_role("tab", name="Gallery").click()
    page.locator("#gallery .thumbnail-item").nth(1).click()
    page.locator("#mode input[value='Gallery']:checked").wait_for(timeout=10_000)
    page.locator("#run").click()
    ocean = wait_for_result(page, f"gallery: {list(PALETTES)[1]}")
    assert ocean.size == coffee.size
    assert np.abs(np.asarray(ocean, float) - np.asarray(result, float)).mean() > 1


def test_page_reports_files_it_cannot_use(page, files):
    photo = page.locator("#photo input[type=file]")
    photo.set_input_files(files["notes"])
    page.get_by_text("notes.png: not an image").first.wait_for(timeout=20_000)
    page.locator("#photo button[aria-label='Clear']").first.click()
    photo.set_input_files(files["notes_txt"])
    page.get_by_text("Invalid file type").first.wait_for(timeout=20_000)
    photo.set_input_files(files["big"])
    page.get_by_text("exceed the maximum allowed size").first.wait_for(timeout=20_000)
    upload_photo(page, files["photo"])  # the server carries on


def test_demo_command_serves_the_mixed_backend_with_its_graph_made(model_dir, monkeypatch):
    pytest.importorskip("onnxruntime")
    from click.testing import CliRunner

    import artcolor.app
    from artcolor.cli import main

    served = []
    monkeypatch.setattr(artcolor.app, "build_app", lambda colorizer, references: served.append(colorizer))
    monkeypatch.setattr(artcolor.app, "launch", lambda *args, **kwargs: None)
    for args, name in [([], "mixed"), (["--backend", "torch"], "torch")]:
        result = CliRunner().invoke(main, ["demo", "--weights", str(model_dir), "--device", "cpu", *args])
        assert result.exit_code == 0, result.output
        colorizer = served.pop()
        assert colorizer.backend.name == name
        if name == "mixed":
            assert colorizer.backend._graph is not None, "the graph waits for a visitor's first click"
