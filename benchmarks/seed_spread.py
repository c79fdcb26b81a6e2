"""Measure the spread over seeds of every quantity a seed claim bounds (tests/claims_*.py): the numbers quoted next
to each assertion. Usage: python -m benchmarks.seed_spread [module ...] [--seeds 0-9]; prints min..max (mean)."""
from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import time

import numpy as np

MODULES = ["claims_normalization", "claims_generalization", "claims_initnorm", "claims_exercises"]


def summary(values: list) -> str:
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return f"{sum(map(bool, values))}/{len(values)} true"
    if all(isinstance(v, (tuple, list)) for v in values):
        return " | ".join(summary([v[i] for v in values]) for i in range(len(values[0])))
    a = np.array(values, dtype=float)
    return f"{a.min():.4g}..{a.max():.4g} (mean {a.mean():.4g})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("modules", nargs="*", default=MODULES)
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--only", default="", help="comma-separated claim names")
    args = parser.parse_args()
    lo, hi = map(int, args.seeds.split("-"))
    for name in args.modules:
        module = importlib.import_module(f"tests.{name}")
        for claim in module.SEED_CLAIMS:
            if args.only and claim.__name__ not in args.only.split(","):
                continue
            failed, start = [], time.perf_counter()
            for seed in range(lo, hi + 1):
                try:
                    claim(seed)
                except AssertionError:
                    failed.append(seed)
            seconds = (time.perf_counter() - start) / (hi - lo + 1)
            print(f"{name}.{claim.__name__}: {seconds:.2f} s per seed; fails for seeds {failed}", flush=True)
            for key, runs in module.MEASURED.items():
                if key.startswith(claim.__name__):
                    for stat in runs[0]:
                        print(f"    {key}.{stat}: {summary([r[stat] for r in runs[-(hi - lo + 1):]])}", flush=True)


if __name__ == "__main__":
    main()
