"""The served app under load and abuse: oversized uploads are refused with a message, 20 concurrent
requests all complete while the server stays up, and no path a client names is ever opened.

A real server on 127.0.0.1 (a free port) with the tiny model, driven over HTTP and by gradio_client.
"""

from __future__ import annotations

import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gr = pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")
gradio_client = pytest.importorskip("gradio_client")

from artcolor import Colorizer  # noqa: E402
from artcolor.app import build_app, handlers, launch  # noqa: E402
from artcolor.app.handlers import AUTOMATIC, UPLOADS  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

MAX_UPLOAD_MB = 0.25
N_CONCURRENT = 20


def bomb_png() -> bytes:
    """A valid PNG header claiming 60000 x 60000 pixels, in 70 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("app-limits")
    rng = np.random.default_rng(0)
    paths = {"photo": folder / "photo.png", "big": folder / "big.png", "bomb": folder / "bomb.png"}
    Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)).resize((60, 40), Image.BILINEAR).save(
        paths["photo"])
    Image.fromarray(rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)).save(paths["big"], compress_level=1)
    paths["bomb"].write_bytes(bomb_png())
    return paths


@pytest.fixture(scope="module")
def opened() -> list[str]:
    """Every path the app's handlers and the colorizer are asked to open, in order."""
    return []


def recording(fn, log: list[str]):
    """`fn`, noting the first argument of every call in `log`."""
    def wrapper(src, *args, **kwargs):
        log.append(str(src))
        return fn(src, *args, **kwargs)
    return wrapper


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory, opened):
    colorizer = Colorizer.load(model_dir, device="cpu")
    colorizer.prepare = recording(colorizer.prepare, opened)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(handlers, "open_image", recording(handlers.open_image, opened))
        demo = build_app(colorizer, results_dir=str(tmp_path_factory.mktemp("served")))
        url = launch(demo, port=free_port(), max_upload_mb=MAX_UPLOAD_MB, block=False, quiet=True)
        yield url
        demo.close()


@pytest.fixture(scope="module")
def client(server):
    return gradio_client.Client(server, verbose=False)


def decoded(path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im


def upload_folder() -> Path:
    return Path(gr.utils.get_upload_folder()).resolve()


def assert_alive(client, files):
    original, gray = client.predict(gradio_client.handle_file(str(files["photo"])), api_name="/preview")
    assert decoded(gray).size == (60, 40)


# ---- upload limits


def test_an_oversized_upload_is_refused_with_a_message(server, client, files):
    assert files["big"].stat().st_size > MAX_UPLOAD_MB * 2**20
    with files["big"].open("rb") as f:
        reply = httpx.post(f"{server}gradio_api/upload", files={"files": ("big.png", f)}, timeout=30)
    assert reply.status_code == 413
    assert "exceeded maximum allowed size" in reply.text
    with pytest.raises(Exception, match="exceeds the maximum file size"):  # gradio_client checks first
        client.predict(gradio_client.handle_file(str(files["big"])), api_name="/preview")
    assert_alive(client, files)


def test_a_small_file_of_too_many_pixels_is_refused_with_a_message(client, files):
    assert files["bomb"].stat().st_size < MAX_UPLOAD_MB * 2**20
    with pytest.raises(gradio_client.exceptions.AppError, match="bomb.png: larger than the limit"):
        client.predict(gradio_client.handle_file(str(files["bomb"])), api_name="/preview")
    assert_alive(client, files)


# ---- concurrency


def test_twenty_concurrent_requests_all_complete(client, files):
    # the same photo each time: identical outputs once truncated each other's downloads
    photo = gradio_client.handle_file(str(files["photo"]))
    jobs = [client.submit(photo, AUTOMATIC, None, "", "", 1.0, api_name="/colorize") for _ in range(N_CONCURRENT)]
    results = [job.result(timeout=240) for job in jobs]  # bounded: a hung queue fails the test
    for (before, after), download, caption in results:
        assert decoded(before).size == decoded(after).size == decoded(download).size == (60, 40)
        assert "60×40" in caption
    assert len({decoded(after).tobytes() for (_, after), _, _ in results}) == 1
    assert_alive(client, files)


# ---- paths from the client


def call(server: str, endpoint: str, data: list) -> str:
    """An API call over plain HTTP, as any client may send it; returns the event stream."""
    event = httpx.post(f"{server}gradio_api/call/{endpoint}", json={"data": data}, timeout=30).json()["event_id"]
    return httpx.get(f"{server}gradio_api/call/{endpoint}/{event}", timeout=60).text


def file_data(path) -> dict:
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize("target", ["model", "etc"])
def test_no_path_named_by_a_client_is_opened(server, client, files, model_dir, opened, target):
    secret = model_dir / "model.safetensors" if target == "model" else Path("/etc/passwd")
    before = len(opened)
    replies = [
        call(server, "preview", [file_data(secret)]),
        call(server, "colorize", [file_data(secret), AUTOMATIC, None, "", "", 1.0]),
        call(server, "colorize", [file_data(files["photo"]), UPLOADS, [file_data(secret)], "", "", 1.0]),
    ]
    for reply in replies:
        assert "event: error" in reply and "event: complete" not in reply
        assert secret.name not in reply
    assert opened[before:] == []  # refused by gradio before any handler ran
    for url in (f"{server}gradio_api/file={secret}", f"{server}gradio_api/file=../../../../{secret}"):
        response = httpx.get(url, timeout=30)
        assert response.status_code in (403, 404) and secret.read_bytes()[:32] not in response.content


def test_uploaded_file_names_cannot_climb_out_of_the_upload_folder(server, files):
    with files["photo"].open("rb") as f:
        reply = httpx.post(f"{server}gradio_api/upload", files={"files": ("../../../escape.png", f)}, timeout=30)
    stored = Path(reply.json()[0]).resolve()
    assert stored.name == "escape.png" and upload_folder() in stored.parents


def test_every_path_the_app_opened_was_an_upload(opened, files):
    assert opened, "the other tests ran no request"
    folder = upload_folder()
    assert all(folder in Path(p).resolve().parents for p in opened), opened


def test_the_gallery_is_chosen_by_index_never_by_path(client):
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/colorize"]["parameters"]
    # photo, mode, uploads, weights, colours, strength, coherence: the gallery choice is server state
    assert len(parameters) == 7
    assert [p["component"] for p in parameters] == ["File", "Radio", "File", "Textbox", "Textbox", "Slider", "Slider"]
