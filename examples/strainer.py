"""STRAINER on LFW faces: train a shared encoder on 10 faces, then fit held-out faces from
it and compare with SIREN from scratch, SIREN fine-tuned from another fit, and STRAINER-1.

    python examples/strainer.py --size 64 --train-steps 5000 --test-steps 2000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import numpy as np

from models.inr import METHODS, _plots, lfw_faces, strainer_protocol


def main(n_train: int = 10, n_test: int = 3, size: int = 32, width: int = 128, train_steps: int = 1000,
         test_steps: int = 500, *, record_every: int = 10, out="out/strainer", seed: int = 0) -> dict:
    train = lfw_faces(n_train, size)
    test = lfw_faces(n_test, size, start=n_train)
    res = strainer_protocol(train, test, key=jax.random.key(seed), width=width, train_steps=train_steps,
                            test_steps=test_steps, record_every=record_every)
    early = min(100, test_steps)
    for m in METHODS:
        (m0, s0), (mf, sf) = res.at(m, early), res.at(m, test_steps)
        print(f"{m:16s} step {early}: {m0:6.2f}±{s0:.2f} dB   step {test_steps}: {mf:6.2f}±{sf:.2f} dB "
              f"  reaches SIREN's final PSNR at step {res.steps_to_reach(m):.0f}")
    _plots.psnr_curves({m: (res.steps, res.psnr[m].mean(0)) for m in METHODS}, Path(out) / "transfer.png",
                       bands={m: res.psnr[m].std(0) for m in METHODS},
                       title=f"test-time fit of {n_test} LFW faces ([0,1] PSNR)")
    return {m: float(np.mean(res.psnr[m][:, -1])) for m in METHODS}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-train", type=int, default=10)
    p.add_argument("--n-test", type=int, default=3)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--train-steps", type=int, default=1000)
    p.add_argument("--test-steps", type=int, default=500)
    p.add_argument("--out", default="out/strainer")
    a = p.parse_args()
    main(a.n_train, a.n_test, a.size, a.width, a.train_steps, a.test_steps, out=a.out)
