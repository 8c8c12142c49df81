"""ScaleGMN training-step throughput, peak memory, parameter count and FLOPs.

Official ``mnist_cls`` configuration: SIREN 2-32-32-1 input networks (67 vertices,
1,120 edges), width 128, 4 message-passing layers, batch 128, AdamW (lr 1e-3,
weight decay 1e-2) with gradient clipping 10 and warm-up, dropout 0.2; forward and
bidirectional variants. Device-agnostic: runs on whatever ``jax.devices()`` offers.
Each variant runs in its own process, so that its peak RSS is its own.

FLOPs: XLA's cost analysis counts a ``lax.scan`` body once, so they are counted on
the same training step with every message-passing step unrolled (``unroll=True``).
The achieved fraction is against this machine's float32 matmul peak, measured here
(a 2048² matmul, best of five).

    python benchmarks/scalegmn_train.py                          # official sizes
    python benchmarks/scalegmn_train.py --batch 16 --steps 5     # quick CPU run
    python benchmarks/scalegmn_train.py --gate-width 32 --mlp-width 32   # about the official parameter count
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import symm
from models import ScaleGMN
from models.gmn import make_train_step, warmup_adamw
from models.graph import to_graph

OFFICIAL = {  # the official PyTorch code on an idle 2-core CPU of this kind (issue 12)
    "forward": {"graphs_per_s": 7.4, "peak_rss_gib": 12.3, "parameters": 1_772_042},
    "bidirectional": {"graphs_per_s": 3.4, "peak_rss_gib": 19.4, "parameters": 3_089_162},
}


def matmul_peak_flops(n: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matmul FLOP/s of the default device."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    jax.block_until_ready(f(a))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(a))
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def _flops(compiled) -> float | None:
    try:
        cost = getattr(compiled, "compiled", compiled).cost_analysis()  # unwrap equinox's Compiled
    except Exception:  # backend without cost analysis
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and "flops" in cost else None


def _xla_bytes(compiled) -> float | None:
    try:
        m = getattr(compiled, "compiled", compiled).memory_analysis()
        return float(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)
    except Exception:
        return None


def _device_peak() -> float | None:
    stats = jax.devices()[0].memory_stats() if hasattr(jax.devices()[0], "memory_stats") else None
    return float(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None


def _setup(variant, *, batch, width, layers, dropout, mlp_width, gate_width, remat, dtype, unroll, seed=0):
    space = symm.WeightSpace.mlp((2, 32, 32, 1), "sin")
    key = jax.random.key(seed)
    k_model, k_data, k_labels, k_step = jax.random.split(key, 4)
    model = ScaleGMN(space, 10, width=width, n_layers=layers, dropout=dropout, mlp_width=mlp_width,
                     gate_width=gate_width, remat=remat, unroll=unroll,
                     bidirectional=(variant == "bidirectional"), key=k_model, dtype=dtype)
    params = jax.vmap(lambda k: space.init(k, dtype=dtype))(jax.random.split(k_data, batch))
    graphs = jax.vmap(lambda p: to_graph(space, p))(params)
    labels = jax.random.randint(k_labels, (batch,), 0, 10)
    optimizer = warmup_adamw(1e-3, weight_decay=1e-2, warmup_steps=1000, clip_norm=10.0)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    return model, opt_state, graphs, labels, k_step, make_train_step(optimizer)


def run(variant: str, *, batch: int, steps: int, width: int, layers: int, dropout: float, mlp_width=None,
        gate_width=None, remat=True, peak_flops=None) -> dict:
    kw = dict(batch=batch, width=width, layers=layers, dropout=dropout, mlp_width=mlp_width, gate_width=gate_width,
              remat=remat, dtype=jnp.float32)
    # FLOPs of the same step with every message-passing step unrolled (compiled, never run)
    model, opt_state, graphs, labels, k_step, step = _setup(variant, unroll=True, **kw)
    flops = _flops(step.lower(model, opt_state, graphs, labels, k_step).compile())
    del model, opt_state

    model, opt_state, graphs, labels, k_step, step = _setup(variant, unroll=1, **kw)
    n_params = sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
    t0 = time.perf_counter()
    compiled = step.lower(model, opt_state, graphs, labels, k_step).compile()
    compile_s = time.perf_counter() - t0
    xla_bytes = _xla_bytes(compiled)

    model, opt_state, loss = step(model, opt_state, graphs, labels, k_step)  # warm-up
    jax.block_until_ready(loss)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        model, opt_state, loss = step(model, opt_state, graphs, labels, jax.random.fold_in(k_step, i))
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t)
    step_s = float(np.median(times))
    device_peak = _device_peak()
    return {
        "variant": variant,
        "device": str(jax.devices()[0]),
        "batch": batch,
        "width": width,
        "layers": layers,
        "mlp_width": mlp_width,
        "gate_width": gate_width,
        "remat": remat,
        "parameters": int(n_params),
        "compile_s": compile_s,
        "step_ms_median": 1e3 * step_s,
        "graphs_per_s": batch / step_s,
        "gflop_per_graph_step": flops / batch / 1e9 if flops else None,
        "achieved_gflops": flops / step_s / 1e9 if flops else None,
        "peak_fraction": flops / step_s / peak_flops if flops and peak_flops else None,
        "xla_memory_gib": xla_bytes / 2**30 if xla_bytes else None,
        "device_peak_gib": device_peak / 2**30 if device_peak else None,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "final_loss": float(loss),
    }


def _fmt(v, spec):
    return format(v, spec) if v is not None else "n/a"


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--mlp-width", type=int, default=None, help="hidden width of the vertex MLPs (default width)")
    parser.add_argument("--gate-width", type=int, default=None, help="hidden width of the edge gates (default mlp width)")
    parser.add_argument("--no-remat", action="store_true", help="store every step's intermediates")
    parser.add_argument("--variants", default="forward,bidirectional")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # run one variant in this process
    parser.add_argument("--peak", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kw = dict(batch=args.batch, steps=args.steps, width=args.width, layers=args.layers, dropout=args.dropout,
              mlp_width=args.mlp_width, gate_width=args.gate_width, remat=not args.no_remat)
    if args.one:
        print(json.dumps(run(args.variants, peak_flops=args.peak, **kw)))
        return []
    peak = matmul_peak_flops()
    print(f"devices: {jax.devices()}; float32 matmul peak {peak / 1e9:.1f} GFLOP/s; load {os.getloadavg()}")
    rows = []
    for v in args.variants.split(","):
        cmd = [sys.executable, __file__, "--one", "--variants", v, "--peak", str(peak), "--batch", str(args.batch),
               "--steps", str(args.steps), "--width", str(args.width), "--layers", str(args.layers),
               "--dropout", str(args.dropout)]
        cmd += ["--mlp-width", str(args.mlp_width)] if args.mlp_width else []
        cmd += ["--gate-width", str(args.gate_width)] if args.gate_width else []
        cmd += ["--no-remat"] if args.no_remat else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    head = (f"{'variant':<14}{'params':>11}{'graphs/s':>10}{'ms/step':>10}{'GFLOP/graph':>13}{'GFLOP/s':>9}"
            f"{'of peak':>9}{'XLA GiB':>9}{'RSS GiB':>9}{'compile s':>11}")
    print(head)
    for r in rows:
        print(f"{r['variant']:<14}{r['parameters']:>11,}{r['graphs_per_s']:>10.1f}{r['step_ms_median']:>10.0f}"
              f"{_fmt(r['gflop_per_graph_step'], '.2f'):>13}{_fmt(r['achieved_gflops'], '.1f'):>9}"
              f"{_fmt(r['peak_fraction'] and 100 * r['peak_fraction'], '.0f') + '%':>9}"
              f"{_fmt(r['xla_memory_gib'], '.2f'):>9}{r['peak_rss_gib']:>9.2f}{r['compile_s']:>11.1f}")
    print(f"load after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"matmul_peak_gflops": peak / 1e9, "rows": rows}, fh, indent=2)
    return rows


if __name__ == "__main__":
    main()
