"""Every claim about an experiment's outcome, re-run with five seeds other than the one it is asserted with.

A test module (or a lecture's claims module) that asserts an outcome of a random experiment lists it in
`SEED_CLAIMS`: callables `claim(seed)` that run the experiment with that seed and assert the claim with the same
margin as the test or lecture (a margin measured over at least 5 seeds and stated next to the assertion). This
test runs each of them with OTHER_SEEDS: a margin fitted to one run fails here.

The claims of lectures 2 and 3 live in tests/claims_normalization.py and tests/claims_generalization.py (their test
modules import and re-export them), the exercises' payoff claims in tests/claims_exercises.py. The runs go to two
worker processes (one thread each) started once per session; all claims are submitted at the start, so the first
parametrized test waits while the others mostly find their results ready. A worker runs all claims of one module
with one seed in a row, so that the runs several claims share are trained once.
"""
from __future__ import annotations

import concurrent.futures as cf
import importlib
import multiprocessing

import pytest

OTHER_SEEDS = (101, 202, 303, 404, 505)
MODULES = ["test_initialization", "test_normalization", "test_generalization", "test_initnorm", "claims_exercises"]
WORKERS = 2


def _claims():
    found = []
    for name in MODULES:
        module = importlib.import_module(f"tests.{name}")
        for claim in getattr(module, "SEED_CLAIMS", []):
            found.append(pytest.param(name, claim.__name__, id=f"{name}.{claim.__name__}"))
    return found


CLAIMS = _claims()


def _start_worker() -> None:
    import torch

    torch.set_num_threads(1)  # two one-thread workers on two cores


def _run(module_name: str, claim_name: str, seed: int) -> str | None:
    """Run one claim with one seed; the AssertionError's text if it breaks, else None."""
    module = importlib.import_module(f"tests.{module_name}")  # spawned workers get pytest's sys.path
    claim = {c.__name__: c for c in module.SEED_CLAIMS}[claim_name]
    try:
        claim(seed)
    except AssertionError as exc:
        return f"seed {seed}: {exc}"
    return None


def _run_module(module_name: str, claim_names: list[str], seed: int) -> dict[str, str | None]:
    """In a worker: every claim of one module with one seed, in one task, so that the runs they share (the
    package caches them per process: the baseline MLP of lecture 3 serves six claims) are trained once."""
    import matplotlib

    matplotlib.use("Agg")
    return {name: _run(module_name, name, seed) for name in claim_names}


@pytest.fixture(scope="module")
def submitted():
    """All (module, seed) tasks submitted to the workers at once, the modules with the most claims first (the
    longest tasks first keeps the two workers busy until the end). Returns {(module, claim, seed): future of its
    module's task}."""
    by_module: dict[str, list[str]] = {}
    for param in CLAIMS:
        module_name, claim_name = param.values
        by_module.setdefault(module_name, []).append(claim_name)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process whose torch already started threads
    with cf.ProcessPoolExecutor(WORKERS, mp_context=ctx, initializer=_start_worker) as pool:
        futures = {}
        for module_name, names in sorted(by_module.items(), key=lambda item: -len(item[1])):
            for seed in OTHER_SEEDS:
                task = pool.submit(_run_module, module_name, names, seed)
                futures.update({(module_name, name, seed): task for name in names})
        yield futures
        for future in futures.values():
            future.cancel()


def test_claims_are_registered():
    assert CLAIMS, "no SEED_CLAIMS found: every outcome of a random experiment must be re-checked here"


@pytest.mark.slow
@pytest.mark.parametrize("module_name,claim_name", CLAIMS)
def test_claim_holds_for_other_seeds(module_name, claim_name, submitted):
    results = [submitted[module_name, claim_name, seed].result()[claim_name] for seed in OTHER_SEEDS]
    broken = [msg for msg in results if msg is not None]
    assert not broken, f"{claim_name} does not hold for every seed:\n" + "\n".join(broken)


def test_a_broken_claim_is_reported():
    """The runner reports an AssertionError with its seed (and lets any other error through)."""
    assert _run_module("test_seeds", ["_always_breaks"], 7) == {"_always_breaks": "seed 7: margin 0.1 not reached"}


def _always_breaks(seed: int) -> None:
    raise AssertionError("margin 0.1 not reached")


SEED_CLAIMS = [_always_breaks]  # only for test_a_broken_claim_is_reported; MODULES does not list this module
