"""Reading and filling nbgrader notebooks: which cells are solutions and tests, and the reference code."""
from __future__ import annotations

import pathlib
import re

import nbformat

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_cells(nb) -> dict[str, "nbformat.NotebookNode"]:
    """Solution cells by grade_id, in notebook order."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("solution") and c.cell_type == "code"}


def graded_cells(nb) -> dict[str, int]:
    """Auto-graded test cells: grade_id -> points."""
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c).get("points", 0) for c in nb.cells
            if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def reference_code(source_nb) -> dict[str, str]:
    """What a perfect student writes in each solution cell: the source cell without the solution markers."""
    return {gid: "\n".join(line for line in cell.source.splitlines() if not SOLUTION_MARKERS.match(line))
            for gid, cell in solution_cells(source_nb).items()}


def fill(release_nb, code: dict[str, str]):
    """A copy of a released notebook with the given solution cells' source replaced."""
    nb = nbformat.from_dict(release_nb)  # deep copy
    cells = solution_cells(nb)
    unknown = set(code) - set(cells)
    if unknown:
        raise KeyError(f"no solution cell with grade_id {sorted(unknown)}; the notebook has {sorted(cells)}")
    for gid, src in code.items():
        cells[gid].source = src
    return nb


def read(path: pathlib.Path):
    return nbformat.read(path, as_version=4)
