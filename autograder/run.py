"""Grade a whole class: submissions in, gradebook + CSV + feedback + summary out.

One process (this one) owns the gradebook. Each submission is graded by a worker process
(`python -m autograder.worker`), locally on `jobs` slots at once or on a Dask cluster. A finished submission
leaves a result file keyed by the hash of its notebook, the instructor's notebooks and the limits, so a
re-run (or a run restarted after being killed) grades only what is new or changed.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import warnings
import zipfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field

from . import course, feedback, sandbox
from .nbtools import graded_cells, read

LATE_POLICIES = ("none", "zero")  # none: a late submission keeps its points (nbgrader's default); zero: scores 0
STATUSES = ("graded", "flagged", "invalid notebook", "missing notebook", "kernel died", "cell timeout",
            "wall-clock limit", "execution error", "grader error")


@dataclass
class Row:
    student: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    submitted_at: str = ""  # the exchange's timestamp of this submission (UTC), when it came through nbgrader
    late_seconds: float = 0.0
    penalty: float = 0.0  # points taken off under the late policy


# ---------------------------------------------------------------- submissions in any form
def collect(path: pathlib.Path, assignment: str, unpack_to: pathlib.Path) -> dict[str, pathlib.Path]:
    """Student id -> notebook path. `path` is a folder of <student>.ipynb files, nbgrader's
    submitted/<student>/<assignment>/ tree, or a .zip of either (as an LMS exports it)."""
    path = pathlib.Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        if unpack_to.exists():
            shutil.rmtree(unpack_to)
        with zipfile.ZipFile(path) as z:
            for member in z.infolist():
                target = (unpack_to / member.filename).resolve()
                if not str(target).startswith(str(unpack_to.resolve())):
                    raise SystemExit(f"{path}: refusing the entry {member.filename!r}, which points outside")
            z.extractall(unpack_to)
        entries = [p for p in unpack_to.iterdir() if not p.name.startswith(("__MACOSX", "."))]
        path = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpack_to
    if not path.is_dir():
        raise SystemExit(f"{path} is neither a folder of submissions nor a zip of them")
    found: dict[str, pathlib.Path] = {}
    for p in sorted(path.iterdir()):
        if p.is_file() and p.suffix == ".ipynb":
            found[p.stem] = p
        elif p.is_dir() and not p.name.startswith("."):  # nbgrader's submitted/<student>/<assignment>/
            expected = p / assignment / f"{assignment}.ipynb"
            others = sorted((p / assignment).glob("*.ipynb")) if (p / assignment).is_dir() else []
            found[p.name] = others[0] if not expected.exists() and len(others) == 1 else expected
    return found


def submission_time(nb_path: pathlib.Path):
    """The UTC time nbgrader's exchange recorded for a submission (submitted/<student>/<a>/timestamp.txt), or None."""
    from nbgrader.utils import parse_utc

    stamp = nb_path.parent / "timestamp.txt"
    try:
        return parse_utc(stamp.read_text().strip()) if stamp.is_file() else None
    except (ValueError, OverflowError):
        return None


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


