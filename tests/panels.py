"""What the lecture tests share to check a widget panel: its figure as pixels, another value for each control, and
the check that a panel drawn into its previous figure looks exactly like a fresh drawing."""
from __future__ import annotations

import io

import matplotlib
import numpy as np


def pixels(fig) -> np.ndarray:
    """The figure rendered to raw RGBA bytes (works for closed figures too)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=40)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def differ(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or not np.array_equal(a, b)


def all_text(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def another_value(control, avoid=()):
    """A value of the control other than its current one (and not in `avoid`): the last option, the far end of a
    slider, the other state of a checkbox."""
    values = [o[1] if isinstance(o, tuple) else o for o in getattr(control, "options", ())]
    if values:
        return next(v for v in reversed(values) if v != control.value and v not in avoid)
    if isinstance(control.value, bool):
        return not control.value
    if hasattr(control, "base"):
        return control.base ** (control.max if control.value != control.base ** control.max else control.min)
    return control.max if control.value != control.max else control.min


def check_redraws_like_fresh(panel, avoid=(), start=None) -> None:
    """Move every control of a panel without a Run button once, from the panel's state after update(**start), and
    back: the panel must draw into its previous figure, change it, and give exactly the picture a fresh drawing gives."""
    assert not panel.run_button and panel.redraws_in_place
    first = panel.update(**(start or {}))
    for control in panel.controls:
        px, before = pixels(first), panel.controls[control].value
        fig = panel.update(**{control: another_value(panel.controls[control], avoid)})
        assert fig is first, "the panel built a new figure instead of drawing into its previous one"
        assert differ(px, pixels(fig)), f"moving {control!r} changed nothing"
        assert panel.render(fig) == panel.render(panel.draw(**panel.values())), f"after {control!r} it differs"
        panel.update(**{control: before})
