"""The instructor's grading command, driven as an instructor would, against honest and hostile submissions."""
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
from notebooks import ROOT

A = "ex1_initialization"
SOURCE = course.SOLUTIONS / A / f"{A}.ipynb"
RELEASE = course.EXERCISES / A / f"{A}.ipynb"
# tight limits, so that the hostile corpus finishes quickly
LIMITS = sandbox.Limits(cell_timeout=25, wall=100, memory_mb=2048, output_kb=256, nproc=128, file_mb=64)


def points() -> dict[str, int]:
    return nbtools.graded_cells(nbtools.read(SOURCE))


def full() -> float:
    return float(sum(points().values()))


def reference() -> nbformat.NotebookNode:
    return nbtools.fill(nbtools.read(RELEASE), nbtools.reference_code(nbtools.read(SOURCE)))


def wrong() -> nbformat.NotebookNode:
    """The first catalogued wrong implementation."""
    v = importlib.import_module(f"catalogue.{A}").WRONG[0]
    return nbtools.fill(nbtools.read(RELEASE), v.apply(nbtools.reference_code(nbtools.read(SOURCE))))


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
@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> pathlib.Path:
    subs = tmp_path_factory.mktemp("honest")
    write(subs, "alice", reference())
    write(subs, "bob", wrong())
    write(subs, "carol", nbtools.read(RELEASE))  # handed in untouched
    (subs / "dave.ipynb").write_text('{"cells": [')  # a truncated upload
    write(subs, "erin", reference())
    return subs


def grade_cli(subs, ws, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", A, str(subs), "--workspace", str(ws),
                           "--quiet", *extra], cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_parallel_grading_writes_csv_gradebook_feedback_and_summary_equal_to_a_serial_run(honest, tmp_path):
    serial = grade_cli(honest, tmp_path / "serial", "--jobs", "1")
    parallel = grade_cli(honest, tmp_path / "parallel", "--jobs", "2")
    assert serial.returncode == 0 and parallel.returncode == 0, serial.stderr + parallel.stderr
    csv_serial = (tmp_path / "serial" / f"grades-{A}.csv").read_bytes()
    assert csv_serial == (tmp_path / "parallel" / f"grades-{A}.csv").read_bytes()
    rows = read_csv(tmp_path / "parallel" / f"grades-{A}.csv")
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["score"]) == full()
    assert all(float(rows["alice"][g]) == p for g, p in points().items())
    assert float(rows["bob"]["score"]) < full() and float(rows["carol"]["score"]) == 0
    assert rows["dave"]["status"] == "invalid notebook" and rows["dave"]["message"]
    # the gradebook holds the same scores
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{tmp_path / 'parallel' / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "alice").score == full()
        assert gb.find_submission(A, "bob").score == float(rows["bob"]["score"])
    # feedback: one page per graded student, with hidden tests' verdicts but not their source
    hidden = [line.strip() for c in nbtools.read(SOURCE).cells for block in _hidden_blocks(c.source)
              for line in block if len(line.strip()) > 15]
    assert hidden, "the assignment has hidden tests"
    for student in ("alice", "bob", "carol", "erin"):
        page = (tmp_path / "parallel" / "feedback" / student / A / f"{A}.html").read_text()
        assert "hidden tests: " in page
        leaked = [line for line in hidden if line in page or _html_escape(line) in page]
        assert not leaked, f"hidden test source in {student}'s feedback: {leaked[:2]}"
    summary = (tmp_path / "parallel" / f"summary-{A}.txt").read_text()
    assert "5 submissions" in summary and "invalid notebook   1" in summary and "slowest:" in summary
    assert "isolation:" in parallel.stdout


@pytest.mark.slow
def test_rerun_skips_unchanged_submissions_and_force_regrades_identically(honest, tmp_path):
    ws = tmp_path / "ws"
    first = grade_cli(honest, ws)
    first_csv = (ws / f"grades-{A}.csv").read_bytes()
    again = grade_cli(honest, ws)
    assert "(5 unchanged since the last run" in again.stdout, again.stdout
    for _ in range(2):  # three grades in all: byte-identical
        forced = grade_cli(honest, ws, "--force")
        assert "(0 unchanged" in forced.stdout and (ws / f"grades-{A}.csv").read_bytes() == first_csv
    assert first.returncode == 0


@pytest.mark.slow
def test_a_run_killed_half_way_resumes_to_the_same_csv(honest, tmp_path):
    whole = grade_cli(honest, tmp_path / "whole", "--jobs", "1")
    assert whole.returncode == 0
    ws = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", A, str(honest), "--workspace", str(ws),
                             "--jobs", "1", "--quiet"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = ws / "results" / A
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(list(results.glob("*.json"))) < 5, "the kill did not land half way"
    resumed = grade_cli(honest, ws, "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert (ws / f"grades-{A}.csv").read_bytes() == (tmp_path / "whole" / f"grades-{A}.csv").read_bytes()


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_csv(honest, tmp_path):
    from distributed import LocalCluster

    local = grade_cli(honest, tmp_path / "local", "--jobs", "2")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = grade_cli(honest, tmp_path / "dask", "--dask-scheduler", cluster.scheduler_address)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert (tmp_path / "dask" / f"grades-{A}.csv").read_bytes() == (tmp_path / "local" / f"grades-{A}.csv").read_bytes()


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
            for d in (str(ws), str(course.SOLUTIONS), "/root")}
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
    """Five cells of 24 s each: every one within the cell timeout, together past the wall-clock limit."""
    nb = nbformat.from_dict(nb)
    nb.cells[:0] = [nbformat.v4.new_code_cell("import time\ntime.sleep(24)") for _ in range(5)]
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
            (subs / student / A).mkdir(parents=True)  # nbgrader tree entry without its notebook
        elif student == "h26_wrong_notebook_name":
            (subs / student / A).mkdir(parents=True)
            nbformat.write(content, subs / student / A / f"Copy of {A}.ipynb")
        elif isinstance(content, str):
            (subs / f"{student}.ipynb").write_text(content)
        else:
            write(subs, student, content)
    rows = {r.student: r for r in run.grade(A, subs, ws, jobs=2, limits=LIMITS)}
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
    executed = nbformat.read(ws / "autograded" / "h19_read_secrets" / A / f"{A}.ipynb", as_version=4)
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
