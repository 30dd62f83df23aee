"""The Ray engine's files, without Ray: planning over fsspec (fsspec's in-memory filesystem as the
bucket) and over local paths (one planner for both engines), writing whole files, the manifest,
decoding bytes as paths decode; its flags and its extra."""

from __future__ import annotations

import csv
import io
import sys
import uuid

import numpy as np
import pytest
from PIL import Image

from artcolor.inputs.images import ImageError, decode_bytes, encode_image, open_image, save_atomic

fsspec = pytest.importorskip("fsspec", reason="fsspec comes with the ray extra (and the hf extra)")

from artcolor.cluster.engine import VIDEO_REASON  # noqa: E402
from artcolor.cluster.engine import _plan as ray_plan  # noqa: E402
from artcolor.cluster.files import put_atomic, save_image, write_manifest  # noqa: E402
from artcolor.inference.jobs import FileJob, plan  # noqa: E402
from artcolor.inference.request import ColorizeRequest  # noqa: E402


def png_bytes(size=(8, 6), colour=(10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def bucket():
    """A fresh in-memory 'bucket': memory://<unique>/, with an input folder of images and more."""
    fs = fsspec.filesystem("memory")
    root = f"/{uuid.uuid4().hex}"
    for name in ["in/a.jpg", "in/sub/b.png", "in/sub/deeper/c.gif", "in/clip.mp4", "in/notes.txt"]:
        fs.pipe_file(f"{root}/{name}", png_bytes())
    yield f"memory://{root}", fs, root
    fs.rm(root, recursive=True)


def test_plan_mirrors_names_like_the_local_engine(bucket):
    url, _, _ = bucket
    jobs = plan([f"{url}/in"], f"{url}/out")
    by_src = {job.src: job for job in jobs}
    assert sorted(by_src) == [f"{url}/in/{n}" for n in ["a.jpg", "clip.mp4", "sub/b.png", "sub/deeper/c.gif"]]
    assert by_src[f"{url}/in/sub/deeper/c.gif"].dst == f"{url}/out/sub/deeper/c.png"  # GIF is not written: PNG
    assert by_src[f"{url}/in/a.jpg"].dst == f"{url}/out/a.jpg"
    assert {job.state for job in jobs} == {"todo"}  # videos too: the local engine colourises them


def test_the_ray_engine_fails_videos_with_their_reason(bucket):
    url, _, _ = bucket
    reported = []
    jobs = ray_plan(ColorizeRequest(inputs=[f"{url}/in"], output=f"{url}/out"), None,
                    lambda src, reason: reported.append((src, reason)))
    assert reported == [(f"{url}/in/clip.mp4", VIDEO_REASON)] and "local engine" in VIDEO_REASON
    assert {job.state for job in jobs if not job.video} == {"todo"}


def local_folder(root):
    for name in ["in/a.jpg", "in/sub/b.png", "in/sub/deeper/c.gif", "in/clip.mp4", "in/notes.txt", "in/out/old.png"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(png_bytes())
    (root / "in/out/sub").mkdir()
    (root / "in/out/sub/b.png").write_bytes(b"an earlier result")


def test_local_paths_and_file_urls_plan_alike(tmp_path):
    local_folder(tmp_path)
    by_path = plan([tmp_path / "in"], tmp_path / "in" / "out")
    by_url = plan([(tmp_path / "in").as_uri()], (tmp_path / "in" / "out").as_uri())
    rel = lambda jobs, root: [(j.src[len(root):], j.dst[len(root):], j.state) for j in jobs]  # noqa: E731
    assert rel(by_path, str(tmp_path)) == rel(by_url, tmp_path.as_uri())
    assert [(src, state) for src, _, state in rel(by_path, str(tmp_path))] == [
        ("/in/a.jpg", "todo"), ("/in/clip.mp4", "todo"), ("/in/sub/b.png", "skipped"), ("/in/sub/deeper/c.gif", "todo")]
    assert by_path[3].dst == str(tmp_path / "in" / "out" / "sub" / "deeper" / "c.png")
    assert by_path[0].src_url == str(tmp_path / "in" / "a.jpg")  # absolute, as a worker opens it
    assert [j.state for j in plan([tmp_path / "in"], tmp_path / "in" / "out", overwrite=True)] == ["todo"] * 4


def test_a_local_plan_refuses_to_write_over_an_input_and_names_a_missing_one(tmp_path):
    local_folder(tmp_path)
    with pytest.raises(ValueError, match="overwrite an input"):
        plan([tmp_path / "in" / "a.jpg"], tmp_path / "in")
    with pytest.raises(FileNotFoundError, match="ghost"):
        plan([tmp_path / "ghost"], tmp_path / "out")


def test_plan_skips_existing_outputs_unless_overwrite(bucket):
    url, fs, root = bucket
    fs.pipe_file(f"{root}/out/sub/b.png", b"an earlier result")
    states = {job.src.rsplit("/", 1)[1]: job.state for job in plan([f"{url}/in"], f"{url}/out")}
    assert states["b.png"] == "skipped" and states["a.jpg"] == "todo"
    states = {job.src.rsplit("/", 1)[1]: job.state for job in plan([f"{url}/in"], f"{url}/out", overwrite=True)}
    assert states["b.png"] == "todo"


def test_plan_leaves_out_an_output_folder_inside_the_input(bucket):
    url, fs, root = bucket
    fs.pipe_file(f"{root}/in/out/a.jpg", png_bytes())
    assert all("/in/out/" not in job.src for job in plan([f"{url}/in"], f"{url}/in/out"))


def test_plan_refuses_to_write_over_an_input_and_names_a_missing_one(bucket):
    url, _, _ = bucket
    with pytest.raises(ValueError, match="overwrite an input"):
        plan([f"{url}/in/a.jpg"], f"{url}/in")
    with pytest.raises(FileNotFoundError, match="ghost"):
        plan([f"{url}/in/ghost"], f"{url}/out")


def test_a_single_file_keeps_its_name(bucket):
    url, _, _ = bucket
    (job,) = plan([f"{url}/in/sub/b.png"], f"{url}/out")
    assert (job.dst, job.state) == (f"{url}/out/b.png", "todo")


def test_images_written_to_a_bucket_are_what_save_atomic_writes(bucket, tmp_path, coffee):
    url, fs, root = bucket
    save_image(coffee, f"{url}/out/x.jpg")
    save_atomic(coffee, tmp_path / "x.jpg")
    assert fs.cat_file(f"{root}/out/x.jpg") == (tmp_path / "x.jpg").read_bytes() == encode_image(coffee, "x.jpg")


def test_a_filesystem_write_that_fails_leaves_nothing(tmp_path):
    fs = fsspec.filesystem("file", skip_instance_cache=True)

    def failing_mv(*args, **kwargs):  # the bytes are written, then the rename fails
        raise OSError("disk full")

    fs.mv = failing_mv
    with pytest.raises(OSError, match="disk full"):
        put_atomic(fs, str(tmp_path / "sub" / "x.png"), png_bytes())
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_manifest_lists_every_file_with_its_reason(bucket):
    url, fs, root = bucket
    jobs = [FileJob("in/a.jpg", "out/a.jpg", "", "", "done"),
            FileJob("in/b, \"odd\".jpg", "out/b.jpg", "", "", "failed", "in/b.jpg: cannot decode image (truncated)")]
    where = write_manifest(jobs, f"{url}/out")
    rows = list(csv.DictReader(io.StringIO(fs.cat_file(f"{root}/out/artcolor-manifest.csv").decode())))
    assert where == f"{url}/out/artcolor-manifest.csv"
    assert [(r["input"], r["status"], r["reason"]) for r in rows] == [(j.src, j.state, j.reason) for j in jobs]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_bytes_decode_as_the_file_does(tmp_path, astronaut, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    astronaut.convert("RGBA" if fmt == "PNG" else "RGB").save(path, format=fmt)
    from_bytes, from_path = decode_bytes(path.read_bytes(), str(path)), open_image(path)
    assert from_bytes.mode == from_path.mode and np.array_equal(np.asarray(from_bytes), np.asarray(from_path))


def test_bad_bytes_name_the_file_and_the_limit():
    with pytest.raises(ImageError, match=r"^s3://b/x\.jpg: not an image"):
        decode_bytes(b"notes, not a photo", "s3://b/x.jpg")
    with pytest.raises(ImageError, match=r"^s3://b/y\.png: .*larger than the limit of 40 pixels"):
        decode_bytes(png_bytes(), "s3://b/y.png", max_pixels=40)


# ---- the command's flags, and the extra


def test_flags_of_the_other_engine_are_usage_errors(run_cli, tmp_path, model_dir):
    code, _, stderr = run_cli("colorize", tmp_path, "-o", tmp_path / "out", "--num-cpus", "2")
    assert code == 2 and "--num-cpus applies to --engine ray" in stderr
    code, _, stderr = run_cli("colorize", tmp_path, "-o", tmp_path / "out", "--engine", "ray", "--method", "gray")
    assert code == 2 and "--method applies to --engine local" in stderr


def test_without_ray_the_error_names_the_extra(run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    code, _, stderr = run_cli("colorize", tmp_path, "-o", tmp_path / "out", "--engine", "ray")
    assert code == 1 and "pip install 'artcolor[ray]'" in stderr and "Traceback" not in stderr
