"""A compact copy of training photo folders, to carry to a GPU machine with little room (tens of MB).

    python scripts/compact_photos.py ../shared/data/train/photos ../shared/data/train/photos-extra \
        --out runs/compact --max-photos 4000

About 4.5 KB a photo at the defaults (short side 128, WebP quality 70): both folders, 75 MB;
`--max-photos 4000` per folder, 35 MB. Each photo is scaled so its short side is `--short-side`
(never up) and re-encoded as WebP, in a folder of its source's name. The photos training holds out
of each source (`training.data.split_indices` with `--val-fraction` / `--max-val`, training's
defaults) are left out of the copy, so nothing measured on them leaks in; the copy's own split
holds out a few more, which costs nothing but those photos. Training reads the copy as any folder
(`artcolor train-auto --photos runs/compact/photos ...`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from artcolor.training.config import DataConfig
from artcolor.training.data import FolderSource, split_indices


def compact(source: Path, out: Path, short_side: int, quality: int, fraction: float, max_val: int,
            max_photos: int | None = None) -> tuple[int, int]:
    """-> (photos written, bytes written); at most `max_photos`, evenly spaced in the listing."""
    out.mkdir(parents=True, exist_ok=True)
    names = FolderSource(source).names
    train, _ = split_indices(names, fraction, max_val)
    if max_photos is not None and max_photos < len(train):
        train = [train[i * len(train) // max_photos] for i in range(max_photos)]
    count = total = 0
    for path in (names[i] for i in train):
        target = out / (Path(path).stem + ".webp")
        if not target.exists():
            im = Image.open(path).convert("RGB")
            scale = short_side / min(im.size)
            if scale < 1:
                im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
            tmp = target.with_suffix(".tmp")
            im.save(tmp, "WEBP", quality=quality, method=4)
            tmp.replace(target)
        count, total = count + 1, total + target.stat().st_size
    return count, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--short-side", type=int, default=128)
    parser.add_argument("--quality", type=int, default=70)
    parser.add_argument("--max-photos", type=int, default=None, help="per folder, evenly spaced (default: all)")
    parser.add_argument("--val-fraction", type=float, default=DataConfig.val_fraction)
    parser.add_argument("--max-val", type=int, default=DataConfig.max_val)
    args = parser.parse_args()
    for folder in args.folders:
        n, size = compact(folder, args.out / folder.name, args.short_side, args.quality, args.val_fraction, args.max_val,
                          args.max_photos)
        print(f"{folder}: {n} photos, {size / 2**20:.1f} MiB in {args.out / folder.name}")


if __name__ == "__main__":
    main()
