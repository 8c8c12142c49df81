"""Time the simulation theorem's constructed ScaleGMN against evaluating the networks directly.

Forward: simulate_forward (L steps) vs the network's own forward pass at the probes.
Backward: simulate_backward (2L steps, ∂L/∂W by the edge readout) vs ``jax.grad`` of the MSE.
Both jitted and vmapped over a batch of random networks (``jax.lax.map`` in chunks of
``--chunk`` networks to bound memory). Two sizes of the same construction: one model whose
width carries every probe ("all"), and ``jax.vmap`` over 1-probe models (the constructed
maps never mix probes, and a d-channel model costs ~d² per edge, so this is ~P× cheaper).
Prints a table; ``--json PATH`` writes the figures.

    .venv/bin/python benchmarks/simulate.py                      # 1,000 2-32-32-1 tanh nets, 64 probes
    .venv/bin/python benchmarks/simulate.py --networks 50 --probes 16   # quick CPU run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", type=int, default=1000)
    p.add_argument("--probes", type=int, default=64)
    p.add_argument("--layers", default="2,32,32,1")
    p.add_argument("--activation", default="tanh")
    p.add_argument("--chunk", type=int, default=100, help="networks per vmapped chunk (memory bound)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--probes-per-model", default="all,1",
                   help="comma-separated model sizes to time: 'all' (one model, one channel per probe) or a divisor "
                   "of --probes (default all,1)")
    p.add_argument("--float64", action="store_true")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    return p.parse_args(argv)


def _time(fn, *args, repeats):
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs)


def main(argv=None) -> dict:
    args = _parse(argv)
    import jax

    if args.float64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx
    import jax.numpy as jnp

    import symm

    import proofs

    dtype = jnp.float64 if args.float64 else jnp.float32
    sizes = tuple(int(s) for s in args.layers.split(","))
    space = symm.WeightSpace.mlp(sizes, args.activation)
    keys = jax.random.split(jax.random.key(0), args.networks)
    params = jax.vmap(lambda k: space.init(k, dtype=dtype))(keys)
    kx, ky = jax.random.split(jax.random.key(1))
    xs = jax.random.normal(kx, (args.networks, args.probes, sizes[0]), dtype)
    ys = jax.random.normal(ky, (args.networks, args.probes, sizes[-1]), dtype)
    chunk = min(args.chunk, args.networks)

    def batched(f):
        return eqx.filter_jit(lambda p, x, y: jax.lax.map(lambda a: f(*a), (p, x, y), batch_size=chunk))

    def direct_grad(p, x, y):
        return jax.grad(lambda p: proofs.mse(jax.vmap(lambda xi: space.apply(p, xi))(x), y))(p)

    direct = {"forward": batched(lambda p, x, y: jax.vmap(lambda xi: space.apply(p, xi))(x)),
              "backward": batched(direct_grad)}
    variants = [None if v.strip() == "all" else int(v) for v in args.probes_per_model.split(",")]

    def simulation(name, ppm):
        if name == "forward":
            return batched(lambda p, x, y: proofs.simulate_forward(space, p, x, probes_per_model=ppm).features[-1].T)
        return batched(lambda p, x, y: proofs.simulate_backward(space, p, x, targets=y, probes_per_model=ppm).grads)

    results = {"device": str(jax.devices()[0]), "dtype": jnp.dtype(dtype).name, "layers": sizes,
               "activation": args.activation, "networks": args.networks, "probes": args.probes, "runs": []}
    for name in ("forward", "backward"):
        c_ref, t_ref = _time(direct[name], params, xs, ys, repeats=args.repeats)
        want = direct[name](params, xs, ys)
        for ppm in variants:
            sim = simulation(name, ppm)
            c_sim, t_sim = _time(sim, params, xs, ys, repeats=args.repeats)
            got = sim(params, xs, ys)
            err = max(float(proofs.relative_error(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)))
                      for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)))
            width = proofs.construct(space, args.probes if ppm is None else ppm,
                                     loss=None if name == "forward" else proofs.LossCoefficients(1.0, -1.0),
                                     dtype=dtype).embed_edge.layer.weight.shape[0]
            results["runs"].append({"pass": name, "probes_per_model": "all" if ppm is None else ppm, "width": width,
                                    "simulation_s": t_sim, "direct_s": t_ref, "overhead": t_sim / t_ref,
                                    "first_call_s": c_sim, "max_rel_error": err})
    print(f"device {results['device']}, {results['dtype']}, {args.networks} networks "
          f"{args.layers} ({args.activation}), {args.probes} probes")
    print(f"{'pass':<9} {'probes/model':>12} {'width d':>8} {'simulation s':>13} {'direct s':>10} {'overhead':>9} "
          f"{'compile+1st s':>14} {'max rel err':>12}")
    for r in results["runs"]:
        print(f"{r['pass']:<9} {str(r['probes_per_model']):>12} {r['width']:>8} {r['simulation_s']:>13.4f} "
              f"{r['direct_s']:>10.5f} {r['overhead']:>8.1f}x {r['first_call_s']:>14.2f} {r['max_rel_error']:>12.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
