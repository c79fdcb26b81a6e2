"""Drive nbgrader for the course: workspaces and the release of exercises/ from solutions/.

Every nbgrader call runs in a *workspace*: a course root that holds a copy of nbgrader_config.py, the
source notebooks under source/, the gradebook and nbgrader's step folders. The repo itself never holds a
gradebook.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys


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
