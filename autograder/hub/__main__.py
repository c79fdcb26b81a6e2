"""python -m autograder.hub [--port 8000] [--students 2] [--exchange DIR] [--state DIR] [--course ID]  (`make hub`)

The course on a JupyterHub on this machine, as root: Unix accounts for an instructor and N students (new
passwords at every start), the nbgrader exchange, a PostgreSQL gradebook, and the hub on 127.0.0.1. Prints
the URL, the accounts and the instructor's commands; Ctrl-C stops the hub, every user's server, the proxy and
PostgreSQL, and locks the accounts (their homes stay, for the next start).
"""
from __future__ import annotations

import argparse
import pathlib
import signal
import sys

from . import accounts
from .postgres import Postgres
from .server import Hub, stop_leftovers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder.hub", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (default 8000)")
    p.add_argument("--students", type=int, default=2, help="student accounts to make (default 2)")
    p.add_argument("--exchange", type=pathlib.Path, default=pathlib.Path("/srv/nbgrader/exchange"))
    p.add_argument("--state", type=pathlib.Path, default=pathlib.Path("/var/lib/initnorm-hub"),
                   help="the hub's database, the gradebook's PostgreSQL cluster (default /var/lib/initnorm-hub)")
    p.add_argument("--course", default="initnorm", help="nbgrader course id (default initnorm)")
    args = p.parse_args(argv)
    if not 1 <= args.students <= 50:
        p.error("--students must be between 1 and 50")
    if not 1 <= args.port <= 65535:
        p.error("--port must be a TCP port (1-65535)")

    stop_leftovers(args.state)  # of a `make hub` that was killed rather than stopped
    homes = pathlib.Path("/home")
    made = [accounts.ensure("initnorm-instructor", "instructor", homes)]
    made += [accounts.ensure(f"initnorm-student{i}", "student", homes) for i in range(1, args.students + 1)]
    gradebook = Postgres(args.state / "postgres")
    hub = Hub(args.state, args.exchange.resolve(), made, course_id=args.course, port=args.port)
    try:
        gradebook.start()
        hub.start()
        print(banner(hub, made, gradebook, args), flush=True)
        hub.proc.wait()  # until Ctrl-C, or the hub stops by itself
        print(f"JupyterHub stopped by itself (exit {hub.proc.returncode}):\n{hub.log_tail(2000)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the hub, every user's server, the proxy and PostgreSQL ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        hub.stop()
        gradebook.stop()
        for account in made:
            accounts.lock(account.name)
        print("stopped; the accounts are locked until the next `make hub`", flush=True)


def banner(hub: Hub, made: list[accounts.Account], gradebook: Postgres, args) -> str:
    width = max(len(a.name) for a in made)
    lines = [f"JupyterHub for the course: {hub.url}   (Ctrl-C stops it)", "",
             "accounts (Unix users, PAM; new passwords at every start):"]
    lines += [f"  {a.name:<{width}}  {a.password}   {a.role}" for a in made]
    py = f"{pathlib.Path(sys.executable).parent}/python -m autograder"
    where = f"--exchange {args.exchange} --course {args.course} --db '{gradebook.url}'"
    lines += ["", f"exchange: {args.exchange}", f"gradebook: {gradebook.url}  (its password: PGPASSFILE below)", "",
              "as the instructor, in this folder (as root: grading then runs student code isolated):",
              f"  export PGPASSFILE={gradebook.pgpass}",
              f"  {py} exchange-release ex1_initialization --duedate '2026-12-01 17:00:00 UTC' {where}",
              f"  {py} collect ex1_initialization {where}",
              f"  {py} grade ex1_initialization grading/submitted --db '{gradebook.url}'",
              f"  {py} feedback ex1_initialization {where}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
