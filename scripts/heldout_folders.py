"""Link the photos and paintings `artcolor train` holds out into two folders, to evaluate on them:

    python scripts/heldout_folders.py --photos ../shared/data/train/photos \
        --paintings ../shared/data/train/paintings --out runs/heldout
    artcolor evaluate --photos runs/heldout/photos --paintings runs/heldout/paintings --size 150 ...

The split is training's own (`training.data.split_indices` with the run's `data` settings), so these
are the photos a run validated on and never trained on. Files are symbolic links, not copies.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from artcolor.training.config import DataConfig
from artcolor.training.data import FolderSource, split_indices


def link(source: FolderSource, indices: list[int], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in indices:
        name = Path(source.names[i])
        target = folder / name.name
        if not target.exists():
            os.symlink(name.resolve(), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", required=True)
    parser.add_argument("--paintings", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    d = DataConfig()
    photos, paintings = FolderSource(args.photos), FolderSource(args.paintings)
    _, held = split_indices(photos.names, d.val_fraction, d.max_val)
    _, held_paintings = split_indices(paintings.names, d.val_fraction, 8, min_val=2)
    link(photos, held, args.out / "photos")
    link(paintings, held_paintings, args.out / "paintings")
    print(f"{len(held)} photos and {len(held_paintings)} paintings linked under {args.out}")


if __name__ == "__main__":
    main()
