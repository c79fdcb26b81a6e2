"""The instructor's grading command, driven as an instructor would, against honest and hostile submissions.

The pipeline's mechanics (parallel = serial, re-runs, kill and resume, Dask, the hostile batch) are tested on a
fixture course (tests/fixtures/course: one assignment that executes in about a second); one real class of
exercise 1 is graded end to end (CSV, gradebook, feedback).
"""
from __future__ import annotations

import csv
import importlib
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid
import zipfile

import nbformat
import pytest

from autograder import course, nbtools, run, sandbox
from tests.notebooks import ROOT

A = "ex1_initialization"  # the real exercise of the end-to-end class
FIXTURE = ROOT / "tests" / "fixtures" / "course"
FX = "fx_stats"  # the fixture course's assignment
SOURCE = course.source_notebook(FX, FIXTURE)
RELEASE = FIXTURE / "exercises" / FX / f"{FX}.ipynb"
# tight limits, so that the hostile corpus finishes quickly (the fixture executes in about a second)
LIMITS = sandbox.Limits(cell_timeout=8, wall=30, memory_mb=2048, output_kb=256, nproc=128, file_mb=64)
pytestmark = pytest.mark.xdist_group("grading")  # as root one grading run goes at a time (slot users)


def points() -> dict[str, int]:
    return nbtools.graded_cells(nbtools.read(SOURCE))


def full() -> float:
    return float(sum(points().values()))


def reference() -> nbformat.NotebookNode:
    return nbtools.fill(nbtools.read(RELEASE), nbtools.reference_code(nbtools.read(SOURCE)))


def wrong() -> nbformat.NotebookNode:
    """A realistic mistake: the sample variance (n - 1) where the population variance is asked for."""
    code = nbtools.reference_code(nbtools.read(SOURCE))
    code["variance"] = code["variance"].replace("/ len(xs)", "/ (len(xs) - 1)")
    return nbtools.fill(nbtools.read(RELEASE), code)


def with_cell(nb, code: str, at: int = 0):
    nb = nbformat.from_dict(nb)
    nb.cells.insert(at if at >= 0 else len(nb.cells), nbformat.v4.new_code_cell(code))
    return nb


def cell_index(nb, predicate) -> int:
    return next(i for i, c in enumerate(nb.cells) if predicate(nbtools.nbgrader_meta(c)))


def first_test(nb) -> int:
    return cell_index(nb, lambda m: m.get("grade") and not m.get("solution"))


def first_solution(nb) -> int:
    return cell_index(nb, lambda m: m.get("solution"))


def write(folder: pathlib.Path, name: str, nb) -> None:
    nbformat.write(nb, folder / f"{name}.ipynb")


def read_csv(path: pathlib.Path) -> dict[str, dict]:
    return {r["student"]: r for r in csv.DictReader(path.open())}


@pytest.mark.slow  # runs nbgrader
def test_the_fixture_release_is_what_nbgrader_generates(tmp_path):
    fresh = course.release(FX, dest=tmp_path, root=FIXTURE)
    assert (fresh / f"{FX}.ipynb").read_bytes() == RELEASE.read_bytes(), \
        "tests/fixtures/course/exercises is stale: python -m autograder --course-dir tests/fixtures/course release"
    assert float(sum(points().values())) == 5 and wrong() != reference()


# ------------------------------------------------------------------ submissions in every form
def test_collect_reads_a_flat_folder_a_submitted_tree_and_a_zip(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "s1.ipynb").write_text("{}")
    (flat / "notes.txt").write_text("ignored")
    tree = tmp_path / "submitted"
    (tree / "s2" / A).mkdir(parents=True)
    (tree / "s2" / A / f"{A}.ipynb").write_text("{}")
    (tree / "s3" / A).mkdir(parents=True)  # a student who submitted no notebook
    assert run.collect(flat, A, tmp_path / "u1") == {"s1": flat / "s1.ipynb"}
    assert run.collect(tree, A, tmp_path / "u2") == {"s2": tree / "s2" / A / f"{A}.ipynb",
                                                     "s3": tree / "s3" / A / f"{A}.ipynb"}
    with zipfile.ZipFile(tmp_path / "lms.zip", "w") as z:
        z.writestr("export/s4.ipynb", "{}")
        z.writestr("export/s5.ipynb", "{}")
    found = run.collect(tmp_path / "lms.zip", A, tmp_path / "u3")
    assert sorted(found) == ["s4", "s5"] and found["s4"].read_text() == "{}"


