"""Blend the automatic decoder of one model folder with another's (`artcolor.training.soup`).

    python scripts/average_auto.py --with runs/both/model --weight 0.5 --tail-weight 0.75 --out runs/soup/model

Starts from --weights (default: the bundled model), moves its automatic decoder --weight of the way
to --with's (same architecture), keeps --tail-weight of the decoder's tail against the ImageNet blocks
it was copied from, and writes the whole model (the rest of it --weights') to --out.
"""

from __future__ import annotations

import argparse

from artcolor.model.folders import BUNDLED, load_net, save_net
from artcolor.training.soup import average_auto


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="the model to start from (default: bundled)")
    p.add_argument("--with", dest="other", default=None, help="the model whose automatic decoder to blend in")
    p.add_argument("--weight", type=float, default=0.5, help="share of --with's decoder, in [0, 1]")
    p.add_argument("--tail-weight", type=float, default=1.0, help="share of the tail kept against ImageNet's")
    p.add_argument("--out", required=True, help="the model folder to write")
    a = p.parse_args()
    try:
        net = average_auto(load_net(a.weights or BUNDLED), load_net(a.other) if a.other else None, a.weight, a.tail_weight)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"average_auto: {e}") from None
    save_net(net, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
