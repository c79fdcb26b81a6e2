"""python -m autograder [--course-dir DIR] COMMAND ...   (DIR: the course's root, default this repository)

python -m autograder release [ASSIGNMENT ...]
python -m autograder grade ASSIGNMENT SUBMISSIONS [--workspace DIR] [--jobs N] [--force] [--db URL] ...
python -m autograder exchange-release | collect | feedback ASSIGNMENT [--exchange DIR] [--course ID] [--db URL]
       [--duedate D]
python -m autograder check NOTEBOOK [--no-validate]   (students: before submitting)

`grade` takes a folder of <student>.ipynb files, nbgrader's submitted/ tree, or a zip of either, and writes
into the workspace: the gradebook, grades-ASSIGNMENT.csv, feedback/<student>/ASSIGNMENT/ASSIGNMENT.html,
autograded/ (the executed notebooks) and summary-ASSIGNMENT.txt.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from . import check, course, exchange, run, sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course-dir", type=pathlib.Path, default=None,
                        help="the course to work on: a folder with solutions/ and exercises/ (default: this repository)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    rel.add_argument("assignments", nargs="*", help="default: every assignment in solutions/")
    gr = sub.add_parser("grade", help="grade a class: gradebook, grades CSV, feedback, summary")
    gr.add_argument("assignment")
    gr.add_argument("submissions", type=pathlib.Path,
                    help="a folder of <student>.ipynb files, nbgrader's submitted/ tree, or a zip of either")
    gr.add_argument("--workspace", type=pathlib.Path, default=pathlib.Path("grading"),
                    help="where the gradebook, feedback and results go (default ./grading)")
    gr.add_argument("--csv", type=pathlib.Path, default=None, help="also write the grades CSV here")
    gr.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: cores)")
    gr.add_argument("--force", action="store_true", help="re-grade submissions that are unchanged")
    gr.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: sqlite in the workspace)")
    gr.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                    help="send the per-submission tasks to this Dask scheduler instead of local workers")
    defaults = sandbox.Limits()
    for name, help_text in [("cell_timeout", "seconds per cell"), ("wall", "seconds per submission"),
                            ("memory_mb", "kernel memory limit, MB"), ("output_kb", "outputs kept, kB"),
                            ("nproc", "processes+threads of the grading user"), ("file_mb", "largest file, MB")]:
        gr.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name),
                        help=f"{help_text} (default {getattr(defaults, name)})")
    gr.add_argument("--late-policy", choices=run.LATE_POLICIES, default="none",
                    help="none: late submissions keep their points (default); zero: they score 0")
    gr.add_argument("--quiet", action="store_true", help="no progress bar")
    steps = {"exchange-release": "release an assignment to the nbgrader exchange (with an optional due date)",
             "collect": "copy each student's latest submission from the exchange into WORKSPACE/submitted/",
             "feedback": "release the graded feedback to the exchange; students fetch it from the Assignments panel"}
    for name, help_text in steps.items():
        ex = sub.add_parser(name, help=help_text)
        ex.add_argument("assignment")
        ex.add_argument("--workspace", type=pathlib.Path, default=pathlib.Path("grading"),
                        help="the course root: gradebook, submitted/, feedback/ (default ./grading)")
        ex.add_argument("--exchange", type=pathlib.Path, default=exchange.DEFAULT_EXCHANGE,
                        help=f"nbgrader's Exchange.root (default {exchange.DEFAULT_EXCHANGE})")
        ex.add_argument("--course", default="initnorm", help="nbgrader's course id (default initnorm)")
        ex.add_argument("--db", default=None, help="gradebook SQLAlchemy URL, as given to `grade` "
                                                   "(default: sqlite in the workspace)")
        if name == "exchange-release":
            ex.add_argument("--duedate", default=None, help="e.g. '2026-12-01 17:00:00 Europe/Amsterdam'")
    ck = sub.add_parser("check", help="students: check a notebook before submitting (structure + nbgrader validate)")
    ck.add_argument("notebook", type=pathlib.Path)
    ck.add_argument("--no-validate", action="store_true", help="only compare the structure with the release")
    args = parser.parse_args(argv)

    if args.command == "check":
        return check.main(args.notebook, run_validate=not args.no_validate)

    if args.command == "release":
        for a in args.assignments or course.assignments(args.course_dir):
            print(f"released {course.release(a, root=args.course_dir)}")
        return 0
    if args.command in steps:
        course.check_assignment(args.assignment, args.course_dir)
        where = (args.assignment, args.workspace.resolve(), args.exchange.resolve(), args.course)
        if args.command == "exchange-release":
            log = exchange.release(*where, duedate=args.duedate, db_url=args.db)
        else:
            log = (exchange.collect if args.command == "collect" else exchange.release_feedback)(*where, db_url=args.db)
        print(log.strip())
        return 0
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    limits = sandbox.Limits(args.cell_timeout, args.wall, args.memory_mb, args.output_kb, args.nproc, args.file_mb)
    rows = run.grade(args.assignment, args.submissions, args.workspace, args.csv, jobs=args.jobs, force=args.force,
                     limits=limits, db_url=args.db, dask_scheduler=args.dask_scheduler, progress=not args.quiet,
                     late_policy=args.late_policy, course_dir=args.course_dir)
    for r in rows:
        extra = "; ".join(filter(None, ["; ".join(r.flags), r.message]))
        late = f"  late {r.late_seconds / 60:.1f} min" if r.late_seconds else ""
        print(f"{r.student:>24}  {r.status:<17} {r.score:g}/{r.max_score:g}{late}  {extra}")
    print((args.workspace / f"summary-{args.assignment}.txt").read_text(), end="")
    print(f"grades: {args.csv or args.workspace / f'grades-{args.assignment}.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
