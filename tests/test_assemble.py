"""What the grader executes for a submission: the instructor's tests, the student's answers, nothing else."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import assemble, feedback


def meta(gid, **kw):
    base = dict(grade=False, solution=False, locked=False, schema_version=3, task=False, grade_id=gid)
    base.update(kw)
    return {"nbgrader": base}


def source_nb():
    return new_notebook(cells=[
        new_markdown_cell("# Exercise", metadata=meta("intro", locked=True)),
        new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      metadata=meta("f", solution=True)),
        new_code_cell("assert f(1) == 2, 'f(1)'\n### BEGIN HIDDEN TESTS\nassert f(-7) == -14, 'secret'\n"
                      "### END HIDDEN TESTS", metadata=meta("test_f", grade=True, locked=True, points=3)),
    ])


def release_nb():
    nb = source_nb()
    nb.cells[1].source = "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    nb.cells[2].source = "assert f(1) == 2, 'f(1)'"
    return nb


def student(body="return x + x"):
    nb = release_nb()
    nb.cells[1].source = f"def f(x):\n    {body}"
    return nb


def sources(nb):
    return [c.source for c in nb.cells if assemble.GUARD_KEY not in c.metadata]


def test_hidden_tests_come_from_the_source_and_answers_from_the_student():
    nb, flags = assemble.assemble(source_nb(), release_nb(), student())
    assert flags == []
    body = sources(nb)
    assert "def f(x):\n    return x + x" in body and any("secret" in s for s in body)
    roles = [c.metadata.get(assemble.GUARD_KEY) for c in nb.cells]
    assert roles[0] == "setup" and roles[-1] == "report"
    assert roles[roles.index("restore") + 1] is None and nb.cells[roles.index("restore") + 1].source.endswith(
        "### END HIDDEN TESTS")


def test_tampering_is_flagged_and_never_trusted():
    sub = student()
    sub.cells[2].source = "pass"  # test cell emptied
    sub.cells[2].metadata.nbgrader.points = 300
    sub.cells.append(nbformat.from_dict(sub.cells[1]))  # a duplicated answer cell
    nb, flags = assemble.assemble(source_nb(), release_nb(), sub)
    assert "duplicated cell f" in flags and "points of test_f edited" in flags
    assert any("secret" in s for s in sources(nb)) and "pass" not in sources(nb)


def test_deleted_and_retyped_cells_are_restored_and_flagged():
    sub = student()
    del sub.cells[2]
    nb, flags = assemble.assemble(source_nb(), release_nb(), sub)
    assert "missing cell test_f" in flags and any("secret" in s for s in sources(nb))
    sub = student()
    sub.cells[1] = new_markdown_cell(sub.cells[1].source, metadata=sub.cells[1].metadata)
    nb, flags = assemble.assemble(source_nb(), release_nb(), sub)
    assert "cell f changed from code to markdown" in flags
    assert [c.cell_type for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "f"] == ["code"]


def test_missing_answer_gets_the_stub_and_extra_cells_stay_in_place():
    sub = release_nb()
    del sub.cells[1]
    sub.cells.insert(0, new_code_cell("import math"))
    nb, flags = assemble.assemble(source_nb(), release_nb(), sub)
    body = sources(nb)
    assert "missing cell f" in flags and body[0] == "import math" and "raise NotImplementedError()" in body[2]


def test_scores_are_all_or_nothing_and_ignore_warnings():
    src = source_nb()
    nb, _ = assemble.assemble(src, release_nb(), student())
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_f")
    test_cell.execution_count = 5
    test_cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="DeprecationWarning: old\n")]
    assert assemble.score(nb, src)[0] == {"test_f": 3.0}
    test_cell.outputs.append(nbformat.v4.new_output("error", ename="AssertionError", evalue="secret", traceback=[]))
    scores, messages = assemble.score(nb, src)
    assert scores == {"test_f": 0.0} and messages["test_f"] == "AssertionError: secret"
    test_cell.execution_count = None
    test_cell.outputs = []
    assert assemble.score(nb, src)[0] == {"test_f": 0.0}


def test_patched_functions_reported_by_the_guard_are_read_back():
    nb, _ = assemble.assemble(source_nb(), release_nb(), student())
    report = next(c for c in nb.cells if c.metadata.get(assemble.GUARD_KEY) == "report")
    report.outputs = [nbformat.v4.new_output("stream", name="stdout", text="AUTOGRADER-PATCHED:numpy.allclose\n")]
    clean, patched = assemble.strip_guards(nb)
    assert patched == ["numpy.allclose"] and all(assemble.GUARD_KEY not in c.metadata for c in clean.cells)


def test_feedback_shows_verdicts_and_messages_but_no_hidden_source():
    src = source_nb()
    nb, _ = assemble.assemble(src, release_nb(), student("return 3"))
    nb, _ = assemble.strip_guards(nb)
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_f")
    test_cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="f(1)",
                                                traceback=["  assert f(-7) == -14, 'secret'"])]
    safe = feedback.sanitize(nb, src, {"test_f": 0.0})
    text = nbformat.writes(safe)
    assert "f(-7)" not in text and "hidden tests: failed" in text and "AssertionError: f(1)" in text


@pytest.mark.slow  # executes a notebook in a kernel
def test_the_guard_restores_a_student_wrapper_but_not_torchs_own_rewrapping():
    """torch._dynamo re-wraps torch.manual_seed on import (functools.wraps, code inside torch): not tampering.
    A student's functools.wraps disguise of torch.testing.assert_close is restored and reported."""
    from nbclient import NotebookClient
    nb, _ = assemble.assemble(source_nb(), release_nb(), student(
        "return 2 * x\nimport functools, torch, torch._dynamo\n"
        "torch.testing.assert_close = functools.wraps(torch.testing.assert_close)(lambda *a, **k: None)"))
    nb.cells.insert(3, new_code_cell("f(1)"))  # the student's body runs after the guard snapshot
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    _, patched = assemble.strip_guards(nb)
    assert patched == ["torch.testing.assert_close"], patched
