"""Catalogues of implementations that the graders must judge right.

Each module `tests/catalogue/<assignment>.py` defines WRONG and CORRECT: lists of Variant. A variant starts
from the reference solution (the source notebook's solution cells without their markers) and changes it:

- `patch={grade_id: [(old, new), ...]}` replaces text in one solution cell; `old` must occur exactly once,
  so a catalogue entry breaks loudly when the reference changes under it;
- `cells={grade_id: code}` replaces a whole solution cell.

A WRONG variant must lose points in every test cell named in `fails` (grade ids); a CORRECT one must keep
full points everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    name: str
    patch: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)
    fails: tuple[str, ...] = ()
    why: str = ""

    def apply(self, reference: dict[str, str]) -> dict[str, str]:
        code = dict(reference)
        for gid, replacements in self.patch.items():
            if gid not in code:
                raise KeyError(f"{self.name}: no solution cell {gid!r}; cells are {sorted(code)}")
            for old, new in replacements:
                n = code[gid].count(old)
                if n != 1:
                    raise ValueError(f"{self.name}: {old!r} occurs {n} times in solution cell {gid!r}, expected once")
                code[gid] = code[gid].replace(old, new)
        for gid, src in self.cells.items():
            if gid not in code:
                raise KeyError(f"{self.name}: no solution cell {gid!r}; cells are {sorted(code)}")
            code[gid] = src
        return code
