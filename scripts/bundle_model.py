"""Copy a trained model folder into the package as the bundled default model (float16 weights).

    python scripts/bundle_model.py RUN/best [--note "trained 3000 of 8000 steps ..."]

The note (how the model was made) is appended to the bundled folder's model card.
"""

from __future__ import annotations

import argparse
import shutil

import torch

from artcolor.model.folders import BUNDLED, load_net, save_net


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a model folder (config.json + model.safetensors), e.g. runs/default/best")
    ap.add_argument("--note", default="", help="provenance appended to the model card")
    args = ap.parse_args()
    net = load_net(args.model)
    if BUNDLED.exists():
        shutil.rmtree(BUNDLED)
    save_net(net, BUNDLED, dtype=torch.float16)  # halves the package; outputs move by well under a level
    if args.note:
        card = BUNDLED / "README.md"
        card.write_text(card.read_text() + f"\n## How this model was made\n\n{args.note}\n")
    size = sum(p.stat().st_size for p in BUNDLED.iterdir()) / 2**20
    print(f"bundled {args.model} -> {BUNDLED} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
