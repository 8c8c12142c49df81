"""Build a small SIREN INR zoo and a small-CNN zoo, then plot both.

    .venv/bin/python examples/build_zoo.py --out runs/zoo            # MNIST-5k INRs + digits CNNs
    .venv/bin/python examples/build_zoo.py --out runs/zoo --images 5000 --cnns 1000   # full size (GPU)

Run it again after an interruption: finished shards are kept and only the rest is computed.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(out: str | Path = "runs/zoo", *, source: str = "mnist5k", images: int = 64, steps: int = 200,
         augment: int = 1, shard_size: int = 32, cnns: int = 16, cnn_steps: int = 200, cnn_source: str = "digits"):
    import matplotlib

    matplotlib.use("Agg")
    from models.zoo import (
        CnnZooConfig, InrZooConfig, build_cnn_zoo, build_inr_zoo, load_source, plot_accuracy_histogram, plot_zoo,
    )

    out = Path(out)
    images_source = load_source(source)
    inr_config = InrZooConfig(steps=steps, limit=images, augment=augment, shard_size=shard_size)
    inrs = build_inr_zoo(images_source, out / "inr", inr_config)
    print(f"INR zoo: {len(inrs)} SIRENs, PSNR {inrs['psnr'].mean():.2f} dB "
          f"(from {inrs['psnr_init'].mean():.2f} dB at initialisation); "
          f"train/val/test {[len(inrs.split(s)) for s in ('train', 'val', 'test')]}")
    plot_zoo(inrs, images_source).savefig(out / "inr.png", dpi=120, bbox_inches="tight")
    result = {"inr": inrs}
    if cnns:
        cnn_config = CnnZooConfig(n=cnns, steps=(cnn_steps // 4, cnn_steps), shard_size=min(cnns, 256))
        zoo = build_cnn_zoo(load_source(cnn_source), out / "cnn", cnn_config)
        accuracy = zoo["test_accuracy"]
        print(f"CNN zoo: {len(zoo)} networks, test accuracy {accuracy.min():.3f} .. {accuracy.max():.3f}")
        plot_accuracy_histogram(zoo).savefig(out / "cnn.png", dpi=120, bbox_inches="tight")
        result["cnn"] = zoo
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/zoo")
    parser.add_argument("--source", default="mnist5k")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--cnns", type=int, default=16)
    parser.add_argument("--cnn-steps", type=int, default=200)
    args = parser.parse_args()
    main(args.out, source=args.source, images=args.images, steps=args.steps, cnns=args.cnns, cnn_steps=args.cnn_steps)
