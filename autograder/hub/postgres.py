"""A private PostgreSQL server for the gradebook: Debian's PostgreSQL binaries, a cluster of its own in a
folder, listening on 127.0.0.1 only, password (SCRAM) authentication, run as the `postgres` system user.

    pg = Postgres(folder); pg.start()   # initdb on first use, then pg_ctl start; waits until it accepts
    pg.url                              # postgresql://initnorm@127.0.0.1:PORT/gradebook, for --db
    pg.stop()

The URL carries no password, so no command line shows it (students of a hub are users of the machine and can
read every process's arguments): PostgreSQL's client library reads it from the root-only file named by
PGPASSFILE (`pg.environ()`), which the grading commands must have in their environment.
"""
from __future__ import annotations

import os
import pathlib
import pwd
import secrets
import shutil
import socket
import subprocess

USER, DATABASE = "initnorm", "gradebook"


def binaries() -> pathlib.Path:
    """Debian's newest PostgreSQL bin/ folder (initdb, pg_ctl)."""
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise SystemExit("PostgreSQL's server is not installed: as root, `apt-get install postgresql` "
                         "(`make test-hub` does it)")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, folder: pathlib.Path, port: int | None = None):
        self.folder = pathlib.Path(folder).resolve()
        self.data = self.folder / "data"
        self.secret = self.folder / "password"  # root only; the cluster's password for USER
        self.pgpass = self.folder / "pgpass"  # the same, as libpq's password file
        self.port = port or free_port()
        self.bin = binaries()

    @property
    def password(self) -> str:
        return self.secret.read_text().strip()

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def environ(self) -> dict[str, str]:
        """What a process that opens the gradebook needs in its environment."""
        return {"PGPASSFILE": str(self.pgpass)}

    def _as_postgres(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True,
                              cwd="/", timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def _init(self) -> None:
        pw = pwd.getpwnam("postgres")
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o711)  # postgres passes through to data/; nobody lists it
        if not self.secret.exists():
            self.secret.write_text(secrets.token_urlsafe(24) + "\n")
        os.chmod(self.secret, 0o600)
        self.pgpass.write_text(f"127.0.0.1:*:*:{USER}:{self.password}\n")
        os.chmod(self.pgpass, 0o600)
        if (self.data / "PG_VERSION").exists():
            return
        if self.data.exists():  # a half-made cluster from an interrupted first start
            shutil.rmtree(self.data)
        self.data.mkdir(mode=0o700)
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        pwfile = self.folder / "initdb-password"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        try:
            self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                              "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        finally:
            pwfile.unlink(missing_ok=True)

    def running(self) -> bool:
        return self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def start(self, timeout: int = 60) -> "Postgres":
        self._init()
        if self.running():  # left by a run that was killed: restart it on our port
            self.stop()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"),
                          "-o", options, "-w", "-t", str(timeout), "start")
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg

        conn = psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password,
                               dbname="postgres", connect_timeout=10, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()

    def stop(self) -> None:
        if (self.data / "PG_VERSION").exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def log_tail(self, chars: int = 2000) -> str:
        log = self.data / "server.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""
