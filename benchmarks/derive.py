"""Time to derive and certify the activation registry cold, and a cached ``symm.derive`` call.

    taskset -c 0 .venv/bin/python benchmarks/derive.py --repeat 3 --json derive.json

Run 1 is a fresh process (truly cold, including sympy's lazy imports); later runs
clear symm's and sympy's caches first. Pure CPU work (sympy): the figures do not
depend on the accelerator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import sympy

import symm
from symm import _activation, _derive, _derive_translation


def _clear_caches() -> None:
    _derive.derive_expression.cache_clear()
    _derive_translation.derive_translation.cache_clear()
    _derive_translation.limit_of.cache_clear()
    _activation._activation_of_string.cache_clear()
    sympy.core.cache.clear_cache()


def cold_run(names: list[str]) -> dict[str, float]:
    times = {}
    for name in names:
        start = time.perf_counter()
        symm.derive(name)
        times[name] = time.perf_counter() - start
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="*", default=None, help="registry names (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs (the first in a fresh process)")
    parser.add_argument("--cached-calls", type=int, default=20000)
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    names = args.names or symm.registry_names()

    runs = []
    for index in range(args.repeat):
        if index:
            _clear_caches()
        runs.append(cold_run(names))
    totals = [sum(run.values()) for run in runs]

    start = time.perf_counter()
    for name in names:
        symm.derive(name).certificate.check()
    check_seconds = time.perf_counter() - start

    cached = {}
    specs = {
        "'relu'": "relu",
        "'tanh(x)'": "tanh(x)",
        "'leaky_relu(0.2)'": "leaky_relu(0.2)",
        "sympy x**3": symm.x**3,
        "Activation gelu": symm.get_activation("gelu"),
    }
    for label, spec in specs.items():
        symm.derive(spec)
        start = time.perf_counter()
        for _ in range(args.cached_calls):
            symm.derive(spec)
        cached[label] = (time.perf_counter() - start) / args.cached_calls

    slowest = sorted(runs[0].items(), key=lambda item: -item[1])[:5]
    print(f"{'activation':16s} {'cold derive (s), run 1':>24s}")
    for name, seconds in slowest:
        print(f"{name:16s} {seconds:24.3f}")
    print()
    print(f"{'figure':44s} {'value':>12s}")
    print(f"{'registry size':44s} {len(names):12d}")
    print(f"{'whole registry cold, run 1 (fresh process)':44s} {totals[0]:11.3f}s")
    if len(totals) > 1:
        print(f"{'whole registry cold, median of later runs':44s} {statistics.median(totals[1:]):11.3f}s")
    print(f"{'re-check every certificate':44s} {check_seconds:11.3f}s")
    for spec, seconds in cached.items():
        print(f"{'cached derive(' + spec + ')':44s} {seconds * 1e6:10.2f}µs")
    figures = {
        "names": names,
        "cold_total_s": totals,
        "cold_per_activation_run1_s": runs[0],
        "check_all_s": check_seconds,
        "cached_call_s": cached,
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return figures


if __name__ == "__main__":
    main()
