"""The nbgrader exchange, instructor side: how a course on a JupyterHub hands work out and gets it back.

The course root (the grading workspace, default ./grading) holds the gradebook and nbgrader's step folders
(release/, submitted/, autograded/, feedback/). The exchange is nbgrader's shared folder (`Exchange.root`,
usually /srv/nbgrader/exchange) that students reach from JupyterLab's Assignments panel.

    release   generate the student version, set the due date in the gradebook, publish to the exchange
    collect   copy each student's latest submission into submitted/ (a re-submission replaces the older one)
    grade     the parallel grader on submitted/ (run.grade), late submissions measured against the due date
    feedback  publish each graded student's feedback.html; students get it with "Fetch Feedback"
"""
from __future__ import annotations

import pathlib
from datetime import datetime

from . import course

DEFAULT_EXCHANGE = pathlib.Path("/srv/nbgrader/exchange")


def _run(step: str, assignment: str, root: pathlib.Path, exchange: pathlib.Path, course_id: str, *extra: str,
         db_url: str | None = None) -> str:
    db = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    done = course.nbgrader(step, assignment, f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={course_id}",
                           *db, *extra, cwd=root)
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {step} {assignment} failed (exit {done.returncode}):\n{log.strip()}")
    return log


def parse_duedate(text: str) -> datetime:
    """'2026-12-01 17:00 Europe/Amsterdam', '2026-12-01T16:00:00Z', ... -> naive UTC, as nbgrader stores it."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as e:
        raise SystemExit(f"cannot read the due date {text!r} ({e}); write e.g. '2026-12-01 17:00:00 UTC'") from None


def release(assignment: str, root: pathlib.Path, exchange: pathlib.Path, course_id: str,
            duedate: str | None = None, db_url: str | None = None) -> str:
    """`db_url`: the gradebook that `grade --db` will use (default: root/gradebook.db); the due date goes there."""
    from nbgrader.api import Gradebook

    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o1777)  # every student writes into it; the sticky bit keeps their files their own
    course.prepare_workspace(assignment, root, db_url=db_url)
    if duedate is not None:
        with Gradebook(db_url or f"sqlite:///{root / 'gradebook.db'}") as gb:
            gb.update_or_create_assignment(assignment, duedate=parse_duedate(duedate))
    return _run("release_assignment", assignment, root, exchange, course_id, "--force", db_url=db_url)


def collect(assignment: str, root: pathlib.Path, exchange: pathlib.Path, course_id: str,
            db_url: str | None = None) -> str:
    return _run("collect", assignment, root, exchange, course_id, "--update", db_url=db_url)


def release_feedback(assignment: str, root: pathlib.Path, exchange: pathlib.Path, course_id: str,
                     db_url: str | None = None) -> str:
    if not any((root / "feedback").glob(f"*/{assignment}/*.html")):
        raise SystemExit(f"no feedback for {assignment} in {root / 'feedback'}: grade the collected submissions first")
    return _run("release_feedback", assignment, root, exchange, course_id, db_url=db_url)
