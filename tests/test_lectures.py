"""Every lecture executes top to bottom with no error and nothing on stderr."""
import pathlib

import pytest

from tests.notebooks import ROOT, bad_outputs, execute

LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))


def test_the_three_lectures_exist():
    names = [p.name for p in LECTURES]
    assert "01_initialization.ipynb" in names, names


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_executes_cleanly(path: pathlib.Path, tmp_path):
    nb, seconds = execute(path, env={"INITNORM_FIGDIR": str(tmp_path / "figures")})
    print(f"{path.name} executed in {seconds:.1f} s")
    assert bad_outputs(nb) == []
    n_images = sum("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", []))
    n_widgets = sum("application/vnd.jupyter.widget-view+json" in out.get("data", {})
                    for c in nb.cells for out in c.get("outputs", []))
    assert n_images + n_widgets >= 5, f"only {n_images} figures and {n_widgets} widgets were shown"
