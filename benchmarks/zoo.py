"""Zoo throughput: SIREN fits per second (+ PSNR reached) and small CNNs trained per minute.

Runs unchanged on CPU or GPU (whatever jax picks). Uses the zoo's own compiled fitting
and training functions on in-memory shards (no disk), after one warm-up call per shape.

    .venv/bin/python benchmarks/zoo.py                        # full size (for a GPU)
    .venv/bin/python benchmarks/zoo.py --inr-n 64 --inr-shard 32 --inr-steps 200 --cnn-n 16 --cnn-steps 100,100
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np


def matmul_peak(n: int = 2048, repeats: int = 3) -> float:
    """This machine's float32 matmul rate (FLOP/s): best of a few n x n products."""
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    jax.block_until_ready(f(a))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(a))
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best


def siren_fit_flops(sizes, pixels: int, steps: int) -> float:
    """Matmul FLOPs of one fit, counted analytically (XLA's cost analysis counts a scan body
    once): per step and pixel, each layer's forward product and its two backward products."""
    per_pixel = sum(2 * i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return 3.0 * per_pixel * pixels * steps


def bench_inr(n: int, shard: int, steps: int, lr: float, schedule: str, target: int) -> dict:
    from models.zoo import fit_sirens, load_source
    from models.zoo._inr_zoo import network_seeds

    source = load_source("mnist5k")
    index = np.arange(n) % len(source)
    seeds = network_seeds(0, range(n))
    kwargs = dict(sizes=(2, 32, 32, 1), omega0=30.0, steps=steps, lr=lr, schedule=schedule)
    start = time.perf_counter()
    jax.block_until_ready(fit_sirens(seeds[:shard], source.images[index[:shard]], **kwargs))
    compile_and_first = time.perf_counter() - start
    psnr = []
    start = time.perf_counter()
    for lo in range(0, n - shard + 1, shard):  # whole shards only: one compiled shape
        _, _, p = fit_sirens(seeds[lo : lo + shard], source.images[index[lo : lo + shard]], **kwargs)
        psnr.append(np.asarray(p))
    elapsed = time.perf_counter() - start
    psnr = np.concatenate(psnr)
    rate = len(psnr) / elapsed
    flops = siren_fit_flops((2, 32, 32, 1), int(np.prod(source.shape[:2])), steps)
    peak = matmul_peak()
    return {
        "inr_fits": len(psnr), "inr_shard": shard, "inr_steps": steps, "inr_lr": lr, "inr_schedule": schedule,
        "inr_seconds": elapsed, "inr_fits_per_s": rate, "inr_first_call_s": compile_and_first,
        "inr_psnr_mean": float(psnr.mean()), "inr_psnr_min": float(psnr.min()),
        "inr_gflop_per_fit": flops / 1e9, "inr_gflop_per_s": rate * flops / 1e9, "matmul_peak_gflop_per_s": peak / 1e9,
        "inr_peak_fraction": rate * flops / peak, "load_average": list(os.getloadavg()),
        "estimate_target_inrs": target, "estimate_target_seconds": target / rate,
    }


def bench_cnn(n: int, steps: tuple[int, int], channels: tuple[int, ...], source_name: str, batch: int,
              shard: int) -> dict:
    """Build a real CNN zoo (hyperparameters drawn as the zoo draws them, checkpoints evaluated,
    shards written to a temporary folder): the time a user waits, compilation included."""
    import tempfile

    from models.zoo import CnnZooConfig, build_cnn_zoo, load_source

    source = load_source(source_name)
    config = CnnZooConfig(n=n, channels=channels, steps=steps, batch_size=batch, shard_size=shard)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        zoo = build_cnn_zoo(source, folder, config, progress=False)
        elapsed = time.perf_counter() - start
        test_acc, own_steps = zoo["test_accuracy"], zoo["steps"]
    return {
        "cnn_networks": n, "cnn_steps": list(steps), "cnn_channels": list(channels), "cnn_source": source_name,
        "cnn_batch": batch, "cnn_shard": shard, "cnn_seconds": elapsed, "cnn_networks_per_min": 60.0 * n / elapsed,
        "cnn_network_steps_per_s": float(np.sum(own_steps)) / elapsed,
        "cnn_test_accuracy_mean": float(np.mean(test_acc)), "cnn_estimate_1000_s": 1000 * elapsed / n,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inr-n", type=int, default=70_000, help="INRs to fit (MNIST-5k images, cycled)")
    parser.add_argument("--inr-shard", type=int, default=8192, help="INRs per compiled call")
    parser.add_argument("--inr-steps", type=int, default=200)
    parser.add_argument("--inr-lr", type=float, default=5e-3)
    parser.add_argument("--inr-schedule", default="cosine", choices=("constant", "cosine"))
    parser.add_argument("--target", type=int, default=70_000, help="zoo size for the time estimate")
    parser.add_argument("--cnn-n", type=int, default=1000, help="CNNs in the zoo (the zoo's default size)")
    parser.add_argument("--cnn-steps", default="100,1000", help="range each network's steps are drawn from")
    parser.add_argument("--cnn-shard", type=int, default=256)
    parser.add_argument("--cnn-channels", default="16,16,16")
    parser.add_argument("--cnn-source", default="digits", choices=("mnist5k", "digits"))
    parser.add_argument("--cnn-batch", type=int, default=32)
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    result = {"device": str(jax.devices()[0]), "backend": jax.default_backend()}
    result.update(bench_inr(args.inr_n, min(args.inr_shard, args.inr_n), args.inr_steps, args.inr_lr,
                            args.inr_schedule, args.target))
    if not args.skip_cnn:
        channels = tuple(int(c) for c in args.cnn_channels.split(","))
        steps = tuple(int(c) for c in args.cnn_steps.split(","))
        result.update(bench_cnn(args.cnn_n, (steps[0], steps[-1]), channels, args.cnn_source, args.cnn_batch,
                                args.cnn_shard))

    print(f"device: {result['device']}")
    print(f"{'SIREN 2-32-32-1, 28x28':<34}{'value':>14}")
    print(f"{'  fits (shard)':<34}{result['inr_fits']:>8} ({result['inr_shard']})")
    print(f"{'  steps':<34}{result['inr_steps']:>14}")
    print(f"{'  fits / s':<34}{result['inr_fits_per_s']:>14.1f}")
    print(f"{'  GFLOP/s (matmuls, analytic)':<34}{result['inr_gflop_per_s']:>14.1f}")
    print(f"{'  fraction of f32 matmul peak':<34}{result['inr_peak_fraction']:>14.3f}"
          f"   (peak measured here: {result['matmul_peak_gflop_per_s']:.0f} GFLOP/s)")
    print(f"{'  load average (1, 5, 15 min)':<34}{'%.1f %.1f %.1f' % tuple(result['load_average']):>14}")
    print(f"{'  mean PSNR (dB, [0,1])':<34}{result['inr_psnr_mean']:>14.2f}")
    print(f"{'  first call incl. compile (s)':<34}{result['inr_first_call_s']:>14.1f}")
    print(f"{'  ESTIMATE: %d INRs take (s)' % args.target:<34}{result['estimate_target_seconds']:>14.0f}"
          "   (linear extrapolation from this run)")
    if not args.skip_cnn:
        print(f"{'small CNNs %s on %s' % (args.cnn_channels, args.cnn_source):<34}")
        print(f"{'  networks, steps drawn from':<34}{result['cnn_networks']:>7} x {args.cnn_steps}")
        print(f"{'  zoo built in (s, compile incl.)':<34}{result['cnn_seconds']:>14.1f}")
        print(f"{'  networks / min':<34}{result['cnn_networks_per_min']:>14.1f}")
        print(f"{'  network-steps / s':<34}{result['cnn_network_steps_per_s']:>14.0f}")
        print(f"{'  ESTIMATE: 1000 CNNs take (s)':<34}{result['cnn_estimate_1000_s']:>14.0f}")
        print(f"{'  mean test accuracy':<34}{result['cnn_test_accuracy_mean']:>14.3f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=2)
    return result


if __name__ == "__main__":
    main()
