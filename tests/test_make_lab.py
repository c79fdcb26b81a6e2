"""`make lab`, started the way the README says, answers with the lab page: as root (JupyterLab refuses root
without --allow-root, which the Makefile passes only then) and as a normal user."""
from __future__ import annotations

import os
import pathlib
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from autograder import sandbox
from tests.notebooks import ROOT

AS_ROOT = os.geteuid() == 0
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lab")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_page(cmd: list[str], env: dict, port: int, token: str, cwd: str, timeout: float = 120) -> str:
    """Start `cmd` (make lab), wait for the lab page, return its HTML; the server is stopped in any case."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/lab?token={token}"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return r.read().decode()
            except OSError:
                time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    raise AssertionError(f"`make lab` did not serve {url} (exit {proc.returncode}):\n{out[-3000:]}")


def make_lab(port: int, token: str) -> list[str]:
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    return ["make", "--no-print-directory", "-C", str(ROOT), "lab", f"LAB_ARGS={args}"]


def test_make_lab_serves_the_lab_page_as_this_user(tmp_path):
    port, token = free_port(), secrets.token_hex(8)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    page = lab_page(make_lab(port, token), env, port, token, cwd=str(ROOT))
    assert "JupyterLab" in page and "jupyter-config-data" in page


@pytest.mark.skipif(not AS_ROOT, reason="needs root to make a user; not root, the test above runs as a normal user")
def test_make_lab_serves_the_lab_page_as_a_normal_user():
    import pwd

    user = "initnorm-labuser"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    pw = pwd.getpwnam(user)
    home = pathlib.Path(tempfile.mkdtemp(prefix="initnorm-lab-"))
    try:
        os.chown(home, pw.pw_uid, pw.pw_gid)
        iso = sandbox.Isolation(user, pw.pw_uid, pw.pw_gid, hide=["/root"], namespaces=True)
        port, token = free_port(), secrets.token_hex(8)
        cmd = sandbox.wrap_command(iso, sandbox.Limits(), str(home), make_lab(port, token))
        env = {"HOME": str(home), "USER": user, "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}
        page = lab_page(cmd, env, port, token, cwd=str(home))
        assert "JupyterLab" in page and "jupyter-config-data" in page
    finally:
        subprocess.run(["rm", "-rf", str(home)])
