"""Lecture 3 (generalization): its data set and the drawing functions of its figures.

The experiments themselves (the training loop with penalties, decoupled weight decay, augmentation and mixing;
the dropout, stochastic-depth and early-stopping code; the widgets' functions) are written in
lectures/03_generalization.ipynb. Here: the noisy digits every experiment trains on, and draw_* functions that take
what the notebook computed and return a matplotlib Figure (those a widget redraws take `fig`, the panel's previous
figure, to draw into again). Lines, images and bars that tests read carry a gid (``artist.get_gid()``).
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .data import Split, digits
from .plots import new_figure, plt  # plots picks a non-GUI backend before pyplot loads

N_TRAIN = 200
LABEL_NOISE = 0.25
TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:orange"


def noisy_digits(n_train: int = N_TRAIN, label_noise: float = LABEL_NOISE, seed: int = 0,
                 images: bool = False) -> Split:
    """Digits with pixels in [0, 1] (standardize=False) and corrupted training labels.

    A fraction `label_noise` of the training samples (chosen with numpy's default_rng(seed + 1000)) get a
    label drawn uniformly from the 9 *other* classes; validation labels stay clean. Returns a Split.
    """
    data = digits(seed=seed, n_train=n_train, standardize=False, images=images)
    if label_noise > 0:
        rng = np.random.default_rng(seed + 1000)
        y = data.y_train.numpy().copy()
        corrupt = rng.random(len(y)) < label_noise
        y[corrupt] = (y[corrupt] + rng.integers(1, 10, size=int(corrupt.sum()))) % 10  # never the true class
        data.y_train = torch.from_numpy(y)
    return data


def class_examples(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first clean training image of each class 0..9: ((10, 1, 8, 8) pixels in [0, 1], labels 0..9)."""
    data = digits(seed=seed, standardize=False, images=True)
    idx = torch.stack([torch.nonzero(data.y_train == c)[0, 0] for c in range(10)])
    return data.x_train[idx], data.y_train[idx]


def format_table(rows: list[dict], digits_: int = 3) -> str:
    """A plain-text table of dicts with the same keys (floats rounded)."""
    keys = list(rows[0])
    cells = [[f"{r[k]:.{digits_}f}" if isinstance(r[k], float) else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(keys), line(["-" * w for w in widths])] + [line(c) for c in cells])


def gap(hist) -> float:
    """Generalization gap at the end of training: train accuracy (on the labels trained on) minus validation
    accuracy."""
    return hist.train_acc[-1] - hist.val_acc[-1]


# ---------------------------------------------------------------------------------------------- small helpers
def style(ax, title: str = "", xlabel: str = "epoch", ylabel: str = "", legend: bool = False) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7)


def tagged(artists, gid: str):
    """Set gid on one artist or on each of a list (ax.plot, ax.bar); returns what it got."""
    for a in (artists if isinstance(artists, (list, tuple)) or hasattr(artists, "patches") else [artists]):
        a.set_gid(gid)
    return artists


def curve(ax, ys, gid: str, **kw):
    (line,) = ax.plot(np.arange(1, len(ys) + 1), ys, **kw)
    return tagged(line, gid)


COLORS = ["tab:gray", "tab:green", "tab:blue", "tab:red", "tab:purple", "tab:brown", "tab:cyan", "tab:olive"]