def test_collect_refuses_a_zip_that_writes_outside_and_a_missing_folder(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../../escaped.ipynb", "{}")
    with pytest.raises(SystemExit, match="outside"):
        run.collect(tmp_path / "evil.zip", A, tmp_path / "u")
    with pytest.raises(SystemExit, match="neither a folder"):
        run.collect(tmp_path / "nowhere", A, tmp_path / "u")
    with pytest.raises(SystemExit, match="unknown assignment 'ex9'"):
        course.prepare_workspace("ex9", tmp_path)


def test_fill_rejects_an_unknown_solution_cell():
    with pytest.raises(KeyError, match="no solution cell"):
        nbtools.fill(nbtools.read(RELEASE), {"not_a_cell": "pass"})


# ------------------------------------------------------------------ an honest class
def honest_class(subs: pathlib.Path, ref, bad, release) -> pathlib.Path:
    write(subs, "alice", ref)
    write(subs, "bob", bad)
    write(subs, "carol", release)  # handed in untouched
    (subs / "dave.ipynb").write_text('{"cells": [')  # a truncated upload
    write(subs, "erin", ref)
    return subs


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> pathlib.Path:
    """The class on the fixture course."""
    return honest_class(tmp_path_factory.mktemp("honest"), reference(), wrong(), nbtools.read(RELEASE))


def grade_cli(subs, ws, *extra, assignment=FX, course_dir=FIXTURE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--course-dir", str(course_dir), "grade", assignment,
                           str(subs), "--workspace", str(ws), "--quiet", *extra], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


def check_class_results(ws: pathlib.Path, assignment: str, source: pathlib.Path) -> None:
    """CSV, gradebook, feedback and summary of an honest class (alice and erin right, bob wrong, carol untouched,
    dave unreadable)."""
    pts = nbtools.graded_cells(nbtools.read(source))
    top = float(sum(pts.values()))
    rows = read_csv(ws / f"grades-{assignment}.csv")
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["score"]) == top
    assert all(float(rows["alice"][g]) == p for g, p in pts.items())
    assert float(rows["bob"]["score"]) < top and float(rows["carol"]["score"]) == 0
    assert rows["dave"]["status"] == "invalid notebook" and rows["dave"]["message"]
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{ws / 'gradebook.db'}") as gb:
        assert gb.find_submission(assignment, "alice").score == top
        assert gb.find_submission(assignment, "bob").score == float(rows["bob"]["score"])
    # feedback: one page per graded student, with hidden tests' verdicts but not their source
    hidden = [line.strip() for c in nbtools.read(source).cells for block in _hidden_blocks(c.source)
              for line in block if len(line.strip()) > 15]
    assert hidden, "the assignment has hidden tests"
    for student in ("alice", "bob", "carol", "erin"):
        page = (ws / "feedback" / student / assignment / f"{assignment}.html").read_text()
        assert "hidden tests: " in page
        leaked = [line for line in hidden if line in page or _html_escape(line) in page]
        assert not leaked, f"hidden test source in {student}'s feedback: {leaked[:2]}"
    summary = (ws / f"summary-{assignment}.txt").read_text()
    assert "5 submissions" in summary and "invalid notebook   1" in summary and "slowest:" in summary


