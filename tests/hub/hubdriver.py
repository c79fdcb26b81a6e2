"""A user of the course's JupyterHub in Chromium: log in on the hub's login page, open nbgrader's Assignments
panel from the Nbgrader menu and press its buttons, write a notebook through the server's contents API, open
it (labdriver.Notebook: Validate), and make plain HTTP requests with the user's cookies."""
from __future__ import annotations

import json
import secrets

from tests.browser.labdriver import Notebook

LAB_READY = "() => !!(window.jupyterapp && window.jupyterapp.started && document.querySelector('.jp-LabShell'))"
PANEL = "#nbgrader-assignment-list"
LISTS = {"released": "#released_assignments_list", "fetched": "#fetched_assignments_list",
         "submitted": "#submitted_assignments_list"}


class HubUser:
    """One person logged in to the hub in their own browser context."""

    def __init__(self, browser, hub_url: str, name: str, timeout_s: float = 240):
        self.hub_url, self.name = hub_url, name
        self.context = browser.new_context(viewport={"width": 1280, "height": 860})
        self.page = self.context.new_page()
        self.page.set_default_timeout(timeout_s * 1000)
        self._workspace = 0

    # -- the hub
    def submit_login(self, password: str) -> int:
        """Fill the hub's login form and press Sign in; returns the HTTP status of the POST."""
        self.page.goto(f"{self.hub_url}/hub/login")
        self.page.fill("#username_input", self.name)
        self.page.fill("#password_input", password)
        with self.page.expect_response(lambda r: "/hub/login" in r.url and r.request.method == "POST") as posted:
            self.page.click("#login_submit")
        return posted.value.status

    def wait_for_lab(self) -> None:
        """Wait until the hub has started this user's server and JupyterLab is up in the page."""
        self.page.wait_for_url(f"**/user/{self.name}/lab**")
        self.page.wait_for_function(LAB_READY, polling=250)

    def get(self, path: str) -> tuple[int, str]:
        """GET hub_url + path with this user's cookies, following redirects; (status, body)."""
        r = self.context.request.get(self.hub_url + path, max_redirects=10, fail_on_status_code=False)
        return r.status, r.text()

    # -- JupyterLab
    def url(self, path: str) -> str:
        """labdriver.Notebook's way in: the notebook at `path` (in the home folder) in a fresh workspace."""
        self._workspace += 1
        return f"{self.hub_url}/user/{self.name}/lab/workspaces/w{self._workspace}-{secrets.token_hex(3)}/tree/{path}"

    def open_notebook(self, path: str) -> Notebook:
        return Notebook(self.page, self, path)

    def start_validate(self) -> None:
        """Press nbgrader's Validate button in the open notebook's toolbar (the result: validate_result())."""
        self.page.get_by_role("button", name="Validate").click()

    def validate_result(self, timeout_s: float = 300) -> str:
        """The text of Validate's result dialog, once it shows; closes it."""
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(state="visible", timeout=timeout_s * 1000)
        text = dialog.inner_text()
        dialog.get_by_role("button").last.click()
        return text

    def menu_items(self, menu: str) -> list[str]:
        """The labels of a main-menu menu, as the user sees it when opening it."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=menu).click()
        items = self.page.locator(".lm-Menu:visible .lm-Menu-itemLabel").all_inner_texts()
        self.page.keyboard.press("Escape")
        return [i.strip() for i in items if i.strip()]

    def sidebar_tabs(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
            "tabs => tabs.map(t => t.title || t.innerText || '')")]

    def setting(self, plugin: str) -> dict:
        """A JupyterLab plugin's settings as they apply to this user: the schema's defaults (with the
        overrides of the server's configuration), then the user's own settings."""
        status, body = self.get(f"/user/{self.name}/lab/api/settings/{plugin}")
        assert status == 200, (status, body[:300])
        data = json.loads(body)
        defaults = {k: v.get("default") for k, v in data["schema"].get("properties", {}).items()}
        return {**defaults, **(data.get("settings") or {})}

    def write_notebook(self, path: str, nb) -> None:
        """Save `nb` (a notebook dict) at `path` through the server's contents API, from the page."""
        self.page.evaluate("([path, nb]) => window.jupyterapp.serviceManager.contents.save(path, "
                           "{type: 'notebook', format: 'json', content: nb})", [path, nb])

    # -- the Assignments panel
    def open_assignments(self) -> None:
        """Nbgrader > Assignment List, as a student opens it; waits until the lists have loaded."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        self.page.locator(".lm-Menu:visible .lm-Menu-itemLabel", has_text="Assignment List").click()
        self.page.locator(PANEL).wait_for(state="visible")
        self.wait_until_loaded()

    def wait_until_loaded(self) -> None:
        self.page.wait_for_function(
            "() => ['released', 'fetched', 'submitted'].every(k => { const l = document.getElementById("
            "k + '_assignments_list_loading'); return l && l.hidden; })", polling=250)

    def row(self, which: str, assignment: str):
        return self.page.locator(f"{LISTS[which]} > .list_item", has_text=assignment)

    def press(self, which: str, assignment: str, button: str, then: str) -> None:
        """Press `button` on the assignment's row in list `which`; wait until it shows up in list `then`."""
        self.row(which, assignment).get_by_role("button", name=button).click()
        self.row(then, assignment).first.wait_for(state="visible")
        self.wait_until_loaded()

    def wait_for_submissions(self, assignment: str, n: int) -> list[str]:
        self.page.wait_for_function(
            "([sel, n]) => [...document.querySelectorAll(sel)].filter(e => e.innerText.trim()).length >= n",
            arg=[f"{LISTS['submitted']} .assignment-notebooks > .list_item", n], polling=250)
        return self.submissions(assignment)

    def submissions(self, assignment: str) -> list[str]:
        """The submission rows the panel lists under the assignment (timestamp and feedback state)."""
        rows = self.row("submitted", assignment).locator(".assignment-notebooks > .list_item")
        return [t.strip() for t in rows.all_inner_texts() if t.strip()]

    def close(self) -> None:
        self.context.close()
