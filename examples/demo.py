"""The main job, end to end on data that ships with the packages (`make demo`).

1. Derive and prove the symmetry group of every registered activation.
2. Confirm each derived group numerically on whole networks, next to a larger group that fails.
3. Build a SIREN weight zoo from scikit-learn's digits (one INR per image).
4. Train a ScaleGMN classifier on the zoo beside the permutation-only GMN baseline,
   and check that only the ScaleGMN is invariant to the sign symmetries of sine networks.
5. Reproduce a network's forward pass exactly with a constructed ScaleGMN (the simulation theorem).
6. Plot what it found to ``out/demo/summary.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import symm  # noqa: E402

CHECKED = ("relu", "leaky_relu", "tanh", "sin", "sigmoid", "cos", "cube", "abs", "signed_square", "gelu")


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))


def derive_registry() -> list[symm.ActivationSymmetry]:
    _section("1. Derived symmetry groups (each with a machine-checked proof)")
    start = time.perf_counter()
    symmetries = [symm.derive(name) for name in symm.registry_names()]
    for s in symmetries:
        s.certificate.check()
    width = max(len(n) for n in symm.registry_names())
    print(f"{'activation':<{width}}  {'group':<8}  {'φ(a)':<9}  c(a)")
    for name, s in zip(symm.registry_names(), symmetries):
        print(f"{name:<{width}}  {s.group:<8}  {str(s.phi):<9}  {s.offset}")
    print(f"derived and re-checked {len(symmetries)} proofs in {time.perf_counter() - start:.1f} s")
    return symmetries


def confirm_on_networks(key, checked=CHECKED) -> dict[str, tuple[float, float | None]]:
    _section("2. Function preserved on whole networks (float64, 2-8-8-1, 64 group elements)")
    results = {}
    print(f"{'activation':<14}  {'group':<8}  {'in-group rel. error':>20}  {'larger group rel. error':>24}")
    for name in checked:
        space = symm.WeightSpace.mlp((2, 8, 8, 1), name)
        k_params, k_x, k_in, k_out = jax.random.split(jax.random.fold_in(key, hash(name) % 2**31), 4)
        params = space.init(k_params, dtype=jnp.float64)
        xs = jax.random.normal(k_x, (32, 2), jnp.float64)
        inside = symm.check_function_preserved(space, params, k_in, xs, n=64)
        outside = None
        if any(g.larger is not None for g in space.groups):
            elements = jax.vmap(space.sample_outside)(jax.random.split(k_out, 64))
            outside = symm.check_function_preserved(space, params, elements, xs).max_rel_error
        results[name] = (inside.max_rel_error, outside)
        shown = "(already the largest)" if outside is None else f"{outside:.2e}"
        mark = "ok" if inside.passed and (outside is None or outside > 1e-3) else "FAILED"
        print(f"{name:<14}  {space.groups[0]:<8}  {inside.max_rel_error:>20.2e}  {shown:>24}  {mark}")
    return results


def build_zoo(out: Path, n_images: int, steps: int, hidden: tuple[int, ...]):
    from models.zoo import InrZooConfig, build_inr_zoo, load_source

    sizes = "-".join(str(h) for h in (2, *hidden, 1))
    _section(f"3. SIREN zoo: {n_images} digits (8x8), {sizes}, ω0 = 30, shared initialisation, {steps} steps each")
    start = time.perf_counter()
    config = InrZooConfig(hidden=hidden, steps=steps, limit=n_images, shard_size=n_images, shared_init=True)
    zoo = build_inr_zoo(load_source("digits"), out / "zoo", config, progress=False)  # reused if already there
    psnr, psnr_init = zoo["psnr"], zoo["psnr_init"]
    print(f"fitted {len(zoo)} INRs in {time.perf_counter() - start:.1f} s: PSNR {psnr.mean():.1f} ± {psnr.std():.1f} dB "
          f"(initialisation {psnr_init.mean():.1f} dB)")
    return zoo


MODELS = (("ScaleGMN", "scalegmn"), ("GMN (permutation only)", "gmn"), ("MLP on flattened weights", "mlp"))


def train_classifiers(out: Path, key, *, epochs: int, width: int, n_layers: int, batch: int, lr: float):
    """The library's own loop (``models.train``): same data, size, epochs and optimiser for all three."""
    from models.train import FitConfig, ModelSize, load_task, train_seed

    _section(f"4. INR classification with models.train.fit ({epochs} epochs, width {width}, {n_layers} layers)")
    data = load_task("classify", out / "zoo")
    print(f"input networks: {data.space}; derived hidden groups: {sorted(set(data.space.groups))}; "
          f"{data.size('train')} train / {data.size('val')} val / {data.size('test')} test INRs")
    print(f"{'model':<26} {'test acc.':>9}  {'moved by derived group':>22}  {'moved by larger group':>21}  {'time':>6}")
    results = {}
    for name, model in MODELS:
        record = train_seed(data, model, 0, size=ModelSize(width, n_layers), out=out / "runs" / model,
                            config=FitConfig(epochs=epochs, batch_size=batch, lr=lr), zoo=str(out / "zoo"),
                            progress=False)
        history = [json.loads(line) for line in (out / "runs" / model / "metrics.jsonl").read_text().splitlines()]
        stress = record["stress"]
        results[name] = {"accuracy": record["test"], "derived": stress["derived"], "larger": stress["larger"],
                         "val_curve": [h["val"] for h in history], "train_loss": [h["train_loss"] for h in history],
                         "invariant": stress["derived"] == stress["original"], "seconds": record["seconds"]}
        print(f"{name:<26} {record['test']:>9.1%}  {stress['derived']:>22.1%}  {stress['larger']:>21.1%}  "
              f"{record['seconds']:>5.0f}s")
    print("chance is 10%. Moving each test INR by a random element of its derived group (sign flips and\n"
          "permutations of hidden neurons) leaves its function unchanged: only the ScaleGMN keeps its score.\n"
          "A larger group changes the functions themselves, so every score may move there (the control).")
    return results


