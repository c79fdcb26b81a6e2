"""What a student waits for, measured on this machine:

- the execution of each lecture notebook, top to bottom (target: at most 45 s);
- the latency of each widget's update (the panels a lecture makes with initnorm's make_*_panel(), and the
  Panels its own `define` cells make): the panel's own callback (what a slider move or the Run button calls)
  plus rendering the figure to PNG as the panel does for its output (Panel.render), always to a combination
  of values not seen before (so its results are not cached yet; what the lecture computed once, e.g. the
  data, stays warm, as in the student's kernel). Widgets that do not train: median of such moves (target: at most
  200 ms); moves back to a value already seen (cached) are reported too. Widgets that train (a Run button):
  median of such runs (target: at most 3 s, with the progress bar moving);
- the time from starting `make test` to the first test result (the install stamp check, chromium check,
  pytest start-up and collection, the first test's fixtures).

    python -m benchmarks.lectures [--repeats 5] [--skip-lectures] [--skip-first-test] [--no-write]

Prints a table and writes it into benchmarks/README.md (between the `lectures` markers; other sections stay).
"""
from __future__ import annotations

import argparse
import ast
import importlib
import os
import pathlib
import pkgutil
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = pathlib.Path(__file__).resolve().parents[1]

from tests.lecture_code import definitions  # noqa: E402
from tests.notebooks import bad_outputs, execute  # noqa: E402

LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- lectures:begin -->", "<!-- lectures:end -->"
TARGET_LECTURE_S, TARGET_WIDGET_MS, TARGET_TRAINING_S = 45.0, 200.0, 3.0
PANEL_CALL = re.compile(r"make_\w+_panel$")


# ------------------------------------------------------------------ which panels each lecture shows
def lecture_module(path: pathlib.Path) -> str:
    """lectures/02_normalization.ipynb -> initnorm.normalization"""
    return "initnorm." + re.sub(r"^\d+_", "", path.stem)


def panel_calls(path: pathlib.Path) -> list[tuple[str, dict]]:
    """(factory name, literal keyword arguments) of every make_*_panel(...) call in the lecture's code."""
    import nbformat

    calls = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if PANEL_CALL.match(name):
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
                    calls.append((name, kwargs))
    return calls


def factory(path: pathlib.Path, name: str):
    """The make_*_panel function: in the lecture's module, else in any initnorm module."""
    import initnorm

    modules = [lecture_module(path)] + [f"initnorm.{m.name}" for m in pkgutil.iter_modules(initnorm.__path__)]
    for mod in modules:
        try:
            fn = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    raise LookupError(f"{path.name} calls {name}(), which no initnorm module defines")


def notebook_panels(path: pathlib.Path) -> list:
    """The Panels the lecture makes in its own `define` cells (tests/lecture_code.py), in the order it makes them."""
    from initnorm.widgets import Panel

    return [obj for obj in definitions(path).values() if isinstance(obj, Panel)]


# ------------------------------------------------------------------ moving a control
def choices(widget) -> list:
    """Every value a control can take (sliders: a few spread over the range)."""
    import ipywidgets as W
    import numpy as np

    if hasattr(widget, "options"):
        return [o[1] if isinstance(o, tuple) else o for o in widget.options]
    if isinstance(widget, W.Checkbox):
        return [False, True]
    if isinstance(widget, W.FloatLogSlider):
        return [float(widget.base ** e) for e in np.linspace(widget.min, widget.max, 7)]
    values = np.linspace(widget.min, widget.max, 7)
    if isinstance(widget.value, int):
        return sorted({int(round(v)) for v in values})
    step = widget.step or 1e-3
    return sorted({round(float(widget.min + round((v - widget.min) / step) * step), 10) for v in values})


def moves(panel, per_control: int) -> list[tuple[str, object]]:
    """(control, new value): for each control, up to `per_control` values other than its current one."""
    out = []
    for name, widget in panel.controls.items():
        others = [v for v in choices(widget) if v != widget.value]
        if not others:
            continue
        idx = sorted({round(i * (len(others) - 1) / max(per_control - 1, 1)) for i in range(per_control)})
        out += [(name, others[i]) for i in idx]
    return out


