"""Widget panels: an experiment is one pure drawing function plus its controls.

    panel = Panel(draw_fn, {"depth": IntSlider(...), ...})
    panel              # in a notebook: shows the controls and the figure
    panel.update(depth=20)   # what a slider move does; returns the figure (tests call this directly)

`draw_fn(**values)` returns a matplotlib Figure. With run_button=True the panel redraws only when Run is
pressed, and `draw_fn` also receives `progress`, a callable taking a fraction in [0, 1] that moves the
panel's progress bar. If `draw_fn` has a `fig` parameter, the panel passes it its previous figure to draw
into again (plots.new_figure(..., reuse=fig) empties it): a slider move then skips building the axes.
Set the environment variable INITNORM_FIGDIR to save every drawn figure as a PNG.
"""
from __future__ import annotations

import inspect
import io
import os
import re
from typing import Callable

import ipywidgets as W
from IPython import get_ipython
from IPython.display import Image, display


class Panel:
    dpi = 80  # screen resolution of the widget figures (the figures are sized in inches for it)

    def __init__(self, draw: Callable, controls: dict[str, W.ValueWidget], run_button: bool = False,
                 title: str = ""):
        self.draw = draw
        self.controls = controls
        self.title = title
        self.output = W.Output()
        self.run_button = run_button
        self.redraws_in_place = "fig" in inspect.signature(draw).parameters
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
        self.button = W.Button(description="Run", button_style="primary")
        self.last_figure = None
        self.n_draws = 0
        self._muted = False
        if run_button:
            self.button.on_click(lambda _: self.update())
        else:
            for c in controls.values():
                c.observe(self._on_change, names="value")
                if hasattr(c, "continuous_update"):  # a slider redraws once, when released: dragging it across
                    c.continuous_update = False      # 30 values would queue 30 redraws of 0.1-0.2 s each

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, _change) -> None:
        if not self._muted:
            self.update()

    def _set_progress(self, fraction: float) -> None:
        self.progress.value = min(max(float(fraction), 0.0), 1.0)

    def update(self, **overrides):
        """Set the given controls (as a student would), redraw, show and return the figure."""
        unknown = set(overrides) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; this panel has {sorted(self.controls)}")
        self._muted = True
        try:
            for name, value in overrides.items():
                self.controls[name].value = value
        finally:
            self._muted = False
        kwargs = self.values()
        if self.run_button:
            kwargs["progress"] = self._set_progress
        if self.redraws_in_place:
            kwargs["fig"] = self.last_figure
        fig = self.draw(**kwargs)
        self.last_figure = fig
        self.n_draws += 1
        self._save(fig, kwargs)
        # Hand the figure to the Output widget as widget state rather than capturing display() inside
        # `with self.output:`. Headless (nbclient), every captured output makes the stand-in Output widget
        # send on the shell socket, racing the cell's execute_reply: the cell can then idle until its
        # timeout. Setting the outputs from the kernel side sends nothing there; the student sees the same.
        if get_ipython() is not None:  # under plain Python there is no front end to show it
            self.output.outputs = ()
            self.output.append_display_data(Image(self.render(fig), format="png"))
        return fig

    def render(self, fig) -> bytes:
        """The figure as PNG bytes, as the student sees it. One drawing pass at a fixed resolution: the inline
        backend's bbox_inches='tight' would draw every figure twice (the figures are laid out already)."""
        if not hasattr(fig, "savefig"):
            raise TypeError(f"the drawing function returned {type(fig).__name__}, not a matplotlib Figure")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})  # 3 % larger, quicker
        return buf.getvalue()

    def _save(self, fig, kwargs) -> None:
        figdir = os.environ.get("INITNORM_FIGDIR")
        if not figdir or not hasattr(fig, "savefig"):
            return
        os.makedirs(figdir, exist_ok=True)
        tag = "_".join(f"{k}-{v}" for k, v in kwargs.items() if k not in ("progress", "fig"))
        name = re.sub(r"[^A-Za-z0-9_.=-]+", "", f"{self.title or self.draw.__name__}_{tag}")[:150]
        fig.savefig(os.path.join(figdir, name + ".png"), dpi=self.dpi)

    @property
    def widget(self) -> W.VBox:
        top = [W.HTML(f"<b>{self.title}</b>")] if self.title else []
        controls = list(self.controls.values())
        if self.run_button:
            controls += [self.button, self.progress]
        return W.VBox(top + [W.HBox(controls, layout=W.Layout(flex_flow="row wrap")), self.output])

    def _ipython_display_(self) -> None:
        display(self.widget)
        self.update()
