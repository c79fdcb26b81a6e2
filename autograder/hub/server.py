"""Start and stop the course's JupyterHub (see jupyterhub_config.py beside this file for what it sets up).

    hub = Hub(base, exchange, accounts); hub.start()   # returns once the hub answers through its proxy
    hub.url                                            # http://127.0.0.1:PORT
    hub.stop()                                         # the hub stops every user's server and the proxy

`base` holds hub/ (root only: the hub's database, cookie secret, settings, logs) and jupyter/ (readable by
all: the nbgrader_config.py every user's Jupyter reads).
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from ..sandbox import EXPOSE, JAIL, ROOT
from .accounts import Account
from .postgres import free_port

ROLES = ROOT / "autograder" / "jupyter"
# configurable-http-proxy from npm; `make hub` installs it
PROXY = ROOT / ".hub" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
NBGRADER_CONFIG = """c = get_config()
c.Exchange.root = {exchange!r}
c.CourseDirectory.course_id = {course!r}
"""
# what no user of the hub may read, even inside the course's folder
PRIVATE = [ROOT / "solutions", ROOT / ".git", ROOT / ".hub", ROOT / "grading", ROOT / "submissions"]


def role_config_path(role: str, base: pathlib.Path) -> str:
    return os.pathsep.join(str(p) for p in (ROLES / role, ROLES / "common", base / "jupyter"))


@dataclass
class Hub:
    base: pathlib.Path
    exchange: pathlib.Path
    accounts: list[Account]
    course_id: str = "initnorm"
    port: int = 0
    singleuser_args: list[str] = field(default_factory=list)
    proxy: pathlib.Path = PROXY
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> pathlib.Path:
        return self.base / "hub"

    def _write_config(self) -> pathlib.Path:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o711)
        self.state.mkdir(exist_ok=True)
        self.state.chmod(0o700)
        jupyter = self.base / "jupyter"
        jupyter.mkdir(exist_ok=True)
        jupyter.chmod(0o755)
        (jupyter / "nbgrader_config.py").write_text(
            NBGRADER_CONFIG.format(exchange=str(self.exchange), course=self.course_id))
        self.exchange.mkdir(parents=True, exist_ok=True)
        self.exchange.chmod(0o1777)  # everyone writes into it; the sticky bit keeps their files their own
        hide = sorted({"/root", str(self.state), str(self.base / "postgres"), *map(str, PRIVATE)})
        settings = {
            "port": self.port, "hub_port": free_port(), "proxy_api_port": free_port(), "state": str(self.state),
            "proxy": str(self.proxy), "python": sys.executable, "bin": str(pathlib.Path(sys.executable).parent),
            "jail": str(JAIL), "hide": hide, "expose": EXPOSE,
            "students": [a.name for a in self.accounts if a.role == "student"],
            "instructors": [a.name for a in self.accounts if a.role == "instructor"],
            "config_path": {role: role_config_path(role, self.base) for role in ("student", "instructor")},
            "singleuser_args": self.singleuser_args,
        }
        path = self.state / "settings.json"
        path.write_text(json.dumps(settings, indent=1))
        return path

    def start(self, timeout: float = 120) -> "Hub":
        if os.geteuid() != 0:
            raise SystemExit("the hub logs users in through PAM and starts their servers as them: run it as root")
        if not os.access(self.proxy, os.X_OK):
            raise SystemExit(f"{self.proxy} is missing: `make hub` installs it (npm install --prefix .hub/proxy "
                             "configurable-http-proxy@VERSION, the version in the Makefile)")
        self.port = self.port or free_port()
        settings = self._write_config()
        env = dict(os.environ, INITNORM_HUB_SETTINGS=str(settings),
                   PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
        log = open(self.state / "jupyterhub.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(pathlib.Path(__file__).with_name(
            "jupyterhub_config.py"))], cwd=self.state, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        (self.state / "hub.pid").write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5) as r:
                    if r.status == 200 and "version" in json.loads(r.read()):
                        return self
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterHub did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        log = self.state / "jupyterhub.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM: JupyterHub stops every user's server and its proxy, then exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        _terminate(self.state / "proxy.pid", "configurable-http-proxy")  # it outlived a hub that was killed
        (self.state / "hub.pid").unlink(missing_ok=True)


def _terminate(pid_file: pathlib.Path, name: str, timeout: float = 30) -> None:
    """SIGTERM the process in `pid_file` if it is still `name` (not a new process that got the same id)."""
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
        if name in pathlib.Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pathlib.Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
    except (ValueError, OSError):
        pass
    pid_file.unlink(missing_ok=True)


def stop_leftovers(base: pathlib.Path) -> None:
    """What a run that was killed (not stopped) left in `base`: its hub, then its proxy."""
    _terminate(base / "hub" / "hub.pid", "jupyterhub")
    _terminate(base / "hub" / "proxy.pid", "configurable-http-proxy")
