"""Each lecture in JupyterLab: it runs top to bottom with no error output, every widget panel renders, and
every panel answers a control move (and its Run button) with a new figure. A self-test shows that the check
fails on a widget that stops rendering or responding."""
from __future__ import annotations

import pathlib
import re

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.labdriver import ROOT, Notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
PANEL_CALL = re.compile(r"\bmake_\w+_panel\(|\bPanel\(")


def panel_calls(path: pathlib.Path) -> int:
    """How many panels the notebook's code makes."""
    nb = nbformat.read(path, as_version=4)
    return sum(len(PANEL_CALL.findall(c.source)) for c in nb.cells if c.cell_type == "code")


def check_notebook(page, lab, path: str, change_timeout_s: float = 120) -> list[str]:
    """Run all, then move one control of every panel (and press its Run button); returns what went wrong."""
    nb = Notebook(page, lab, path)
    nb.run_all()
    if nb.errors():
        return [f"error output after Run All: {nb.errors()}"]
    views, rendered = nb.widget_views()
    if views != rendered:
        return [f"{views} widget outputs, but only {rendered} rendered in the page"]
    titles = nb.panels()
    expected = panel_calls(lab.root / path)
    if len(titles) < expected:
        return [f"the code makes {expected} panels, the page shows {len(titles)}: {titles}"]
    problems = []
    for i, title in enumerate(titles):
        name = f"panel {i} {title!r}"
        try:
            before = nb.wait_for_output(i, timeout_s=60)
        except PlaywrightTimeout:
            problems.append(f"{name}: shows no figure after Run All")
            continue
        what = nb.move_control(i)
        run = nb.has_run_button(i)
        if run:
            nb.press_run(i)
            what += ", Run pressed"
        try:
            nb.wait_for_output(i, other_than=before, timeout_s=change_timeout_s)
            if run:
                nb.wait_for_progress_done(i, timeout_s=60)
        except PlaywrightTimeout:
            problems.append(f"{name}: the output did not change after {what} (progress bar: {nb.progress(i)})")
    if nb.errors():
        problems.append(f"error output after moving the controls: {nb.errors()}")
    return problems


@pytest.mark.parametrize("lecture", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_runs_and_every_widget_responds(lecture, lab, page):
    assert check_notebook(page, lab, f"lectures/{lecture.name}") == []


BROKEN = {
    "raises_on_move": "def draw(x):\n    if x != 0:\n        raise RuntimeError('the callback broke')\n",
    "raises_on_display": "def draw(x):\n    raise RuntimeError('the figure never came')\n",
    "ignores_the_control": "def draw(x):\n    x = 0\n",
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_the_check_fails_on_a_widget_that_stops_rendering_or_responding(broken, lab, page):
    code = ("import ipywidgets as W\nimport matplotlib.pyplot as plt\nfrom initnorm.widgets import Panel\n\n"
            + BROKEN[broken] + "    fig, ax = plt.subplots(figsize=(2, 2))\n    ax.plot([0, x])\n"
            "    return fig\n\nPanel(draw, {'x': W.IntSlider(value=0, min=0, max=3)}, title='broken')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    path = lab.root / "selftest" / f"{broken}.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    problems = check_notebook(page, lab, f"selftest/{broken}.ipynb", change_timeout_s=5)
    assert problems, f"a widget that {broken.replace('_', ' ')} passed the check"
    expected = "error output after Run All" if broken == "raises_on_display" else "the output did not change"
    assert expected in problems[0], problems
