"""Fit one image with four INR families (SIREN, FINER, ReLU + Fourier features, Softplus + FF)
and compare their PSNR curves and reconstructions.

    python examples/inr_fit.py --kodak ../shared/data/kodak --size 128 --steps 2000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from models.inr import _plots, finer, fit, grid, load_kodak, psnr_01, relu_ff, siren, skimage_photos, softplus


def main(size: int = 64, steps: int = 1000, width: int = 256, depth: int = 3, *, kodak=None, name: str = "kodim19",
         record_every: int = 50, out="out/inr_fit", seed: int = 0) -> dict:
    img = load_kodak(kodak, names=[name], crop=size)[0] if kodak else skimage_photos(size, ("astronaut",))[0]
    coords = grid(size, size)
    target = jnp.asarray(img.reshape(-1, 3), dtype=coords.dtype)  # [0,1] data: PSNR in the [0,1] convention
    sizes = (2,) + (width,) * depth + (3,)
    key = jax.random.key(seed)
    models = {
        "siren": (siren(sizes, key=key), 1e-4),
        "finer": (finer(sizes, key=key), 1e-4),
        "relu+ff": (relu_ff(sizes, key=key), 1e-3),
        "softplus+ff": (softplus(sizes, key=key, fourier=True), 1e-3),
    }
    curves, recs, final = {}, {}, {}
    for label, (model, lr) in models.items():
        res = fit(model, coords, target, optimizer=optax.adam(lr), steps=steps, record_every=record_every,
                  metric=psnr_01, desc=f"{label} on the photo")
        curves[label] = (res.trajectory.steps, res.trajectory.metric)
        recs[label] = np.asarray(jax.vmap(res.model)(coords)).reshape(img.shape)
        final[label] = float(res.trajectory.metric[-1])
        print(f"{label:12s} {final[label]:6.2f} dB ([0,1] convention) after {steps} steps")
    out = Path(out)
    _plots.psnr_curves(curves, out / "psnr.png", title="INR families, one image ([0,1] PSNR)")
    _plots.reconstructions(img, recs, out / "reconstructions.png")
    return final


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kodak", help="Kodak folder; default: scikit-image's astronaut")
    p.add_argument("--name", default="kodim19")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--out", default="out/inr_fit")
    a = p.parse_args()
    main(a.size, a.steps, a.width, kodak=a.kodak, name=a.name, out=a.out)
