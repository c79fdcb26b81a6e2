"""Plotting helpers. Each returns (or draws on) a matplotlib Figure; none calls plt.show()."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("tkagg", "qtagg") else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator  # noqa: E402



def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.4, reuse=None, **kw):
    """A figure with a grid of axes, sized per panel; returns (fig, axes as a flat array).

    reuse: a figure this call made before (a widget's previous drawing). If it has the same grid and size, it
    comes back emptied (see empty_axes) instead of a new one: its axes, ticks and text layouts already exist,
    which saves about half of a redraw. A drawing into it must set everything it shows, as into a new one."""
    size = (width * ncols, height * nrows)
    grid = (nrows, ncols, size, tuple(sorted(kw)))
    if reuse is not None and getattr(reuse, "_initnorm_grid", None) == grid and len(reuse.axes) == nrows * ncols:
        for ax in reuse.axes:
            empty_axes(ax)
        for text in reuse.texts[:]:
            text.remove()
        if reuse._suptitle is not None:
            reuse._suptitle.set_text("")
        return reuse, np.asarray(reuse.axes)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, **kw)
    fig._initnorm_grid = grid
    plt.close(fig)  # the caller displays it explicitly; avoid a second copy from the inline backend
    return fig, axes.ravel()


def empty_axes(ax) -> None:
    """Remove what was drawn on ax (lines, images, bars, patches, texts, legend, titles, labels) and reset its
    colour cycle and autoscaling: what stays is the axes itself, its scale and tick settings."""
    for container in ax.containers[:]:
        container.remove()
    for artist in [*ax.lines, *ax.images, *ax.patches, *ax.texts, *ax.collections, *ax.artists, *ax.tables]:
        artist.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    for loc in ("left", "center", "right"):
        ax.set_title("", loc=loc)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_prop_cycle(None)
    ax.relim()
    ax.set_autoscale_on(True)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _position=None) -> str:
    """10⁻³ as plain text: mathtext labels are parsed again on every redraw (a fifth of a widget's drawing)."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    return "10" + str(exponent).translate(_SUPERSCRIPT) if math.isclose(value, 10.0 ** exponent) else ""


def log_decades(ax) -> None:
    """Log-scale y axis labelled at each power of ten, as plain text, without minor ticks: quicker to redraw
    than matplotlib's default. Only for data spanning two decades or more (fewer would leave no label)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
    ax.yaxis.set_minor_locator(NullLocator())


def plot_layer_profile(runs: dict[str, tuple], axes) -> None:
    """On two axes: the activation std and the gradient std per layer (log scale), one line per run.
    runs: label -> (activation stds (layers,), gradient stds (layers,) or None)."""
    for label, (stds, grad_stds) in runs.items():
        layers = np.arange(1, len(stds) + 1)
        axes[0].plot(layers, np.maximum(stds, 1e-30), "o-", ms=3, label=label)
        if grad_stds is not None:
            axes[1].plot(layers, np.maximum(grad_stds, 1e-30), "o-", ms=3, label=label)
    for ax, what in zip(axes, ("activation std", "gradient std")):
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title("forward: activations")
    axes[1].set_title("backward: gradients w.r.t. activations")


def plot_histograms(values: dict[str, np.ndarray], ax, bins: int = 60) -> None:
    """Overlaid histograms (as lines), one per label."""
    for label, v in values.items():
        if v.size:
            hist, edges = np.histogram(v, bins=bins)
            ax.plot(0.5 * (edges[1:] + edges[:-1]), hist, label=label)


def plot_curves(curves: dict[str, list[float]], ax, ylabel: str, xlabel: str = "step", logy: bool = False,
                smooth: int = 1):
    """One line per label; `smooth` > 1 applies a running mean of that width."""
    for label, ys in curves.items():
        y = np.asarray(ys, dtype=float)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(len(y)), y, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
