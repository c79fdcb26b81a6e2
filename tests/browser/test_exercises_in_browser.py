"""Each exercise in JupyterLab, as a student submits it: the released notebook with a correct solution runs
cleanly and nbgrader's Validate button reports success; with a wrong solution (the first catalogued mistake of
one exercise: what a failed test shows does not depend on the exercise, and every exercise's messages are checked
headless by the catalogue) the failing test shows its message in the notebook, and Validate shows the same
failure."""
from __future__ import annotations

import importlib

import nbformat
import pytest

from autograder import course, nbtools
from tests.browser.labdriver import Notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]
ASSIGNMENTS = [a for a in course.assignments() if (course.EXERCISES / a / f"{a}.ipynb").is_file()]


def student_notebook(lab, assignment: str, student: str, code: dict[str, str]) -> str:
    """Write the released notebook with `code` in its answer cells into the server's root; returns its path."""
    release = nbtools.read(course.EXERCISES / assignment / f"{assignment}.ipynb")
    path = lab.root / "students" / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbtools.fill(release, code), path)
    return str(path.relative_to(lab.root))


def reference(assignment: str) -> dict[str, str]:
    return nbtools.reference_code(nbtools.read(course.SOLUTIONS / assignment / f"{assignment}.ipynb"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_correct_solution_runs_and_validates(assignment, lab, page):
    nb = Notebook(page, lab, student_notebook(lab, assignment, "correct", reference(assignment)))
    nb.run_all()
    assert nb.errors() == [], f"{assignment}: the reference solution gives error output"
    text = nb.validate()
    assert "Success! Your notebook passes all the tests." in text, text[:3000]


@pytest.mark.parametrize("assignment", ["ex2_normalization"])  # the mechanism is the same in every exercise
def test_a_wrong_solution_shows_the_failing_test_and_its_message(assignment, lab, page):
    wrong = importlib.import_module(f"tests.catalogue.{assignment}").WRONG[0]
    nb = Notebook(page, lab, student_notebook(lab, assignment, "wrong", wrong.apply(reference(assignment))))
    nb.run_all()
    failed = [(nbtools.nbgrader_meta(c).get("grade_id"), o) for c in nb.cell_json() for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert failed, f"{assignment} with {wrong.name}: no test failed in the notebook"
    grade_id, error = failed[0]
    assert grade_id in wrong.fails, f"{wrong.name} should fail one of {wrong.fails}, the first error is in {grade_id}"
    assert error["evalue"], f"{grade_id} failed without a message"
    text = nb.validate()
    assert "Success" not in text and "failed" in text, text[:3000]
    assert error["evalue"] in text, f"Validate does not show the message {error['evalue']!r}:\n{text[:3000]}"
