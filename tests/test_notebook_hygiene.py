"""Notebooks are stored clean: valid, no outputs, a python3 kernelspec (no 'Select Kernel' dialog)."""
import json

import nbformat
import pytest

from tests.notebooks import ROOT

NOTEBOOKS = sorted(p for d in ("lectures", "solutions", "exercises") for p in (ROOT / d).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec python3 missing"
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert with_outputs == [], f"cells {with_outputs} are stored with outputs; clear them before committing"
    assert json.loads(path.read_text())["nbformat"] == 4