@pytest.mark.slow
def test_a_real_class_of_exercise_1_end_to_end(tmp_path):
    """One class of the real exercise 1 (the reference twice, a catalogued mistake, the untouched release, a
    truncated file), graded by the instructor's command: CSV, gradebook, feedback, summary."""
    source = course.source_notebook(A)
    release = nbtools.read(course.EXERCISES / A / f"{A}.ipynb")
    reference_code = nbtools.reference_code(nbtools.read(source))
    mistake = importlib.import_module(f"tests.catalogue.{A}").WRONG[0]
    (tmp_path / "subs").mkdir()
    subs = honest_class(tmp_path / "subs", nbtools.fill(release, reference_code),
                        nbtools.fill(release, mistake.apply(reference_code)), release)
    done = grade_cli(subs, tmp_path / "ws", "--jobs", "2", assignment=A, course_dir=ROOT)
    assert done.returncode == 0, done.stderr
    check_class_results(tmp_path / "ws", A, source)
    assert "isolation:" in done.stdout


def grade_fixture(subs, ws, **options) -> str:
    """The fixture class graded in this process (run.grade, what the command calls); returns the summary."""
    run.grade(FX, subs, ws, course_dir=FIXTURE, **options)
    return (ws / f"summary-{FX}.txt").read_text()


@pytest.fixture(scope="module")
def serial(honest, tmp_path_factory) -> tuple[pathlib.Path, bytes]:
    """The fixture class graded once with one job: the workspace and its CSV, which every other way of grading the
    same class must reproduce byte for byte (parallel, re-run, killed and resumed, Dask)."""
    ws = tmp_path_factory.mktemp("serial") / "ws"
    summary = grade_fixture(honest, ws, jobs=1)
    assert "isolation:" in summary
    check_class_results(ws, FX, SOURCE)
    return ws, (ws / f"grades-{FX}.csv").read_bytes()


@pytest.mark.slow
def test_parallel_grading_equals_a_serial_run(honest, serial, tmp_path):
    summary = grade_fixture(honest, tmp_path / "parallel", jobs=2)
    assert (tmp_path / "parallel" / f"grades-{FX}.csv").read_bytes() == serial[1]
    check_class_results(tmp_path / "parallel", FX, SOURCE)
    assert "isolation:" in summary


@pytest.mark.slow
def test_rerun_skips_unchanged_submissions_and_force_regrades_identically(honest, serial):
    ws, first_csv = serial  # the last user of the serial workspace (the others only read its CSV's bytes)
    again = grade_fixture(honest, ws, jobs=2)
    assert "(5 unchanged since the last run" in again, again
    forced = grade_fixture(honest, ws, jobs=2, force=True)
    assert "(0 unchanged" in forced and (ws / f"grades-{FX}.csv").read_bytes() == first_csv


