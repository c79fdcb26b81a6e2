"""Drive the course as a student does: JupyterLab (from this Python's environment) in Debian's Chromium,
through Playwright. Used by the browser suite (tests/browser/) and by `make screenshots`.

- `Lab.start(root)`: a JupyterLab server on 127.0.0.1, a free port and a random token, with its own settings
  (no news pop-up, every cell kept in the page) and `window.jupyterapp` exposed, so the page can be asked
  what a student sees: cells, outputs, the kernel's state.
- `launch(playwright)`: Debian's /usr/bin/chromium (`playwright install` cannot download a browser here).
- `Notebook`: open a notebook, run all cells, list error outputs, find the widget panels, move a control,
  press Run or Validate.
"""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# what a student's JupyterLab needs of the course: the notebooks and nbgrader's configuration (Validate)
COURSE_PARTS = ["lectures", "exercises", "autograder", "nbgrader_config.py"]
SETTINGS = {  # JupyterLab user settings for the test server
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
}


def copy_course(dest: pathlib.Path) -> pathlib.Path:
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for part in COURSE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy(src, dest / part)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server whose root is `root`."""

    def __init__(self, root: pathlib.Path, home: pathlib.Path, port: int, token: str, proc: subprocess.Popen):
        self.root, self.home, self.port, self.token, self.proc = root, home, port, token, proc
        self._workspace = 0

    @classmethod
    def start(cls, root: pathlib.Path, home: pathlib.Path, timeout: float = 180) -> "Lab":
        """Start the server (cwd = root, where nbgrader's Validate reads nbgrader_config.py); wait until it answers."""
        for name, values in SETTINGS.items():
            path = home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   PYTHONWARNINGS="ignore::DeprecationWarning")
        last_error = ""
        for _ in range(3):  # a port taken between choosing and binding it: choose another
            port, token = _free_port(), secrets.token_hex(16)
            log = open(home / "jupyterlab.log", "ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                 f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                 f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"],
                cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            lab = cls(root, home, port, token, proc)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    lab.api("GET", "status")
                    return lab
                except OSError:
                    time.sleep(0.3)
            last_error = (home / "jupyterlab.log").read_text(errors="replace")[-3000:]
            lab.stop()
        raise RuntimeError(f"JupyterLab did not start:\n{last_error}")

    def api(self, method: str, path: str):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def url(self, path: str) -> str:
        """The notebook at `path` (relative to root) in a new, empty workspace."""
        self._workspace += 1
        return (f"http://127.0.0.1:{self.port}/lab/workspaces/w{self._workspace}-{secrets.token_hex(3)}/tree/"
                f"{path}?token={self.token}")

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "kernels"):
            try:
                self.api("DELETE", f"kernels/{kernel['id']}")
            except OSError:
                pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "shutdown")
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


def launch(playwright):
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ------------------------------------------------------------------ in the page
_NOTEBOOK = "window.jupyterapp.shell.currentWidget"
_KERNEL_READY = (f"() => {{ const w = window.jupyterapp && {_NOTEBOOK}; const k = w && w.sessionContext && "
                 "w.sessionContext.session && w.sessionContext.session.kernel; "
                 "return !!(k && k.connectionStatus === 'connected' && k.status === 'idle' && w.content.model); }")
# every error output and stderr stream in the notebook's model, as "cell N: text"
_ERRORS = f"""() => {{
  const cells = {_NOTEBOOK}.content.model.cells, found = [];
  for (let i = 0; i < cells.length; i++) {{
    const c = cells.get(i).toJSON();
    for (const o of (c.outputs || [])) {{
      if (o.output_type === 'error') found.push(`cell ${{i}}: ${{o.ename}}: ${{o.evalue}}`);
      if (o.output_type === 'stream' && o.name === 'stderr') found.push(`cell ${{i}}: stderr: ${{String(o.text).slice(0, 300)}}`);
    }}
  }}
  return found;
}}"""
# the widget-view outputs in the model, and how many of them the page rendered
_WIDGET_VIEWS = f"""() => {{
  const cells = {_NOTEBOOK}.content.model.cells;
  let views = 0;
  for (let i = 0; i < cells.length; i++)
    for (const o of (cells.get(i).toJSON().outputs || []))
      if (o.data && o.data['application/vnd.jupyter.widget-view+json']) views++;
  const areas = [...{_NOTEBOOK}.node.querySelectorAll('.jp-OutputArea-output')]
      .filter(a => a.querySelector('.jupyter-widgets'));
  return [views, areas.length];
}}"""
# panels: a VBox holding a row of controls and an Output (initnorm.widgets.Panel); numbered in the page
_PANELS = f"""() => {{
  const vboxes = [...{_NOTEBOOK}.node.querySelectorAll('.widget-vbox')].filter(v =>
      v.querySelector(':scope > .widget-hbox') && v.querySelector(':scope > .widget-output'));
  vboxes.forEach((v, i) => v.setAttribute('data-panel', String(i)));
  return vboxes.map(v => {{ const t = v.querySelector(':scope > .widget-html'); return t ? t.innerText.trim() : ''; }});
}}"""
# what the panel's Output shows: a hash of its images and text ('' while empty)
_SIGNATURE = """(panel) => {
  const out = panel.querySelector(':scope > .widget-output');
  const parts = [...out.querySelectorAll('img')].map(i => i.src).concat([out.innerText.trim()]);
  const s = parts.join('|');
  if (s === '|' || s === '') return '';
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
  return `${s.length}:${h}`;
}"""
_PROGRESS = """(panel) => { const bar = panel.querySelector('.progress-bar');
  return bar ? parseFloat(bar.style.width || bar.style.height || '0') : null; }"""


