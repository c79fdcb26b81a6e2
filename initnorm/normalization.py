"""Lecture 2 (normalization): the figures and the small data helpers. The experiments themselves (gradient
descent, BatchNorm forward and backward, the training loops, hooks, sweeps) are written in the lecture's cells;
the functions here only turn their results into a Figure, or build an input tensor to experiment on.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator

from .data import digits
from .plots import log_decades, new_figure

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f", "#9467bd"
COLORS = (BLUE, GREEN, ORANGE, RED, PURPLE, GREY)


def smooth(y, width: int) -> np.ndarray:
    """Running mean of the given width (shorter at the start, so the output keeps len(y) points)."""
    y = np.asarray(y, dtype=float)
    if width <= 1 or len(y) == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - width, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _finish(axes, legend: bool = True, fontsize: float = 7) -> None:
    for ax in axes:
        ax.grid(alpha=0.3)
        if legend and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=fontsize)


# ---------------------------------------------------------------------------------------------- 1. conditioning
def describe(run: dict, steps: int) -> str:
    if run["diverged"]:
        return "diverged"
    return f"not converged in {steps} steps" if run["converged_at"] is None else f"converged in {run['converged_at']} steps"


def draw_conditioning(runs: dict, shown: bool, lr_factor: float, steps: int, fig=None):
    """Left: the loss contours of runs[shown] and its gradient-descent path. Right: the loss gap per step of both
    runs. runs: {standardize (bool): dict(path (t+1, 2), gap (t+1,), H (2, 2), w_star (2,), lr, kappa,
    converged_at, diverged)}."""
    run = runs[shown]
    fig, (ax, ax2) = new_figure(2, width=5.6, height=4.4, reuse=fig)
    ws, p = run["w_star"], run["path"]
    reach = min(np.abs(p[:60] - ws).max(), 3 * np.abs(p[0] - ws).max())  # the start and the first iterates
    half = 1.25 * max(reach, 1e-3)
    g1, g2 = np.linspace(ws[0] - half, ws[0] + half, 161), np.linspace(ws[1] - half, ws[1] + half, 161)
    d = np.stack(np.meshgrid(g1, g2), axis=-1) - ws                          # (161, 161, 2)
    gap = 0.5 * np.einsum("...i,ij,...j->...", d, run["H"], d)
    ax.contour(g1, g2, gap, levels=max(run["gap"][0], 1e-12) * np.logspace(-5, 1, 13), cmap="viridis",
               linewidths=0.8)
    ax.plot(p[:, 0], p[:, 1], "-", color=RED, lw=1.0, alpha=0.8)
    ax.plot(p[:40, 0], p[:40, 1], "o", color=RED, ms=2.5)
    ax.plot(*p[0], "s", color="k", ms=6, label="start w = 0")
    ax.plot(*ws, "*", color="gold", mec="k", ms=14, label="minimum")
    ax.set(xlim=(g1[0], g1[-1]), ylim=(g2[0], g2[-1]), aspect="equal", xlabel="w1", ylabel="w2")
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(f"{'standardized' if shown else 'raw'} features: kappa = {run['kappa']:.3g}, lr = {run['lr']:.3g}\n"
                 f"{describe(run, steps)}", fontsize=10)
    for standardize, r in runs.items():
        name = "standardized" if standardize else "raw"
        style = dict(lw=2.2) if standardize == shown else dict(lw=1.2, ls="--", alpha=0.7)
        gaps = r["gap"] / max(r["gap"][0], 1e-300)
        below = np.nonzero(gaps < 1e-14)[0]
        gaps = gaps[: below[0] + 1] if len(below) else gaps  # beyond ~1e-15 only rounding noise is left
        ax2.plot(np.maximum(gaps, 1e-16), color=GREEN if standardize else BLUE,
                 label=f"{name}: kappa {r['kappa']:.3g}, {describe(r, steps)}", **style)
    ax2.axhline(1e-6, color=GREY, lw=0.8, ls=":")
    log_decades(ax2)  # plain-text labels: mathtext is parsed again at every redraw
    ax2.yaxis.set_major_locator(FixedLocator(10.0 ** np.arange(-15, 3, 3)))  # every third decade
    ax2.set(ylim=(1e-16, 1e3), xlabel="gradient-descent step", ylabel="(L(w) - L*) / (L(w0) - L*)")
    ax2.set_title(f"same relative step: lr = {lr_factor:g} / lambda_max", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="lower left")
    fig.subplots_adjust(left=0.06, right=0.985, bottom=0.135, top=0.87, wspace=0.18)  # tight_layout: slow
    return fig


# ------------------------------------------------------------------------------ 2. the landscape along the gradient
def draw_landscape(runs: dict, lr: float):
    """runs: {name: dict(steps, loss_lo, loss_hi, grad_change, loss)}: the range of the loss along the gradient
    (shaded), the largest change of the gradient there, and the training loss, per probed step."""
    fig, axes = new_figure(3, width=4.0, height=3.4)
    for (name, r), col in zip(runs.items(), COLORS):
        axes[0].fill_between(r["steps"], r["loss_lo"], r["loss_hi"], color=col, alpha=0.4, label=name)
        axes[1].plot(r["steps"], r["grad_change"], "o-", ms=3, color=col, label=name)
        axes[2].plot(smooth(r["loss"], 5), color=col, label=name)
    axes[0].set(yscale="log", xlabel="training step", ylabel="loss at w - eta g", title="loss along the gradient")
    axes[1].set(yscale="log", xlabel="training step", ylabel="max ||g(w - eta g) - g(w)||",
                title="gradient predictiveness")
    axes[2].set(yscale="log", xlabel="training step", ylabel="training loss (running mean of 5)",
                title=f"training, SGD lr {lr:g}")
    _finish(axes)
    fig.tight_layout()
    return fig


# -------------------------------------------------------------------------------- 3. training and evaluation mode
def draw_running_stats(batch_means, running_means, unit: int, eval_sizes, acc_train_mode, acc_eval_mode: float):
    fig, (ax, ax2) = new_figure(2, width=5.2, height=3.6)
    steps = np.arange(1, len(batch_means) + 1)
    ax.plot(steps, batch_means, ".", color=GREY, ms=3, label="mean of the mini-batch (training mode)")
    ax.plot(steps, running_means, color=RED, lw=2, label="running mean (momentum 0.1, used by eval)")
    ax.set(xlabel="training step", ylabel=f"mean of unit {unit}, second BatchNorm",
           title="batch statistics jump, the running average follows")
    x = np.arange(len(eval_sizes))
    ax2.bar(x, acc_train_mode, color=ORANGE, label="training mode: statistics of each chunk")
    ax2.axhline(acc_eval_mode, color=BLUE, lw=2, label=f"eval mode: running statistics ({acc_eval_mode:.3f})")
    for xi, a in zip(x, acc_train_mode):
        ax2.text(xi, a + 0.01, f"{a:.2f}", ha="center", fontsize=8)
    ax2.set_xticks(x, [str(s) for s in eval_sizes])
    ax2.set(xlabel="validation chunk size", ylabel="validation accuracy", ylim=(0, 1.32), yticks=np.linspace(0, 1, 6),
            title="predicting in training mode depends on the batch")
    for a in (ax, ax2):
        a.title.set_fontsize(10)
    _finish((ax, ax2))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------- 5. what BatchNorm buys
def draw_bn_training(runs: dict, lrs, lr: float, batch_size: int, epochs: int):
    """runs: {(norm, lr): dict(step_loss, val_acc, diverged, steps_per_epoch)} for norm 'none' and 'batch'. Left:
    the training loss at `lr`; right: the final validation accuracy at every rate (x: diverged)."""
    colors, names = {"none": BLUE, "batch": GREEN}, {"none": "no normalization", "batch": "BatchNorm"}
    fig, (ax, ax2) = new_figure(2, width=5.4, height=3.8)
    for norm in ("none", "batch"):
        run = runs[norm, lr]
        loss = np.asarray(run["step_loss"])
        finite = np.isfinite(loss)
        x = (np.arange(1, len(loss) + 1) / run["steps_per_epoch"])[finite]
        label = names[norm] + (": diverged" if run["diverged"] else f": val acc {run['val_acc'][-1]:.3f}")
        ax.plot(x, smooth(np.minimum(loss[finite], 10.0), max(1, run["steps_per_epoch"] // 4)), color=colors[norm],
                lw=1.5, label=label)
        if run["diverged"]:
            ax.plot(x[-1] if len(x) else 0.0, 9.5, "x", color=colors[norm], ms=10, mew=2)
        accs = [np.nan if runs[norm, r]["diverged"] else runs[norm, r]["val_acc"][-1] for r in lrs]
        ax2.plot(lrs, accs, "o-", color=colors[norm], label=names[norm])
        for r in lrs:
            if runs[norm, r]["diverged"]:
                ax2.plot(r, 0.02, "x", color=colors[norm], ms=9, mew=2)
    ax.axhline(math.log(10), color=GREY, ls=":", lw=1)
    ax.text(0.99, math.log(10) * 1.08, "chance level (ln 10)", color=GREY, fontsize=7, ha="right",
            transform=ax.get_yaxis_transform())
    ax.set(yscale="log", ylim=(0.02, 12), xlabel="epoch", ylabel="training loss (smoothed)",
           title=f"lr = {lr:g}, batch size {batch_size}")
    ax2.axvline(lr, color=GREY, lw=6, alpha=0.25)
    ax2.axhline(0.1, color=GREY, ls=":", lw=1)
    ax2.set(xscale="log", ylim=(0, 1.02), xlabel="learning rate (x = diverged)",
            ylabel=f"validation accuracy after {epochs} epochs", title=f"all learning rates, batch size {batch_size}")
    _finish((ax, ax2), fontsize=8)
    fig.tight_layout()
    return fig


def draw_runs(runs: dict, title: str):
    """runs: {label: (step losses, validation accuracy per epoch, steps per epoch)}: training loss and accuracy."""
    fig, (ax, ax2) = new_figure(2, width=5.2, height=3.6)
    for (label, (loss, acc, per_epoch)), col in zip(runs.items(), COLORS):
        ax.plot(np.arange(1, len(loss) + 1) / per_epoch, smooth(loss, 10), color=col, lw=1.5, label=label)
        ax2.plot(np.arange(1, len(acc) + 1), acc, "o-", color=col, label=f"{label}: {acc[-1]:.3f}")
    ax.set(xlabel="epoch", ylabel="training loss (smoothed)", title=title)
    ax2.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.02), title="validation accuracy per epoch")
    ax.title.set_fontsize(10)
    _finish((ax, ax2), fontsize=8)
    fig.tight_layout()
    return fig


def draw_sweep(xs, curves: dict, xlabel: str, ylabel: str, title: str, logx: bool = False, ax=None):
    """One line per label over xs, each point labelled with its value; chance level (0.1) dotted."""
    fig, (ax,) = new_figure(1, width=5.4, height=3.6) if ax is None else (ax.figure, (ax,))
    for (label, ys), col in zip(curves.items(), COLORS):
        ax.plot(xs, ys, "o-", color=col, label=label)
        for x, y in zip(xs, ys):
            ax.text(x, y + 0.03, f"{y:.2f}", ha="center", fontsize=7, color=col)
    ax.axhline(0.1, color=GREY, ls=":", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.08), title=title)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.title.set_fontsize(10)
    _finish((ax,), fontsize=8)
    fig.tight_layout()
    return fig


def draw_profiles(runs: dict, title: str, what=("activation spread over inputs", "gradient std"), xlabel="layer"):
    """runs: {label: (per-layer activation measure, per-layer gradient measure)}, both on log axes."""
    fig, axes = new_figure(2, width=5.2, height=3.6)
    for (label, profiles), col in zip(runs.items(), COLORS):
        for ax, values in zip(axes, profiles):
            ax.plot(np.arange(1, len(values) + 1), np.maximum(values, 1e-30), "o-", ms=3, color=col, label=label)
    for ax, ylabel in zip(axes, what):
        log_decades(ax) if ax.get_ylim()[1] / max(ax.get_ylim()[0], 1e-30) > 100 else ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel=ylabel)
    axes[0].set_title(title, fontsize=10)
    _finish(axes)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------- 8-9. InstanceNorm, GroupNorm
STYLES = ((1.0, 0.0), (0.35, 0.5), (2.5, -1.0))  # (contrast a, brightness b): image -> a * image + b


def styled_digits(indices=(0, 1), styles=STYLES) -> torch.Tensor:
    """Digit images (values in [0, 1]) re-rendered with per-image contrast and brightness: (len(indices) *
    len(styles), 1, 8, 8); row k * len(styles) + j is image indices[k] in style j."""
    x = digits(seed=0, standardize=False, images=True).x_train[list(indices)]  # (k, 1, 8, 8)
    return torch.cat([a * img[None] + b for img in x for a, b in styles])


def draw_instance_norm(styled: torch.Tensor, normalized: torch.Tensor):
    n = len(styled)
    fig, axes = new_figure(n, 2, width=1.6, height=1.8)
    for j in range(n):
        a, b = STYLES[j % len(STYLES)]
        axes[j].imshow(styled[j, 0].numpy(), cmap="gray", vmin=styled.min().item(), vmax=styled.max().item())
        axes[j].set_title(f"{a:g} x {'+' if b >= 0 else '-'} {abs(b):g}", fontsize=8)
        axes[n + j].imshow(normalized[j, 0].numpy(), cmap="gray", vmin=normalized.min().item(),
                           vmax=normalized.max().item())
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    axes[0].set_ylabel("input", fontsize=9)
    axes[n].set_ylabel("after InstanceNorm", fontsize=9)
    fig.suptitle("per-image contrast and brightness (style) are removed, the stroke pattern (content) stays",
                 fontsize=9)
    fig.tight_layout()
    return fig


NORM_KINDS = ("batch", "layer", "instance", "group")
NORM_NAMES = {"batch": "BatchNorm", "layer": "LayerNorm", "instance": "InstanceNorm", "group": "GroupNorm"}


def conv_activations(n_images: int = 4, channels: int = 6, seed: int = 0) -> torch.Tensor:
    """Outputs (N, C, 8, 8) of one random 3x3 convolution (He-normal weights, biases uniform in [-1, 1]) on the
    first digit images: a real (N, C, H, W) tensor to normalize."""
    x = digits(seed=0, standardize=False, images=True).x_train[:n_images]  # (N, 1, 8, 8), values in [0, 1]
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(channels, 1, 3, 3, generator=gen) * math.sqrt(2.0 / 9)  # (C, 1, 3, 3)
    bias = 2 * torch.rand(channels, generator=gen) - 1                           # (C,)
    return F.conv2d(x, weight, bias, padding=1)                                  # (N, C, 8, 8)


def set_of(kind: str, n_samples: int, channels: int, groups: int, sample: int, channel: int) -> np.ndarray:
    """(N, C) boolean mask of the (sample, channel) maps that share statistics with (sample, channel)."""
    if kind not in NORM_KINDS or channels % groups:
        raise ValueError(f"unknown kind {kind!r} or {groups} groups do not divide {channels} channels")
    mask = np.zeros((n_samples, channels), dtype=bool)
    if kind == "batch":
        mask[:, channel] = True
        return mask
    per = channels // {"layer": 1, "instance": channels}.get(kind, groups)
    mask[sample, channel // per * per:(channel // per + 1) * per] = True
    return mask


def draw_norm_axes(x: torch.Tensor, means: np.ndarray, stds: np.ndarray, kind: str, groups: int, sample: int,
                   channel: int, fig=None):
    """Left: the N x C grid of H x W maps of x, the set of (sample, channel) framed. Right: the mean and std
    (each (N, C)) that every map is normalized with."""
    n, c, h, w = x.shape
    g = {"layer": 1, "instance": c}.get(kind, groups)
    mask = set_of(kind, n, c, g, sample, channel)
    fig, (ax, ax2) = new_figure(2, width=5.6, height=4.3, reuse=fig)
    pad = 2
    mosaic = np.full((n * (h + pad) - pad, c * (w + pad) - pad), np.nan)
    for i in range(n):
        for j in range(c):
            mosaic[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = x[i, j].numpy()
    lim = float(np.nanmax(np.abs(mosaic)))
    ax.imshow(mosaic, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    for i in range(n):
        for j in range(c):
            x0, y0 = j * (w + pad) - 0.5, i * (h + pad) - 0.5
            if mask[i, j]:
                ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), w + 1.0, h + 1.0, fill=False, ec="k", lw=2.5))
            else:
                ax.add_patch(Rectangle((x0, y0), w, h, color="white", alpha=0.65, lw=0))
    ax.set(xlim=(-1.5, mosaic.shape[1] + 0.5), ylim=(mosaic.shape[0] + 0.5, -1.5),
           xlabel="channel c (each map is H x W = 8 x 8)", ylabel="sample n")
    ax.set_xticks([j * (w + pad) + w / 2 - 0.5 for j in range(c)], [str(j) for j in range(c)])
    ax.set_yticks([i * (h + pad) + h / 2 - 0.5 for i in range(n)], [str(i) for i in range(n)])
    ax.tick_params(length=0)
    if kind == "group" and 1 < g < c:
        for k in range(1, g):
            ax.axvline(k * (c // g) * (w + pad) - pad / 2 - 0.5, color="k", lw=1, ls="--")
    n_sets = {"batch": c, "layer": n, "instance": n * c, "group": n * g}[kind]
    axes_txt = {"batch": "(N, H, W)", "layer": "(C, H, W)", "instance": "(H, W)", "group": "(C/G, H, W)"}[kind]
    name = NORM_NAMES[kind] + (f" (G = {g})" if kind == "group" else "")
    ax.set_title(f"{name}: one mean per set over {axes_txt}\n{n_sets} sets of {int(mask.sum()) * h * w} values; "
                 f"framed: the set of (n={sample}, c={channel})", fontsize=9)
    span = 1.8 * np.abs(means).max() + 1e-9  # a wide range keeps the colours pale and the numbers legible
    ax2.imshow(means, cmap="coolwarm", vmin=-span, vmax=span)
    for i in range(n):
        for j in range(c):
            ax2.text(j, i, f"{means[i, j]:.2f}\n{stds[i, j]:.2f}", ha="center", va="center", fontsize=7,
                     fontweight="bold" if mask[i, j] else "normal")
            if mask[i, j]:
                ax2.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, ec="k", lw=2.5))
    ax2.set_xticks(range(c))
    ax2.set_yticks(range(n))
    ax2.set(xlabel="channel c", ylabel="sample n")
    ax2.set_title(f"mean (top) and std (bottom) each map is normalized with\nframed set: mean "
                  f"{means[sample, channel]:.3f}, std {stds[sample, channel]:.3f}", fontsize=9)
    fig.subplots_adjust(left=0.05, right=0.985, bottom=0.06, top=0.955, wspace=0.12)  # tight_layout: slow
    return fig


# ------------------------------------------------------------------------------------- 12. spectral normalization
def matrix_with_spectrum(singular_values, shape, seed: int = 0) -> torch.Tensor:
    """A random (out, in) float64 matrix U diag(s) V^T with the given singular values (descending)."""
    s = torch.as_tensor(singular_values, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    q1, _ = torch.linalg.qr(torch.randn(shape[0], len(s), generator=gen, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(shape[1], len(s), generator=gen, dtype=torch.float64))
    return q1 @ torch.diag(s) @ q2.T


def draw_spectral(errors: dict, predicted: dict, stretch: dict):
    """Left: errors {name: relative error of sigma per round}, with predicted slopes {name: curve} dotted.
    Right: stretch {name: (ratios ||f(x) - f(x')|| / ||x - x'||, the Lipschitz bound)}."""
    fig, (ax, ax2) = new_figure(2, width=5.4, height=3.8)
    for (name, err), col in zip(errors.items(), COLORS):
        k = np.arange(1, len(err) + 1)
        ax.plot(k, np.maximum(err, 1e-17), color=col, lw=1.6, label=name)
        if name in predicted:
            ax.plot(k, np.clip(predicted[name], 1e-17, 1e3), color=col, lw=1.0, ls=":")
    ax.set(yscale="log", ylim=(1e-16, 2), xlabel="power-iteration round k", ylabel="|sigma_k - sigma_max| / sigma_max",
           title="power iteration vs svdvals (dotted: slope (s2/s1)^(4k))")
    for (name, (ratios, bound)), col in zip(stretch.items(), (BLUE, GREEN)):
        ax2.hist(ratios, bins=np.logspace(-3, 2, 60), color=col, alpha=0.6, label=f"{name}: max {ratios.max():.2f}")
        ax2.axvline(bound, color=col, lw=2, ls="--", label=f"{name}: bound {bound:.3g}")
    ax2.set(xscale="log", xlabel="||f(x) - f(x')|| / ||x - x'|| over digit pairs", ylabel="pairs",
            title="Lipschitz bound = product of sigma_max")
    ax2.set_ylim(0, 1.45 * ax2.get_ylim()[1])
    for a in (ax, ax2):
        a.title.set_fontsize(10)
    _finish((ax,))
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    return fig
