"""Time the verification API: check n group elements of an MLP weight space on many inputs.

Default: 1,000 elements on a 2-32-32-32-1 ReLU MLP with 256 inputs (float32 unless --x64).
Compile time (first call minus a steady call) and steady-state time are reported separately.
Device-agnostic: runs on whatever ``jax.devices()[0]`` is.

    .venv/bin/python benchmarks/verify.py
    .venv/bin/python benchmarks/verify.py --elements 200 --inputs 64 --x64 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def _time(fn, repeats: int):
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    steady = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        steady.append(time.perf_counter() - start)
    return out, first, statistics.median(steady)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=1000, help="group elements to check")
    parser.add_argument("--inputs", type=int, default=256, help="network inputs per element")
    parser.add_argument("--sizes", type=str, default="2,32,32,32,1", help="layer sizes of the MLP")
    parser.add_argument("--activation", type=str, default="relu")
    parser.add_argument("--repeats", type=int, default=5, help="steady-state repetitions (median reported)")
    parser.add_argument("--chunk-size", type=int, default=None, help="elements per vmapped chunk (memory cap)")
    parser.add_argument("--x64", action="store_true", help="float64 (the precision the tests use)")
    parser.add_argument("--json", type=str, default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", args.x64)
    import jax.numpy as jnp

    import symm
    from symm._verify import _function_errors

    dtype = jnp.float64 if args.x64 else jnp.float32
    sizes = tuple(int(s) for s in args.sizes.split(","))
    space = symm.WeightSpace.mlp(sizes, args.activation)
    key = jax.random.key(0)
    params = space.init(key, dtype=dtype)
    xs = jax.random.uniform(jax.random.fold_in(key, 1), (args.inputs, sizes[0]), dtype, -1.0, 1.0)
    floor = 1e-12 if args.x64 else 1e-6

    def sample():
        return jax.block_until_ready(symm.sample_elements(space, jax.random.fold_in(key, 2), args.elements, dtype=dtype))

    gs, sample_first, sample_steady = _time(sample, args.repeats)

    def errors():
        return jax.block_until_ready(_function_errors(space, params, xs, gs, floor, args.chunk_size))

    _, errors_first, errors_steady = _time(errors, args.repeats)

    def end_to_end():
        return symm.check_function_preserved(
            space, params, jax.random.fold_in(key, 2), xs, n=args.elements, chunk_size=args.chunk_size
        )

    report, _, total_steady = _time(end_to_end, args.repeats)

    figures = {
        "device": str(jax.devices()[0]),
        "dtype": str(jnp.dtype(dtype)),
        "space": str(space),
        "elements": args.elements,
        "inputs": args.inputs,
        "sample_compile_s": sample_first - sample_steady,
        "sample_steady_s": sample_steady,
        "check_compile_s": errors_first - errors_steady,
        "check_steady_s": errors_steady,
        "end_to_end_steady_s": total_steady,
        "forward_passes_per_s": args.elements * args.inputs / errors_steady,
        "max_rel_error": report.max_rel_error,
        "passed": report.passed,
    }
    width = max(len(k) for k in figures)
    print(f"devices: {jax.devices()}")
    for name, value in figures.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {text}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return figures


if __name__ == "__main__":
    main()
