"""Drive nbgrader for the course: generate the release, grade a folder of submissions, export a CSV.

Every nbgrader call runs in a *workspace*: a course root that holds a copy of nbgrader_config.py, the
source notebooks under source/, the gradebook and nbgrader's step folders. The repo itself never holds a
gradebook.
"""
from __future__ import annotations

import csv
import os
import pathlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import nbformat

from .nbtools import graded_cells, read

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
CONFIG = pathlib.Path(__file__).with_name("nbgrader_config.py")


def assignments() -> list[str]:
    """Assignment ids: the folders of solutions/ that hold a notebook of the same name."""
    if not SOLUTIONS.is_dir():
        return []
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())


def _check_assignment(assignment: str) -> None:
    if assignment not in assignments():
        raise SystemExit(f"unknown assignment {assignment!r}; the course has {assignments()}")


def nbgrader(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """Run one nbgrader command in a workspace; nbgrader (and alembic) must come from this Python's bin/."""
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def prepare_workspace(assignment: str, workspace: pathlib.Path, db_url: str | None = None) -> pathlib.Path:
    """Make `workspace` a course root holding the assignment's source, generated into its gradebook
    (`db_url`: any SQLAlchemy URL; default: workspace/gradebook.db)."""
    _check_assignment(assignment)
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG, workspace / "nbgrader_config.py")
    source = workspace / "source" / assignment
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(SOLUTIONS / assignment, source, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    db = ["--db", db_url] if db_url else []
    done = nbgrader("generate_assignment", assignment, "--force", *db, cwd=workspace)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{done.stdout}\n{done.stderr}")
    return workspace


def release(assignment: str, dest: pathlib.Path = EXERCISES, workspace: pathlib.Path | None = None) -> pathlib.Path:
    """Generate the student version of `assignment` from solutions/ into dest/<assignment>/."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ws = prepare_workspace(assignment, pathlib.Path(workspace or tmp))
        target = dest / assignment
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ws / "release" / assignment, target)
    return target


def find_submissions(path: pathlib.Path, assignment: str) -> dict[str, pathlib.Path]:
    """Student id -> submitted notebook, from a folder of <student>.ipynb files or from nbgrader's
    submitted/<student>/<assignment>/ tree (a student whose folder lacks the notebook maps to a missing path)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise SystemExit(f"{path} is not a folder of submissions")
    found: dict[str, pathlib.Path] = {}
    for p in sorted(path.iterdir()):
        if p.is_file() and p.suffix == ".ipynb":
            found[p.stem] = p
        elif p.is_dir() and (p / assignment).is_dir():
            found[p.name] = p / assignment / f"{assignment}.ipynb"
    return found


@dataclass
class Row:
    student: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, float] = field(default_factory=dict)
    message: str = ""


def grade(assignment: str, submissions: pathlib.Path, workspace: pathlib.Path,
          csv_path: pathlib.Path | None = None) -> list[Row]:
    """Autograde every submission with nbgrader and write one CSV row per student.

    Unreadable notebooks are not handed to nbgrader: they get the status 'invalid notebook' and 0 points,
    and the rest of the class is graded as usual.
    """
    from nbgrader.api import Gradebook, MissingEntry

    ws = prepare_workspace(assignment, pathlib.Path(workspace))
    points = graded_cells(read(SOLUTIONS / assignment / f"{assignment}.ipynb"))
    max_score = float(sum(points.values()))
    rows: dict[str, Row] = {}
    submitted = ws / "submitted"
    for student, nb_path in find_submissions(submissions, assignment).items():
        try:
            nb = read(nb_path)
            nbformat.validate(nb)
        except Exception as exc:  # unreadable, empty or not a notebook
            rows[student] = Row(student, "invalid notebook", max_score=max_score,
                                message=f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        target = submitted / student / assignment
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{assignment}.ipynb")
        (target / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
        rows[student] = Row(student, "pending", max_score=max_score)
    if any(r.status == "pending" for r in rows.values()):
        done = nbgrader("autograde", assignment, "--force", cwd=ws)
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


def write_csv(rows: list[Row], grade_ids: list[str], path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "status", "score", "max_score", *grade_ids, "message"])
        for r in rows:
            w.writerow([r.student, r.status, f"{r.score:g}", f"{r.max_score:g}",
                        *[f"{r.cells.get(g, 0.0):g}" for g in grade_ids], r.message])
