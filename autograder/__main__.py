"""python -m autograder release [ASSIGNMENT ...] | grade ASSIGNMENT SUBMISSIONS [--workspace DIR] [--csv FILE]"""
from __future__ import annotations

import argparse
import pathlib
import sys

from . import course


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    rel.add_argument("assignments", nargs="*", help="default: every assignment in solutions/")
    gr = sub.add_parser("grade", help="autograde a folder of submissions and write a grades CSV")
    gr.add_argument("assignment")
    gr.add_argument("submissions", type=pathlib.Path,
                    help="a folder of <student>.ipynb files, or nbgrader's submitted/ tree")
    gr.add_argument("--workspace", type=pathlib.Path, default=pathlib.Path("grading"),
                    help="nbgrader course root for the run (gradebook, autograded/); default ./grading")
    gr.add_argument("--csv", type=pathlib.Path, default=None, help="default: WORKSPACE/grades-ASSIGNMENT.csv")
    args = parser.parse_args(argv)

    if args.command == "release":
        for a in args.assignments or course.assignments():
            print(f"released {course.release(a).relative_to(course.ROOT)}")
        return 0
    rows = course.grade(args.assignment, args.submissions, args.workspace, args.csv)
    csv_path = args.csv or args.workspace / f"grades-{args.assignment}.csv"
    for r in rows:
        print(f"{r.student:>20}  {r.status:<16} {r.score:g}/{r.max_score:g}  {r.message}")
    print(f"{len(rows)} submissions; grades written to {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
