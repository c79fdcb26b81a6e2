"""Build the notebook that is actually executed for one submission, and score it.

The instructor's notebooks decide what runs: every locked cell and every test cell (hidden tests included)
comes from the source notebook, whatever the submission did to it; only the student's solution cells and the
extra cells they added are taken from the submission. Whatever was tampered with (deleted, duplicated,
re-typed or edited graded cells, changed points or grade ids) is reported as a flag, never trusted.

Guard cells are inserted (and later removed): one at the top snapshots the functions the tests compare
with, and one before every test cell restores them, detaches any hook the student's code installed on
cell execution, and records what had been patched.
"""
from __future__ import annotations

import copy
import pathlib

import nbformat

from .nbtools import nbgrader_meta

GUARD_KEY = "autograder_guard"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

# Modules whose functions and classes the tests rely on; the guard restores them before every test cell.
GUARDED_MODULES = ["math", "numpy", "numpy.testing", "numpy.linalg", "torch", "torch.testing",
                   "torch.nn.functional", "torch.autograd", "initnorm", "initnorm.gradcheck"]
GUARDED_BUILTINS = ["AssertionError", "Exception", "isinstance", "abs", "all", "any", "len", "max", "min", "sum",
                    "round", "float", "int", "bool", "range", "zip", "type", "hasattr", "getattr", "print"]

_SETUP = f'''
def __autograder_setup():
    import builtins, importlib, sys, types
    saved = {{"builtins": (builtins, {{k: getattr(builtins, k) for k in {GUARDED_BUILTINS!r}}})}}
    for name in {GUARDED_MODULES!r}:
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        saved[name] = (mod, {{k: v for k, v in vars(mod).items() if callable(v) and not k.startswith("__")
                             and not isinstance(v, types.ModuleType)}})
    patched = set()
    torch_dir = None
    if "torch" in saved:
        import os
        torch_dir = os.path.dirname(saved["torch"][0].__file__) + os.sep

    def benign(now, value):
        code = getattr(now, "__code__", None)
        return (torch_dir is not None and getattr(now, "__wrapped__", None) is value and code is not None
                and getattr(now, "__name__", None) == getattr(value, "__name__", None)
                and code.co_filename.startswith(torch_dir))

    def restore():
        ip = get_ipython()
        for event in list(ip.events.callbacks):
            ip.events.callbacks[event] = []
        ip.input_transformers_post[:] = []
        ip.ast_transformers[:] = []
        sys.settrace(None)
        sys.setprofile(None)
        for name, (mod, members) in saved.items():
            current = vars(mod)
            for key, value in members.items():
                now = current.get(key)
                if now is value:
                    continue
                if benign(now, value):
                    members[key] = now  # the library re-wrapped its own function (torch._dynamo does)
                    continue
                patched.add(name + "." + key)
                setattr(mod, key, value)
        return sorted(patched)
    return restore
__autograder_restore = __autograder_setup()
del __autograder_setup
'''.strip()
_RESTORE = "__autograder_restore()"
_REPORT = "print('AUTOGRADER-PATCHED:' + ','.join(__autograder_restore()))"


def _guard_cell(source: str, role: str):
    return nbformat.v4.new_code_cell(source, metadata={GUARD_KEY: role})


