"""Train IGPG on a small zoo of MLPs (or CNNs) and generate a network for a held-out task.

    .venv/bin/python examples/igpg.py --out runs/igpg            # small: a few minutes on 2 cores
    .venv/bin/python examples/igpg.py --arch "cnn conv3x3-8 conv3x3-8 gap dense-10 relu" --out runs/igpg-cnn

Tasks are 6-class subsets of scikit-learn's digits that keep the digit labels; the
generator is trained on ``train_tasks`` of them and asked for a network for a subset it has
never seen. The zoos are fixed-seed zoos (every network starts from one initialisation). The
figure compares fine-tuning from the generated network, a random initialisation and the
zoo-mean network, shows how the codebook is used, and how far generated networks are from
their nearest training network once both are canonicalised (modulo the derived group).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(out: str | Path = "runs/igpg", *, arch: str = "mlp dense-12 dense-10 tanh", train_tasks: int = 3,
         networks: int = 16, zoo_steps: int = 300, tokeniser_steps: int = 1000, prior_steps: int = 1000,
         epochs: int = 5, samples: int = 4, tiny: bool = False, seed: int = 0, progress: bool = True) -> dict:
    import jax
    import numpy as np

    from models.igpg import Architecture, PriorConfig, TokeniserConfig
    from models.igpg._evaluate import nearest_distance, noisy_copy, zoo_mean
    from models.igpg._pipeline import IgpgConfig, accuracy, build_zoo_entries, finetune, prepare_params, train_igpg
    from models.igpg._plots import plot_igpg
    from models.igpg._tasks import subset_tasks
    from models.zoo import load_source

    out = Path(out)
    source = load_source("digits")
    tasks = subset_tasks(source, train_tasks + 1, size=6)
    held_out, train = tasks[-1], tasks[:-1]
    entries = []
    for task in train:
        # A fixed-seed zoo (one initialisation for every network): see benchmarks/igpg.py for why.
        entries += build_zoo_entries(task, arch, out / "zoos" / task.name, n=networks, steps=(zoo_steps, zoo_steps),
                                     seed=seed, shared_init=True, progress=progress)
    if tiny:
        config = IgpgConfig(
            TokeniserConfig(chunk_size=16, tokens_per_chunk=4, codebook_size=32, code_dim=4, hidden=32,
                            steps=tokeniser_steps, batch_size=128, lr=3e-3),
            PriorConfig(d_model=32, heads=2, layers=1, context=32, max_positions=1024, steps=prior_steps,
                        batch_size=8, lr=3e-3),
        )
    else:
        config = IgpgConfig(
            TokeniserConfig(steps=tokeniser_steps, lr=2e-3),  # one token per weight (see models.igpg._vqvae)
            PriorConfig(d_model=128, heads=4, layers=4, context=128, max_positions=4096, steps=prior_steps),
        )
    generator, info = train_igpg(entries, config, key=jax.random.key(seed), progress=progress,
                                 checkpoint_dir=out / "checkpoints")  # stopped, it resumes
    space = entries[0].space
    train_params = jax.tree.map(lambda *a: np.concatenate(a), *[prepare_params(e, False, np.float32) for e in entries])
    mean_net = zoo_mean(train_params)
    x_test, y_test = held_out.arrays("test")
    images, labels = held_out.conditioning_images()
    keys = jax.random.split(jax.random.key(seed + 1), samples)
    generated = [generator.generate(Architecture.parse(arch), images, labels, key=k, temperature=1.0, top_k=16,
                                    n_classes=held_out.n_classes)[1]
                 for k in keys]
    generated = [jax.tree.map(lambda a: a.astype(np.float32), p) for p in generated]
    starts = {"generated": generated[0], "random": space.init(jax.random.key(seed + 2), dtype=np.float32),
              "zoo mean": mean_net}
    curves = {}
    for name, params in starts.items():
        steps = finetune(space, params, held_out, epochs=epochs, key=jax.random.key(seed + 3))
        curves[name] = [accuracy(space, p, x_test, y_test) for p in steps]
    n = len(train_params[0][0])
    distances = {
        "generated": [nearest_distance(space, p, train_params) for p in generated],
        "training net + noise": [
            nearest_distance(space, noisy_copy(jax.tree.map(lambda a: a[i % n], train_params), k), train_params)
            for i, k in enumerate(jax.random.split(jax.random.key(seed + 4), samples))
        ],
        "ensemble average": [nearest_distance(space, mean_net, train_params)],
    }
    figure = plot_igpg(out / "igpg.png", curves, info["codebook_usage"], distances)
    print(f"held-out task {held_out.name}, accuracy by fine-tuning epoch:")
    for name, acc in curves.items():
        print(f"  {name:>10}: " + " ".join(f"{a:.3f}" for a in acc))
    print(f"nearest training network (canonicalised, relative): generated {np.mean(distances['generated']):.3f}, "
          f"noise {np.mean(distances['training net + noise']):.3f}, ensemble {distances['ensemble average'][0]:.3f}")
    return {"curves": curves, "distances": distances, "info": info, "figure": figure, "space": space,
            "generated": generated}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/igpg")
    parser.add_argument("--arch", default="mlp dense-12 dense-10 tanh",
                        help="architecture of the zoos and of the generated network (cnn ... or mlp ...)")
    parser.add_argument("--networks", type=int, default=16)
    parser.add_argument("--tokeniser-steps", type=int, default=1000)
    parser.add_argument("--prior-steps", type=int, default=1000)
    args = parser.parse_args()
    main(args.out, arch=args.arch, networks=args.networks, tokeniser_steps=args.tokeniser_steps,
         prior_steps=args.prior_steps)
