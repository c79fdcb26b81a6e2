"""Every claim about an experiment's outcome, re-run with five seeds other than the one it is asserted with.

A test module (or a lecture's claims module) that asserts an outcome of a random experiment lists it in
`SEED_CLAIMS`: callables `claim(seed)` that run the experiment with that seed and assert the claim with the same
margin as the test or lecture (a margin measured over at least 5 seeds and stated next to the assertion). This
test runs each of them with OTHER_SEEDS: a margin fitted to one run fails here.
"""
from __future__ import annotations

import importlib

import pytest

OTHER_SEEDS = (101, 202, 303, 404, 505)
MODULES = ["test_initialization", "test_normalization", "test_generalization", "test_initnorm"]


def _claims():
    found = []
    for name in MODULES:
        module = importlib.import_module(f"tests.{name}")
        for claim in getattr(module, "SEED_CLAIMS", []):
            found.append(pytest.param(claim, id=f"{name}.{claim.__name__}"))
    return found


CLAIMS = _claims()


def test_claims_are_registered():
    assert CLAIMS, "no SEED_CLAIMS found: every outcome of a random experiment must be re-checked here"


@pytest.mark.slow
@pytest.mark.parametrize("claim", CLAIMS)
def test_claim_holds_for_other_seeds(claim):
    broken = []
    for seed in OTHER_SEEDS:
        try:
            claim(seed)
        except AssertionError as exc:
            broken.append(f"seed {seed}: {exc}")
    assert not broken, f"{claim.__name__} does not hold for every seed:\n" + "\n".join(broken)