def _is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def _grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def assemble(source_nb, release_nb, submission_nb) -> tuple["nbformat.NotebookNode", list[str]]:
    """(notebook to execute, flags). Template order is the release's; test cells come from the source."""
    flags: list[str] = []
    source_by_id = {_grade_id(c): c for c in source_nb.cells if _grade_id(c)}
    release_ids = [_grade_id(c) for c in release_nb.cells if _grade_id(c)]

    # what the student has, by grade id; cells without an id are the student's own extra cells
    student: dict[str, object] = {}
    extras_after: dict[str | None, list] = {}
    anchor = None
    for cell in submission_nb.cells:
        gid = _grade_id(cell)
        if gid in source_by_id:
            if gid in student:
                flags.append(f"duplicated cell {gid}")
                continue
            student[gid] = cell
            anchor = gid
        elif gid is not None:
            flags.append(f"unknown grade id {gid}")
            if cell.cell_type == "code":
                extras_after.setdefault(anchor, []).append(cell)
        elif cell.cell_type == "code" and cell.source.strip():
            extras_after.setdefault(anchor, []).append(cell)

    cells = [_guard_cell(_SETUP, "setup")]
    cells += [copy.deepcopy(c) for c in extras_after.get(None, [])]
    for rel_cell in release_nb.cells:
        gid = _grade_id(rel_cell)
        if gid is None:
            cells.append(copy.deepcopy(rel_cell))
            continue
        theirs = student.get(gid)
        src_cell = source_by_id[gid]
        if theirs is None:
            flags.append(f"missing cell {gid}")
        elif theirs.cell_type != src_cell.cell_type:
            flags.append(f"cell {gid} changed from {src_cell.cell_type} to {theirs.cell_type}")
        elif nbgrader_meta(theirs).get("points") != nbgrader_meta(src_cell).get("points"):
            flags.append(f"points of {gid} edited")
        if _is_solution(src_cell):
            cell = copy.deepcopy(rel_cell)
            if theirs is not None and theirs.cell_type == "code":
                cell.source = theirs.source
            elif theirs is not None:  # a solution turned into markdown: its text still counts as code
                cell.source = theirs.source
            else:
                cell.source = rel_cell.source or STUB
        else:
            cell = copy.deepcopy(src_cell)  # locked and test cells: the instructor's, hidden tests included
            if theirs is not None and not _is_solution(src_cell) and theirs.source != rel_cell.source \
                    and nbgrader_meta(src_cell).get("locked"):
                flags.append(f"locked cell {gid} edited")
            if nbgrader_meta(src_cell).get("grade"):
                cells.append(_guard_cell(_RESTORE, "restore"))
        cells.append(cell)
        cells += [copy.deepcopy(c) for c in extras_after.get(gid, [])]
    cells.append(_guard_cell(_REPORT, "report"))
    missing_from_release = set(source_by_id) - set(release_ids)
    if missing_from_release:
        raise ValueError(f"release and source disagree on cells {sorted(missing_from_release)}: run make release")
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source_nb.metadata))
    return nb, sorted(set(flags))


def strip_guards(nb) -> tuple["nbformat.NotebookNode", list[str]]:
    """Remove the guard cells from an executed notebook; returns it and the names the student had patched."""
    patched: list[str] = []
    for cell in nb.cells:
        if cell.get("metadata", {}).get(GUARD_KEY) == "report":
            for out in cell.get("outputs", []):
                text = out.get("text", "")
                if "AUTOGRADER-PATCHED:" in text:
                    names = text.split("AUTOGRADER-PATCHED:", 1)[1].strip()
                    patched = [n for n in names.split(",") if n]
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if GUARD_KEY not in c.get("metadata", {})]
    return nb, patched


def score(executed_nb, source_nb) -> tuple[dict[str, float], dict[str, str]]:
    """Points per test cell (all or nothing: full unless the cell raised or never ran) and the error
    message of every failed cell. Output on stderr (warnings) does not cost points."""
    points = {_grade_id(c): float(nbgrader_meta(c).get("points", 0)) for c in source_nb.cells
              if nbgrader_meta(c).get("grade") and not _is_solution(c)}
    ran = {}
    for cell in executed_nb.cells:
        gid = _grade_id(cell)
        if gid in points and gid not in ran:
            ran[gid] = cell
    scores, messages = {}, {}
    for gid, max_points in points.items():
        cell = ran.get(gid)
        if cell is None or cell.get("execution_count") is None:
            scores[gid], messages[gid] = 0.0, "not executed (the kernel stopped before this cell)"
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        scores[gid] = 0.0 if errors else max_points
        if errors:
            messages[gid] = f"{errors[0].get('ename', 'Error')}: {errors[0].get('evalue', '')}"[:500]
    return scores, messages


def read_notebook(path: pathlib.Path):
    return nbformat.read(path, as_version=4)
