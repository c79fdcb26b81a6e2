"""Start a kernel jailed: run as root in a fresh mount namespace (made by `unshare --mount`), hide paths behind
empty tmpfs mounts, set resource limits, drop to an unprivileged user, then exec the kernel command.

    python jail.py --uid U --gid G --cwd DIR [--hide PATH ...] [--expose PATH ...] [--limit NAME=VALUE ...] -- CMD

An --expose path that lies inside a hidden one (the Python installation under /root, a course checkout under
/tmp) stays visible; a hidden path inside an exposed one (solutions/ in the checkout) stays hidden.

Standalone on purpose: it runs before the kernel, from its file path, with nothing of the course imported.
"""
import argparse
import os
import resource
import subprocess
import sys

LIMITS = {"nproc": resource.RLIMIT_NPROC, "as": resource.RLIMIT_AS, "fsize": resource.RLIMIT_FSIZE,
          "core": resource.RLIMIT_CORE, "nofile": resource.RLIMIT_NOFILE}


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _cover(path: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=1777", "tmpfs", path], check=True)


def hide_paths(hide: list[str], expose: list[str]) -> None:
    fds = {e: os.open(e, os.O_PATH | os.O_DIRECTORY) for e in expose if os.path.isdir(e)}
    inner = [h for h in hide if any(_under(h, e) and h != e for e in fds)]
    for h in sorted(set(hide) - set(inner), key=len):  # shallow first; what vanished is already hidden
        if os.path.isdir(h):
            _cover(h)
    for e, fd in sorted(fds.items(), key=lambda kv: len(kv[0])):
        if any(_under(e, h) for h in hide if h not in inner):
            os.makedirs(e, exist_ok=True)
            subprocess.run(["mount", "--no-canonicalize", "--bind", f"/proc/self/fd/{fd}", e], check=True, pass_fds=[fd])
    for h in sorted(inner, key=len, reverse=True):
        if os.path.isdir(h):
            _cover(h)


def main() -> None:
    if "--" not in sys.argv:
        sys.exit("jail.py: missing '--' before the kernel command")
    split = sys.argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--uid", type=int)
    p.add_argument("--gid", type=int)
    p.add_argument("--cwd", required=True)
    p.add_argument("--hide", action="append", default=[])
    p.add_argument("--expose", action="append", default=[])
    p.add_argument("--limit", action="append", default=[])
    args = p.parse_args(sys.argv[1:split])
    command = sys.argv[split + 1:]
    hide_paths(sorted(set(args.hide)), sorted(set(args.expose)))
    for item in args.limit:
        name, value = item.split("=", 1)
        resource.setrlimit(LIMITS[name], (int(value), int(value)))
    if args.uid is not None:
        os.setgroups([])
        os.setgid(args.gid)
        os.setuid(args.uid)
    os.chdir(args.cwd)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
