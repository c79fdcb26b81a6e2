"""A whole term on a real JupyterHub (autograder/hub: PAM logins, each user's JupyterLab run as that user, the
nbgrader exchange), driven in Chromium, graded into a PostgreSQL gradebook.

The instructor releases ex1_initialization with a due date. alice and bob log in with their passwords; each
fetches the assignment in the Assignments panel. alice writes the reference solution (through the contents
API), presses Validate and submits from the panel; bob submits the untouched notebook, then after the due date
a partly wrong one, which replaces it. The instructor collects, grades with `python -m autograder grade --db
postgresql://...` and releases feedback; each student fetches it in the panel and reads their own score.
Along the way: a wrong password is refused, each role sees its own tools, alice cannot open bob's notebook,
submissions or feedback, and grading again against the same gradebook gives the same CSV byte for byte.
"""
from __future__ import annotations

import csv
import fcntl
import importlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pytest

from autograder import course, nbtools
from autograder.hub import accounts
from autograder.hub.postgres import Postgres
from autograder.hub.server import Hub, stop_leftovers
from tests.hub.hubdriver import HubUser
from tests.browser.labdriver import launch

pytestmark = [pytest.mark.hub, pytest.mark.slow]
A = "ex1_initialization"
NB = f"{A}/{A}.ipynb"
PREFIX = "initnorm-hubtest-"
NAMES = {"alice": "hubtest-alice", "bob": "hubtest-bob", "teacher": "hubtest-teacher"}
SHOTS = os.environ.get("HUB_SCREENSHOTS", "")


@pytest.fixture(scope="module")
def term():
    if os.geteuid() != 0:
        pytest.fail("the hub test makes Unix users and runs JupyterHub with PAM: run it as root (make test-hub)")
    lock = open(pathlib.Path(tempfile.gettempdir()) / f"{PREFIX}lock", "w")
    try:  # its accounts have fixed names, and it clears what an earlier run left: one run at a time
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pytest.fail("another hub test is running on this machine; run this one after it")
    for old in pathlib.Path(tempfile.gettempdir()).glob(PREFIX + "*/"):  # left by a run that was killed
        stop_leftovers(old)
        Postgres(old / "postgres").stop()
        shutil.rmtree(old, ignore_errors=True)
    for name in NAMES.values():
        accounts.remove(name)
    base = pathlib.Path(tempfile.mkdtemp(prefix=PREFIX))
    base.chmod(0o711)  # users pass through to their home and the exchange; nobody lists the rest
    homes = base / "home"
    homes.mkdir(mode=0o711)
    pg = Postgres(base / "postgres")
    made = [accounts.ensure(NAMES["alice"], "student", homes), accounts.ensure(NAMES["bob"], "student", homes),
            accounts.ensure(NAMES["teacher"], "instructor", homes)]
    hub = Hub(base, base / "exchange", made, singleuser_args=["--LabApp.expose_app_in_browser=True"])
    from playwright.sync_api import sync_playwright

    try:
        pg.start()
        hub.start()
        with sync_playwright() as p:
            browser = launch(p)
            yield Term(base, hub, pg, {a.name: a for a in made}, browser)
            browser.close()
    finally:
        hub.stop()
        pg.stop()
        for name in NAMES.values():
            accounts.remove(name)
        shutil.rmtree(base, ignore_errors=True)
        lock.close()


class Term:
    def __init__(self, base, hub, pg, made, browser):
        self.base, self.hub, self.pg, self.accounts, self.browser = base, hub, pg, made, browser
        self.root, self.exchange = base / "course", base / "exchange"
        self.users: dict[str, HubUser] = {}
        self.shots = base / "screenshots"
        self.shots.mkdir()

    def instructor(self, *args: str, db: bool = True) -> str:
        """The course's command, as the instructor runs it (as root: grading isolates student code)."""
        cmd = [sys.executable, "-m", "autograder", *args, "--workspace", str(self.root)]
        if args[0] != "grade":
            cmd += ["--exchange", str(self.exchange), "--course", "initnorm"]
        cmd += ["--db", self.pg.url] if db else []
        env = dict(os.environ, **self.pg.environ(), PATH=f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}")
        done = subprocess.run(cmd, cwd=course.ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def login(self, who: str) -> HubUser:
        user = HubUser(self.browser, self.hub.url, NAMES[who])
        status = user.submit_login(self.accounts[NAMES[who]].password)
        assert status in (200, 302), f"{who}'s login answered {status}"
        self.users[who] = user
        return user

    def shot(self, user: HubUser, name: str) -> None:
        path = self.shots / f"{name}.png"
        user.page.screenshot(path=str(path))
        if SHOTS:
            pathlib.Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, pathlib.Path(SHOTS) / path.name)


def grades(root: pathlib.Path) -> dict[str, dict]:
    return {r["student"]: r for r in csv.DictReader(io.StringIO((root / f"grades-{A}.csv").read_text()))}


