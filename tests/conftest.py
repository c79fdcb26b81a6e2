"""Order of the suite: unit tests first, then notebooks, grading and the browser, so that a broken function shows
in the first minute. Tests that share an expensive session fixture carry the same xdist group, so that under
`pytest -n 2` it is built once."""
from __future__ import annotations

import pytest

import autograder  # noqa: F401  (first: it spares every test process jsonschema's iri grammar, 4-10 s; see there)

# slow tests by phase: the earlier, the sooner a failure shows
PHASES = ["test_initialization", "test_normalization", "test_generalization", "test_initnorm",
          "test_seeds", "test_lectures", "test_fastgrade", "test_exercises", "test_check", "test_make_lab", "test_roles",
          "test_feedback", "test_autograder", "test_exchange", "browser"]


def _phase(item) -> int:
    if item.get_closest_marker("slow") is None:
        return -1
    name = "browser" if item.path.parent.name == "browser" else item.path.stem
    return PHASES.index(name) if name in PHASES else len(PHASES)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_phase)  # stable: the order within a phase is the files' own
