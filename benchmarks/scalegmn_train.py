"""ScaleGMN training-step throughput, peak memory, parameter count and FLOP/s.

Official ``mnist_cls`` configuration: SIREN 2-32-32-1 input networks (67 vertices,
1,120 edges), width 128, 4 message-passing layers, batch 128, AdamW (lr 1e-3,
weight decay 1e-2) with gradient clipping 10 and warm-up, dropout 0.2; forward and
bidirectional variants. Device-agnostic: runs on whatever ``jax.devices()`` offers.

    python benchmarks/scalegmn_train.py                         # official sizes
    python benchmarks/scalegmn_train.py --batch 16 --steps 5    # quick CPU run
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import symm
from models import ScaleGMN
from models.gmn import make_train_step, warmup_adamw
from models.graph import to_graph


def _flops(compiled) -> float | None:
    try:
        cost = getattr(compiled, "compiled", compiled).cost_analysis()  # unwrap equinox's Compiled
    except Exception:  # backend without cost analysis
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and "flops" in cost else None


def _peak_bytes(compiled) -> tuple[float | None, str]:
    stats = jax.devices()[0].memory_stats() if hasattr(jax.devices()[0], "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return float(stats["peak_bytes_in_use"]), "device peak_bytes_in_use"
    try:
        m = getattr(compiled, "compiled", compiled).memory_analysis()
        total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
        return float(total), "XLA memory_analysis (args+outputs+temps)"
    except Exception:
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process max RSS"


def run(variant: str, *, batch: int, steps: int, width: int, layers: int, dropout: float, seed: int = 0) -> dict:
    space = symm.WeightSpace.mlp((2, 32, 32, 1), "sin")
    key = jax.random.key(seed)
    k_model, k_data, k_labels, k_step = jax.random.split(key, 4)
    model = ScaleGMN(space, 10, width=width, n_layers=layers, dropout=dropout,
                     bidirectional=(variant == "bidirectional"), key=k_model, dtype=jnp.float32)
    n_params = sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
    params = jax.vmap(lambda k: space.init(k, dtype=jnp.float32))(jax.random.split(k_data, batch))
    graphs = jax.vmap(lambda p: to_graph(space, p))(params)
    labels = jax.random.randint(k_labels, (batch,), 0, 10)
    optimizer = warmup_adamw(1e-3, weight_decay=1e-2, warmup_steps=1000, clip_norm=10.0)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    step = make_train_step(optimizer)

    t0 = time.perf_counter()
    compiled = step.lower(model, opt_state, graphs, labels, k_step).compile()
    compile_s = time.perf_counter() - t0
    flops = _flops(compiled)

    model, opt_state, loss = step(model, opt_state, graphs, labels, k_step)  # warm-up
    jax.block_until_ready(loss)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        model, opt_state, loss = step(model, opt_state, graphs, labels, jax.random.fold_in(k_step, i))
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t)
    step_s = float(np.median(times))
    peak, peak_source = _peak_bytes(compiled)
    return {
        "variant": variant,
        "device": str(jax.devices()[0]),
        "batch": batch,
        "width": width,
        "layers": layers,
        "parameters": int(n_params),
        "compile_s": compile_s,
        "step_ms_median": 1e3 * step_s,
        "graphs_per_s": batch / step_s,
        "flops_per_graph_step": flops / batch if flops else None,
        "achieved_tflops": flops / step_s / 1e12 if flops else None,
        "peak_memory_gib": peak / 2**30 if peak else None,
        "peak_memory_source": peak_source,
        "final_loss": float(loss),
    }


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--variants", default="forward,bidirectional")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    print("devices:", jax.devices())
    rows = [run(v, batch=args.batch, steps=args.steps, width=args.width, layers=args.layers, dropout=args.dropout)
            for v in args.variants.split(",")]
    head = f"{'variant':<14}{'params':>11}{'graphs/s':>11}{'ms/step':>10}{'GFLOP/graph':>13}{'TFLOP/s':>9}{'peak GiB':>10}{'compile s':>11}"
    print(head)
    for r in rows:
        gf = f"{r['flops_per_graph_step'] / 1e9:.2f}" if r["flops_per_graph_step"] else "n/a"
        tf = f"{r['achieved_tflops']:.3f}" if r["achieved_tflops"] else "n/a"
        pk = f"{r['peak_memory_gib']:.2f}" if r["peak_memory_gib"] else "n/a"
        print(f"{r['variant']:<14}{r['parameters']:>11,}{r['graphs_per_s']:>11.1f}{r['step_ms_median']:>10.1f}"
              f"{gf:>13}{tf:>9}{pk:>10}{r['compile_s']:>11.1f}")
    print("peak memory source:", rows[0]["peak_memory_source"])
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return rows


if __name__ == "__main__":
    main()