def test_a_wrong_password_is_refused(term):
    intruder = HubUser(term.browser, term.hub.url, NAMES["alice"])
    try:
        assert intruder.submit_login("not-" + term.accounts[NAMES["alice"]].password) == 403
        intruder.page.get_by_text("Invalid username or password").wait_for(state="visible", timeout=30_000)
        status, _ = intruder.get(f"/hub/api/users/{NAMES['alice']}")
        assert status == 403, f"a refused login still reaches the hub's API ({status})"
        assert intruder.get(f"/user/{NAMES['alice']}/api/contents")[0] in (403, 404) or \
            "/hub/login" in intruder.page.url
    finally:
        intruder.close()


T0 = time.monotonic()


def lap(what: str) -> None:
    print(f"{time.monotonic() - T0:6.1f} s  {what}", flush=True)


def test_the_term(term):
    source = nbtools.read(course.SOLUTIONS / A / f"{A}.ipynb")
    reference = nbtools.reference_code(source)
    total = sum(nbtools.graded_cells(source).values())
    partly_wrong = importlib.import_module(f"tests.catalogue.{A}").WRONG[0]
    release = nbtools.read(course.EXERCISES / A / f"{A}.ipynb")
    alice, bob = term.login("alice"), term.login("bob")  # the hub starts both servers at once
    for user in (alice, bob):
        user.wait_for_lab()
    check_roles(term, alice)
    lap("logged in, roles checked")

    # released with a due date a day ahead; after the first grading the instructor moves it to that moment, so
    # that no wall-clock window has to hold on a loaded machine
    ahead = datetime.now(timezone.utc) + timedelta(days=1)
    term.instructor("exchange-release", A, "--duedate", ahead.strftime("%Y-%m-%d %H:%M:%S UTC"))
    for user in (alice, bob):
        user.open_assignments()
        assert user.row("released", A).count() == 1, f"{user.name} does not see {A} released"
        user.press("released", A, "fetch", then="fetched")
    bob.press("fetched", A, "Submit", then="submitted")  # bob hands in the untouched notebook at once...
    # alice writes the reference solution, bob (working on) a partly wrong one; both press Validate
    alice.write_notebook(NB, json.loads(json.dumps(nbtools.fill(release, reference))))
    alice.open_notebook(NB)
    alice.start_validate()
    bob.write_notebook(NB, json.loads(json.dumps(nbtools.fill(release, partly_wrong.apply(reference)))))
    bob.open_notebook(NB)
    bob.start_validate()
    text = alice.validate_result()
    assert "Success! Your notebook passes all the tests." in text, text[:2000]
    alice.open_assignments()  # Submit in the panel, with screenshots before and after
    term.shot(alice, "hub_assignments_before_submit")
    alice.press("fetched", A, "Submit", then="submitted")
    assert len(alice.wait_for_submissions(A, 1)) == 1, alice.submissions(A)
    term.shot(alice, "hub_assignments_after_submit")
    lap("on time: both submitted")
    text = bob.validate_result()
    assert "Success" not in text and "failed" in text, text[:2000]

    # before the due date the instructor grades what came in: bob's untouched notebook earns nothing
    rows = collect_and_grade(term)
    assert rows[alice.name]["score"] == f"{total:g}" and rows[alice.name]["late_by_minutes"] == "", rows[alice.name]
    assert rows[bob.name]["score"] == "0" and rows[bob.name]["late_by_minutes"] == "", rows[bob.name]
    check_privacy(alice, bob, feedback=False)
    lap("graded the on-time submissions")
    move_due_date_to_now(term)
    bob.open_assignments()
    bob.press("fetched", A, "Submit", then="submitted")  # late: replaces the first
    assert len(bob.wait_for_submissions(A, 2)) == 2, bob.submissions(A)

    rows = collect_and_grade(term)
    assert rows[alice.name]["score"] == f"{total:g}" and rows[alice.name]["late_by_minutes"] == "", rows[alice.name]
    late = rows[bob.name]
    assert 0 < float(late["score"]) < total, f"bob's graded notebook is not his late one: {late}"
    assert all(float(late[gid]) == 0.0 for gid in partly_wrong.fails), late
    assert float(late["late_by_minutes"]) > 0 and late["submitted_at"] and late["late_penalty"] == "", late
    first_csv = (term.root / f"grades-{A}.csv").read_bytes()
    lap("graded the late submission")

    term.instructor("feedback", A)
    for user, row in ((alice, rows[alice.name]), (bob, rows[bob.name])):
        page_text = fetch_and_read_feedback(term, user)
        assert f"Score: {row['score']} / {total:g}" in page_text, f"{user.name} reads {page_text[:300]!r}"
        assert "BEGIN HIDDEN TESTS" not in page_text
    check_privacy(alice, bob, feedback=True)
    lap("feedback read")

    # grading again, everything re-done, into the same PostgreSQL gradebook: the same CSV, byte for byte
    term.instructor("grade", A, str(term.root / "submitted"), "--jobs", "2", "--quiet", "--force")
    lap("graded again")
    assert (term.root / f"grades-{A}.csv").read_bytes() == first_csv
    from nbgrader.api import Gradebook

    os.environ.update(term.pg.environ())
    with Gradebook(term.pg.url) as gb:
        assert gb.find_submission(A, alice.name).score == total
        assert gb.find_submission(A, bob.name).score == float(late["score"])
        assert gb.find_assignment(A).duedate is not None


