"""Neural Experts on one image: pretrain the manager on a random expert map, train with the
paper's schedule, and compare with the SIREN baseline; plots the PSNR curves, the
reconstructions and the manager's expert map.

    python examples/neural_experts.py --kodak ../shared/data/kodak --size 128 --steps 30000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from models.inr import _plots, expert_map, experts_predict, grid, load_kodak, skimage_photos, to_pm1
from models.inr._experts import build, needs_pretraining, param_count, pretrain_manager, train_model


def main(size: int = 64, steps: int = 3000, pretrain_steps: int = 500, *, models=("siren_base", "neural_experts"),
         kodak=None, name: str = "kodim19", lr: float = 1e-4, record_every: int = 100, out="out/neural_experts",
         seed: int = 0) -> dict:
    img = load_kodak(kodak, names=[name], crop=size)[0] if kodak else skimage_photos(size, ("astronaut",))[0]
    coords = grid(size, size)
    target = jnp.asarray(to_pm1(img).reshape(-1, 3), dtype=coords.dtype)  # the paper's [-1,1] data
    out = Path(out)
    curves, recs, final = {}, {}, {}
    for m in models:
        model = build(m, key=jax.random.key(seed))
        if needs_pretraining(m) and pretrain_steps:
            model, pt = pretrain_manager(model, coords, key=jax.random.key(seed + 1), steps=pretrain_steps,
                                         record_every=pretrain_steps)
            print(f"{m}: manager reproduces the random expert map on {100 * pt.metric[-1]:.0f}% of pixels")
        model, traj = train_model(m, model, coords, target, steps=steps, learning_rate=lr, record_every=record_every)
        curves[m] = (traj.steps, traj.metric)
        pred = experts_predict(model, coords) if hasattr(model, "experts") else jax.vmap(model)(coords)
        recs[m] = (np.asarray(pred).reshape(img.shape) + 1) / 2
        final[m] = float(traj.metric[-1])
        print(f"{m:22s} {param_count(model):7d} params  {final[m]:6.2f} dB ([-1,1] convention)")
        if hasattr(model, "experts"):
            _plots.expert_map(np.asarray(expert_map(model, coords)).reshape(size, size), out / f"{m}_expert_map.png")
    _plots.psnr_curves(curves, out / "psnr.png", title="Neural Experts vs SIREN ([-1,1] PSNR, peak max(gt))")
    _plots.reconstructions(img, recs, out / "reconstructions.png")
    return final


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kodak", help="Kodak folder; default: scikit-image's astronaut")
    p.add_argument("--name", default="kodim19")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--pretrain-steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=1e-4, help="paper: 1e-5 over 30000 steps")
    p.add_argument("--out", default="out/neural_experts")
    a = p.parse_args()
    main(a.size, a.steps, a.pretrain_steps, kodak=a.kodak, name=a.name, lr=a.lr, out=a.out)