def draw_runs(runs: dict, title: str = "", extra: int = 0, colors=None, fig=None):
    """Training runs side by side: accuracy (dashed: train on the noisy labels; solid: validation), cross-entropy,
    and the final train/validation accuracies (their difference is the gap). runs: label -> History (the first is
    drawn grey: the reference). `extra` more axes are added on the right for the caller. Returns (fig, axes)."""
    fig, axes = new_figure(3 + extra, width=4.3, height=3.3, reuse=fig)
    ax_acc, ax_loss, ax_bar = axes[:3]
    colors = colors or COLORS
    for i, (label, h) in enumerate(runs.items()):
        c = colors[i % len(colors)]
        curve(ax_acc, h.train_acc, f"train_acc_{label}", color=c, ls="--", lw=1)
        curve(ax_acc, h.val_acc, f"val_acc_{label}", color=c, lw=1.8, label=label)
        curve(ax_loss, h.train_loss, f"train_loss_{label}", color=c, ls="--", lw=1)
        curve(ax_loss, h.val_loss, f"val_loss_{label}", color=c, lw=1.8)
    style(ax_acc, title or "accuracy (dashed: train, noisy labels)", ylabel="accuracy", legend=True)
    ax_loss.set_yscale("log")
    style(ax_loss, "cross-entropy (dashed: train)", ylabel="loss")
    xs = np.arange(len(runs))
    for off, key, color in ((-0.2, "train_acc", TRAIN_COLOR), (0.2, "val_acc", VAL_COLOR)):
        vals = [getattr(h, key)[-1] for h in runs.values()]
        tagged(ax_bar.bar(xs + off, vals, width=0.4, color=color, label=key.replace("_", " ")), f"bar_{key}")
        for x, v in zip(xs + off, vals):
            ax_bar.text(x, v + 0.01, f"{v:.2f}", ha="center", fontsize=7)
    ax_bar.set_xticks(xs, list(runs), fontsize=7, rotation=12)
    ax_bar.set_ylim(0, 1.25)
    gaps = ", ".join(f"{h.train_acc[-1] - h.val_acc[-1]:+.2f}" for h in runs.values())
    style(ax_bar, f"final accuracies; gaps {gaps}", xlabel="", ylabel="accuracy")
    ax_bar.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    return fig, axes


def draw_lines(series: dict, xlabel: str, ylabel: str, title: str = "", logx: bool = False, logy: bool = False,
               ax=None, hlines: dict | None = None, width: float = 5.2, fmt: str = "o-", diagonal: bool = False,
               dashed: tuple = ()):
    """One line per label: series label -> (xs, ys) (or ys against 1..n); hlines label -> y as dashed lines;
    fmt "." draws points only; the labels in `dashed` are drawn as dashed lines (predictions); diagonal adds y = x."""
    fig = None
    if ax is None:
        fig, (ax,) = new_figure(1, width=width, height=3.4)
    for label, v in series.items():
        xs, ys = v if isinstance(v, tuple) else (np.arange(1, len(v) + 1), v)
        tagged(ax.plot(xs, ys, "--" if label in dashed else fmt, ms=3, label=label)[0], label)
        if all(float(x).is_integer() for x in xs) and not logx:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if diagonal:
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k:", lw=1, label="y = x")
    for (label, y), c in zip((hlines or {}).items(), ("k", "tab:red", "tab:gray")):
        ax.axhline(y, color=c, ls="--", lw=1, label=label)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    style(ax, title, xlabel, ylabel, legend=True)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def draw_weights(weights: dict, ax, near_zero: float = 0.01) -> None:
    """Histograms (log counts) of first-layer weights per run, with the share |w| < near_zero in the legend."""
    for (label, w), c in zip(weights.items(), COLORS):
        share = float((np.abs(w) < near_zero).mean())
        ax.hist(w.ravel(), bins=np.linspace(-0.4, 0.4, 81), histtype="step", color=c, lw=1.3,
                label=f"{label}: {share:.0%} below {near_zero:g}")
    ax.set_yscale("log")
    style(ax, "first-layer weights after training", "weight value", "count", legend=True)


