"""Grading with plain, serial `nbgrader autograde`: the reference our own grader is measured against
(benchmarks) and checked against (tests). Instructors use `python -m autograder grade` instead."""
from __future__ import annotations

import pathlib
import shutil

import nbformat

from . import course
from .nbtools import graded_cells, read
from .run import Row, collect, write_csv


def grade(assignment: str, submissions: pathlib.Path, workspace: pathlib.Path,
          csv_path: pathlib.Path | None = None, course_dir: pathlib.Path | None = None) -> list[Row]:
    """Autograde every submission with one `nbgrader autograde` call; one CSV row per student.

    Unreadable notebooks are not handed to nbgrader (one of them can abort its whole batch): they get the
    status 'invalid notebook' and 0 points."""
    from nbgrader.api import Gradebook, MissingEntry

    ws = course.prepare_workspace(assignment, pathlib.Path(workspace), root=course_dir)
    points = graded_cells(read(course.source_notebook(assignment, course_dir)))
    max_score = float(sum(points.values()))
    rows: dict[str, Row] = {}
    for student, nb_path in collect(submissions, assignment, ws / "incoming").items():
        try:
            nb = read(nb_path)
            nbformat.validate(nb)
        except Exception as exc:  # unreadable, empty or not a notebook
            rows[student] = Row(student, "invalid notebook", max_score=max_score,
                                message=f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        target = ws / "submitted" / student / assignment
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{assignment}.ipynb")
        (target / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
        rows[student] = Row(student, "pending", max_score=max_score)
    if any(r.status == "pending" for r in rows.values()):
        done = course.nbgrader("autograde", assignment, "--force", cwd=ws)
        (ws / f"autograde-{assignment}.log").write_text(done.stdout + done.stderr)
    with Gradebook(f"sqlite:///{ws / 'gradebook.db'}") as gb:
        for row in rows.values():
            if row.status != "pending":
                continue
            try:
                sub = gb.find_submission(assignment, row.student)
            except MissingEntry:
                row.status, row.message = "not graded", "nbgrader produced no grades (see the autograde log)"
                continue
            grades = {g.name: g for nb in sub.notebooks for g in nb.grades}
            row.cells = {gid: float(grades[gid].score) if gid in grades else 0.0 for gid in points}
            row.score = float(sum(row.cells.values()))
            row.status = "graded"
    result = [rows[s] for s in sorted(rows)]
    write_csv(result, list(points), csv_path or ws / f"grades-{assignment}.csv")
    return result