class Notebook:
    """One notebook open in a page."""

    def __init__(self, page, lab: Lab, path: str, timeout_s: float = 300):
        self.page, self.lab, self.path = page, lab, path
        page.set_default_timeout(timeout_s * 1000)
        page.goto(lab.url(path))
        page.wait_for_function(_KERNEL_READY, polling=250)

    def run_all(self) -> None:
        """Run > Run All Cells, and wait until the kernel is done with every cell."""
        ok = self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(_KERNEL_READY, polling=250)
        self.ran_all = ok

    def errors(self) -> list[str]:
        return self.page.evaluate(_ERRORS)

    def widget_views(self) -> tuple[int, int]:
        """(widget views in the notebook's outputs, output areas in which the page rendered a widget)"""
        views, rendered = self.page.evaluate(_WIDGET_VIEWS)
        return views, rendered

    def panels(self) -> list[str]:
        """The titles of the widget panels in the page, in order (each element gets data-panel=i)."""
        return self.page.evaluate(_PANELS)

    def panel(self, i: int):
        return self.page.locator(f'[data-panel="{i}"]')

    def signature(self, i: int) -> str:
        return self.panel(i).evaluate(_SIGNATURE)

    def wait_for_output(self, i: int, other_than: str = "", timeout_s: float = 120) -> str:
        """Wait until panel i shows something (other than `other_than`); returns its signature."""
        self.panel(i).wait_for(state="attached")
        self.page.wait_for_function(f"([p, old]) => ({_SIGNATURE})(p) !== '' && ({_SIGNATURE})(p) !== old",
                                    arg=[self.panel(i).element_handle(), other_than], polling=200,
                                    timeout=timeout_s * 1000)
        return self.signature(i)

    def move_control(self, i: int) -> str:
        """Change the panel's first control as a student would (a slider one step, the next dropdown option,
        a checkbox toggled); returns what was done."""
        controls = self.panel(i).locator(":scope > .widget-hbox > .widget-slider, :scope > .widget-hbox > "
                                         ".widget-dropdown, :scope > .widget-hbox > .widget-checkbox")
        control = controls.first
        label = control.locator(".widget-label").first.inner_text().strip() if control.locator(
            ".widget-label").count() else "?"
        classes = control.get_attribute("class") or ""
        if "widget-dropdown" in classes:
            select = control.locator("select")
            n = select.locator("option").count()
            index = (select.evaluate("s => s.selectedIndex") + 1) % n
            select.select_option(index=index)
            return f"dropdown {label!r} -> option {index}"
        if "widget-checkbox" in classes:
            control.locator("input").click()
            return f"checkbox {label!r} toggled"
        handle = control.locator(".noUi-handle")
        now, top = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
        key = "ArrowRight" if now < top else "ArrowLeft"
        handle.focus()
        handle.press(key)
        return f"slider {label!r} {key}"

    def has_run_button(self, i: int) -> bool:
        return self.panel(i).locator(":scope > .widget-hbox > button", has_text="Run").count() > 0

    def press_run(self, i: int) -> None:
        self.panel(i).locator(":scope > .widget-hbox > button", has_text="Run").click()

    def progress(self, i: int) -> float | None:
        """The panel's progress bar in percent (None: it has none)."""
        return self.panel(i).evaluate(_PROGRESS)

    def wait_for_progress_done(self, i: int, timeout_s: float = 120) -> None:
        self.page.wait_for_function(f"p => ({_PROGRESS})(p) >= 100", arg=self.panel(i).element_handle(),
                                    polling=200, timeout=timeout_s * 1000)

    def validate(self, timeout_s: float = 300) -> str:
        """Press nbgrader's Validate button in the notebook toolbar; returns the text of its result dialog."""
        self.page.get_by_role("button", name="Validate").click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(state="visible", timeout=timeout_s * 1000)
        text = dialog.inner_text()
        dialog.get_by_role("button").last.click()
        return text

    def cell_json(self) -> list[dict]:
        """The notebook's cells as nbformat dicts (sources, metadata and outputs, images left out)."""
        return self.page.evaluate(f"""() => {{ const cells = {_NOTEBOOK}.content.model.cells, out = [];
          for (let i = 0; i < cells.length; i++) {{ const c = cells.get(i).toJSON();
            if (c.outputs) c.outputs = c.outputs.map(o => o.data ? {{...o, data: {{}}}} : o);
            out.push(c); }}
          return out; }}""")