@pytest.mark.slow
def test_a_run_killed_half_way_resumes_to_the_same_csv(honest, serial, tmp_path):
    ws = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "--course-dir", str(FIXTURE), "grade", FX,
                             str(honest), "--workspace", str(ws), "--jobs", "1", "--quiet"], cwd=ROOT,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = ws / "results" / FX
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(list(results.glob("*.json"))) < 5, "the kill did not land half way"
    grade_fixture(honest, ws, jobs=2)
    assert (ws / f"grades-{FX}.csv").read_bytes() == serial[1]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_csv(honest, serial, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        grade_fixture(honest, tmp_path / "dask", dask_scheduler=cluster.scheduler_address)
    assert (tmp_path / "dask" / f"grades-{FX}.csv").read_bytes() == serial[1]


# ------------------------------------------------------------------ a hostile class
MARK = uuid.uuid4().hex[:8]
OUTSIDE = [ROOT / f"pwned-{MARK}.txt", pathlib.Path(f"/tmp/pwned-{MARK}.txt")]


def hostile_corpus(ws: pathlib.Path) -> dict[str, tuple[object, str, str]]:
    """student -> (notebook | raw text | None for a missing one, expected status, expected score)."""
    ref, rel = reference(), nbtools.read(RELEASE)
    t, s = first_test(ref), first_solution(ref)

    def changed(nb, index, **changes):
        nb = nbformat.from_dict(nb)
        for key, value in changes.items():
            if key == "points":
                nb.cells[index].metadata.nbgrader.points = value
            elif key == "grade_id":
                nb.cells[index].metadata.nbgrader.grade_id = value
            elif key == "cell_type":
                old = nb.cells[index]
                nb.cells[index] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata)
            elif key == "source":
                nb.cells[index].source = value
        return nb

    dup = nbformat.from_dict(ref)
    dup.cells.insert(t + 1, changed(ref, t, source="pass").cells[t])
    deleted = nbformat.from_dict(ref)
    del deleted.cells[t]
    secrets = [ws / "gradebook.db", SOURCE, ws / "results", pathlib.Path("/root")]
    peek = "\n".join(f"try:\n    open({str(p)!r}, 'rb').read(1); print('LEAK {p}')\nexcept Exception: pass"
                     for p in secrets if p.suffix)
    # a listing may show only the way to what the kernel needs (Python under /root/.pyenv, the course's code)
    dirs = {d: sorted({pathlib.Path(e).relative_to(d).parts[0] for e in sandbox.EXPOSE
                       if e.startswith(d.rstrip("/") + "/")})
            for d in (str(ws), str(course.solutions(FIXTURE)), "/root")}
    peek += f"\nimport os\nfor d, needed in {dirs!r}.items():\n" \
            "    try:\n        extra = sorted(set(os.listdir(d)) - set(needed))\n" \
            "        print(f'LEAK {d}: {extra}' if extra else 'nothing to see')\n" \
            "    except OSError: print('nothing to see')  # not there at all"
    write_out = "\n".join(f"try:\n    open({str(p)!r}, 'w').write('x')\nexcept Exception: pass" for p in OUTSIDE)
    patch = ("import numpy, math, torch, builtins\nnumpy.allclose = lambda *a, **k: True\n"
             "numpy.isclose = lambda *a, **k: True\nmath.isclose = lambda *a, **k: True\n"
             "torch.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None\n")
    warn = "import warnings\nwarnings.warn('this API is deprecated')\n"
    return {
        "h01_invalid_json": ('{"cells": [', "invalid notebook", "zero"),
        "h02_empty_file": ("", "invalid notebook", "zero"),
        "h03_not_a_notebook": ('{"hello": "world"}', "invalid notebook", "zero"),
        "h04_missing_notebook": (None, "missing notebook", "zero"),
        "h05_duplicated_test_cell": (dup, "flagged", "full"),
        "h06_deleted_test_cell": (deleted, "flagged", "full"),
        "h07_test_cell_to_markdown": (changed(ref, t, cell_type="markdown"), "flagged", "full"),
        "h08_solution_to_markdown": (changed(ref, s, cell_type="markdown"), "flagged", "full"),
        "h09_edited_points": (changed(ref, t, points=1000), "flagged", "full"),
        "h10_edited_grade_id": (changed(ref, t, grade_id="free_points"), "flagged", "full"),
        "h11_edited_test_source": (changed(wrong(), first_test(wrong()), source="pass"), "flagged", "wrong"),
        "h12_infinite_loop": (with_cell(ref, "while True:\n    pass"), "graded", "full"),
        "h13_two_million_lines": (with_cell(ref, "for i in range(2_000_000):\n    print(i)"), "flagged", "full"),
        "h14_allocate_4gb": (with_cell(ref, "import numpy\nx = numpy.ones(4 * 2**30 // 8)"), "graded", "full"),
        "h15_fork_bomb": (with_cell(ref, "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                                         "            time.sleep(30)\n            os._exit(0)\n        n += 1\n"
                                         "except OSError:\n    print('fork refused after', n)"), "any", "any"),
        "h16_os_exit": (with_cell(ref, "import os\nos._exit(1)"), "kernel died", "zero"),
        "h17_sys_exit": (with_cell(ref, "import sys\nsys.exit()"), "graded", "full"),
        "h18_segfault": (with_cell(ref, "import ctypes\nctypes.string_at(0)"), "kernel died", "zero"),
        "h19_read_secrets": (with_cell(ref, peek), "graded", "full"),
        "h20_write_outside": (with_cell(ref, write_out), "graded", "full"),
        "h21_patch_comparisons": (with_cell(wrong(), patch), "flagged", "wrong"),
        "h22_correct_with_warning": (with_cell(ref, warn, at=-1), "graded", "full"),
        "h23_sleep_past_wall": (sleepy(ref), "wall-clock limit", "zero"),
        "h26_wrong_notebook_name": (ref, "flagged", "full"),
        "h24_wrong_but_honest": (wrong(), "graded", "wrong"),
        "h25_reference": (ref, "graded", "full"),
    }


