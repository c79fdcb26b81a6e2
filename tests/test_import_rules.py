"""The helper package's import rules, read from the source (nothing is imported):

1. `initnorm` is a small core (data, models, training, statistics, plotting, widgets, caching, ...) plus one module
   per lecture, named after the lecture's notebook (lectures/01_initialization.ipynb -> initnorm.initialization);
2. the core imports no lecture module: imports go one way, core <- lectures;
3. a lecture module imports no other lecture's module, and a lecture notebook no other lecture's module;
4. no private name (`_name`) crosses a module: not imported, not read as `module._name`.
"""
from __future__ import annotations

import ast
import pathlib
import re

import nbformat
import pytest

from tests.notebooks import ROOT

PACKAGE = ROOT / "initnorm"
LECTURE_MODULES = {re.sub(r"^\d+_", "", p.stem) for p in (ROOT / "lectures").glob("*.ipynb")}
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def imports(source: str, importer: str) -> list[tuple[str, str | None, int]]:
    """(initnorm module, imported name or None, line) for every import of an initnorm module in `source`, and for
    every attribute read on a name bound to one (`ini._x` after `from initnorm import initialization as ini`)."""
    tree = ast.parse(source)
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            absolute = node.module or ""
            if node.level:  # from .models import x / from . import augment
                absolute = "initnorm" + ("." + node.module if node.module else "")
            if not absolute.startswith("initnorm"):
                continue
            for alias in node.names:
                if absolute == "initnorm" and alias.name in MODULES:   # from initnorm import initialization
                    found.append((alias.name, None, node.lineno))
                    aliases[alias.asname or alias.name] = alias.name
                else:
                    module = absolute.split(".")[1] if "." in absolute else "__init__"
                    found.append((module, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("initnorm"):
                    parts = alias.name.split(".")
                    module = parts[1] if len(parts) > 1 else "__init__"
                    found.append((module, None, node.lineno))
                    aliases[alias.asname or parts[0]] = module if alias.asname else "__init__"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            module = aliases[node.value.id]
            if node.attr in MODULES and module == "__init__":      # inn.models.x
                found.append((node.attr, None, node.lineno))
            else:
                found.append((module, node.attr, node.lineno))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
              and isinstance(node.value.value, ast.Name) and aliases.get(node.value.value.id) == "__init__"
              and node.value.attr in MODULES):                      # inn.models._fans
            found.append((node.value.attr, node.attr, node.lineno))
    return found


def violations(importer: str, source: str, lecture: str | None = None) -> list[str]:
    """What `source` (the module `importer`, or the notebook of `lecture`) does against rules 2 to 4."""
    own = lecture if lecture is not None else (importer if importer in LECTURE_MODULES else None)
    found = []
    for module, name, line in imports(source, importer):
        where = f"{importer}:{line}"
        if module in LECTURE_MODULES and module != own:
            kind = "a lecture" if own else "the core"
            found.append(f"{where}: {kind} imports lecture module initnorm.{module}")
        if name is not None and name.startswith("_") and not name.startswith("__") and module != importer:
            found.append(f"{where}: private name {name} of initnorm.{module} used outside it")
    return found


def test_every_lecture_has_its_module_and_the_core_is_the_rest():
    assert LECTURE_MODULES == {"initialization", "normalization", "generalization"}
    assert LECTURE_MODULES <= set(MODULES)
    assert {"data", "models", "train", "stats", "plots", "widgets", "cache"} <= set(MODULES) - LECTURE_MODULES


@pytest.mark.parametrize("module", MODULES + ["__init__"])
def test_package_module_follows_the_import_rules(module):
    assert violations(module, (PACKAGE / f"{module}.py").read_text()) == []


@pytest.mark.parametrize("path", sorted((ROOT / "lectures").glob("*.ipynb")), ids=lambda p: p.stem)
def test_lecture_notebook_imports_only_the_core_and_its_own_module(path):
    lecture = re.sub(r"^\d+_", "", path.stem)
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    source = "\n".join(line for c in cells for line in c.splitlines() if not line.lstrip().startswith(("%", "!")))
    assert violations(path.name, source, lecture=lecture) == []


@pytest.mark.parametrize("source,expected", [
    ("from .normalization import cached", "the core imports lecture module initnorm.normalization"),
    ("from initnorm import generalization as g", "the core imports lecture module initnorm.generalization"),
    ("import initnorm.initialization", "the core imports lecture module initnorm.initialization"),
    ("from .models import _fans", "private name _fans of initnorm.models"),
    ("import initnorm as inn\ninn.models._fans(w)", "private name _fans of initnorm.models"),
    ("from initnorm import models as m\nm._fans(w)", "private name _fans of initnorm.models"),
])
def test_the_checker_finds_each_kind_of_violation(source, expected):
    found = violations("plots", source)
    assert any(expected in v for v in found), found
    assert violations("plots", "from .models import mlp\nimport initnorm as inn\ninn.digits()") == []
    # a lecture may import its own module, not another lecture's
    assert violations("x.ipynb", "from initnorm import initialization as ini", lecture="initialization") == []
    assert violations("x.ipynb", "from initnorm import normalization", lecture="initialization")