# ---------------------------------------------------------------- running one task
def run_task(task: dict) -> dict:
    """Grade one submission in a worker process, enforcing the wall-clock limit; never raises."""
    if task.get("slot") is None:  # on a Dask worker: one slot per worker process
        from distributed import get_worker

        name = str(get_worker().name)
        task["slot"] = 100 + (int(name) if name.isdigit() else int(hashlib.sha1(name.encode()).hexdigest(), 16) % 800)
    task["parent_pid"] = os.getpid()  # the worker dies with this process (sandbox.die_with_parent)
    task_file = pathlib.Path(task["task_file"])
    task_file.parent.mkdir(parents=True, exist_ok=True)
    task_file.write_text(json.dumps(task))
    result_file = task_file.with_suffix(".result.json")
    result_file.unlink(missing_ok=True)
    limits = sandbox.Limits(**task["limits"])
    proc = subprocess.Popen([sys.executable, "-m", "autograder.worker", str(task_file), str(result_file)],
                            cwd=course.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=limits.wall)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        iso = sandbox.isolation_for_slot(task["slot"], [])
        sandbox.kill_user_processes(iso.uid)
        return {"student": task["student"], "status": "wall-clock limit", "cells": {}, "flags": [],
                "messages": {"": f"grading stopped after the {limits.wall} s limit"}, "seconds": float(limits.wall)}
    if result_file.exists():
        return json.loads(result_file.read_text())
    return {"student": task["student"], "status": "grader error", "cells": {}, "flags": [], "seconds": 0.0,
            "messages": {"": f"the worker exited with {proc.returncode}: {err.strip()[-400:]}"}}


