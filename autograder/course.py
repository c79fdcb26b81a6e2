"""Drive nbgrader for the course: workspaces and the release of exercises/ from solutions/.

Every nbgrader call runs in a *workspace*: a course root that holds a copy of nbgrader_config.py, the
source notebooks under source/, the gradebook and nbgrader's step folders. The repo itself never holds a
gradebook.

The course whose assignments are graded is a folder with solutions/<assignment>/<assignment>.ipynb (and
exercises/ for its releases): by default this repository, else the one named by AUTOGRADER_COURSE_DIR, or
the `root` argument of the functions below (`python -m autograder --course-dir DIR ...`).
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys


ROOT = pathlib.Path(os.environ.get("AUTOGRADER_COURSE_DIR") or pathlib.Path(__file__).parents[1]).resolve()
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
CONFIG = pathlib.Path(__file__).with_name("nbgrader_config.py")


def solutions(root: pathlib.Path | None = None) -> pathlib.Path:
    return pathlib.Path(root).resolve() / "solutions" if root is not None else SOLUTIONS


def source_notebook(assignment: str, root: pathlib.Path | None = None) -> pathlib.Path:
    return solutions(root) / assignment / f"{assignment}.ipynb"


def assignments(root: pathlib.Path | None = None) -> list[str]:
    """Assignment ids: the folders of solutions/ that hold a notebook of the same name."""
    folder = solutions(root)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / f"{p.name}.ipynb").is_file())


def check_assignment(assignment: str, root: pathlib.Path | None = None) -> None:
    if assignment not in assignments(root):
        raise SystemExit(f"unknown assignment {assignment!r}; the course in {solutions(root).parent} has "
                         f"{assignments(root)}")


def nbgrader(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """Run one nbgrader command in a workspace; nbgrader (and alembic) must come from this Python's bin/."""
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def prepare_workspace(assignment: str, workspace: pathlib.Path, db_url: str | None = None,
                      root: pathlib.Path | None = None) -> pathlib.Path:
    """Make `workspace` a course root holding the assignment's source, generated into its gradebook
    (`db_url`: any SQLAlchemy URL; default: workspace/gradebook.db)."""
    check_assignment(assignment, root)
    workspace.mkdir(parents=True, exist_ok=True)
    stamp = workspace / ".generated" / assignment
    digest = _source_digest(solutions(root) / assignment)
    if db_url is None and stamp.is_file() and stamp.read_text() == digest and (workspace / "gradebook.db").is_file() \
            and (workspace / "release" / assignment / f"{assignment}.ipynb").is_file():
        return workspace  # generated from this very source into this gradebook before (a re-run)
    shutil.copy(CONFIG, workspace / "nbgrader_config.py")
    source = workspace / "source" / assignment
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(solutions(root) / assignment, source, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    db = ["--db", db_url] if db_url else []
    done = nbgrader("generate_assignment", assignment, "--force", *db, cwd=workspace)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{done.stdout}\n{done.stderr}")
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(digest)
    return workspace


def _source_digest(folder: pathlib.Path) -> str:
    """What generate_assignment's output depends on: the assignment's files and the nbgrader config."""
    h = hashlib.sha256(CONFIG.read_bytes())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def release(assignment: str, dest: pathlib.Path | None = None, workspace: pathlib.Path | None = None,
            root: pathlib.Path | None = None) -> pathlib.Path:
    """Generate the student version of `assignment` from solutions/ into dest/<assignment>/ (default: the
    course's exercises/)."""
    import tempfile

    dest = pathlib.Path(dest) if dest is not None else solutions(root).parent / "exercises"
    with tempfile.TemporaryDirectory() as tmp:
        ws = prepare_workspace(assignment, pathlib.Path(workspace or tmp), root=root)
        target = dest / assignment
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ws / "release" / assignment, target)
    return target
