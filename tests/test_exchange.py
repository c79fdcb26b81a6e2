"""The nbgrader exchange round trip, as a course on a JupyterHub runs it, on one machine.

The instructor releases to a temporary exchange with a due date; two students, each a separate Unix user
with a private home, fetch, work and submit (bob a second time, after the due date); the instructor collects,
grades in parallel and releases feedback; each student fetches back the feedback they earned, and neither
can read the other's work.
"""
from __future__ import annotations

import csv
import importlib
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import course, nbtools, sandbox

A = "ex1_initialization"
COURSE = "initnorm-test"
BIN = pathlib.Path(sys.executable).parent
STUDENT_CONFIG = """c = get_config()
c.Exchange.root = {exchange!r}
c.CourseDirectory.course_id = {course!r}
"""

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]  # one grading run at a time as root
AS_ROOT = os.geteuid() == 0  # students are separate Unix users; without root, separate homes and $USER only


def instructor(*args: str, root: pathlib.Path, exchange: pathlib.Path) -> str:
    cmd = [sys.executable, "-m", "autograder", *args, "--workspace", str(root)]
    if args[0] != "grade":
        cmd += ["--exchange", str(exchange), "--course", COURSE]
    done = subprocess.run(cmd, cwd=course.ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Student:
    def __init__(self, name: str, base: pathlib.Path, exchange: pathlib.Path):
        self.user = f"initnorm-{name}"
        if AS_ROOT and subprocess.run(["id", self.user], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", self.user], check=True)
        pw = pwd.getpwnam(self.user) if AS_ROOT else pwd.getpwuid(os.getuid())
        self.home = base / name
        (self.home / ".jupyter").mkdir(parents=True)
        (self.home / ".jupyter" / "nbgrader_config.py").write_text(
            STUDENT_CONFIG.format(exchange=str(exchange), course=COURSE))
        for p in [self.home, *self.home.rglob("*")]:
            os.chown(p, pw.pw_uid, pw.pw_gid)
        self.home.chmod(0o700)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        """`cmd` as this student. Through the grader's jail, which only switches user here (nothing hidden),
        because the Python of this machine may sit under /root, which other users cannot enter: the jail
        bind-mounts it in, the way a hub makes its Python reachable for every user."""
        env = {"HOME": str(self.home), "USER": self.user, "PATH": f"{BIN}:/usr/bin:/bin", "LANG": "C.UTF-8"}
        if AS_ROOT:
            iso = sandbox.Isolation(self.user, self.uid, self.gid, hide=["/root"], namespaces=True)
            cmd = tuple(sandbox.wrap_command(iso, sandbox.Limits(), str(self.home), list(cmd)))
        done = subprocess.run(cmd, env=env, cwd=self.home, capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"{self.user}: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
        return done

    def nbgrader(self, *args: str) -> str:
        done = self.run(sys.executable, "-m", "nbgrader", *args)
        return done.stdout + done.stderr

    def work(self, code: dict[str, str] | None) -> None:
        """Fill the fetched notebook (None: hand it in untouched), as the student, in their home."""
        path = self.home / A / f"{A}.ipynb"
        nb = nbtools.read(path)
        if code is not None:
            nb = nbtools.fill(nb, code)
        nbformat.write(nb, path)
        os.chown(path, self.uid, self.gid)

    def can_read(self, path: pathlib.Path) -> bool:
        probe = "import os, sys; p = sys.argv[1]; os.listdir(p) if os.path.isdir(p) else open(p).read()"
        return self.run(sys.executable, "-c", probe, str(path), check=False).returncode == 0


@pytest.fixture(scope="module")
def trip():
    base = pathlib.Path(tempfile.mkdtemp(prefix="initnorm-exchange-"))
    base.chmod(0o711)  # students can pass through to their own home and the exchange, not list the rest
    exchange, root = base / "exchange", base / "course"
    try:
        yield base, exchange, root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_release_fetch_submit_collect_grade_feedback(trip):
    base, exchange, root = trip
    source = nbtools.read(course.SOLUTIONS / A / f"{A}.ipynb")
    reference = nbtools.reference_code(source)
    points = nbtools.graded_cells(source)
    partly_wrong = importlib.import_module(f"tests.catalogue.{A}").WRONG[0]
    # released with a due date a day ahead; once both have submitted, the instructor moves it to that moment
    # (as an extension that ends now), so that no wall-clock window has to hold on a loaded machine
    ahead = datetime.now(timezone.utc) + timedelta(days=1)
    out = instructor("exchange-release", A, "--duedate", ahead.strftime("%Y-%m-%d %H:%M:%S UTC"),
                     root=root, exchange=exchange)
    assert "Released as" in out or "released" in out.lower(), out
    alice, bob = Student("alice", base, exchange), Student("bob", base, exchange)

    for s in (alice, bob):
        s.nbgrader("fetch_assignment", A)
        assert (s.home / A / f"{A}.ipynb").is_file(), f"{s.user} fetched nothing"
    alice.work(reference)
    alice.nbgrader("submit", A)
    bob.work(None)  # bob hands in the untouched notebook before the due date...
    bob.nbgrader("submit", A)
    time.sleep(1.5)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_assignment(A).duedate is not None, "exchange-release did not store the due date"
        gb.update_or_create_assignment(A, duedate=datetime.now(timezone.utc).replace(tzinfo=None))
    time.sleep(6.5)  # late by at least 0.1 minute, the CSV's resolution
    bob.work(partly_wrong.apply(reference))  # ...then a partly wrong one after it, which replaces the first
    bob.nbgrader("submit", A)

    instructor("collect", A, root=root, exchange=exchange)
    assert sorted(p.name for p in (root / "submitted").iterdir()) == [alice.user, bob.user]
    instructor("grade", A, str(root / "submitted"), "--jobs", "2", "--quiet", root=root, exchange=exchange)
    rows = {r["student"]: r for r in csv.DictReader((root / f"grades-{A}.csv").open())}
    total = sum(points.values())
    assert rows[alice.user]["score"] == f"{total:g}" and rows[alice.user]["late_by_minutes"] == "", rows[alice.user]
    bob_row = rows[bob.user]
    assert 0 < float(bob_row["score"]) < total, f"bob's graded notebook is not his late one: {bob_row}"
    for gid in partly_wrong.fails:
        assert float(bob_row[gid]) == 0.0, (gid, bob_row)
    assert float(bob_row["late_by_minutes"]) > 0 and bob_row["submitted_at"], bob_row
    assert bob_row["late_penalty"] == "", "the default late policy keeps the points"

    instructor("feedback", A, root=root, exchange=exchange)
    for s, row in ((alice, rows[alice.user]), (bob, rows[bob.user])):
        s.nbgrader("fetch_feedback", A)
        pages = sorted((s.home / A / "feedback").glob(f"*/{A}.html"))
        assert pages, f"{s.user} fetched no feedback"
        html = pages[-1].read_text()
        assert f"{row['score']} / {total:g}" in html, f"{s.user}'s feedback does not show {row['score']}/{total}"
        assert "BEGIN HIDDEN TESTS" not in html

    late_policy_zero_scores_the_late_submission_0_and_says_why(root, exchange)
    if not AS_ROOT:
        return  # one Unix user plays both students here: what they may read is only testable as root
    # privacy: bob cannot see alice's home, the exchange's submissions or its feedback folder
    inbound = exchange / COURSE / "inbound"
    alice_submission = next(p for p in inbound.iterdir() if p.name.startswith(alice.user + "+"))
    assert alice.can_read(alice.home / A / f"{A}.ipynb")  # the probe itself works
    for target in (alice.home, alice.home / A / f"{A}.ipynb", inbound, exchange / COURSE / "feedback", root):
        assert not bob.can_read(target), f"bob can read {target}"
    # the folder name holds a random part: bob cannot guess alice's submission even though he cannot list
    assert len(alice_submission.name.split("+")[-1]) >= 8


def late_policy_zero_scores_the_late_submission_0_and_says_why(root: pathlib.Path, exchange: pathlib.Path) -> None:
    """The same collected class graded again with `--late-policy zero` (part of the round trip: it needs its
    submissions, and a separate test could land on another worker or after the folder is gone)."""
    instructor("grade", A, str(root / "submitted"), "--late-policy", "zero", "--quiet", root=root, exchange=exchange)
    rows = {r["student"]: r for r in csv.DictReader((root / f"grades-{A}.csv").open())}
    late = [r for r in rows.values() if r["late_by_minutes"]]
    on_time = [r for r in rows.values() if not r["late_by_minutes"]]
    assert len(late) == 1 and len(on_time) == 1, rows
    assert late[0]["score"] == "0" and float(late[0]["late_penalty"]) > 0, late[0]
    assert float(on_time[0]["score"]) > 0 and on_time[0]["late_penalty"] == "", on_time[0]
