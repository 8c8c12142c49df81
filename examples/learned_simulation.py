"""Learned simulation: can a *trained* ScaleGMN predict a network's activations at probe points?

The simulation theorem says a ScaleGMN whose updates can express σ reproduces the
forward pass. Here we test the theorem's conditions empirically: a generic ScaleGMN
trunk (``models.gmn.GMNEncoder``, standard trainable blocks, random init) reads random
networks whose input vertices carry random probe inputs, and a bias-free linear map on
each vertex's φ-stream (so the prediction has the post-activation's type φ(q)) predicts
that neuron's post-activation at every probe. We report R² on held-out networks against
the GMN's depth (message-passing steps) and width, and plot it.

    .venv/bin/python examples/learned_simulation.py --out out/learned_simulation/r2.png   # ~10 min on 2 cores
    .venv/bin/python examples/learned_simulation.py --tiny --out /tmp/ls/r2.png          # seconds
"""

from __future__ import annotations

import argparse
import json
import pathlib
from collections.abc import Sequence


def _data(space, key, n_networks, n_probes):
    """Random networks of ``space``, random probes, and their per-layer post-activations."""
    import jax

    import proofs
    from models.graph import to_graph

    k_params, k_probes = jax.random.split(key)
    params = jax.vmap(space.init)(jax.random.split(k_params, n_networks))
    xs = jax.random.normal(k_probes, (n_networks, n_probes, space.layer_sizes[0]))
    # graphs whose input vertices carry the probes (vertex features [b, probes], as in the construction)
    graphs = jax.vmap(lambda p, x: _probe_graph(space, p, x, to_graph))(params, xs)
    targets = jax.vmap(lambda p, x: proofs.reference_forward(space, p, x).features[1:])(params, xs)
    return graphs, targets


def _probe_graph(space, params, xs, to_graph):
    import jax.numpy as jnp

    from models.graph import NeuralGraph

    g = to_graph(space, params)
    P = xs.shape[0]
    vertices = [jnp.concatenate([jnp.zeros((xs.shape[1], 1), xs.dtype), xs.T], axis=1)]
    vertices += [jnp.concatenate([v, jnp.zeros((v.shape[0], P), v.dtype)], axis=1) for v in g.vertices[1:]]
    return NeuralGraph(tuple(vertices), g.edges, g.masks, g.layout)


def _model(space, depth, width, n_probes, key):
    import equinox as eqx
    import jax

    from models.gmn import GMNEncoder, Linear

    class ActivationPredictor(eqx.Module):
        """GMN trunk + bias-free linear readout of each vertex's φ-stream (type-preserving)."""

        encoder: GMNEncoder
        readout: Linear

        def __call__(self, graph, *, key=None):
            state = self.encoder(graph, key=key)
            return tuple(self.readout(h) for h in state.h[1:])

    k1, k2 = jax.random.split(key)
    enc = GMNEncoder(space, width=width, n_layers=depth, vertex_dim=1 + n_probes, key=k1)
    return ActivationPredictor(enc, Linear(width, n_probes, key=k2))


def _r2(pred, target) -> float:
    import jax.numpy as jnp

    p = jnp.concatenate([a.reshape(-1) for a in pred])
    t = jnp.concatenate([a.reshape(-1) for a in target])
    return float(1.0 - jnp.sum((p - t) ** 2) / jnp.sum((t - jnp.mean(t)) ** 2))


def train_and_score(space, depth, width, *, n_train, n_test, n_probes, steps, batch, lr, seed) -> float:
    """Held-out R² of a GMN of ``depth`` steps and ``width`` channels after ``steps`` Adam steps."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from models.gmn import make_train_step, warmup_adamw

    k_train, k_test, k_model, k_batches = jax.random.split(jax.random.key(seed), 4)
    train_g, train_t = _data(space, k_train, n_train, n_probes)
    test_g, test_t = _data(space, k_test, n_test, n_probes)
    model = _model(space, depth, width, n_probes, k_model)
    opt = warmup_adamw(lr, weight_decay=0.0, warmup_steps=max(steps // 10, 1), clip_norm=1.0)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    def loss(pred, target):
        return sum(jnp.mean((p - y) ** 2) for p, y in zip(pred, target))

    step = make_train_step(opt, loss)
    for k in jax.random.split(k_batches, steps):
        k_idx, k_drop = jax.random.split(k)
        idx = jax.random.choice(k_idx, n_train, (min(batch, n_train),), replace=False)
        g, t = jax.tree.map(lambda a: a[idx], (train_g, train_t))
        with jax.numpy_dtype_promotion("standard"):  # optax's bias correction mixes int counts and floats
            model, state, _ = step(model, state, g, t, k_drop)
    pred = eqx.filter_jit(lambda m, g: jax.vmap(m)(g))(model, test_g)
    return _r2(pred, test_t)


def settings_key(**settings) -> str:
    """The part of a run's identity besides (activation, depth, width): every setting that changes
    its R². Results are stored under this key, so a run with other settings never reuses them."""
    parts = []
    for name in sorted(settings):
        value = settings[name]
        value = "-".join(map(str, value)) if isinstance(value, (tuple, list)) else repr(value)
        parts.append(f"{name}={value}")
    return " ".join(parts)


def _load(path: pathlib.Path) -> dict:
    """{settings key: {run name: R²}}. A table of the older format (run names only, no settings)
    is kept under its own key and never resumed from."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data and all(isinstance(v, (int, float)) for v in data.values()):
        return {"settings unknown (older file)": data}
    return data


