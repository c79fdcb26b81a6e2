"""Lecture 1 (initialization): the drawing functions of its figures, and two reference implementations.

The experiments themselves (training loop, forward loops, hooks, LSUV, the widgets' functions) are written in
lectures/01_initialization.ipynb. Each draw_* function here takes what the notebook computed and returns a
matplotlib Figure; those a widget redraws take `fig`, the panel's previous figure, to draw into again.

xavier_std, xavier_bound, he_std, he_bound and lsuv are references: tests/test_initialization.py compares the
lecture's own code with them, and exercise 1 forbids its students to call them.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from torch import nn

from .plots import log_decades, new_figure, plot_histograms, plot_layer_profile

COLORS = {"zeros": "tab:gray", "small": "tab:purple", "default": "tab:brown", "xavier": "tab:orange",
          "he": "tab:green", "lsuv": "tab:blue", "lecun": "tab:red", "orthogonal": "tab:cyan",
          "0.01": "tab:purple", "0.05": "tab:red"}


def finish(fig, legend_fontsize: float = 8):
    """Grid and legend on every axes that has labelled lines, tight layout; returns the figure."""
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        if any(not h.get_label().startswith("_") for h in ax.get_lines()):
            ax.legend(fontsize=legend_fontsize)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- references
def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """std of Glorot's normal init: gain * sqrt(2 / (fan_in + fan_out))."""
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_bound(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """a of Glorot's uniform init U(-a, a): U(-a, a) has variance a^2 / 3, so a = sqrt(3) * std."""
    return math.sqrt(3.0) * xavier_std(fan_in, fan_out, gain)


def he_std(fan: int, gain: float = math.sqrt(2.0)) -> float:
    """std of He's normal init: gain / sqrt(fan); with ReLU's gain sqrt(2) that is sqrt(2 / fan)."""
    return gain / math.sqrt(fan)


def he_bound(fan: int, gain: float = math.sqrt(2.0)) -> float:
    """a of He's uniform init: sqrt(3) * std, sqrt(6 / fan) for ReLU."""
    return math.sqrt(3.0) * he_std(fan, gain)


@torch.no_grad()
def lsuv(model: nn.Module, x: torch.Tensor, tol: float = 0.05, max_iter: int = 10, seed: int = 0) -> list[tuple]:
    """LSUV (Mishkin & Matas, 2016) of every nn.Linear of `model`, in place: orthogonal weights (drawn in module
    order from a generator seeded with `seed`) and zero biases, then layer by layer divide the weight by the std
    of the layer's output on x until its variance is within tol of 1, at most max_iter times.
    Returns (variance before, rescalings, variance after) per layer."""
    gen = torch.Generator().manual_seed(seed)
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for layer in layers:
        nn.init.orthogonal_(layer.weight, generator=gen)
        nn.init.zeros_(layer.bias)
    report = []
    for layer in layers:
        variances: list[float] = []
        handle = layer.register_forward_hook(lambda m, inputs, out: variances.append(out.var().item()))
        try:
            model(x)
            while abs(variances[-1] - 1) > tol and len(variances) <= max_iter:
                layer.weight.div_(math.sqrt(variances[-1]))
                model(x)
        finally:
            handle.remove()
        report.append((variances[0], len(variances) - 1, variances[-1]))
    return report


# ---------------------------------------------------------------------------------------------- figures
def draw_training(runs: dict[str, tuple], steps_per_epoch: int, title: str, fig=None):
    """runs: init -> (loss per step, validation accuracy per epoch). Left the training loss (running mean of
    10 steps), right the validation accuracy."""
    fig, axes = new_figure(2, width=5.2, height=3.5, reuse=fig)
    for init, (losses, val_acc) in runs.items():
        smooth = np.convolve(losses, np.ones(10) / 10, mode="valid") if len(losses) >= 10 else losses
        axes[0].plot(np.arange(len(smooth)) / steps_per_epoch, smooth, color=COLORS.get(init), label=init)
        axes[1].plot(np.arange(1, len(val_acc) + 1), val_acc, "o-", ms=3, color=COLORS.get(init), label=init)
    axes[0].set(xlabel="epoch", ylabel="training loss (running mean of 10 steps)", ylim=(0, 2.6))
    axes[1].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
    fig.suptitle(title, fontsize=10)
    return finish(fig)


def mosaic(maps: np.ndarray, cols: int) -> np.ndarray:
    """(k, h, w) maps -> one image with `cols` maps per row and NaN gaps between them."""
    k, h, w = maps.shape
    rows = -(-k // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = m
    return out


def draw_symmetry(run: dict, random_run: dict, pixel: int, title: str, fig=None):
    """Left: the weight from one pixel into each hidden unit over training; middle: every unit's 64 incoming
    weights after training as 8x8 images; right: the training loss of this start and of a random one.
    run, random_run: dicts with weights (steps + 1, hidden, 64), loss (steps,), spread (steps + 1,), val_acc."""
    fig, axes = new_figure(3, width=4.6, height=3.6, reuse=fig)
    w = run["weights"]
    for i in range(w.shape[1]):
        axes[0].plot(w[:, i, pixel], lw=2.5 - 0.25 * i, alpha=0.75)
    axes[0].set(xlabel="gradient step", ylabel=f"weight from pixel {pixel}",
                title=f"{w.shape[1]} hidden units (one line each)")
    axes[0].grid(alpha=0.3)
    lim = max(np.abs(w[-1]).max(), 1e-8)
    axes[1].imshow(mosaic(w[-1].reshape(-1, 8, 8), cols=4), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_axis_off()
    axes[1].set_title(f"incoming weights after training\nlargest difference between units: {run['spread'][-1]:.2g}",
                      fontsize=9)
    axes[2].plot(run["loss"], label="this start")
    axes[2].plot(random_run["loss"], label="random start")
    axes[2].set(xlabel="gradient step", ylabel="training loss")
    axes[2].grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    axes[2].set_title(f"validation accuracy {run['val_acc']:.2f} (random start {random_run['val_acc']:.2f})",
                      fontsize=10)
    fig.suptitle(title, fontsize=11)
    # fixed margins: tight_layout measures every label, most of a redraw's time
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.17, top=0.81, wspace=0.22)
    return fig


def draw_deep_grid(rows: dict[str, list[torch.Tensor]], activation: str, fig=None):
    """One row of per-layer activation histograms per label (rows: label -> outputs per layer, each
    (batch, width)), one x-range per row, so that a shrinking distribution shows as a narrowing spike.
    ReLU's exact zeros (half of the values) are left out."""
    layers = len(next(iter(rows.values())))
    fig, axes = new_figure(layers, len(rows), width=2.3, height=2.3, reuse=fig)
    axes = axes.reshape(len(rows), layers)
    for row, (label, outs) in zip(axes, rows.items()):
        vals = [o.flatten().numpy() for o in outs]
        vals = [v[v != 0] for v in vals] if activation == "relu" else vals
        hi = max(max(float(np.percentile(np.abs(v), 99.5)) if v.size else 0.0 for v in vals), 1e-12)
        for layer, (ax, v, o) in enumerate(zip(row, vals, outs), start=1):
            counts, edges = np.histogram(v, bins=50, range=(-1.0, 1.0) if activation == "tanh" else (0.0, hi))
            ax.stairs(counts, edges, fill=True, color=COLORS.get(label.split(":")[0], "tab:blue"))
            ax.set_yticks([])
            ax.set_title(f"layer {layer}\nmean {o.mean():.2g}, std {o.std():.2g}", fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel(label, fontsize=9)
    width = next(iter(rows.values()))[0].shape[1]
    zeros = "; ReLU's exact zeros not drawn" if activation == "relu" else ""
    fig.suptitle(f"{activation}, dims = [{width}] * {layers + 1}, input N(0, 1){zeros}", fontsize=10)
    height = fig.get_figheight()  # fixed margins in inches (tight_layout would measure every label)
    fig.subplots_adjust(left=0.025, right=0.99, bottom=0.3 / height, top=1 - 0.75 / height, wspace=0.1,
                        hspace=0.55)
    return fig


def draw_signal(outs: list[tuple[torch.Tensor, torch.Tensor]], factor: float | None, label: str, fig=None):
    """The signal explorer. outs: per hidden layer (output, gradient of the loss w.r.t. it), each (batch, width).
    Top: their stds per layer, with the per-layer factor of the variance rule as a dashed line where it has a
    closed form (factor not None); bottom: histograms of five layers."""
    depth = len(outs)
    act_std = np.array([o.std().item() for o, _ in outs])
    grad_std = np.array([g.std().item() for _, g in outs])
    fig, axes = new_figure(2, 2, width=5.2, height=3.3, reuse=fig)
    plot_layer_profile({label: (act_std, grad_std)}, axes[:2])
    if factor is not None:
        layers = np.arange(1, depth + 1)
        axes[0].plot(layers, act_std[0] * factor ** (layers - 1), "k--", lw=1, label="n·Var[w]·E[f'²] rule")
        axes[1].plot(layers, grad_std[-1] * factor ** (depth - layers), "k--", lw=1)
        axes[0].legend(fontsize=8)
    shown = sorted({0, depth // 4, depth // 2, (3 * depth) // 4, depth - 1})
    values = {f"layer {i + 1}": outs[i][0].flatten().numpy() for i in shown}
    plot_histograms({k: v[v != 0] for k, v in values.items()}, axes[2])
    plot_histograms({f"layer {i + 1}": outs[i][1].flatten().numpy() for i in shown}, axes[3])
    axes[2].legend(fontsize=6, ncol=2)
    axes[2].set_title("activation histograms (exact zeros left out)")
    axes[3].set_title("gradient histograms, same layers")
    for ax in axes[2:]:  # tiny gradients: a power of ten beside the axis, not 0.00075 on every tick
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_yticks([])  # counts per bin say nothing here; the shapes do
    for ax in axes[:2]:  # at least two decades, so that a flat profile looks flat
        log_decades(ax)
        lo, hi = ax.get_ylim()
        if hi / lo < 100:
            mid = math.sqrt(lo * hi)
            ax.set_ylim(mid / 10, mid * 10)
    fig.suptitle(f"activation std, last / first layer: {act_std[-1] / max(act_std[0], 1e-30):.2g};  gradient std, "
                 f"first / last layer: {grad_std[0] / max(grad_std[-1], 1e-30):.2g}", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.9, wspace=0.24, hspace=0.4)
    return fig


def draw_activations(z: np.ndarray, curves: dict[str, tuple[np.ndarray, np.ndarray]]):
    """One small plot per activation: f(z) solid, f'(z) dashed. curves: name -> (f(z), f'(z))."""
    fig, axes = new_figure(4, 2, width=2.9, height=2.4)
    for ax, (name, (f, df)) in zip(axes, curves.items()):
        ax.plot(z, f, label="f(z)")
        ax.plot(z, df, "--", label="f'(z)")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set(ylim=(-2.0, 3.0), title=f"{name}: largest slope {df.max():.3g}")
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def draw_xavier_examples(samples: dict[str, np.ndarray], worked: list[tuple[int, float, str]]):
    """Left: histograms of weights divided by their bound a (samples: label -> w / a). Right: the uniform bound
    and the normal std against n_in + n_out, with worked numbers (n_in + n_out, value, slide's text) as dots."""
    fig, axes = new_figure(2, width=5.2, height=3.4)
    for label, v in samples.items():
        axes[0].hist(v, bins=40, range=(-1.25, 1.25), density=True, histtype="step", lw=1.5, label=label)
    axes[0].set(xlabel="weight / a", ylabel="density", title="torch.nn.init.xavier_uniform_, in units of a")
    fans = np.logspace(1, 4, 100)
    axes[1].plot(fans, np.sqrt(6 / fans), label="uniform bound sqrt(6/(n_in+n_out))")
    axes[1].plot(fans, np.sqrt(2 / fans), label="normal std sqrt(2/(n_in+n_out))")
    for total, value, text in worked:
        axes[1].plot(total, value, "ko", ms=4)
        axes[1].annotate(text, (total, value), textcoords="offset points", xytext=(4, 3), fontsize=7)
    axes[1].set(xscale="log", yscale="log", xlabel="n_in + n_out", title="bigger layers, smaller weights")
    finish(fig, legend_fontsize=7)
    axes[0].legend(fontsize=7, loc="lower center")
    return fig


def draw_profiles(runs: dict[str, tuple], title: str):
    """Activation and gradient std per layer for several runs (label -> (stds, grad stds))."""
    fig, axes = new_figure(2)
    plot_layer_profile(runs, axes)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def draw_panels(panels: dict[str, dict[str, tuple]], xlabel: str, ylabel: str, logy: bool = True,
                hline: float | None = None, width: float = 5.2, references: dict[str, tuple] | None = None):
    """One axes per title (panels: title -> {label: (x, y)}), side by side; a label's first word picks its colour
    from COLORS. references: label -> (x, y), drawn dotted black and annotated at the end on every axes."""
    fig, axes = new_figure(len(panels), width=width, height=3.4)
    for ax, (title, curves) in zip(axes, panels.items()):
        for label, (x, y) in curves.items():
            color = COLORS.get(label.split(" ")[0].rstrip(","))
            ax.plot(x, y, "o-" if len(x) < 40 else "-", ms=3, label=label, color=color)
        for label, (x, y) in (references or {}).items():
            ax.plot(x, y, "k:", lw=0.8)
            ax.annotate(label, (x[-1], y[-1]), fontsize=8, xytext=(-18, 4), textcoords="offset points")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title, yscale="log" if logy else "linear")
        ax.title.set_fontsize(9)
        if hline is not None:
            ax.axhline(hline, color="k", lw=0.8, ls=":")
    return finish(fig, legend_fontsize=7)


def draw_preprocessing(train_x: np.ndarray, test_x: np.ndarray, transforms: dict):
    """One scatter plot per transform (name -> function fitted on train_x): training and test points."""
    fig, axes = new_figure(len(transforms), width=2.9, height=3.1)
    for ax, (mode, transform) in zip(axes, transforms.items()):
        a, b = transform(train_x), transform(test_x)
        ax.scatter(a[:, 0], a[:, 1], s=3, alpha=0.5, label="train")
        ax.scatter(b[:, 0], b[:, 1], s=3, alpha=0.7, label="test (train statistics)")
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6)
        lim = max(np.abs(a).max(), 1.0) * 1.1
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        cov = np.cov(a, rowvar=False, bias=True)
        ax.set_title(f"{mode}\ncov [[{cov[0, 0]:.2f}, {cov[0, 1]:.2f}], [., {cov[1, 1]:.2f}]]", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig
