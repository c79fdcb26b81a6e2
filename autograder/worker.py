"""Grade one submission: assemble, execute in a jailed kernel under limits, score. Runs in its own process:

    python -m autograder.worker TASK.json RESULT.json

The parent (autograder.run) owns the gradebook; this process only reads the notebooks named in the task and
writes the executed notebook and the result file.
"""
from __future__ import annotations

import json
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import sandbox
from .assemble import assemble, read_notebook, score, strip_guards

TRUNCATED = "\n[output truncated by the grader: this submission printed more than {kb} kB]\n"


class LimitedClient(NotebookClient):
    """A NotebookClient that keeps at most `output_limit` bytes of outputs for the whole notebook."""

    output_limit = 2 * 2**20

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output_bytes = 0
        self.truncated = False

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        self.output_bytes += size
        if self.output_bytes > self.output_limit:
            if not self.truncated:
                self.truncated = True
                outs.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text=TRUNCATED.format(kb=self.output_limit // 1024)))
            return None
        return super().output(outs, msg, display_id, cell_index)


def grade_one(task: dict) -> dict:
    """task: student, submission, source, release, executed (output path), scratch_root, slot, hide, limits."""
    start = time.perf_counter()
    limits = sandbox.Limits(**task["limits"])
    result = {"student": task["student"], "status": "graded", "cells": {}, "messages": {}, "flags": [],
              "isolation": ""}
    try:
        submission = read_notebook(pathlib.Path(task["submission"]))
        nbformat.validate(submission)
    except FileNotFoundError:
        return {**result, "status": "missing notebook", "messages": {"": "no notebook was submitted"},
                "seconds": 0.0}
    except Exception as exc:  # not JSON, empty, not a notebook
        return {**result, "status": "invalid notebook",
                "messages": {"": f"{type(exc).__name__}: {str(exc)[:300]}"}, "seconds": 0.0}
    source = read_notebook(pathlib.Path(task["source"]))
    nb, flags = assemble(source, read_notebook(pathlib.Path(task["release"])), submission)
    flags = list(task.get("flags", [])) + flags
    sandbox.become_subreaper()
    iso = sandbox.Isolation(**task["isolation"]) if task.get("isolation") else \
        sandbox.isolation_for_slot(task["slot"], task["hide"])
    result["isolation"] = iso.describe()
    scratch = sandbox.make_scratch(pathlib.Path(task["scratch_root"]), task["slot"], iso)
    km = sandbox.kernel_manager(scratch, iso, limits)
    client = LimitedClient(nb, km=km, timeout=limits.cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                           kernel_name="python3", resources={"metadata": {"path": str(scratch)}})
    client.output_limit = limits.output_kb * 1024
    try:
        client.execute(env=sandbox.kernel_environment(scratch))
    except DeadKernelError:
        result["status"] = "kernel died"
    except CellTimeoutError:
        result["status"] = "cell timeout"
    except Exception as exc:  # the kernel could not start, or nbclient gave up on it
        result["status"] = "execution error"
        result["messages"][""] = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        sandbox.kill_user_processes(iso.uid, reap=True)
    executed, patched = strip_guards(nb)
    cells, messages = score(executed, source)
    if patched:
        flags.append("patched " + ", ".join(patched))
    if client.truncated:
        flags.append("output truncated")
    result.update(cells=cells, messages={**messages, **result["messages"]}, flags=flags,
                  seconds=round(time.perf_counter() - start, 3))
    out = pathlib.Path(task["executed"])
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, out)
    return result


def main(argv: list[str]) -> int:
    task = json.loads(pathlib.Path(argv[0]).read_text())
    if not sandbox.die_with_parent(task.get("parent_pid")):
        return 1  # the grading run that started this worker is gone: nobody would read the result
    result = grade_one(task)
    tmp = pathlib.Path(argv[1] + ".part")
    tmp.write_text(json.dumps(result))
    tmp.replace(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
