"""The catalogue's fast path (tests/fastgrade.py), on the fixture course: shared prefixes, forks, early stops."""
from __future__ import annotations

import pytest

from autograder import nbtools
from tests import fastgrade
from tests.test_autograder import RELEASE, SOURCE, reference, with_cell, wrong

pytestmark = pytest.mark.slow


def test_the_fast_path_scores_each_notebook_as_the_grader_would():
    source, release = nbtools.read(SOURCE), nbtools.read(RELEASE)
    subs = {"reference": reference(), "wrong": wrong(), "untouched": release, "wrong-early": wrong(),
            "dies": with_cell(reference(), "import os\nos._exit(1)", at=-1),
            "patches": with_cell(wrong(), "import numpy\nnumpy.isclose = lambda *a, **k: True")}
    got = fastgrade.grade_many(source, release, subs, needed={"wrong-early": {"test_mean"}})
    assert got["reference"]["cells"] == {"test_mean": 2.0, "test_variance": 3.0}
    assert got["reference"]["status"] == "graded" and not got["reference"]["flags"]
    assert got["wrong"]["cells"] == {"test_mean": 2.0, "test_variance": 0.0}
    assert "population variance" in got["wrong"]["messages"]["test_variance"]
    assert got["untouched"]["cells"] == {"test_mean": 0.0, "test_variance": 0.0}
    assert "NotImplementedError" in got["untouched"]["messages"]["test_mean"]
    # stopped after the last cell it needs: the rest counts as not executed
    assert got["wrong-early"]["cells"] == {"test_mean": 2.0, "test_variance": 0.0}
    assert "not executed" in got["wrong-early"]["messages"]["test_variance"]
    assert got["dies"]["status"] == "kernel died"
    # the grader's guard restores numpy before the test cells and says what was patched
    assert got["patches"]["cells"] == got["wrong"]["cells"] and got["patches"]["status"] == "flagged"
    assert any("numpy.isclose" in f for f in got["patches"]["flags"])
