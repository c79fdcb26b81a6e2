"""The graders, judged through real `nbgrader autograde`.

For every assignment: the reference solution scores full marks, the untouched release scores 0 on every
auto-graded cell, every catalogued wrong implementation loses points where it should, every alternative
correct implementation keeps full points, and exercises/ is exactly what nbgrader generates from solutions/,
with no solution code and no hidden test in it.
"""
from __future__ import annotations

import filecmp
import importlib
import pathlib

import nbformat
import pytest

from autograder import course, nbtools, plain
from catalogue import Variant

ASSIGNMENTS = course.assignments()
CATALOGUES = {a: importlib.import_module(f"catalogue.{a}") for a in ASSIGNMENTS}
WRONG = [(a, v) for a in ASSIGNMENTS for v in CATALOGUES[a].WRONG]
CORRECT = [(a, v) for a in ASSIGNMENTS for v in CATALOGUES[a].CORRECT]


def source_nb(a):
    return nbtools.read(course.SOLUTIONS / a / f"{a}.ipynb")


def release_nb(a):
    return nbtools.read(course.EXERCISES / a / f"{a}.ipynb")


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """grade(a): one nbgrader run per assignment (made on first use, then cached) over the reference,
    the untouched release and the whole catalogue; returns {student: Row}."""
    cache: dict[str, dict[str, plain.Row]] = {}

    def grade(a: str) -> dict[str, plain.Row]:
        if a not in cache:
            subs = tmp_path_factory.mktemp(f"submissions-{a}")
            reference = nbtools.reference_code(source_nb(a))
            release = release_nb(a)
            nbformat.write(nbtools.fill(release, reference), subs / "reference.ipynb")
            nbformat.write(release, subs / "untouched.ipynb")
            for v in CATALOGUES[a].WRONG + CATALOGUES[a].CORRECT:
                nbformat.write(nbtools.fill(release, v.apply(reference)), subs / f"{v.name}.ipynb")
            rows = plain.grade(a, subs, tmp_path_factory.mktemp(f"workspace-{a}"))
            cache[a] = {r.student: r for r in rows}
        return cache[a]

    return grade


def test_catalogues_are_big_enough():
    minimum = {"ex1_initialization": (10, 2), "ex2_normalization": (15, 3), "ex3_generalization": (12, 3)}
    for a in ASSIGNMENTS:
        n_wrong, n_correct = minimum.get(a, (1, 1))
        assert len(CATALOGUES[a].WRONG) >= n_wrong and len(CATALOGUES[a].CORRECT) >= n_correct, a
        names = [v.name for v in CATALOGUES[a].WRONG + CATALOGUES[a].CORRECT]
        assert len(names) == len(set(names)) and not {"reference", "untouched"} & set(names), names


def test_every_variant_applies_to_the_reference():
    for a in ASSIGNMENTS:
        reference = nbtools.reference_code(source_nb(a))
        tests = set(nbtools.graded_cells(source_nb(a)))
        for v in CATALOGUES[a].WRONG + CATALOGUES[a].CORRECT:
            assert v.apply(reference) != reference or v in CATALOGUES[a].CORRECT, f"{v.name} changes nothing"
            assert set(v.fails) <= tests, f"{v.name} names unknown test cells {set(v.fails) - tests}"
        for v in CATALOGUES[a].WRONG:
            assert v.fails, f"{v.name}: say which test cells must catch it"


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_reference_scores_full_marks(graded, a):
    row = graded(a)["reference"]
    assert row.status == "graded", row.message
    lost = {g: s for g, s in row.cells.items() if s < nbtools.graded_cells(source_nb(a))[g]}
    assert row.score == row.max_score > 0, f"reference loses points in {lost}"


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_untouched_release_scores_zero_everywhere(graded, a):
    row = graded(a)["untouched"]
    assert row.status == "graded", row.message
    assert row.cells and all(s == 0 for s in row.cells.values()), row.cells


@pytest.mark.slow
@pytest.mark.parametrize("a,v", WRONG, ids=[f"{a}-{v.name}" for a, v in WRONG])
def test_wrong_implementation_loses_points(graded, a, v: Variant):
    row = graded(a)[v.name]
    assert row.status == "graded", row.message
    points = nbtools.graded_cells(source_nb(a))
    kept = [g for g in v.fails if row.cells[g] >= points[g]]
    assert row.score < row.max_score and not kept, f"{v.name} ({v.why}) keeps full points in {kept or 'all cells'}"


@pytest.mark.slow
@pytest.mark.parametrize("a,v", CORRECT, ids=[f"{a}-{v.name}" for a, v in CORRECT])
def test_alternative_correct_implementation_keeps_full_points(graded, a, v: Variant):
    row = graded(a)[v.name]
    assert row.status == "graded", row.message
    assert row.score == row.max_score, f"{v.name} ({v.why}) loses points: {row.cells}"


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_is_in_sync_with_solutions(tmp_path, a):
    fresh = course.release(a, dest=tmp_path)
    committed = course.EXERCISES / a
    cmp = filecmp.dircmp(fresh, committed, ignore=[".ipynb_checkpoints"])
    assert not (cmp.left_only or cmp.right_only), f"files differ: {cmp.left_only} vs {cmp.right_only}"
    for name in cmp.common_files:
        assert (fresh / name).read_bytes() == (committed / name).read_bytes(), \
            f"exercises/{a}/{name} is stale: run `make release` and commit the result"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(a):
    text = (course.EXERCISES / a / f"{a}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"exercises/{a} contains {marker!r}"
    src = source_nb(a)
    release_sources = "\n".join(c.source for c in release_nb(a).cells)
    for cell in src.cells:
        for block, start, end in _marked_blocks(cell.source):
            for line in block:
                if len(line.strip()) > 12:
                    assert line not in release_sources, f"exercises/{a} leaks {start} line {line.strip()!r}"
    assert set(nbtools.graded_cells(src)) == set(nbtools.graded_cells(release_nb(a)))


def _marked_blocks(source: str):
    lines, block, inside = source.splitlines(), [], None
    for line in lines:
        s = line.strip()
        if s in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
            inside, block = s, []
        elif s in ("### END SOLUTION", "### END HIDDEN TESTS") and inside:
            yield block, inside, s
            inside = None
        elif inside:
            block.append(line)