def draw_decay(ax, rms: dict, rate: dict, max_points: int = 800) -> None:
    """Each first-layer weight's decay per step (in units of lr * lambda * w) against the RMS of its data gradient,
    log-log, one colour per optimizer. rms, rate: label -> (n,) arrays."""
    floor = 1e-6  # weights of blank pixels get no data gradient at all: drawn at the left edge
    for (label, r), c in zip(rate.items(), COLORS[1:]):
        x, y = rms[label], r
        keep = np.linspace(0, len(x) - 1, min(max_points, len(x))).astype(int)
        tagged(ax.scatter(np.maximum(x[keep], floor), y[keep], s=3, color=c, label=label), f"decay_{label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    top = max(float(np.max(r)) for r in rate.values())
    ax.set_ylim(0.3, max(30.0, 3 * top))  # AdamW alone (all exactly 1) would otherwise zoom into rounding noise
    ax.text(floor, ax.get_ylim()[1], "  gradient 0\n  (blank pixels)", fontsize=7, va="top")
    style(ax, "decay per step, in units of lr·λ·w", "RMS of the weight's data gradient",
          "decay removed per step / (lr·λ·w)")
    ax.legend(fontsize=7, markerscale=4, loc="upper right")
    ax.figure.tight_layout()


# ---------------------------------------------------------------------------------------------- images
def mosaic(maps: torch.Tensor) -> np.ndarray:
    """(C, H, W) -> (H, C * (W + 1) - 1) image with a NaN column between channels."""
    c, h, w = maps.shape
    out = np.full((h, c * (w + 1) - 1), np.nan)
    for i in range(c):
        out[:, i * (w + 1):i * (w + 1) + w] = maps[i].numpy()
    return out


def draw_masks(masks: dict, title: str = "", ncols: int = 3):
    """One image per mask (black = dropped, white = kept); a (C, H, W) mask is shown as channels side by side."""
    nrows = -(-len(masks) // ncols)
    fig, axes = new_figure(ncols, nrows, width=3.9, height=2.5)
    cmap = plt.get_cmap("gray").with_extremes(bad="#cde")
    for ax, (label, m) in zip(axes, masks.items()):
        img = mosaic(m) if m.dim() == 3 else m.numpy()
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1).set_gid(label)
        ax.set_title(f"{label}  [{1 - (m > 0).float().mean().item():.0%} dropped]", fontsize=8)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    for ax in axes[len(masks):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def draw_digit_grid(rows: list[torch.Tensor], labels: list[str], title: str = "", color: str = "k", fig=None):
    """Rows of 10 digits (each (10, 1, 8, 8)) in one axes: rows[r][c] gets the gid img_{r}_{c}."""
    fig, (ax,) = new_figure(1, width=9.5, height=1.1 * len(rows) + 0.4, reuse=fig)
    size, space = 8, 1
    for r, batch in enumerate(rows):
        for c in range(len(batch)):
            left, top = c * (size + space), r * (size + space)
            ax.imshow(batch[c, 0].numpy(), cmap="gray_r", vmin=0, vmax=1,
                      extent=(left, left + size, top + size, top)).set_gid(f"img_{r}_{c}")
        ax.text(-0.6, r * (size + space) + size / 2, labels[r], ha="right", va="center", fontsize=8)
    ax.set_xlim(-space, 10 * (size + space))
    ax.set_ylim(len(rows) * (size + space), -space)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(title, fontsize=10, color=color)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.01, top=0.88)
    return fig


def draw_class_bars(series: dict, title: str, ylabel: str = "validation accuracy"):
    """Grouped bars over the ten classes: series label -> (10,) values."""
    fig, (ax,) = new_figure(1, width=7.0, height=3.2)
    width = 0.8 / len(series)
    for i, ((label, v), c) in enumerate(zip(series.items(), ("tab:gray", "tab:red", "tab:blue"))):
        tagged(ax.bar(np.arange(10) + (i - (len(series) - 1) / 2) * width, v, width=width, color=c,
                      label=f"{label} (mean {np.mean(v):.2f})"), label)
    ax.set_xticks(range(10))
    ax.set_ylim(0, 1.15)
    style(ax, title, "true class", ylabel)
    ax.legend(fontsize=8, ncol=len(series), loc="upper center")
    fig.tight_layout()
    return fig


def draw_beta(samples: dict, pdf, lo: float = 0.4, hi: float = 0.6):
    """Histograms of lambda ~ Beta(a, a) per alpha (samples: alpha -> draws) with the density pdf(grid, a) on
    top, the band (lo, hi) shaded."""
    fig, axes = new_figure(len(samples), width=3.6, height=3.0)
    grid = np.linspace(0.002, 0.998, 400)
    for ax, (a, lam) in zip(axes, samples.items()):
        ax.hist(lam, bins=40, range=(0, 1), density=True, color="tab:blue", alpha=0.6)
        ax.plot(grid, pdf(grid, a), color="k", lw=1)
        ax.axvspan(lo, hi, color="tab:orange", alpha=0.2)
        ax.set_ylim(0, 4)
        share = float(((lam > lo) & (lam < hi)).mean())
        style(ax, f"Beta({a:g}, {a:g}): {share:.0%} in ({lo:g}, {hi:g})", "lambda", "density")
    fig.tight_layout()
    return fig


def draw_mixing(images: list, labels: list, titles: list, box: tuple, suptitle: str, fig=None):
    """Four images (a, b, mixup, CutMix) over their label vectors; box = (top, left, h, w) of the CutMix patch."""
    fig, axes = new_figure(4, 2, width=2.7, height=2.5, reuse=fig)
    for k, (img, lab, title, tag) in enumerate(zip(images, labels, titles, ("a", "b", "mixup", "cutmix"))):
        axes[k].imshow(img.numpy(), cmap="gray_r", vmin=0, vmax=1).set_gid(f"img_{tag}")
        axes[k].set_title(title, fontsize=9)
        axes[k].set_xticks([])
        axes[k].set_yticks([])
        tagged(axes[4 + k].bar(np.arange(10), lab.numpy(), color="tab:blue"), f"label_{tag}")
        for c in np.nonzero(lab.numpy() > 0)[0]:
            axes[4 + k].text(c, lab[c] + 0.03, f"{lab[c]:.2f}", ha="center", fontsize=8)
        axes[4 + k].set_xticks(range(10))
        axes[4 + k].set_ylim(0, 1.2)
        axes[4 + k].set_title("label vector", fontsize=9)
    top, left, h, w = box
    axes[3].add_patch(tagged(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec="tab:red", lw=2), "box"))
    fig.suptitle(suptitle, fontsize=10)
    # fixed margins: tight_layout measures every label, most of a redraw's time
    fig.subplots_adjust(left=0.05, right=0.985, bottom=0.08, top=0.83, wspace=0.22, hspace=0.25)
    return fig