def _grid(depths, widths, depth_at, width_at) -> list[tuple[int, int]]:
    """(depth, width) runs: every depth at ``width_at`` and every width at ``depth_at``."""
    runs = [(d, width_at) for d in depths] + [(depth_at, w) for w in widths]
    return list(dict.fromkeys(runs))


def main(
    activations: Sequence[str] = ("tanh", "relu"),
    sizes: Sequence[int] = (2, 16, 16, 1),
    depths: Sequence[int] = (1, 2, 3),
    widths: Sequence[int] = (4, 8, 16, 32),
    *,
    depth_at: int = 2,
    width_at: int = 16,
    n_train: int = 1000,
    n_test: int = 250,
    n_probes: int = 4,
    steps: int = 500,
    batch: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    out: str | pathlib.Path = "learned_simulation/r2.png",
    progress: bool = True,
) -> dict:
    """Train one GMN per (activation, depth, width) on the grid of ``_grid``; plot R² against depth and
    against width, one curve per activation, into ``out``; keep the R² tables in ``out`` with suffix
    ``.json``, keyed by every setting that changes a result (``settings_key``): a re-run with the
    same settings resumes, one with other settings trains anew. Returns this run's table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tqdm import tqdm

    import symm

    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results_path = out.with_suffix(".json")
    key = settings_key(sizes=sizes, n_train=n_train, n_test=n_test, n_probes=n_probes, steps=steps, batch=batch,
                       lr=lr, seed=seed)
    stored = _load(results_path)
    results = stored.setdefault(key, {})  # resume only runs made with exactly these settings
    grid = _grid(depths, widths, depth_at, width_at)
    jobs = [(a, d, w) for a in activations for d, w in grid]
    for act, depth, width in tqdm(jobs, desc="learned simulation", disable=not progress):
        name = f"{act}/depth={depth}/width={width}"
        if name in results:
            continue
        space = symm.WeightSpace.mlp(tuple(sizes), act)
        results[name] = train_and_score(space, depth, width, n_train=n_train, n_test=n_test, n_probes=n_probes,
                                        steps=steps, batch=batch, lr=lr, seed=seed)
        results_path.write_text(json.dumps(stored, indent=2))
    results = {f"{a}/depth={d}/width={w}": results[f"{a}/depth={d}/width={w}"] for a, d, w in jobs}
    arch = "-".join(map(str, sizes))
    fig, (ax_d, ax_w) = plt.subplots(1, 2, figsize=(9, 3.4))
    for act in activations:
        ax_d.plot(depths, [results[f"{act}/depth={d}/width={width_at}"] for d in depths], "o-", label=act)
        ax_w.plot(widths, [results[f"{act}/depth={depth_at}/width={w}"] for w in widths], "o-", label=act)
    ax_d.set(title=f"width {width_at}", xlabel="GMN depth (message-passing steps)", ylabel="held-out R²",
             xticks=list(depths))
    ax_w.set_xscale("log", base=2)
    ax_w.minorticks_off()
    ax_w.set(title=f"depth {depth_at}", xlabel="GMN width (channels)", ylabel="held-out R²",
             xticks=list(widths), xticklabels=[str(w) for w in widths])
    for ax in (ax_d, ax_w):
        ax.axhline(1.0, color="gray", lw=0.5)
        ax.legend(title=f"{arch} networks")
    fig.suptitle(f"Learned simulation: a trained ScaleGMN predicts every neuron's activation "
                 f"({steps} steps, {n_train} training networks)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return results


def table(results: dict) -> str:
    """The R² table as aligned text, one row per run."""
    return "\n".join(f"{k:<28} R² = {v:.4f}" for k, v in results.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds: tiny data, 2 depths, 1 width")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--train", type=int, default=1000, help="training networks per run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of every GMN")
    parser.add_argument("--depths", default="1,2,3")
    parser.add_argument("--widths", default="4,8,16,32")
    parser.add_argument("--out", default="learned_simulation/r2.png", help="figure path (the R² table goes beside "
                        "it as .json; an existing table is resumed)")
    a = parser.parse_args()
    ints = lambda t: tuple(int(v) for v in t.split(","))  # noqa: E731
    if a.tiny:
        res = main(depths=(1, 2), widths=(8,), width_at=8, n_train=32, n_test=16, steps=5, seed=a.seed,
                   out=a.out)
    else:
        res = main(depths=ints(a.depths), widths=ints(a.widths), steps=a.steps, n_train=a.train, seed=a.seed,
                   out=a.out)
    print(table(res))
