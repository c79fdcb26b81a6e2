"""Feedback for one student: the executed notebook as HTML, with a score table on top and the source of
hidden tests replaced by their verdict. Tracebacks of test cells are cut to the exception's message, since
a traceback quotes the lines of the (hidden) test that failed."""
from __future__ import annotations

import copy
import html
import pathlib
import re

import nbformat
from nbconvert import HTMLExporter

from .nbtools import nbgrader_meta

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def sanitize(executed, source_nb, scores: dict[str, float]):
    """A copy of `executed` safe to show the student."""
    nb = copy.deepcopy(executed)
    tests = {nbgrader_meta(c).get("grade_id"): c for c in source_nb.cells
             if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid not in tests:
            continue
        src = tests[gid].source
        public = HIDDEN.sub("", src).rstrip()
        if public != src.rstrip():
            verdict = "passed" if scores.get(gid, 0) > 0 else "failed"
            public += f"\n# hidden tests: {verdict} (their source is not shown)"
        cell.source = public
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
    return nb


def write(executed_path: pathlib.Path, source_nb, row, out: pathlib.Path) -> pathlib.Path:
    executed = nbformat.read(executed_path, as_version=4)
    nb = sanitize(executed, source_nb, row.cells)
    lines = [f"# Feedback: {html.escape(row.student)}", "",
             f"**Status:** {row.status} &nbsp; **Score:** {row.score:g} / {row.max_score:g}", "",
             "| test cell | points |", "|---|---|"]
    lines += [f"| `{gid}` | {pts:g} |" for gid, pts in row.cells.items()]
    if row.late_seconds:
        lines += ["", f"**Submitted** {row.submitted_at}, {row.late_seconds / 60:.1f} minutes after the due date"
                      + (f"; late penalty {row.penalty:g} points." if row.penalty else ".")]
    if row.flags:
        lines += ["", "**Flags:** " + html.escape("; ".join(row.flags))]
    if row.message:
        lines += ["", "**Note:** " + html.escape(row.message)]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body)
    return out