# ---------------------------------------------------------------- the class
class Grader:
    def __init__(self, assignment: str, workspace: pathlib.Path, limits: sandbox.Limits | None = None,
                 db_url: str | None = None, late_policy: str = "none", course_dir: pathlib.Path | None = None):
        if late_policy not in LATE_POLICIES:
            raise SystemExit(f"unknown late policy {late_policy!r}; choose one of {', '.join(LATE_POLICIES)}")
        self.assignment = assignment
        self.late_policy = late_policy
        self.ws = pathlib.Path(workspace).resolve()
        self.limits = limits or sandbox.Limits()
        self.db_url = db_url or f"sqlite:///{self.ws / 'gradebook.db'}"
        self.solutions = course.solutions(course_dir)
        course.prepare_workspace(assignment, self.ws, db_url=self.db_url, root=course_dir)
        os.chmod(self.ws, 0o700)
        self.source = course.source_notebook(assignment, course_dir)
        self.release = self.ws / "release" / assignment / f"{assignment}.ipynb"
        self.points = graded_cells(read(self.source))
        self.results = self.ws / "results" / assignment
        self.results.mkdir(parents=True, exist_ok=True)
        self.duedate = self._duedate()
        # the due date and late policy change scores and feedback, so they are part of what a result depends on
        self.version = _digest(self.source.read_bytes(), self.release.read_bytes(),
                               json.dumps(self.limits.as_dict(), sort_keys=True).encode(),
                               f"{self.duedate}|{late_policy}".encode())

    def _duedate(self):
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.db_url) as gb:
            try:
                return gb.find_assignment(self.assignment).duedate
            except MissingEntry:
                return None

    @property
    def scratch_root(self) -> str:
        return "/var/lib/initnorm-grader" if os.geteuid() == 0 else str(self.ws / "scratch")

    def hidden_paths(self, submissions: pathlib.Path) -> list[str]:
        from .exchange import DEFAULT_EXCHANGE

        paths = ["/tmp", "/root", "/home", "/var/tmp", "/dev/shm", str(self.ws), str(self.solutions),
                 str(course.ROOT / ".git"), str(pathlib.Path(submissions).resolve()), str(DEFAULT_EXCHANGE)]
        return [p for p in paths if os.path.isdir(p)]

    def grade(self, submissions: pathlib.Path, jobs: int | None = None, force: bool = False,
              dask_scheduler: str | None = None, progress: bool = True) -> list[Row]:
        found = collect(submissions, self.assignment, self.ws / "incoming" / self.assignment)
        todo, done = [], {}
        for student, nb_path in found.items():
            data = nb_path.read_bytes() if nb_path.is_file() else b"<missing>"
            when = submission_time(nb_path)
            key = _digest(data, self.version.encode(), str(when).encode())
            cached = self._cached(student, key)
            if cached is not None and not force:
                done[student] = cached
            else:
                todo.append(self._task(student, nb_path, key, submissions))
        bar = _progress(len(found), len(done), progress)
        lock = threading.Lock()

        def finish(task: dict, result: dict) -> None:
            with lock:
                self._record(task, result)
                done[task["student"]] = result
                bar.update(1)

        if dask_scheduler:
            self._run_dask(todo, dask_scheduler, finish)
        else:
            with sandbox.slot_users_lock(self.scratch_root):
                self._run_local(todo, jobs or os.cpu_count() or 1, finish)
        bar.close()
        rows = [self._row(student, done[student], submission_time(found[student])) for student in sorted(found)]
        self.write_csv(rows, self.ws / f"grades-{self.assignment}.csv")
        isolation = sorted({r.get("isolation", "") for r in done.values()} - {""})
        (self.ws / f"summary-{self.assignment}.txt").write_text(summary(rows, len(found) - len(todo), isolation))
        return rows

    # -- scheduling
    def _run_local(self, tasks: list[dict], jobs: int, finish) -> None:
        slots = list(range(jobs))
        slot_lock = threading.Lock()
        hide = tasks[0]["hide"] if tasks else []
        with ThreadPoolExecutor(max_workers=jobs) as pool:  # probe each slot's isolation once, not per task
            isolation = dict(zip(slots, pool.map(lambda s: asdict(sandbox.isolation_for_slot(s, hide)), slots)))

        def one(task):
            with slot_lock:
                task["slot"] = slots.pop()
                task["isolation"] = isolation[task["slot"]]
            try:
                return task, run_task(task)
            finally:
                with slot_lock:
                    slots.append(task["slot"])

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            pending = {pool.submit(one, t) for t in tasks}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    finish(*fut.result())

    def _run_dask(self, tasks: list[dict], address: str, finish) -> None:
        from distributed import Client, as_completed

        with Client(address) as client:
            futures = {client.submit(run_task, t, key=f"grade-{self.assignment}-{t['student']}-{t['key'][:12]}",
                                     pure=False): t for t in tasks}
            for fut in as_completed(futures):
                finish(futures[fut], fut.result())

    # -- bookkeeping
    def _task(self, student: str, nb_path: pathlib.Path, key: str, submissions: pathlib.Path) -> dict:
        renamed = nb_path.parent.name == self.assignment and nb_path.name != f"{self.assignment}.ipynb" \
            and nb_path.exists()
        return {"student": student, "submission": str(nb_path), "source": str(self.source),
                "flags": [f"notebook renamed to {nb_path.name!r}"] if renamed else [],
                "release": str(self.release), "key": key, "slot": None,
                "executed": str(self.ws / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"),
                "task_file": str(self.ws / "tasks" / self.assignment / f"{student}.json"),
                "scratch_root": self.scratch_root,
                "hide": self.hidden_paths(submissions), "limits": self.limits.as_dict()}

    def _cached(self, student: str, key: str) -> dict | None:
        path = self.results / f"{student}.json"
        if not path.exists():
            return None
        saved = json.loads(path.read_text())
        return saved["result"] if saved.get("key") == key else None

    def _record(self, task: dict, result: dict) -> None:
        """Gradebook first, feedback next, result file last: the result file marks the submission as done."""
        submitted = pathlib.Path(task["submission"]).parent
        row = self._row(task["student"], result, submission_time(pathlib.Path(task["submission"])))
        self._to_gradebook(row)
        executed = pathlib.Path(task["executed"])
        if executed.exists():
            out = self.ws / "feedback" / task["student"] / self.assignment
            feedback.write(executed, read(self.source), row, out / f"{self.assignment}.html")
            for name in ("timestamp.txt", "submission_secret.txt"):  # what nbgrader's release_feedback matches on
                if (submitted / name).is_file():
                    shutil.copyfile(submitted / name, out / name)
        path = self.results / f"{task['student']}.json"
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps({"key": task["key"], "result": result}, sort_keys=True))
        tmp.replace(path)

    def _to_gradebook(self, row: Row) -> None:
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.utils import parse_utc
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's add_submission trips it, harmlessly
        student = row.student
        with Gradebook(self.db_url) as gb:
            gb.update_or_create_student(student)
            try:
                gb.remove_submission(self.assignment, student)
            except MissingEntry:
                pass
        with Gradebook(self.db_url) as gb:
            extra = {"timestamp": parse_utc(row.submitted_at)} if row.submitted_at else {}
            gb.add_submission(self.assignment, student, **extra)
            for gid, points in row.cells.items():
                grade = gb.find_grade(gid, self.assignment, self.assignment, student)
                grade.auto_score = points
            gb.find_submission_notebook(self.assignment, self.assignment, student).late_submission_penalty = \
                row.penalty or None
            gb.db.commit()

    def _row(self, student: str, result: dict, submitted_at=None) -> Row:
        cells = {gid: float(result.get("cells", {}).get(gid, 0.0)) for gid in self.points}
        status = result["status"]
        if status == "graded" and result.get("flags"):
            status = "flagged"
        messages = result.get("messages", {})
        row = Row(student, status, sum(cells.values()), float(sum(self.points.values())), cells,
                  list(result.get("flags", [])), messages.get("", ""), float(result.get("seconds", 0.0)))
        if submitted_at is not None:
            row.submitted_at = submitted_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            if self.duedate is not None and submitted_at > self.duedate:
                row.late_seconds = (submitted_at - self.duedate).total_seconds()
                if self.late_policy == "zero":
                    row.penalty, row.score = row.score, 0.0
        return row

    def write_csv(self, rows: list[Row], path: pathlib.Path) -> None:
        write_csv(rows, list(self.points), path)


