"""The code a lecture defines, without running its experiments: tests and benchmarks drive the lecture's own
functions and widgets with it.

A lecture tags the code cells that only define (imports, functions, constants, panels) with `define`;
`definitions(path)` executes those cells, in order, in a fresh namespace and returns it. IPython magics
(`%matplotlib inline`) are left out.
"""
from __future__ import annotations

import functools
import pathlib

import nbformat

TAG = "define"


@functools.lru_cache(maxsize=None)
def definitions(path: pathlib.Path) -> dict:
    """Namespace after executing the notebook's `define` cells (cached per path: treat it as read-only)."""
    namespace: dict = {"__name__": f"lecture_{path.stem}"}
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code" and TAG in cell.metadata.get("tags", []):
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
            exec(compile(source, f"{path.name}, cell {i}", "exec"), namespace)
    return namespace
