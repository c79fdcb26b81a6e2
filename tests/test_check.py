"""The student-side check (`python -m autograder check`): each structural problem that nbgrader's Validate
misses is found and explained; a correct notebook passes; the untouched release fails its tests but has no
structural problem."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder import check, course, nbtools
from tests.notebooks import ROOT

A = "ex1_initialization"
WHERE = f"exercises/{A}/{A}.ipynb"


def release():
    return nbtools.read(course.EXERCISES / A / f"{A}.ipynb")


def reference():
    return nbtools.fill(release(), nbtools.reference_code(nbtools.read(course.SOLUTIONS / A / f"{A}.ipynb")))


def index(nb, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if nbtools.nbgrader_meta(c).get("grade_id") == gid)


def first_test_id(nb) -> str:
    return next(iter(nbtools.graded_cells(nb)))


def problems(nb, name: str = f"{A}.ipynb") -> list[check.Problem]:
    assignment, found = check.structure(nb, name)
    assert assignment == A
    return found


def only(found: list[check.Problem], kind: str) -> check.Problem:
    assert [p.kind for p in found] == [kind], [p.message for p in found]
    return found[0]


@pytest.mark.parametrize("assignment", course.assignments())
def test_the_release_and_the_reference_have_no_structural_problem(assignment):
    rel = nbtools.read(course.EXERCISES / assignment / f"{assignment}.ipynb")
    filled = nbtools.fill(rel, nbtools.reference_code(nbtools.read(course.SOLUTIONS / assignment /
                                                                   f"{assignment}.ipynb")))
    for nb in (rel, filled):
        assert check.structure(nb, f"{assignment}.ipynb") == (assignment, [])


def test_a_deleted_test_cell():
    nb = reference()
    gid = first_test_id(nb)
    del nb.cells[index(nb, gid)]
    p = only(problems(nb), "missing")
    assert p.grade_id == gid
    assert f"test cell {gid!r}, 2 points is missing" in p.message and f"Copy it from {WHERE}" in p.message


def test_a_deleted_answer_cell():
    nb = reference()
    del nb.cells[index(nb, "calculate_gain")]
    p = only(problems(nb), "missing")
    assert "answer cell 'calculate_gain' is missing" in p.message
    assert "after cell 'test_compute_fans'" in p.message and "put your code into it" in p.message


def test_removed_nbgrader_metadata_counts_as_deleted():
    nb = reference()
    del nb.cells[index(nb, "compute_fans")].metadata["nbgrader"]
    assert only(problems(nb), "missing").grade_id == "compute_fans"


def test_a_duplicated_cell():
    nb = reference()
    i = index(nb, "compute_fans")
    nb.cells.insert(i + 1, nbformat.from_dict(nb.cells[i]))
    p = only(problems(nb), "duplicated")
    assert f"'compute_fans' appears 2 times (cells {i + 1}, {i + 2})" in p.message and "Delete the copies" in p.message


def test_a_retyped_cell():
    nb = reference()
    i = index(nb, "compute_fans")
    cell = nb.cells[i]
    nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    p = only(problems(nb), "retyped")
    assert "was a code cell and is now markdown" in p.message and "press Y" in p.message


def test_a_changed_grade_id():
    nb = reference()
    gid = first_test_id(nb)
    nb.cells[index(nb, gid)].metadata.nbgrader.grade_id = "my_tests"
    p = only(problems(nb), "grade_id")
    assert f"changed from {gid!r} to 'my_tests'" in p.message and "Change it back" in p.message


def test_changed_points():
    nb = reference()
    gid = first_test_id(nb)
    nb.cells[index(nb, gid)].metadata.nbgrader.points = 10
    p = only(problems(nb), "points")
    assert f"points of {gid!r} were changed from 2 to 10" in p.message


def test_an_edited_test_cell():
    nb = reference()
    gid = first_test_id(nb)
    nb.cells[index(nb, gid)].source = "pass  # the tests were too strict"
    p = only(problems(nb), "edited")
    assert f"test cell {gid!r} was edited" in p.message and "proves nothing" in p.message


def test_a_notebook_saved_under_another_name_is_still_recognised():
    p = only(problems(reference(), name="ex1_initialization-Copy1.ipynb"), "renamed")
    assert "saved as ex1_initialization-Copy1.ipynb" in p.message and f"Rename it to {A}.ipynb" in p.message


def test_a_notebook_of_no_exercise():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    assignment, found = check.structure(nb, "mine.ipynb")
    assert assignment is None and [p.kind for p in found] == ["unknown"]
    assert WHERE in found[0].message


def test_an_unreadable_file_exits_nonzero_with_a_message(tmp_path, capsys):
    bad = tmp_path / f"{A}.ipynb"
    bad.write_text('{"cells": [')
    assert check.main(bad) == 1
    assert "is not a readable notebook" in capsys.readouterr().out


def test_the_structure_only_check_exits_nonzero_on_a_problem(tmp_path, capsys):
    nb = reference()
    del nb.cells[index(nb, first_test_id(nb))]
    nbformat.write(nb, tmp_path / f"{A}.ipynb")
    assert check.main(tmp_path / f"{A}.ipynb", run_validate=False) == 1
    assert "is missing" in capsys.readouterr().out
    nbformat.write(reference(), tmp_path / f"{A}.ipynb")
    assert check.main(tmp_path / f"{A}.ipynb", run_validate=False) == 0


def run_check(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "check", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_a_correct_notebook_passes(tmp_path):
    nbformat.write(reference(), tmp_path / f"{A}.ipynb")
    done = run_check(tmp_path / f"{A}.ipynb")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validate: success" in done.stdout and "Ready to submit." in done.stdout


@pytest.mark.slow
def test_the_untouched_release_fails_its_tests_but_has_no_structural_problem(tmp_path):
    nbformat.write(release(), tmp_path / f"{A}.ipynb")
    done = run_check(tmp_path / f"{A}.ipynb")
    assert done.returncode == 1
    assert "Structure: every graded cell is present once" in done.stdout
    n = len(nbtools.graded_cells(release()))
    assert f"Validate: {n} test cell(s) fail" in done.stdout, done.stdout
    assert "still has `raise NotImplementedError()`" in done.stdout


@pytest.mark.slow
def test_what_validate_misses_the_check_catches(tmp_path):
    """A correct notebook with a deleted test cell: nbgrader's Validate says success, the check does not."""
    nb = reference()
    del nb.cells[index(nb, first_test_id(nb))]
    nbformat.write(nb, tmp_path / f"{A}.ipynb")
    report = check.check(tmp_path / f"{A}.ipynb")
    assert report.validate == "passed" and not report.ok
    assert [p.kind for p in report.problems] == ["missing"]


@pytest.mark.slow
def test_a_warning_fails_validate_but_not_the_grade(tmp_path):
    """What each exercise's introduction says: a test cell that printed a warning on stderr fails nbgrader's
    Validate (and so the check), and the check says why. That the grader keeps the points: test_assemble's
    test_scores_are_all_or_nothing_and_ignore_warnings and the hostile batch's h22_correct_with_warning."""
    code = nbtools.reference_code(nbtools.read(course.SOLUTIONS / A / f"{A}.ipynb"))
    code["compute_fans"] = code["compute_fans"].replace(
        '"""\n', '"""\n    import warnings\n    warnings.warn("compute_fans: a test warning")\n', 1)
    assert "a test warning" in code["compute_fans"]
    nbformat.write(nbtools.fill(release(), code), tmp_path / f"{A}.ipynb")
    report = check.check(tmp_path / f"{A}.ipynb")
    assert report.validate == "failed", report
    assert report.failures[0].grade_id == "test_compute_fans", report.failures  # and each later cell calling it
    assert all("printed a warning on stderr (" in f.message and "a test warning" in f.message
               for f in report.failures), report.failures
