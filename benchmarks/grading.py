"""Grading benchmark: one batch of realistic submissions (correct, partly wrong, broken), graded in one run by
plain serial `nbgrader autograde` and by `python -m autograder grade --jobs 2`, against the floor: one plain
execution of the reference notebook.

    python -m benchmarks.grading [--assignment ex1_initialization] [--copies 3]

Prints the speed ratio (plain / ours) and our per-submission time over the floor. Targets on a 2-core
machine: ratio >= 1.8, per-submission time <= 1.5x the floor.
"""
from __future__ import annotations

import argparse
import importlib
import pathlib
import statistics
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]

from autograder import course, nbtools, plain, run  # noqa: E402


def batch(assignment: str, folder: pathlib.Path, copies: int) -> int:
    """copies x (reference, two catalogued wrong answers, the untouched release, a broken file)."""
    source = nbtools.read(course.SOLUTIONS / assignment / f"{assignment}.ipynb")
    release = nbtools.read(course.EXERCISES / assignment / f"{assignment}.ipynb")
    reference = nbtools.reference_code(source)
    wrong = importlib.import_module(f"tests.catalogue.{assignment}").WRONG
    n = 0
    for k in range(copies):
        nbformat.write(nbtools.fill(release, reference), folder / f"s{k}_correct.ipynb")
        for j, v in enumerate(wrong[k * 2:k * 2 + 2]):
            nbformat.write(nbtools.fill(release, v.apply(reference)), folder / f"s{k}_wrong{j}.ipynb")
        nbformat.write(release, folder / f"s{k}_untouched.ipynb")
        (folder / f"s{k}_broken.ipynb").write_text('{"cells": [')
        n += 5
    return n


def floor_seconds(assignment: str, repeats: int = 2) -> float:
    source = nbtools.read(course.SOLUTIONS / assignment / f"{assignment}.ipynb")
    times = []
    for _ in range(repeats):
        nb = nbformat.from_dict(source)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="ex1_initialization")
    p.add_argument("--copies", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subs = tmp / "subs"
        subs.mkdir()
        n = batch(args.assignment, subs, args.copies)
        floor = floor_seconds(args.assignment)
        start = time.perf_counter()
        plain_rows = plain.grade(args.assignment, subs, tmp / "plain")
        t_plain = time.perf_counter() - start
        start = time.perf_counter()
        ours = run.grade(args.assignment, subs, tmp / "ours", jobs=2)
        t_ours = time.perf_counter() - start
    executed = [r.seconds for r in ours if r.seconds > 0]
    per_sub = statistics.median(executed)
    agree = all(a.score == b.score for a, b in zip(plain_rows, ours))
    print(f"batch: {n} submissions of {args.assignment} ({len(executed)} executed, {n - len(executed)} broken)")
    print(f"floor (one plain execution of the reference notebook): {floor:.2f} s")
    print(f"plain serial nbgrader autograde: {t_plain:.1f} s")
    print(f"python -m autograder grade --jobs 2: {t_ours:.1f} s")
    print(f"speed ratio (plain / ours): {t_plain / t_ours:.2f}x   target >= 1.8x")
    print(f"per-submission time (median, ours): {per_sub:.2f} s = {per_sub / floor:.2f}x the floor   target <= 1.5x")
    print(f"same scores as nbgrader: {agree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
