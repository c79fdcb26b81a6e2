"""The student's check before submitting: `python -m autograder check NOTEBOOK` (`make check NOTEBOOK=...`).

Two parts:

1. Structure, against the released notebook of the same assignment (exercises/<assignment>/): the things
   nbgrader's Validate does not see or does not explain. Deleted, duplicated or re-typed graded cells,
   grade ids that changed, points that changed, edited test cells, and a notebook saved under another
   name (the assignment is inferred from the grade ids, whatever the file is called).
2. nbgrader's own Validate (what the Validate button in JupyterLab runs): the notebook is executed and
   every failing test cell is listed with its message.

Each problem comes with what to do about it. The exit code is 0 only when both parts are clean.
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
import sys

import nbformat

from . import course
from .nbtools import nbgrader_meta

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WARNING = re.compile(r"\b\w*Warning: ")  # a line of warnings.showwarning


@dataclasses.dataclass(frozen=True)
class Problem:
    kind: str      # renamed, unknown, missing, duplicated, retyped, grade_id, points, edited
    grade_id: str  # the cell concerned ("" for the whole notebook)
    message: str   # what is wrong and what to do

    def __str__(self) -> str:
        return self.message


@dataclasses.dataclass
class Failure:
    grade_id: str
    message: str


@dataclasses.dataclass
class Report:
    assignment: str | None
    problems: list[Problem]
    validate: str = "not run"  # "passed", "failed", "changed", "type changed", "not run"
    failures: list[Failure] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.validate == "passed"


def released(assignment: str):
    return nbformat.read(release_path(assignment), as_version=4)


def release_path(assignment: str) -> pathlib.Path:
    return course.EXERCISES / assignment / f"{assignment}.ipynb"


def _ids(nb) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c).get("grade_id")]


def infer_assignment(nb) -> str | None:
    """The released assignment that shares the most grade ids with `nb` (None if it shares none)."""
    ids = set(_ids(nb))
    scores = {a: len(ids & set(_ids(released(a)))) for a in course.assignments() if release_path(a).is_file()}
    best = max(scores, key=scores.get, default=None)
    return best if best is not None and scores[best] > 0 else None


def _kind(cell) -> str:
    m = nbgrader_meta(cell)
    if m.get("solution"):
        return "answer cell"
    if m.get("grade"):
        return "test cell"
    return "read-only cell"


def structure(nb, filename: str) -> tuple[str | None, list[Problem]]:
    """(assignment, problems): `nb` compared with the released notebook of the assignment it belongs to."""
    assignment = infer_assignment(nb)
    if assignment is None:
        known = ", ".join(f"exercises/{a}/{a}.ipynb" for a in course.assignments())
        return None, [Problem("unknown", "", f"{filename} has none of the graded cells of a course exercise "
                              f"(was their metadata removed, or is this another notebook?). Work in the released "
                              f"notebook: one of {known}.")]
    rel = released(assignment)
    where = f"exercises/{assignment}/{assignment}.ipynb"
    problems: list[Problem] = []
    stem = pathlib.Path(filename).name
    if stem != f"{assignment}.ipynb":
        problems.append(Problem("renamed", "", f"This notebook is exercise {assignment} but is saved as {stem}: "
                                f"nbgrader collects {assignment}.ipynb and nothing else. Rename it to "
                                f"{assignment}.ipynb (File > Rename Notebook) before you submit."))
    rel_cells = {nbgrader_meta(c)["grade_id"]: c for c in rel.cells if nbgrader_meta(c).get("grade_id")}
    order = list(rel_cells)
    seen: dict[str, list[int]] = {}
    unknown: list[tuple[int, object]] = []
    for i, cell in enumerate(nb.cells):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in rel_cells:
            seen.setdefault(gid, []).append(i)
        elif gid:
            unknown.append((i, cell))

    missing = [gid for gid in order if gid not in seen]
    renamed: dict[str, tuple[int, str]] = {}  # released id -> (cell index, the id it has now)
    for i, cell in unknown:
        now = nbgrader_meta(cell)["grade_id"]
        # the released cell it was: same source, else the first missing cell of the same kind
        same = [g for g in missing if g not in renamed and rel_cells[g].source == cell.source]
        kind = [g for g in missing if g not in renamed and _kind(rel_cells[g]) == _kind(cell)]
        was = (same or kind or [None])[0]
        if was is None:
            problems.append(Problem("grade_id", now, f"Cell {i + 1} has grade id {now!r}, which {assignment} does "
                                    f"not have: a copied or edited graded cell. Delete it, or copy the cell you "
                                    f"meant from {where}."))
        else:
            renamed[was] = (i, now)
            problems.append(Problem("grade_id", was, f"The grade id of cell {i + 1} was changed from {was!r} to "
                                    f"{now!r}: the grader matches cells by grade id and will not find it. Change it "
                                    f"back (View > Cell Toolbar > Create Assignment, or right sidebar > Common Tools > "
                                    f"Metadata), or replace the cell with a copy from {where}."))
    for gid in missing:
        if gid in renamed:
            continue
        cell = rel_cells[gid]
        before = order[order.index(gid) - 1] if order.index(gid) else None
        place = f"after cell {before!r}" if before else "at the top"
        if _kind(cell) == "answer cell":
            todo = (f"Copy the empty cell from {where} back {place} and put your code into it; code in any "
                    f"other cell is not graded as the answer.")
        else:
            todo = f"Copy it from {where} back {place} (Edit > Undo Delete Cells may still have it)."
        points = f", {nbgrader_meta(cell).get('points')} points" if _kind(cell) == "test cell" else ""
        problems.append(Problem("missing", gid, f"The {_kind(cell)} {gid!r}{points} is missing (deleted, or its "
                                f"nbgrader metadata was removed). {todo}"))

    for gid, where_now in seen.items():
        cell, ref = nb.cells[where_now[0]], rel_cells[gid]
        if len(where_now) > 1:
            cells = ", ".join(str(i + 1) for i in where_now)
            problems.append(Problem("duplicated", gid, f"Cell {gid!r} appears {len(where_now)} times (cells {cells}): "
                                    f"copying a graded cell copies its grade id, and the grader keeps only one. "
                                    f"Delete the copies and keep your work in the first one; for scratch code use "
                                    f"a new cell (Insert a cell below: it has no grade id)."))
        if cell.cell_type != ref.cell_type:
            problems.append(Problem("retyped", gid, f"Cell {gid!r} was a {ref.cell_type} cell and is now "
                                    f"{cell.cell_type}: select it and press {'Y' if ref.cell_type == 'code' else 'M'} "
                                    f"(or pick '{ref.cell_type.capitalize()}' in the toolbar) to turn it back."))
        got, want = nbgrader_meta(cell).get("points"), nbgrader_meta(ref).get("points")
        if want is not None and got != want:
            problems.append(Problem("points", gid, f"The points of {gid!r} were changed from {want} to {got}: the "
                                    f"grader uses the released {want}. Set them back (or copy the cell from {where})."))
        if nbgrader_meta(ref).get("locked") and cell.cell_type == ref.cell_type and cell.source != ref.source:
            why = ("the grader runs the released tests (plus hidden ones), so passing your edited copy proves "
                   "nothing" if _kind(ref) == "test cell" else "the grader runs the released version, not yours")
            problems.append(Problem("edited", gid, f"The {_kind(ref)} {gid!r} was edited: it is read-only, and "
                                    f"{why}. Copy the cell back from {where}."))
    return assignment, problems


def _short(error: str) -> str:
    """The last line of a traceback ('AssertionError: dgamma has shape ...'), without colour codes."""
    lines = [line.rstrip() for line in ANSI.sub("", error).splitlines() if line.strip()]
    last = lines[-1] if lines else "failed"
    warning = next((line.strip() for line in lines if WARNING.search(line)), None)
    if warning and "Traceback" not in error:
        return (f"printed a warning on stderr ({warning}): Validate counts that as a failure, the course's grader "
                "does not; fix your code if the warning points to a mistake")
    if last.rstrip(": ") == "NotImplementedError":
        return "NotImplementedError: an answer cell above still has `raise NotImplementedError()`: write your code there"
    return last


def validate(path: pathlib.Path, nb) -> tuple[str, list[Failure]]:
    """Run nbgrader's Validator with the course configuration, as JupyterLab's Validate button does."""
    from nbgrader.validator import Validator
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(course.CONFIG.name, path=str(course.CONFIG.parent)).load_config()
    results = Validator(config=config).validate(str(path.resolve()))
    by_source = {c.source.strip(): nbgrader_meta(c).get("grade_id", "?") for c in nb.cells}
    if "type_changed" in results:
        return "type changed", [Failure(by_source.get(r["source"], "?"),
                                        f"changed from {r['new_type']} to {r['old_type']}")
                                for r in results["type_changed"]]
    if "changed" in results:
        return "changed", [Failure(by_source.get(r["source"], "?"), "read-only cell changed")
                           for r in results["changed"]]
    failures = [Failure(by_source.get(r["source"], "?"), _short(r["raw_error"])) for r in results.get("failed", [])]
    return ("failed" if failures else "passed"), failures


def check(path: pathlib.Path, run_validate: bool = True) -> Report:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # not JSON, not a notebook: nothing else can be checked
        return Report(None, [Problem("unreadable", "", f"{path} is not a readable notebook ({type(e).__name__}: "
                                     f"{str(e)[:200]}). Re-download or restore it from a checkpoint "
                                     f"(File > Revert Notebook to Checkpoint).")])
    assignment, problems = structure(nb, path.name)
    report = Report(assignment, problems)
    if run_validate and assignment is not None:
        report.validate, report.failures = validate(path, nb)
    return report


def render(report: Report, path: pathlib.Path) -> str:
    lines = [f"Checking {path}" + (f" (exercise {report.assignment})" if report.assignment else "")]
    if report.problems:
        lines.append(f"\n{len(report.problems)} problem(s) the grader would punish and Validate may not show:")
        lines += [f"  - {p.message}" for p in report.problems]
    else:
        lines.append("\nStructure: every graded cell is present once, with its type, grade id and points.")
    verdicts = {"passed": "nbgrader Validate: success, every test cell passes.",
                "failed": f"nbgrader Validate: {len(report.failures)} test cell(s) fail:",
                "changed": "nbgrader Validate: read-only cells were changed, so it ran no test:",
                "type changed": "nbgrader Validate: cell types were changed, so it ran no test:",
                "not run": "nbgrader Validate: not run."}
    lines.append("\n" + verdicts[report.validate])
    lines += [f"  - {f.grade_id}: {f.message}" for f in report.failures]
    if report.validate == "failed":
        lines.append("  Fix your code in the answer cell above each failing test, re-run it, then check again.")
    lines.append("\nReady to submit." if report.ok else "\nNot ready to submit: fix the above and run the check again.")
    return "\n".join(lines)


def main(path: pathlib.Path, run_validate: bool = True) -> int:
    report = check(path, run_validate)
    print(render(report, path))
    sys.stdout.flush()
    if not run_validate:
        return 0 if not report.problems else 1
    return 0 if report.ok else 1