def draw_early_stopping(full, stopped, best: int, stop: int, restored_acc: float, title: str):
    """Validation loss and accuracy of the stopped run (solid) over the run trained to the end (dotted), the best
    epoch (star), the stop (vertical line) and the patience window."""
    fig, (ax_l, ax_a) = new_figure(2, width=5.2, height=3.5)
    for ax, key in ((ax_l, "val_loss"), (ax_a, "val_acc")):
        curve(ax, getattr(full, key), f"{key}_full", color="tab:gray", lw=1, ls=":", label="trained to the end")
        curve(ax, getattr(stopped, key), key, color=VAL_COLOR, lw=2, label="with early stopping")
        tagged(ax.axvline(stop, color="k", lw=1), "stop")
        ax.axvspan(best, stop, color="tab:orange", alpha=0.12)
    curve(ax_l, full.train_loss, "train_loss_full", color=TRAIN_COLOR, lw=1, ls=":", label="train, to the end")
    tagged(ax_l.plot([best], [stopped.val_loss[best - 1]], "*", color="tab:red", ms=14, label=f"best epoch {best}")[0],
           "best")
    tagged(ax_a.plot([best], [restored_acc], "*", color="tab:red", ms=14, label=f"restored {restored_acc:.3f}")[0],
           "restored")
    ax_l.set_yscale("log")
    style(ax_l, title, ylabel="validation loss", legend=True)
    style(ax_a, f"validation accuracy (to the end: {full.val_acc[-1]:.3f})", ylabel="accuracy", legend=True)
    fig.tight_layout()
    return fig