def render(panel, fig) -> None:
    """What the panel hands to its Output widget: the figure as PNG (Panel.render, as in the notebook)."""
    import matplotlib.pyplot as plt

    panel.render(fig)
    plt.close(fig)


class Timings(list):
    """(wall, cpu, png) seconds of each move."""

    def add(self, panel, **values) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        fig = panel.update(**values)
        png = time.perf_counter()
        render(panel, fig)
        end = time.perf_counter()
        self.append((end - wall, time.process_time() - cpu, end - png))

    def median(self, k: int = 0) -> float:
        return statistics.median(t[k] for t in self)

    def worst(self) -> float:
        return max(t[0] for t in self)


# ------------------------------------------------------------------ measurements
def round_robin(pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Interleave the moves of different controls: a, b, a, b, ..."""
    by_control: dict[str, list] = {}
    for control, value in pairs:
        by_control.setdefault(control, []).append(value)
    out, queues = [], list(by_control.items())
    while any(values for _, values in queues):
        out += [(control, values.pop(0)) for control, values in queues if values]
    return out


def measure_panel(path: pathlib.Path, panel, repeats: int, runs: int) -> dict:
    render(panel, panel.update())  # the panel as the lecture first shows it (also warms imports and the data)
    row = {"lecture": path.stem, "widget": panel.title or panel.draw.__name__, "trains": panel.run_button}
    if panel.run_button:
        fractions: list[float] = []
        original = panel._set_progress
        panel._set_progress = lambda f: (fractions.append(float(f)), original(f))
        cold, again, progress = Timings(), Timings(), []
        for control, value in round_robin(moves(panel, per_control=runs))[:runs]:
            fractions.clear()
            cold.add(panel, **{control: value})
            progress.append(len(set(fractions)) >= 2 and panel.progress.value == 1.0)
        again.add(panel)  # Run again with the same values: the cache answers
        row.update(cold=cold, again=again, progress=all(progress))
    else:
        cold, again = Timings(), Timings()
        for control, value in moves(panel, per_control=repeats):
            before = panel.controls[control].value
            cold.add(panel, **{control: value})
            panel.update(**{control: before})
            again.add(panel, **{control: value})
        row.update(cold=cold, again=again, progress=None)
    row["first"] = cold.median()
    limit = TARGET_TRAINING_S if panel.run_button else TARGET_WIDGET_MS / 1000
    row["ok"] = row["first"] <= limit and row["progress"] is not False
    return row


def measure_lecture(path: pathlib.Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        nb, seconds = execute(path, env={"INITNORM_FIGDIR": tmp})
    bad = bad_outputs(nb)
    return {"lecture": path.stem, "seconds": seconds, "errors": bad, "ok": seconds <= TARGET_LECTURE_S and not bad}


def measure_first_test() -> dict:
    """`make test` from its start to the end of collection and to the first test result; then it is stopped."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "first_test.txt"
        env = dict(os.environ, PYTEST_ADDOPTS="-p benchmarks.first_test", BENCH_FIRST_TEST=str(out))
        start = time.perf_counter()
        env["BENCH_T0"] = repr(time.time())
        subprocess.run(["make", "-s", "test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
        total = time.perf_counter() - start
        marks = dict(line.split("=", 1) for line in out.read_text().split()) if out.exists() else {}
    start = time.perf_counter()
    subprocess.run(["make", "-s", "install"], cwd=ROOT, capture_output=True, timeout=600)
    stamp = time.perf_counter() - start
    return {"stamp": stamp, "collected": float(marks.get("collected", "nan")), "start": float(marks.get("start", "nan")),
            "first": float(marks.get("first", "nan")), "first_test": marks.get("test", "?"), "make_total": total}


# ------------------------------------------------------------------ report
def table(lectures: list[dict], widgets: list[dict], first: dict | None) -> str:
    yes = {True: "yes", False: "**MISSES**"}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"Measured by `python -m benchmarks.lectures` (`make bench`) on {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d')}; load average at the end {load} (other jobs on the machine inflate "
             f"wall-clock times, CPU times less).", ""]
    if lectures:
        lines += ["### Lecture notebooks, executed top to bottom", "",
                  f"| lecture | seconds | target <= {TARGET_LECTURE_S:g} s | errors |", "|---|---:|---|---|"]
        lines += [f"| {r['lecture']} | {r['seconds']:.1f} | {yes[r['ok']]} | {len(r['errors'])} |" for r in lectures]
        lines.append("")
    if widgets:
        lines += ["### Widgets: one control move (callback + PNG rendering)", "",
                  "Every move goes to a combination of values not seen before (nothing cached for it). Widgets "
                  "without a Run button: median (and worst) of such moves, then the median of moves back to a "
                  "value already seen (cached). Widgets with a Run button (they train): median of such runs, then "
                  "Run again with the same values (cached). "
                  "Medians; *cpu* is this process's CPU time (all threads), *png* the part spent rendering the "
                  "figure.", "",
                  "| lecture | widget | trains | moves | wall | cpu | png | worst wall | again (cached) | target "
                  "| progress bar | meets target |", "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---|"]
        for r in widgets:
            fmt = (lambda s: f"{s:.2f} s") if r["trains"] else (lambda s: f"{s * 1000:.0f} ms")
            target = f"<= {TARGET_TRAINING_S:g} s" if r["trains"] else f"<= {TARGET_WIDGET_MS:g} ms"
            bar = "-" if r["progress"] is None else ("yes" if r["progress"] else "**no**")
            c = r["cold"]
            lines.append(f"| {r['lecture']} | {r['widget']} | {'yes' if r['trains'] else 'no'} | {len(c)} | "
                         f"{fmt(c.median())} | {fmt(c.median(1))} | {fmt(c.median(2))} | {fmt(c.worst())} | "
                         f"{fmt(r['again'].median())} | {target} | {bar} | {yes[r['ok']]} |")
        lines.append("")
    if first:
        lines += ["### From `make test` to the first test", "",
                  "| step | seconds |", "|---|---:|",
                  f"| `make install` when nothing changed (the stamp check) | {first['stamp']:.3f} |",
                  f"| `make test` start to the end of pytest's collection | {first['collected']:.1f} |",
                  f"| `make test` start to the first test starting | {first['start']:.1f} |",
                  f"| `make test` start to the first test result (`{first['first_test']}`) | {first['first']:.1f} |",
                  ""]
    misses = [r["lecture"] for r in lectures if not r["ok"]] + [r["widget"] for r in widgets if not r["ok"]]
    lines.append("Misses its target: " + (", ".join(misses) if misses else "nothing") + ".")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    block = f"{BEGIN}\n## Lectures and widgets\n\n{text}\n{END}"
    old = README.read_text() if README.exists() else "# Benchmarks\n"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(new)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=4, help="moves per control of a widget that does not train")
    p.add_argument("--runs", type=int, default=3, help="cold runs of a widget that trains")
    p.add_argument("--skip-lectures", action="store_true", help="do not execute the lecture notebooks")
    p.add_argument("--skip-first-test", action="store_true", help="do not measure make test's start-up")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args()
    widgets = []
    for path in LECTURES:
        panels = [factory(path, name)(**kwargs) for name, kwargs in panel_calls(path)] + notebook_panels(path)
        for panel in panels:
            widgets.append(measure_panel(path, panel, args.repeats, args.runs))
            print(f"  {path.stem} {widgets[-1]['widget']}: {widgets[-1]['first']:.3f} s", flush=True)
    lectures = []
    for path in [] if args.skip_lectures else LECTURES:
        lectures.append(measure_lecture(path))
        print(f"  {path.stem}: {lectures[-1]['seconds']:.1f} s", flush=True)
    first = None if args.skip_first_test else measure_first_test()
    text = table(lectures, widgets, first)
    print(text)
    if not args.no_write:
        write_readme(text)
        print(f"\nwritten to {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