def simulation_theorem(key, simulated=("relu", "tanh", "sin", "cube")) -> dict[str, float]:
    import proofs

    _section("5. Simulation theorem: a constructed ScaleGMN runs the input network (float64)")
    errors = {}
    for name in simulated:
        space = symm.WeightSpace.mlp((2, 16, 16, 1), name)
        params = space.init(jax.random.fold_in(key, len(name)), dtype=jnp.float64)
        xs = jax.random.normal(jax.random.fold_in(key, 99), (64, 2), jnp.float64)
        states = proofs.simulate_forward(space, params, xs)
        direct = jax.vmap(lambda x: space.apply(params, x))(xs)
        simulated = states.features[-1].T
        errors[name] = float(jnp.max(jnp.abs(simulated - direct)) / jnp.max(jnp.abs(direct)))
        print(f"{name:<6} forward pass at 64 probe points: max relative error {errors[name]:.1e}")
    return errors


def plot(out: Path, zoo, classifiers, confirmations) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.zoo import reconstruct

    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 3)
    # Reconstructions beside their originals.
    ax = fig.add_subplot(grid[0, 0])
    from models.zoo import load_source

    source = load_source("digits")
    index = np.arange(6)
    recon = np.asarray(reconstruct(zoo, index, 8, 8))[..., 0]
    original = source.images[np.asarray(zoo["source_index"])[index]][..., 0]
    ax.imshow(np.concatenate([np.concatenate(list(original), 1), np.concatenate(list(recon), 1)], 0), cmap="gray")
    ax.set_title("digits (top) and their SIREN INRs (bottom)")
    ax.axis("off")
    ax = fig.add_subplot(grid[0, 1])
    ax.hist(zoo["psnr"], bins=30, color="tab:blue")
    ax.set(title="PSNR of the zoo's INRs", xlabel="PSNR (dB)", ylabel="INRs")
    ax = fig.add_subplot(grid[0, 2])
    for name, r in classifiers.items():
        ax.plot(r["val_curve"], label=f"{name} (test {r['accuracy']:.0%})")
    ax.axhline(0.1, color="grey", ls=":", label="chance")
    ax.set(title="validation accuracy", xlabel="epoch", ylabel="accuracy")
    ax.legend()
    ax = fig.add_subplot(grid[1, 0:2])
    names = list(confirmations)
    inside = [max(confirmations[n][0], 1e-17) for n in names]
    outside = [confirmations[n][1] if confirmations[n][1] is not None else np.nan for n in names]
    pos = np.arange(len(names))
    ax.bar(pos - 0.2, inside, 0.4, label="element of the derived group")
    ax.bar(pos + 0.2, outside, 0.4, label="element of a larger group")
    ax.set_yscale("log")
    ax.set_xticks(pos, names, rotation=30)
    ax.set(title="network output change under a symmetry (relative, float64)")
    ax.legend()
    ax = fig.add_subplot(grid[1, 2])
    names = list(classifiers)
    pos = np.arange(len(names))
    ax.bar(pos - 0.2, [classifiers[n]["accuracy"] for n in names], 0.4, label="test set")
    ax.bar(pos + 0.2, [classifiers[n]["derived"] for n in names], 0.4, label="moved by the derived group")
    ax.set_xticks(pos, [n.split(" (")[0].replace(" on flattened weights", "") for n in names])
    ax.set(title="stress test: held-out accuracy", ylabel="accuracy")
    ax.legend()
    fig.tight_layout()
    path = out / "summary.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(out: str | Path = "out/demo", *, n_images: int = 1797, fit_steps: int = 100, hidden=(16, 16),
         epochs: int = 30, width: int = 32, n_layers: int = 2, batch: int = 32, lr: float = 1e-3, seed: int = 0,
         checked=CHECKED, simulated=("relu", "tanh", "sin", "cube")) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(seed)
    start = time.perf_counter()
    derive_registry()
    confirmations = confirm_on_networks(key, checked)
    zoo = build_zoo(out, n_images, fit_steps, tuple(hidden))
    classifiers = train_classifiers(out, key, epochs=epochs, width=width, n_layers=n_layers, batch=batch, lr=lr)
    simulation = simulation_theorem(key, simulated)
    path = plot(out, zoo, classifiers, confirmations)
    _section("Done")
    print(f"figure: {path}   total time {time.perf_counter() - start:.0f} s")
    return {"confirmations": confirmations, "classifiers": classifiers, "simulation": simulation, "figure": str(path)}


# Every stage at its smallest: one activation of each kind of group (positive, sign, affine) is
# confirmed and one network is simulated, so the test suite runs the whole demo in about a minute.
SMOKE = dict(n_images=40, fit_steps=10, hidden=(4, 4), epochs=1, width=4, n_layers=1, batch=8,
             checked=("relu", "tanh", "sigmoid"), simulated=("tanh",))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out/demo")
    parser.add_argument("--images", type=int, default=1797)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: every stage runs in well under a minute")
    args = parser.parse_args()
    if args.smoke:
        main(args.out, **SMOKE)
    else:
        main(args.out, n_images=args.images, epochs=args.epochs)
