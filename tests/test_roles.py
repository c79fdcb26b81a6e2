"""Each role sees its own tools (autograder/jupyter): a student's JupyterLab (`make lab`, and a student on the
hub) has nbgrader's Assignments panel and Validate but not its instructor tools; an instructor's has them all;
neither asks about "official Jupyter news". Checked on a real JupyterLab server's answers; tests/hub checks
the same in Chromium on the hub."""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from autograder import course
from tests.browser.labdriver import Lab

JUPYTER = course.ROOT / "autograder" / "jupyter"
INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:create-assignment"}
NBGRADER_LAB = pathlib.Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"


def config_path(role: str) -> str:
    return os.pathsep.join(str(JUPYTER / r) for r in (role, "common"))


def test_make_lab_gives_the_student_role(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "jupyter"
    fake.write_text('#!/bin/sh\necho "JUPYTER_CONFIG_PATH=$JUPYTER_CONFIG_PATH"\n')
    fake.chmod(0o755)
    (venv / ".installed-stamp").touch()  # newer than requirements.txt: make installs nothing
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"}
    done = subprocess.run(["make", "-s", "lab", f"VENV={venv}"], cwd=course.ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"JUPYTER_CONFIG_PATH={config_path('student')}", done.stdout


def test_the_disabled_plugins_are_nbgrader_s_own():
    """A misspelt plugin id disables nothing: every id must name a plugin of the installed extension."""
    disabled = json.loads((JUPYTER / "student" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert set(disabled) == INSTRUCTOR_PLUGINS
    code = "".join(p.read_text(errors="replace") for p in (NBGRADER_LAB / "static").glob("*.js"))
    present = set(re.findall(r'id:"(@jupyter/nbgrader:[a-z-]+)"', code)) | \
        set(re.findall(r'"(@jupyter/nbgrader:[a-z-]+)"', code))
    assert INSTRUCTOR_PLUGINS <= present, f"not in nbgrader's extension: {INSTRUCTOR_PLUGINS - present}"
    assert "@jupyter/nbgrader:assignment-list" in present and "@jupyter/nbgrader:validate-assignment" in present


def _status(lab: Lab, path: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{lab.port}/{path}", headers={"Authorization": f"token {lab.token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _get(lab: Lab, path: str) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{lab.port}/{path}", headers={"Authorization": f"token {lab.token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


@pytest.mark.slow
@pytest.mark.parametrize("role", ["student", "instructor"])
def test_a_jupyterlab_server_with_the_role_s_configuration(role, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", config_path(role))
    (tmp_path / "root").mkdir()
    lab = Lab.start(tmp_path / "root", tmp_path / "home")
    try:
        page = _get(lab, "lab")
        data = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                    page, re.S).group(1))
        disabled = set(data.get("disabledExtensions", []))
        settings = json.loads(_get(lab, "lab/api/settings/@jupyterlab/apputils-extension:notification"))
        defaults = {k: v.get("default") for k, v in settings["schema"]["properties"].items()}
        assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, defaults
        assert _status(lab, "assignments?course_id=initnorm") == 200  # the Assignments panel's server side
        if role == "student":
            assert INSTRUCTOR_PLUGINS <= disabled, disabled
            assert _status(lab, "formgrader") == 404
        else:
            assert not disabled & INSTRUCTOR_PLUGINS, disabled
            assert _status(lab, "formgrader") == 200
    finally:
        lab.stop()