def write_csv(rows: list[Row], grade_ids: list[str], path: pathlib.Path) -> None:
    """One row per student; nothing run-dependent (no times), so re-grades give identical files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["student", "status", "score", "max_score", *grade_ids, "submitted_at", "late_by_minutes",
                    "late_penalty", "flags", "message"])
        for r in rows:
            w.writerow([r.student, r.status, f"{r.score:g}", f"{r.max_score:g}",
                        *[f"{r.cells.get(g, 0.0):g}" for g in grade_ids], r.submitted_at,
                        f"{r.late_seconds / 60:.1f}" if r.late_seconds else "", f"{r.penalty:g}" if r.penalty else "",
                        "; ".join(r.flags), r.message])


def summary(rows: list[Row], reused: int, isolation: list[str]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines = [f"{len(rows)} submissions ({reused} unchanged since the last run, not re-graded)"]
    lines += [f"  {status:<18} {n}" for status, n in sorted(counts.items())]
    slow = sorted(rows, key=lambda r: -r.seconds)[:5]
    lines.append("slowest: " + ", ".join(f"{r.student} {r.seconds:.1f} s" for r in slow if r.seconds > 0))
    lines += [f"isolation: {text}" for text in isolation]
    return "\n".join(lines) + "\n"


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="grading", unit="nb", disable=not enabled, file=sys.stderr)


def grade(assignment: str, submissions: pathlib.Path, workspace: pathlib.Path, csv_path: pathlib.Path | None = None,
          jobs: int | None = None, force: bool = False, limits: sandbox.Limits | None = None,
          db_url: str | None = None, dask_scheduler: str | None = None, progress: bool = False,
          late_policy: str = "none", course_dir: pathlib.Path | None = None) -> list[Row]:
    """Grade `submissions` of `assignment` in `workspace`; returns the rows of the grades CSV.
    `course_dir`: the course whose solutions/ holds the assignment (default: this repository)."""
    grader = Grader(assignment, workspace, limits, db_url, late_policy, course_dir)
    rows = grader.grade(submissions, jobs=jobs, force=force, dask_scheduler=dask_scheduler, progress=progress)
    if csv_path is not None:
        grader.write_csv(rows, pathlib.Path(csv_path))
    return rows
