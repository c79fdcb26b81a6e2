"""Feedback for one student: the executed notebook as HTML, with a score table on top and the source of
hidden tests replaced by their verdict. Tracebacks of test cells are cut to the exception's message, since
a traceback quotes the lines of the (hidden) test that failed.

The page works without the internet (a hub often has no outside access): every formula of the markdown is
turned into MathML here, which browsers render themselves, and the page loads no script from elsewhere.
"""
from __future__ import annotations

import copy
import html
import pathlib
import re
import secrets

import nbformat
from nbconvert import HTMLExporter

from .assemble import score as cell_messages
from .nbtools import graded_cells, nbgrader_meta

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
TEMPLATES = pathlib.Path(__file__).with_name("templates")
# code first (its dollars are not math), then $$..$$, \[..\], \begin{env}..\end{env}, \(..\), $..$
MATH = re.compile(r"(?P<code>```.*?```|`[^`\n]*`)"
                  r"|\$\$(?P<display>.+?)\$\$|\\\[(?P<bracket>.+?)\\\]|(?P<env>\\begin\{(?P<name>\w+\*?)\}.*?\\end\{(?P=name)\})"
                  r"|\\\((?P<paren>.+?)\\\)|(?<![\\$\w])\$(?=\S)(?P<inline>[^$]+?)(?<=\S)\$(?!\d)", re.S)
TEXT_ESCAPES = re.compile(r"\\([_%$#&{}])")
STYLE = """<style>
.feedback-scores { border-collapse: collapse; margin: 0.5em 0 1em; }
.feedback-scores th, .feedback-scores td { border: 1px solid #ccc; padding: 4px 10px; text-align: left;
  vertical-align: top; }
.feedback-scores td.points { white-space: nowrap; font-weight: bold; }
.feedback-scores tr.full td.points { color: #1a7f37; }
.feedback-scores tr.lost td.points { color: #b42318; }
.feedback-scores td.message { font-family: monospace; white-space: pre-wrap; }
</style>"""


def tex_to_mathml(tex: str, display: bool) -> str:
    """One formula as MathML; a formula the converter cannot read stays visible as its TeX source."""
    from latex2mathml.converter import convert

    try:
        out = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001  (any failure of the converter: show the source rather than nothing)
        return f'<code class="tex">{html.escape(tex)}</code>'
    # \text{fan\_in}: the converter keeps the escape inside <mtext>
    return re.sub(r"<mtext([^>]*)>(.*?)</mtext>", lambda m: f"<mtext{m.group(1)}>"
                  + TEXT_ESCAPES.sub(r"\1", m.group(2)) + "</mtext>", out)


def math_to_placeholders(source: str, found: dict[str, str]) -> str:
    """Replace each formula of a markdown source by a placeholder (letters and digits only, so the markdown
    renderer leaves it alone) and record its MathML in `found`."""
    def one(m: re.Match) -> str:
        if m.group("code"):
            return m.group(0)
        display = m.group("inline") is None and m.group("paren") is None
        tex = next(g for g in (m.group("display"), m.group("bracket"), m.group("env"), m.group("paren"),
                               m.group("inline")) if g is not None)
        key = f"MATHPLACEHOLDER{secrets.token_hex(8)}X"
        found[key] = tex_to_mathml(tex, display)
        return key
    return MATH.sub(one, source)


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


def score_table(row, possible: dict[str, float], messages: dict[str, str]) -> str:
    """Each test cell: points earned / possible, and what went wrong (or that it passed)."""
    lines = [STYLE, '<table class="feedback-scores">',
             "<thead><tr><th>test</th><th>points</th><th>result</th></tr></thead><tbody>"]
    for gid, most in possible.items():
        earned = row.cells.get(gid, 0.0)
        message = messages.get(gid) or ("passed" if earned >= most else "no points")
        kind = "full" if earned >= most else "lost"
        lines.append(f'<tr class="{kind}" data-grade-id="{html.escape(gid)}"><td><code>{html.escape(gid)}</code></td>'
                     f'<td class="points">{earned:g} / {most:g}</td>'
                     f'<td class="message">{html.escape(message)}</td></tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)


def header(row, possible: dict[str, float], messages: dict[str, str]) -> str:
    parts = [f"<h1>Feedback: {html.escape(row.student)}</h1>",
             f"<p><strong>Status:</strong> {html.escape(row.status)} &nbsp; "
             f"<strong>Score:</strong> {row.score:g} / {row.max_score:g}</p>", score_table(row, possible, messages)]
    if row.late_seconds:
        late = f"{row.late_seconds / 60:.1f} minutes after the due date"
        penalty = f"; late penalty {row.penalty:g} points." if row.penalty else "."
        parts.append(f"<p><strong>Submitted</strong> {html.escape(row.submitted_at)}, {late}{penalty}</p>")
    if row.flags:
        parts.append("<p><strong>Flags:</strong> " + html.escape("; ".join(row.flags)) + "</p>")
    if row.message:
        parts.append("<p><strong>Note:</strong> " + html.escape(row.message) + "</p>")
    return '<div class="feedback-summary">\n' + "\n".join(parts) + "\n</div>"


def render(nb, head: str) -> str:
    """The notebook as one self-contained HTML page, `head` (HTML) first, formulas as MathML."""
    nb = copy.deepcopy(nb)
    formulas: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_placeholders(cell.source, formulas)
    exporter = HTMLExporter(template_name="feedback", extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(nb, resources={"feedback_header": head})
    for key, mathml in formulas.items():
        body = body.replace(key, mathml)
    return body


def write(executed_path: pathlib.Path, source_nb, row, out: pathlib.Path) -> pathlib.Path:
    executed = nbformat.read(executed_path, as_version=4)
    nb = sanitize(executed, source_nb, row.cells)
    possible = {gid: float(points) for gid, points in graded_cells(source_nb).items()}
    _, messages = cell_messages(executed, source_nb)
    body = render(nb, header(row, possible, messages))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body)
    return out