def move_due_date_to_now(term: Term) -> None:
    """The instructor sets the due date to this moment in the PostgreSQL gradebook (what formgrader's due date
    field does); what is submitted from now on is late."""
    from nbgrader.api import Gradebook

    time.sleep(1.5)
    os.environ.update(term.pg.environ())
    with Gradebook(term.pg.url) as gb:
        assert gb.find_assignment(A).duedate is not None, "exchange-release did not store the due date"
        gb.update_or_create_assignment(A, duedate=datetime.now(timezone.utc).replace(tzinfo=None))
    time.sleep(6.5)  # late by at least 0.1 minute, the CSV's resolution


def collect_and_grade(term: Term) -> dict[str, dict]:
    """The instructor's collect (each student's latest submission) and grade, into the PostgreSQL gradebook."""
    term.instructor("collect", A)
    assert sorted(p.name for p in (term.root / "submitted").iterdir()) == sorted([NAMES["alice"], NAMES["bob"]])
    term.instructor("grade", A, str(term.root / "submitted"), "--jobs", "2", "--quiet")
    return grades(term.root)


def fetch_and_read_feedback(term: Term, user: HubUser) -> str:
    """Fetch Feedback in the panel, then open the page it brought into the home folder."""
    user.open_assignments()
    user.row("submitted", A).get_by_role("button", name="Fetch Feedback").click()
    user.page.wait_for_function(
        "() => [...document.querySelectorAll('#submitted_assignments_list a')].some(a => "
        "a.innerText.includes('view feedback'))", polling=250)
    status, listing = user.get(f"/user/{user.name}/api/contents/{A}/feedback")
    assert status == 200, (status, listing[:300])
    stamp = sorted(item["name"] for item in json.loads(listing)["content"])[-1]
    user.feedback_path = f"/user/{user.name}/files/{A}/feedback/{stamp}/{A}.html"
    user.page.goto(term.hub.url + user.feedback_path)
    user.page.locator(".feedback-summary").wait_for(state="visible")
    if user.name == NAMES["bob"]:
        term.shot(user, "hub_feedback")
    return user.page.locator("body").inner_text()


def check_roles(term: Term, student: HubUser) -> None:
    """A student's JupyterLab: the Assignments panel and Validate, no instructor tools, no news prompt; an
    instructor's: every nbgrader tool."""
    assert student.menu_items("Nbgrader") == ["Assignment List"], student.menu_items("Nbgrader")
    assert not any("Create Assignment" in t for t in student.sidebar_tabs()), student.sidebar_tabs()
    assert student.get(f"/user/{student.name}/formgrader")[0] == 404, "a student's server serves the formgrader"
    news = student.setting("@jupyterlab/apputils-extension:notification")  # the defaults the user starts from
    assert news["fetchNews"] == "false" and news["checkForUpdates"] is False, news
    assert "official Jupyter news" not in student.page.locator("body").inner_text()

    teacher = term.login("teacher")
    teacher.wait_for_lab()
    items = teacher.menu_items("Nbgrader")
    assert {"Assignment List", "Course List", "Formgrader", "Create assignment"} <= set(items), items
    assert any("Create Assignment" in t for t in teacher.sidebar_tabs()), teacher.sidebar_tabs()
    assert teacher.get(f"/user/{teacher.name}/formgrader")[0] == 200
    assert teacher.setting("@jupyterlab/apputils-extension:notification")["fetchNews"] == "false"
    assert student.get(f"/user/{teacher.name}/formgrader")[0] == 403, "a student reaches the instructor's server"
    teacher.close()


def check_privacy(alice: HubUser, bob: HubUser, feedback: bool) -> None:
    """alice asks the hub for bob's notebook, his submissions (his Assignments panel's data) and his feedback."""
    own = alice.get(f"/user/{alice.name}/api/contents/{NB}")
    assert own[0] == 200, f"alice cannot open her own notebook ({own[0]}): the check below would prove nothing"
    targets = [f"/user/{bob.name}/api/contents/{NB}", f"/user/{bob.name}/files/{NB}",
               f"/user/{bob.name}/assignments?course_id=initnorm", f"/user/{bob.name}/lab/tree/{NB}"]
    if feedback:
        targets.append(bob.feedback_path)
        assert bob.get(bob.feedback_path)[0] == 200, "bob cannot open his own feedback"
    for path in targets:
        status, body = alice.get(path)
        assert status in (403, 404), f"alice got {status} for bob's {path}"
        assert '"nbformat"' not in body and "def compute_fans" not in body and "Score:" not in body, body[:500]
    listing = json.loads(alice.get(f"/user/{alice.name}/assignments?course_id=initnorm")[1])
    assert bob.name not in json.dumps(listing), "alice's Assignments panel lists something of bob's"
