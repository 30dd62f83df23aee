"""How bold should automatic colours be? PSNR against colourfulness over the automatic decoder's read-outs.

    python benchmarks/auto_readout.py --weights runs/auto/model --photos HELD_OUT_PHOTOS [--size 150]

For each (temperature, mix) of the grid (model/auto.py: the regression moved `mix` of the way to the
annealed mean at `temperature`), the harness's automatic mode on the photos: PSNR, CIEDE2000 and
colourfulness as a share of the ground truth's; gray's PSNR for scale. Choose on photos the model
was not tuned on, and held out from training (`artcolor train-auto` holds out what `artcolor train`
does), not on the final test set.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from artcolor import Colorizer  # noqa: E402
from artcolor.evaluation.harness import as_method, fidelity, load_folder  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True, help="a model folder with an automatic decoder")
    p.add_argument("--photos", required=True, help="a folder of colour photos")
    p.add_argument("--size", type=int, default=256, help="short side of the photos (harness's)")
    p.add_argument("--temperatures", default="0.2,0.38,0.6,1.0")
    p.add_argument("--mixes", default="0,0.25,0.5,0.75,1")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--working-size", type=int, default=None, help="the network's short side (default: the model's, 128)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    colorizer = Colorizer.load(args.weights, size=args.working_size)
    auto = colorizer.net.auto
    if auto is None:
        raise SystemExit(f"{args.weights}: this model has no automatic decoder (config auto_decoder: false)")
    photos = load_folder(args.photos, size=args.size)
    gray = fidelity(as_method("gray"), photos, "automatic")
    print(f"{len(photos)} photos, short side {args.size}; gray: PSNR {gray['psnr']:.2f}, CIEDE2000 {gray['ciede2000']:.2f}")
    print("| temperature | mix | PSNR (dB) | vs gray | CIEDE2000 | colourfulness / GT |")
    print("|---|---|---|---|---|---|")
    seen_regression = False
    for t in map(float, args.temperatures.split(",")):
        for mix in map(float, args.mixes.split(",")):
            if mix == 0 and seen_regression:
                continue  # the regression alone does not depend on the temperature
            seen_regression |= mix == 0
            auto.temperature, auto.mix = t, mix
            r = fidelity(as_method(colorizer), photos, "automatic")
            print(f"| {t:g} | {mix:g} | {r['psnr']:.2f} | {r['psnr'] - gray['psnr']:+.2f} | "
                  f"{r['ciede2000']:.2f} | {r['colorfulness_ratio']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
