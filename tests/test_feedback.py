"""The feedback page a student reads: points earned / possible and the message of every test cell, formulas
rendered without the internet (MathML, no script fetched from elsewhere), hidden tests never shown."""
from __future__ import annotations

import re

import nbformat
import pytest

from autograder import course, feedback, nbtools
from autograder.run import Row

A = "ex1_initialization"
EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=[\"']?(?:https?:)?//", re.I)


@pytest.fixture(scope="module")
def source():
    return nbtools.read(course.SOLUTIONS / A / f"{A}.ipynb")


def executed_with_one_failure(source, failing: str, message: str):
    """The release as if run by the grader: every test cell ran, `failing` raised AssertionError(message)."""
    nb = nbtools.read(course.EXERCISES / A / f"{A}.ipynb")
    for cell in nb.cells:
        meta = nbtools.nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            cell.execution_count = 1
            if meta["grade_id"] == failing:
                cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                                       traceback=["Traceback", "  line 3: assert secret_check()"])]
    return nb


def test_the_page_shows_earned_and_possible_points_with_each_test_s_message(source, tmp_path):
    points = nbtools.graded_cells(source)
    failing, message = "test_compute_fans", "compute_fans((20, 30)) returned (20, 30): fan_in and fan_out are swapped"
    cells = {gid: 0.0 if gid == failing else float(p) for gid, p in points.items()}
    row = Row("alice", "graded", sum(cells.values()), float(sum(points.values())), cells)
    executed = tmp_path / "executed.ipynb"
    nbformat.write(executed_with_one_failure(source, failing, message), executed)
    page = feedback.write(executed, source, row, tmp_path / "fb.html").read_text()

    assert f"<strong>Score:</strong> {row.score:g} / {row.max_score:g}" in page
    rows = dict(re.findall(r'<tr class="(?:full|lost)" data-grade-id="([^"]+)">(.*?)</tr>', page, re.S))
    assert list(rows) == list(points), "one row per test cell, in notebook order"
    for gid, most in points.items():
        earned = 0 if gid == failing else most
        assert f'<td class="points">{earned:g} / {most:g}</td>' in rows[gid], (gid, rows[gid])
    assert f"AssertionError: {message}" in rows[failing]
    assert "passed" in rows["test_calculate_gain"]
    assert "BEGIN HIDDEN TESTS" not in page and "secret_check" not in page


@pytest.mark.parametrize("assignment", course.assignments())
def test_every_formula_of_the_exercises_becomes_mathml(assignment):
    nb = nbtools.read(course.SOLUTIONS / assignment / f"{assignment}.ipynb")
    formulas: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            left = feedback.math_to_placeholders(cell.source, formulas)
            code_free = re.sub(r"```.*?```|`[^`\n]*`", "", left, flags=re.S)
            assert "$" not in code_free and "\\frac" not in code_free, f"TeX left in:\n{left[:400]}"
    assert len(formulas) >= 10, f"{assignment}: only {len(formulas)} formulas found"
    unreadable = [m for m in formulas.values() if not m.startswith("<math")]
    assert not unreadable, f"formulas the converter could not read: {unreadable[:3]}"
    assert not any("\\_" in m for m in formulas.values()), "an escaped underscore left in \\text{...}"


def test_the_page_fetches_nothing_from_the_internet(source, tmp_path):
    points = nbtools.graded_cells(source)
    row = Row("bob", "graded", 0.0, float(sum(points.values())), {g: 0.0 for g in points})
    executed = tmp_path / "executed.ipynb"
    nbformat.write(executed_with_one_failure(source, "test_lsuv_init_", "variance 3.2 after LSUV"), executed)
    page = feedback.write(executed, source, row, tmp_path / "fb.html").read_text()
    assert not EXTERNAL.findall(page), EXTERNAL.findall(page)[:3]
    assert "x-mathjax-config" not in page and "MathJax.js" not in page, "the page still sets up MathJax"
    assert page.count("<math") >= 10 and "MATHPLACEHOLDER" not in page


def test_a_formula_the_converter_cannot_read_stays_readable_as_tex():
    found: dict[str, str] = {}
    text = feedback.math_to_placeholders(r"cost $\left( x^2$ and `$not math$`", found)
    assert "`$not math$`" in text, "code spans are left alone"
    (mathml,) = found.values()
    assert mathml == r'<code class="tex">\left( x^2</code>', mathml