def sleepy(nb):
    """Six cells that each sleep 2 s less than the cell timeout: every one within it, together past the
    wall-clock limit."""
    nb = nbformat.from_dict(nb)
    cells = LIMITS.wall // (LIMITS.cell_timeout - 2) + 1
    nb.cells[:0] = [nbformat.v4.new_code_cell(f"import time\ntime.sleep({LIMITS.cell_timeout - 2})")
                    for _ in range(cells)]
    return nb


def _hidden_blocks(source: str):
    block, inside = [], False
    for line in source.splitlines():
        if line.strip() == "### BEGIN HIDDEN TESTS":
            inside, block = True, []
        elif line.strip() == "### END HIDDEN TESTS":
            inside = False
            yield block
        elif inside:
            block.append(line)


def _html_escape(text: str) -> str:
    import html
    return html.escape(text)


@pytest.mark.slow
def test_hostile_submissions_each_get_their_status_and_nothing_aborts_the_batch(tmp_path):
    subs, ws = tmp_path / "subs", tmp_path / "ws"
    subs.mkdir()
    corpus = hostile_corpus(ws)
    for student, (content, _, _) in corpus.items():
        if content is None:
            (subs / student / FX).mkdir(parents=True)  # nbgrader tree entry without its notebook
        elif student == "h26_wrong_notebook_name":
            (subs / student / FX).mkdir(parents=True)
            nbformat.write(content, subs / student / FX / f"Copy of {FX}.ipynb")
        elif isinstance(content, str):
            (subs / f"{student}.ipynb").write_text(content)
        else:
            write(subs, student, content)
    rows = {r.student: r for r in run.grade(FX, subs, ws, jobs=2, limits=LIMITS, course_dir=FIXTURE)}
    assert sorted(rows) == sorted(corpus)
    wrong_score = rows["h24_wrong_but_honest"].score
    assert wrong_score < full()
    expected_score = {"zero": 0.0, "full": full(), "wrong": wrong_score}
    problems = []
    for student, (_, status, score) in corpus.items():
        row = rows[student]
        if status != "any" and row.status != status:
            problems.append(f"{student}: status {row.status!r}, expected {status!r} ({row.flags} {row.message})")
        if score != "any" and row.score != expected_score[score]:
            problems.append(f"{student}: score {row.score}, expected {expected_score[score]} ({row.cells})")
    assert not problems, "\n".join(problems)
    assert any(f.startswith("patched") and "numpy.allclose" in f for f in rows["h21_patch_comparisons"].flags)
    assert "output truncated" in rows["h13_two_million_lines"].flags
    assert any("renamed" in f for f in rows["h26_wrong_notebook_name"].flags)
    assert rows["h15_fork_bomb"].status in ("graded", "flagged", "kernel died", "cell timeout")
    executed = nbformat.read(ws / "autograded" / "h19_read_secrets" / FX / f"{FX}.ipynb", as_version=4)
    printed = "".join(out.get("text", "") for cell in executed.cells if cell.cell_type == "code"
                      for out in cell.outputs)
    if os.geteuid() == 0:  # with isolation: nothing was readable
        assert "LEAK" not in printed
        assert printed.count("nothing to see") == 3, "the listing cell did not run in the jail"
        assert not any(p.exists() for p in OUTSIDE), [p for p in OUTSIDE if p.exists()]
        leftovers = [pid for pid in os.listdir("/proc") if pid.isdigit() and
                     _owner(pid).startswith(sandbox.USER_PREFIX)]
        assert leftovers == [], "processes of the grading users survived the run"
    for p in OUTSIDE:
        p.unlink(missing_ok=True)


def _owner(pid: str) -> str:
    import pwd
    try:
        return pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name
    except (FileNotFoundError, KeyError):
        return ""
