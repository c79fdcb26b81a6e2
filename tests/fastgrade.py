"""The catalogue's fast path: many submissions of one assignment graded in one tree of processes.

What a submission scores is decided by the grader's own code: `autograder.assemble.assemble` builds the notebook
that `python -m autograder grade` would execute for it (instructor's test cells, guards), and
`autograder.assemble.score` / `strip_guards` turn the executed notebook into points and flags. Only the execution
differs: instead of a fresh, jailed Jupyter kernel per submission, one Python process runs the cells with IPython
and forks wherever two submissions' cells start to differ, so what they share (imports, test helpers, the cells
before a variant's change) runs once. A submission may also stop after the last test cell whose verdict is needed.

For the course's own reference and catalogue notebooks only: nothing here is isolated. The differential test in
tests/test_exercises.py checks this path against real `nbgrader autograde` on a sample of every catalogue.

    python tests/fastgrade.py SPEC.json OUTDIR      (the child side; grade_many() is the API)
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

from autograder.assemble import assemble, score, strip_guards  # first: `autograder` makes nbformat import fast
from autograder.nbtools import graded_cells, nbgrader_meta

import nbformat  # noqa: E402

MAX_STREAM = 20_000  # characters of printed output kept per cell (enough for the guard's report)


def grade_many(source_nb, release_nb, submissions: dict, needed: dict | None = None, jobs: int = 2,
               cell_timeout: int = 300) -> dict[str, dict]:
    """Grade every notebook of `submissions` {name: notebook}; `needed` {name: grade ids} lets a submission stop
    after the last of those test cells (the others then count as not executed).

    Returns {name: {"status", "cells" {grade_id: points}, "messages", "flags"}}, as the grader's worker would."""
    needed = needed or {}
    assembled, specs = {}, []
    for name, nb in submissions.items():
        nb, flags = assemble(source_nb, release_nb, nb)
        assembled[name] = (nb, flags)
        stop = len(nb.cells)
        if name in needed:
            stop = 1 + max(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") in needed[name])
        specs.append({"name": name, "stop": stop,
                      "cells": [c.source if c.cell_type == "code" else None for c in nb.cells]})
    with tempfile.TemporaryDirectory(prefix="fastgrade-") as tmp:
        spec_path, out = pathlib.Path(tmp) / "spec.json", pathlib.Path(tmp) / "out"
        out.mkdir()
        spec_path.write_text(json.dumps({"jobs": jobs, "cell_timeout": cell_timeout, "notebooks": specs}))
        env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        # a session of its own: whatever stops this call (an interrupt, a timeout) also stops every fork of the tree
        proc = subprocess.Popen([sys.executable, __file__, str(spec_path), str(out)], cwd=tmp, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _, stderr = proc.communicate()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
        if done.returncode != 0:
            raise RuntimeError(f"fastgrade failed ({done.returncode}):\n{done.stderr[-3000:]}")
        results = {}
        for name, (nb, flags) in assembled.items():
            path = out / f"{_safe(name)}.json"
            executed = json.loads(path.read_text()) if path.exists() else None
            results[name] = _result(nb, flags, executed, source_nb)
    return results


def _result(nb, flags: list[str], executed: dict | None, source_nb) -> dict:
    """The executed cells of one submission, scored as the grader's worker scores them."""
    nb = nbformat.from_dict(nb)
    for index, run in (executed or {}).items():
        cell = nb.cells[int(index)]
        cell.execution_count = run["count"]
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=run["stdout"])] if run["stdout"] else []
        if run["error"]:
            ename, evalue = run["error"]
            cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
    stripped, patched = strip_guards(nb)
    cells, messages = score(stripped, source_nb)
    flags = list(flags) + (["patched " + ", ".join(patched)] if patched else [])
    status = "graded" if executed is not None else "kernel died"
    return {"status": "flagged" if flags and status == "graded" else status, "cells": cells,
            "messages": messages, "flags": flags, "max_score": float(sum(graded_cells(source_nb).values()))}


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


# ------------------------------------------------------------------------------------------ the child side
class _Tree:
    """Runs the notebooks' cells in one IPython shell, forking where they diverge; at most `jobs` processes
    execute at a time (the others wait on a shared semaphore)."""

    def __init__(self, spec: dict, out: pathlib.Path):
        import multiprocessing

        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False  # no sqlite file and no writer thread shared across forks
        self.shell = InteractiveShell.instance(config=config)
        self.notebooks = spec["notebooks"]
        self.timeout = int(spec["cell_timeout"])
        self.out = out
        self.tokens = multiprocessing.get_context("fork").BoundedSemaphore(int(spec["jobs"]))
        self.log: dict[int, dict] = {}  # what this process executed: cell index -> count, stdout, error

        def timeout(signum, frame):
            raise TimeoutError(f"cell timeout ({self.timeout} s)")

        signal.signal(signal.SIGALRM, timeout)

    def run(self) -> None:
        self.tokens.acquire()
        self._group(list(range(len(self.notebooks))), 0)
        self.tokens.release()

    def _group(self, members: list[int], i: int) -> None:
        """Execute from cell i on for members, which share every cell before i."""
        while True:
            for m in [m for m in members if i >= self.notebooks[m]["stop"]]:
                self._write(m)
            members = [m for m in members if i < self.notebooks[m]["stop"]]
            if not members:
                return
            branches: dict[str | None, list[int]] = {}
            for m in members:
                branches.setdefault(self.notebooks[m]["cells"][i], []).append(m)
            if len(branches) > 1:
                self._fork([(group, i) for group in branches.values()])
                return
            source = next(iter(branches))
            if source is not None:
                self._execute(i, source)
            i += 1

    def _fork(self, groups: list[tuple[list[int], int]]) -> None:
        self.tokens.release()  # this process only waits from now on
        children = []
        for members, i in groups:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    self.tokens.acquire()
                    self._group(members, i)
                    self.tokens.release()
                except BaseException:  # noqa: BLE001: a child must never return into its parent's loop
                    code = 1
                os._exit(code)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)  # a child that died leaves its members without results: 'kernel died'
        self.tokens.acquire()

    def _execute(self, i: int, source: str) -> None:
        from IPython.utils.capture import capture_output

        with capture_output(display=False) as captured:
            signal.alarm(self.timeout)
            try:
                result = self.shell.run_cell(source, store_history=True, silent=False)
            finally:
                signal.alarm(0)
        error = result.error_before_exec or result.error_in_exec
        self.log[i] = {"count": self.shell.execution_count - 1, "stdout": captured.stdout[:MAX_STREAM],
                       "error": [type(error).__name__, str(error)[:2000]] if error is not None else None}

    def _write(self, m: int) -> None:
        name = self.notebooks[m]["name"]
        (self.out / f"{_safe(name)}.json").write_text(json.dumps(self.log))


def _main(spec_path: str, out: str) -> int:
    spec = json.loads(pathlib.Path(spec_path).read_text())
    sys.argv = ["fastgrade"]
    _Tree(spec, pathlib.Path(out)).run()
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:3]))
