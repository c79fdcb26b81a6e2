"""The graders, judged as the grading command judges them.

For every assignment: the reference solution scores full marks, the untouched release scores 0 on every
auto-graded cell, every catalogued wrong implementation loses the points of the cells it names, every
alternative correct implementation keeps full points, and exercises/ is exactly what nbgrader generates from
solutions/, with no solution code and no hidden test in it.

The catalogue is graded on the fast path (tests/fastgrade.py): the grader's own assembly and scoring, executed in
one forking process per assignment. A wrong implementation runs until the last test cell it names. What nbgrader
decides is checked for real: a sample of every catalogue (the reference, the untouched release, two wrong and one
alternative correct implementation) is graded by `nbgrader autograde` and must get the same points per cell.
"""
from __future__ import annotations

import filecmp
import importlib

import nbformat
import pytest

from autograder import course, nbtools, plain
from tests import fastgrade
from tests.catalogue import Variant

ASSIGNMENTS = course.assignments()
CATALOGUES = {a: importlib.import_module(f"tests.catalogue.{a}") for a in ASSIGNMENTS}
WRONG = [(a, v) for a in ASSIGNMENTS for v in CATALOGUES[a].WRONG]
CORRECT = [(a, v) for a in ASSIGNMENTS for v in CATALOGUES[a].CORRECT]


def source_nb(a):
    return nbtools.read(course.source_notebook(a))


def release_nb(a):
    return nbtools.read(course.EXERCISES / a / f"{a}.ipynb")


def sample(a) -> list[str]:
    """What the differential test grades through nbgrader: the reference, the untouched release, the first and the
    last wrong implementation, the first alternative correct one."""
    cat = CATALOGUES[a]
    return ["reference", "untouched", cat.WRONG[0].name, cat.WRONG[-1].name, cat.CORRECT[0].name]


def submissions(a) -> dict[str, nbformat.NotebookNode]:
    reference, release = nbtools.reference_code(source_nb(a)), release_nb(a)
    subs = {"reference": nbtools.fill(release, reference), "untouched": release}
    for v in CATALOGUES[a].WRONG + CATALOGUES[a].CORRECT:
        subs[v.name] = nbtools.fill(release, v.apply(reference))
    return subs


@pytest.fixture(scope="session")
def graded():
    """graded(a): {name: result} of the fast path over the reference, the untouched release and the whole
    catalogue of assignment a (made on first use, then cached). Wrong implementations outside the sample stop
    after the last test cell they name; everything else runs to the end."""
    cache: dict[str, dict[str, dict]] = {}

    def grade(a: str) -> dict[str, dict]:
        if a not in cache:
            needed = {v.name: set(v.fails) for v in CATALOGUES[a].WRONG if v.name not in sample(a)}
            cache[a] = fastgrade.grade_many(source_nb(a), release_nb(a), submissions(a), needed=needed)
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


def each_assignment():
    """One case per assignment; an assignment's cases share an xdist group, so its fast path runs once."""
    return [pytest.param(a, id=a, marks=pytest.mark.xdist_group(f"catalogue-{a}")) for a in ASSIGNMENTS]


def each_variant(pairs):
    return [pytest.param(a, v, id=f"{a}-{v.name}", marks=pytest.mark.xdist_group(f"catalogue-{a}"))
            for a, v in pairs]


@pytest.mark.slow
@pytest.mark.parametrize("a", each_assignment())
def test_reference_scores_full_marks(graded, a):
    result = graded(a)["reference"]
    assert result["status"] == "graded", result["messages"]
    lost = {g: s for g, s in result["cells"].items() if s < nbtools.graded_cells(source_nb(a))[g]}
    assert not lost and result["max_score"] > 0, f"reference loses points in {lost}: {result['messages']}"


@pytest.mark.slow
@pytest.mark.parametrize("a", each_assignment())
def test_untouched_release_scores_zero_everywhere(graded, a):
    result = graded(a)["untouched"]
    assert result["status"] == "graded", result["messages"]
    assert result["cells"] and all(s == 0 for s in result["cells"].values()), result["cells"]


@pytest.mark.slow
@pytest.mark.parametrize("a,v", each_variant(WRONG))
def test_wrong_implementation_loses_points(graded, a, v: Variant):
    result = graded(a)[v.name]
    assert result["status"] == "graded", result["messages"]
    points = nbtools.graded_cells(source_nb(a))
    kept = [g for g in v.fails if result["cells"][g] >= points[g]]
    assert not kept, f"{v.name} ({v.why}) keeps full points in {kept}"


@pytest.mark.slow
@pytest.mark.parametrize("a,v", each_variant(CORRECT))
def test_alternative_correct_implementation_keeps_full_points(graded, a, v: Variant):
    result = graded(a)[v.name]
    assert result["status"] == "graded", result["messages"]
    lost = {g: s for g, s in result["cells"].items() if s < nbtools.graded_cells(source_nb(a))[g]}
    assert not lost, f"{v.name} ({v.why}) loses points in {lost}: {result['messages']}"


@pytest.mark.slow
@pytest.mark.parametrize("a", each_assignment())
def test_nbgrader_autograde_gives_the_fast_path_scores(graded, tmp_path, a):
    """The differential test: real `nbgrader autograde` on the sample, cell by cell against the fast path."""
    subs = tmp_path / "submissions"
    subs.mkdir()
    for name in sample(a):
        nbformat.write(submissions(a)[name], subs / f"{name}.ipynb")
    rows = {r.student: r for r in plain.grade(a, subs, tmp_path / "workspace")}
    fast = graded(a)
    differ = {name: (rows[name].cells, fast[name]["cells"]) for name in sample(a)
              if rows[name].status != "graded" or rows[name].cells != fast[name]["cells"]}
    assert not differ, "nbgrader autograde (left) and the fast path (right) disagree:\n" + \
        "\n".join(f"{name}: {pair}" for name, pair in differ.items())
    assert any(s == 0 for name in sample(a) for s in rows[name].cells.values()), "the sample has no failing cell"


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
