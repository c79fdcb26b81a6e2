"""The hub's accounts: real Unix users with passwords, which JupyterHub's PAM authenticator checks.

Every account made here carries the comment MARK, and only such accounts are ever changed or removed: a user
of the machine with the same name is refused, never touched.
"""
from __future__ import annotations

import os
import pathlib
import pwd
import re
import secrets
import subprocess
from dataclasses import dataclass

MARK = "initnorm hub account"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


@dataclass(frozen=True)
class Account:
    name: str
    role: str  # "student" or "instructor"
    password: str
    home: str


def _run(*cmd: str, stdin: str | None = None) -> None:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:1])} failed ({done.returncode}): {done.stderr.strip()}")


def ours(name: str) -> bool:
    try:
        return pwd.getpwnam(name).pw_gecos == MARK
    except KeyError:
        return False


def ensure(name: str, role: str, home_base: pathlib.Path, password: str | None = None) -> Account:
    """Create the account (or take back one made here before) with a new password; home mode 0700."""
    if os.geteuid() != 0:
        raise SystemExit("the hub's accounts are Unix users: run as root")
    if not NAME.match(name):
        raise SystemExit(f"{name!r} is not a valid account name (lower-case letters, digits and '-')")
    if role not in ("student", "instructor"):
        raise SystemExit(f"unknown role {role!r}: student or instructor")
    home = pathlib.Path(home_base) / name
    try:
        existing = pwd.getpwnam(name)
    except KeyError:
        existing = None
    if existing is not None and existing.pw_gecos != MARK:
        raise SystemExit(f"a user {name!r} exists on this machine and was not made by the hub: choose other names")
    if existing is None:
        home.parent.mkdir(parents=True, exist_ok=True)
        _run("useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--comment", MARK, name)
    else:
        home = pathlib.Path(existing.pw_dir)
        _run("usermod", "--unlock", name)
    home.chmod(0o700)
    password = password or secrets.token_urlsafe(12)
    _run("chpasswd", stdin=f"{name}:{password}\n")
    return Account(name, role, password, str(home))


def lock(name: str) -> None:
    """No password opens the account any more (its files stay): what `make hub` leaves when it stops."""
    if ours(name):
        _run("usermod", "--lock", name)


def remove(name: str) -> None:
    """Remove an account made here, with its home and any process it still has."""
    if not ours(name):
        return
    uid = pwd.getpwnam(name).pw_uid
    subprocess.run(["pkill", "-KILL", "-U", str(uid)], capture_output=True)
    _run("userdel", "--remove", "--force", name)
