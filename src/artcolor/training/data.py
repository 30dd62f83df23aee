"""Training data: photos and paintings from folders or Hugging Face datasets, random crops, and a
batch sampler that derives every random choice from (seed, step), so a resumed run sees exactly the
batches the uninterrupted run would have seen."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..inputs.images import ImageError, list_images, open_image


class FolderSource:
    """Images in a folder, recursive, in a stable order."""

    def __init__(self, root: str | Path):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: image folder not found")
        self.names = [str(p) for p, _ in list_images([root])]
        if not self.names:
            raise FileNotFoundError(f"{root}: no images found (jpg, png, webp, ...)")

    def __len__(self):
        return len(self.names)

    def load(self, i: int) -> Image.Image:
        return open_image(self.names[i]).convert("RGB")


class HFSource:
    """`hf:NAME[:split]` (the Hub, or a folder written by `Dataset.save_to_disk`); needs the `hf` extra."""

    def __init__(self, spec: str, streaming: bool = False, max_items: int = 20000):
        try:
            import datasets
        except ImportError:
            raise ImportError("hf: datasets need the optional extra: pip install 'artcolor[hf]'") from None
        name, _, split = spec.partition(":")
        split = split or "train"
        if Path(name).is_dir():
            ds = datasets.load_from_disk(name)
            ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
            if streaming:
                ds = ds.to_iterable_dataset()
        else:
            ds = datasets.load_dataset(name, split=split, streaming=streaming)
        if streaming:  # read the stream once, up to max_items, into memory
            ds = [row for _, row in zip(range(max_items), ds)]
        self.rows = ds
        self.column = _image_column(ds[0] if len(ds) else {})
        self.names = [f"hf:{spec}[{i}]" for i in range(len(ds))]

    def __len__(self):
        return len(self.names)

    def load(self, i: int) -> Image.Image:
        value = self.rows[i][self.column]
        if not isinstance(value, Image.Image):
            raise ImageError(f"{self.names[i]}: column {self.column!r} holds no image")
        return value.convert("RGB")


def _image_column(row: dict) -> str:
    for key, value in row.items():
        if isinstance(value, Image.Image):
            return key
    for key in ("image", "img"):
        if key in row:
            return key
    raise ValueError(f"no image column in the dataset (columns: {list(row)})")


def open_source(spec: str, streaming: bool = False, max_items: int = 20000):
    if spec.startswith("hf:"):
        return HFSource(spec[3:], streaming, max_items)
    return FolderSource(spec)


def split_indices(names: list[str], fraction: float, max_val: int, min_val: int = 1) -> tuple[list[int], list[int]]:
    """A deterministic validation split that does not depend on the listing order."""
    keyed = sorted(range(len(names)), key=lambda i: hashlib.sha1(Path(names[i]).name.encode()).hexdigest())
    n_val = min(max_val, max(min_val, int(len(names) * fraction)), len(names) // 2)
    val = sorted(keyed[:n_val])
    return sorted(set(range(len(names))) - set(val)), val


def random_crop(im: Image.Image, size: int, rng: np.random.Generator, flip: bool = True) -> np.ndarray:
    """Scale so the short side is in [size, 1.25 size], take a random size x size crop, maybe flip."""
    short = min(im.size)
    scale = size * rng.uniform(1.0, 1.25) / short
    w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
    im = im.resize((w, h), Image.BILINEAR, reducing_gap=2.0)
    x, y = rng.integers(0, w - size + 1), rng.integers(0, h - size + 1)
    a = np.asarray(im.crop((x, y, x + size, y + size)))
    return a[:, ::-1] if flip and rng.random() < 0.5 else a


def center_crop(im: Image.Image, size: int) -> np.ndarray:
    scale = size / min(im.size)
    w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
    im = im.resize((w, h), Image.BILINEAR, reducing_gap=2.0)
    x, y = (w - size) // 2, (h - size) // 2
    return np.asarray(im.crop((x, y, x + size, y + size)))


class CropDataset(torch.utils.data.Dataset):
    """Keys are (source, index, seed); an unreadable image becomes an error record, never a crash."""

    def __init__(self, sources: dict[str, object], size: int):
        self.sources, self.size = sources, size

    def __getitem__(self, key):
        source, i, seed = key
        src = self.sources[source]
        try:
            im = src.load(i)
        except (ImageError, OSError, ValueError) as e:
            return source, None, f"{e}" if src.names[i] in str(e) else f"{src.names[i]}: {e}"
        a = random_crop(im, self.size, np.random.default_rng(seed))
        return source, torch.from_numpy(a.copy()).permute(2, 0, 1), None


@dataclass
class Batch:
    photos: torch.Tensor  # (B, 3, S, S) uint8
    paintings: torch.Tensor | None  # (P, 3, S, S) uint8
    errors: list[str]


def collate(items) -> Batch:
    groups = {"photos": [], "paintings": []}
    errors = []
    for source, tensor, error in items:
        if error is not None:
            errors.append(error)
        else:
            groups[source].append(tensor)
    stack = lambda xs: torch.stack(xs) if xs else None  # noqa: E731
    return Batch(stack(groups["photos"]), stack(groups["paintings"]), errors)


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


class StepSampler(torch.utils.data.Sampler):
    """Yields the keys of each micro-batch from `start_step` on; rank r of `world` takes its share.

    Sample g of the whole run is photo perm_e[g % N] with perm_e a permutation seeded by the epoch
    e = g // N; paintings follow their own stream. Nothing depends on state carried between steps.
    """

    def __init__(self, n_photos, n_paintings, batch_size, grad_accum, seed, start_step=0, steps=None,
                 rank=0, world=1, paintings_per_batch=None):
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} must be divisible by the number of processes {world}")
        self.n_photos, self.n_paintings = n_photos, n_paintings
        self.batch_size, self.accum, self.seed = batch_size, grad_accum, seed
        self.start, self.steps, self.rank, self.world = start_step, steps, rank, world
        self.n_paint = batch_size if paintings_per_batch is None else paintings_per_batch
        self._perms = {}

    def _pick(self, stream: str, n: int, g: int) -> int:
        epoch = g // n
        key = (stream, epoch)
        if key not in self._perms:
            self._perms = {k: v for k, v in self._perms.items() if k[0] != stream}
            self._perms[key] = np.random.default_rng(_seed(self.seed, stream, epoch)).permutation(n)
        return int(self._perms[key][g % n])

    def batch(self, micro: int) -> list[tuple[str, int, int]]:
        keys = []
        for j in range(self.rank, self.batch_size, self.world):
            g = micro * self.batch_size + j
            keys.append(("photos", self._pick("photos", self.n_photos, g), _seed(self.seed, "crop", g)))
        if self.n_paintings:
            for j in range(self.rank, self.n_paint, self.world):
                g = micro * self.n_paint + j
                keys.append(("paintings", self._pick("paintings", self.n_paintings, g), _seed(self.seed, "pcrop", g)))
        return keys

    def __iter__(self):
        micro = self.start * self.accum
        end = None if self.steps is None else self.steps * self.accum
        while end is None or micro < end:
            yield self.batch(micro)
            micro += 1

    def __len__(self):
        return (self.steps - self.start) * self.accum if self.steps is not None else 2**31


def warn_skipped(errors: list[str], counter: dict) -> None:
    for e in errors:
        counter["skipped"] = counter.get("skipped", 0) + 1
        warnings.warn(f"skipped unreadable image: {e}", stacklevel=2)


def load_fixed(source, indices: list[int], size: int) -> torch.Tensor:
    """Center crops of fixed images (validation), skipping unreadable ones: (N, 3, size, size) uint8."""
    out = []
    for i in indices:
        try:
            out.append(torch.from_numpy(center_crop(source.load(i), size).copy()).permute(2, 0, 1))
        except (ImageError, OSError, ValueError) as e:
            warnings.warn(f"skipped unreadable validation image {source.names[i]}: {e}", stacklevel=2)
    if not out:
        raise ValueError("no readable validation images")
    return torch.stack(out)
