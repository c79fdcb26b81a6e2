"""Lecture 3, Normalization and Generalization: the experiments, their figures and widget panels.

The common setup is a small overfitting problem: 200 training digits (8x8 pixels in [0, 1]) of which a
quarter carry a wrong, random label, a clean validation set of 449 digits, and a 64-256-256-10 ReLU MLP
trained with Adam. Without help the network memorizes the wrong labels and the validation accuracy
suffers; every regularizer of the lecture is measured against that baseline.

The data set is the same everywhere (noisy_digits() with its default seed); the `seed` argument of the
experiments sets the initialization, the batch order and the random masks. Training runs are pure functions
cached with functools.lru_cache (mlp_run is the core most of them share, so the unregularized baseline is
trained once for the whole lecture), and a widget that goes back to an earlier setting redraws at once.
Draw functions return a matplotlib Figure; `make_*_panel()` wraps one in an initnorm.widgets.Panel.
Lines, images and bars that tests read carry a gid (``artist.get_gid()``).
"""
from __future__ import annotations

import contextvars
import functools
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import ipywidgets as W
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from . import augment as aug
from .data import Split, digits
from .models import mlp
from .plots import new_figure, plt  # plots picks a non-GUI backend before pyplot loads
from .train import History, evaluate
from .widgets import Panel

N_TRAIN = 200
LABEL_NOISE = 0.25
EPOCHS = 40
LR = 2e-3
BATCH = 32
TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:orange"


# ----------------------------------------------------------------------------------------------------
# Setup: data, model, one thread, progress routing
# ----------------------------------------------------------------------------------------------------

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


def classifier(dropout: float = 0.0, norm: str = "none", seed: int = 0, images: bool = False,
               width: int = 256, depth: int = 2) -> nn.Module:
    """The lecture's MLP (He init): 64 -> [width] * depth -> 10, with optional dropout and normalization.
    With images=True a Flatten layer in front accepts (N, 1, 8, 8) batches."""
    net = mlp(64, 10, depth=depth, width=width, activation="relu", init="he", norm=norm, dropout=dropout,
              seed=seed)
    return nn.Sequential(nn.Flatten(), net) if images else net


def _one_thread(fn: Callable) -> Callable:
    """Run fn with a single torch thread: for these tiny models one thread is faster than two, and the
    course's machines are shared."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(old)
    return wrapper


_PROGRESS: contextvars.ContextVar = contextvars.ContextVar("initnorm_generalization_progress", default=None)


@contextmanager
def _progress_span(progress: Callable | None, lo: float, hi: float):
    """While inside, _report(f) moves the panel's bar to lo + f * (hi - lo); at the end it sits at hi."""
    token = _PROGRESS.set([progress, lo, hi, lo] if progress is not None else None)
    try:
        yield
    finally:
        _PROGRESS.reset(token)
        if progress is not None:
            progress(hi)


def _report(fraction: float) -> None:
    """Move the bar, in steps of at least 5% of the span: every move is a message to the front end."""
    span = _PROGRESS.get()
    if span is not None:
        fn, lo, hi, shown = span
        value = lo + (hi - lo) * fraction
        if value - shown >= 0.05 * (hi - lo) or fraction >= 1.0:
            span[3] = value
            fn(value)


def _run_all(calls: list[tuple[Callable, dict]], progress: Callable | None) -> list:
    """Call each cached compute function in turn, splitting the progress bar evenly between them."""
    out = []
    for i, (fn, kwargs) in enumerate(calls):
        with _progress_span(progress, i / len(calls), (i + 1) / len(calls)):
            out.append(fn(**kwargs))
    return out


# ----------------------------------------------------------------------------------------------------
# The training loop: penalties, augmentation and mixing; one epoch at a time
# ----------------------------------------------------------------------------------------------------

def _weights(model: nn.Module) -> list[torch.Tensor]:
    """Weight matrices and kernels (dim >= 2): what L1/L2 penalties act on; biases and norm gains are left out."""
    return [p for p in model.parameters() if p.dim() >= 2]


def _cutmix_box(h: int, w: int, lam: float) -> tuple[int, int]:
    """Side lengths of the CutMix box for mixing weight lam: the box covers about (1 - lam) of the image."""
    return int(round(h * math.sqrt(1.0 - lam))), int(round(w * math.sqrt(1.0 - lam)))


def _mix_pair(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    """Mixup of two images (any equal shapes): lam * a + (1 - lam) * b."""
    return lam * a + (1.0 - lam) * b


def _cutmix_pair(a: torch.Tensor, b: torch.Tensor, lam: float, top: int, left: int):
    """Paste the CutMix box of b (size from lam, top-left corner at (top, left)) into a copy of a.
    a, b: (..., H, W). Returns (mixed image, fraction of pixels taken from b, (top, left, bh, bw))."""
    h, w = a.shape[-2:]
    bh, bw = _cutmix_box(h, w, lam)
    top, left = min(max(top, 0), h - bh), min(max(left, 0), w - bw)
    out = a.clone()
    out[..., top:top + bh, left:left + bw] = b[..., top:top + bh, left:left + bw]
    return out, bh * bw / (h * w), (top, left, bh, bw)


def _mix_batch(x: torch.Tensor, targets: torch.Tensor, mode: str, lam: float, gen: torch.Generator):
    """Mix a batch with a shuffled copy of itself. x: (N, 1, H, W); targets: (N, classes) probabilities.
    mixup blends whole images; cutmix pastes one box (same place for the batch) and weights the labels by
    the pasted area. Returns (x_mixed, targets_mixed)."""
    perm = torch.randperm(len(x), generator=gen)
    if mode == "mixup":
        return _mix_pair(x, x[perm], lam), _mix_pair(targets, targets[perm], lam)
    h, w = x.shape[-2:]
    bh, bw = _cutmix_box(h, w, lam)
    top = int(torch.randint(0, h - bh + 1, (1,), generator=gen))
    left = int(torch.randint(0, w - bw + 1, (1,), generator=gen))
    mixed, pasted, _ = _cutmix_pair(x, x[perm], lam, top, left)
    return mixed, (1.0 - pasted) * targets + pasted * targets[perm]


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, data: Split, gen: torch.Generator,
                 rng: np.random.Generator, hist: History, batch_size: int = BATCH, l1: float = 0.0,
                 l2: float = 0.0, augment: str = "none", mix_alpha: float = 1.0) -> None:
    """One pass over the shuffled training set. augment is a name from augment.AUGMENTATIONS or
    'mixup' / 'cutmix' (then lam ~ Beta(mix_alpha, mix_alpha) per batch, drawn with rng)."""
    model.train()
    n = len(data.x_train)
    order = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        xb = data.x_train[idx]
        targets = F.one_hot(data.y_train[idx], 10).float()  # (B, 10)
        if augment in ("mixup", "cutmix"):
            xb, targets = _mix_batch(xb, targets, augment, float(rng.beta(mix_alpha, mix_alpha)), gen)
        elif augment != "none":
            xb = aug.AUGMENTATIONS[augment](xb, gen)
        loss = F.cross_entropy(model(xb), targets)  # soft targets: the same as hard ones when one-hot
        if l1:
            loss = loss + l1 * sum(w.abs().sum() for w in _weights(model))
        if l2:
            loss = loss + 0.5 * l2 * sum((w ** 2).sum() for w in _weights(model))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.step_loss.append(loss.item())


def _record(model: nn.Module, data: Split, hist: History) -> None:
    for x, y, losses, accs in ((data.x_train, data.y_train, hist.train_loss, hist.train_acc),
                               (data.x_val, data.y_val, hist.val_loss, hist.val_acc)):
        loss, acc = evaluate(model, x, y)
        losses.append(loss)
        accs.append(acc)


def fit(model: nn.Module, data: Split, epochs: int = EPOCHS, lr: float = LR, batch_size: int = BATCH,
        seed: int = 0, l1: float = 0.0, l2: float = 0.0, augment: str = "none", mix_alpha: float = 1.0,
        on_epoch: Callable[[int, History], None] | None = None) -> History:
    """Train with Adam on cross-entropy; evaluate (eval mode, no augmentation) after every epoch.

    - l1: adds l1 * sum |w|; l2: adds l2 / 2 * sum w^2 (gradient l2 * w: classic weight decay), both over
      weight matrices only.
    - augment: 'none', a name from augment.AUGMENTATIONS, 'mixup' or 'cutmix'.
    nn.Dropout and stochastic depth draw from torch's global generator, so it is seeded here; batches,
    augmentations and mixing use their own generators seeded with `seed`.
    """
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    hist = History()
    with torch.enable_grad():  # also when called from inside a no_grad block
        for epoch in range(epochs):
            _train_epoch(model, opt, data, gen, rng, hist, batch_size, l1, l2, augment, mix_alpha)
            _record(model, data, hist)
            if on_epoch is not None:
                on_epoch(epoch, hist)
            _report((epoch + 1) / epochs)
    model.eval()
    return hist


def format_table(rows: list[dict], digits_: int = 3) -> str:
    """A plain-text table of dicts with the same keys (floats rounded)."""
    keys = list(rows[0])
    cells = [[f"{r[k]:.{digits_}f}" if isinstance(r[k], float) else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(keys), line(["-" * w for w in widths])] + [line(c) for c in cells])


def _style(ax, title: str = "", xlabel: str = "epoch", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _curve(ax, ys, gid: str, **kw):
    (line,) = ax.plot(np.arange(1, len(ys) + 1), ys, **kw)
    line.set_gid(gid)
    return line


def _figure(width: float, height: float):
    """An empty figure (closed in pyplot, so only an explicit display shows it)."""
    fig = plt.figure(figsize=(width, height))
    plt.close(fig)
    return fig


def _gid(artist, gid: str):
    artist.set_gid(gid)
    return artist


def _bars(ax, xs, heights, gid: str, **kw):
    """ax.bar with every rectangle tagged gid (tests read bar heights by gid)."""
    bars = ax.bar(xs, heights, **kw)
    for b in bars:
        b.set_gid(gid)
    return bars


def gap(hist: History) -> float:
    """Generalization gap at the end of training: train accuracy (on the labels trained on) minus
    validation accuracy."""
    return hist.train_acc[-1] - hist.val_acc[-1]


@functools.lru_cache(maxsize=128)
@_one_thread
def mlp_run(dropout: float = 0.0, norm: str = "none", l1: float = 0.0, l2: float = 0.0, batch_size: int = BATCH,
            epochs: int = EPOCHS, seed: int = 0, label_noise: float = LABEL_NOISE):
    """Train classifier(dropout, norm, seed) with fit() on noisy_digits(label_noise=label_noise).
    Returns (History, trained model in eval mode). Cached: the same arguments return the same objects."""
    model = classifier(dropout=dropout, norm=norm, seed=seed)
    hist = fit(model, noisy_digits(label_noise=label_noise), epochs=epochs, batch_size=batch_size, seed=seed,
               l1=l1, l2=l2)
    return hist, model


# ----------------------------------------------------------------------------------------------------
# Topic 1: L1 / L2 penalties and weight decay
# ----------------------------------------------------------------------------------------------------

@_one_thread
def one_step_l2_vs_weight_decay(lam: float = 0.01, lr: float = 0.1, seed: int = 0) -> dict:
    """One optimizer step from the same weights and batch, two ways: L2 penalty lam/2 * ||w||^2 in the
    loss vs the optimizer's weight decay lam. Returns the largest weight difference after the step for
    SGD (L2 penalty vs SGD(weight_decay)) and for Adam (L2 penalty vs AdamW's decoupled decay)."""
    data = noisy_digits()
    x, y = data.x_train[:32], data.y_train[:32]

    def step(make_opt, penalty: bool) -> torch.Tensor:
        model = classifier(seed=seed)
        opt = make_opt(model.parameters())
        loss = F.cross_entropy(model(x), y)
        if penalty:
            loss = loss + 0.5 * lam * sum((p ** 2).sum() for p in model.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    sgd_pen = step(lambda ps: torch.optim.SGD(ps, lr=lr), True)
    sgd_wd = step(lambda ps: torch.optim.SGD(ps, lr=lr, weight_decay=lam), False)
    adam_pen = step(lambda ps: torch.optim.Adam(ps, lr=1e-3), True)
    adamw = step(lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=lam), False)
    return {"sgd": (sgd_pen - sgd_wd).abs().max().item(), "adam_vs_adamw": (adam_pen - adamw).abs().max().item()}


def penalty_run(kind: str = "none", strength: float = 0.0, epochs: int = EPOCHS, seed: int = 0):
    """The lecture's MLP with no penalty, an L2 penalty or an L1 penalty of the given strength (via the
    cached mlp_run). Returns (History, first-layer weights as a numpy array)."""
    if kind not in ("none", "l1", "l2"):
        raise ValueError(f"kind must be 'none', 'l1' or 'l2', got {kind!r}")
    hist, model = mlp_run(l1=strength if kind == "l1" else 0.0, l2=strength if kind == "l2" else 0.0,
                          epochs=epochs, seed=seed)
    return hist, model[0].weight.detach().numpy().copy()


PENALTIES = (("none", 0.0), ("l2", 1e-2), ("l1", 1e-3))


def penalty_experiment(settings=PENALTIES, epochs: int = EPOCHS, seed: int = 0):
    """Curves and first-layer weight histograms for each (kind, strength). Returns (figure, table rows)."""
    runs = [penalty_run(kind, s, epochs, seed) for kind, s in settings]
    fig, (ax_acc, ax_w, ax_n) = new_figure(3, width=4.6, height=3.5)
    rows = []
    for (kind, s), (hist, w), color in zip(settings, runs, ("tab:gray", "tab:blue", "tab:red")):
        label = "no penalty" if kind == "none" else f"{kind.upper()} {s:g}"
        _curve(ax_acc, hist.train_acc, f"train_{kind}", color=color, ls="--", lw=1)
        _curve(ax_acc, hist.val_acc, f"val_{kind}", color=color, label=label)
        ax_w.hist(w.ravel(), bins=np.linspace(-0.4, 0.4, 81), histtype="step", color=color, label=label, lw=1.3)
        near_zero = float((np.abs(w) < 1e-2).mean())
        norm = float(np.sqrt((w ** 2).sum()))
        rows.append({"setting": label, "train acc": hist.train_acc[-1], "val acc": hist.val_acc[-1],
                     "gap": gap(hist), "|W1|_F": norm, "|w|<0.01": near_zero})
    _style(ax_acc, "accuracy (dashed: train on noisy labels)", ylabel="accuracy")
    ax_acc.legend(fontsize=8)
    ax_w.set_yscale("log")
    _style(ax_w, "first-layer weights after training", xlabel="weight value", ylabel="count")
    ax_w.legend(fontsize=8)
    names = [r["setting"] for r in rows]
    bars = ax_n.bar(names, [r["|w|<0.01"] for r in rows], color=["tab:gray", "tab:blue", "tab:red"][:len(rows)])
    for b, r in zip(bars, rows):
        ax_n.annotate(f"{r['|w|<0.01']:.0%}\n|W|={r['|W1|_F']:.1f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                      ha="center", va="bottom", fontsize=8)
    ax_n.set_ylim(0, 1)
    _style(ax_n, "share of first-layer weights with |w| < 0.01", xlabel="", ylabel="fraction")
    fig.tight_layout()
    return fig, rows


# ----------------------------------------------------------------------------------------------------
# Topic 2: dropout, masks, the expectation argument, the drop rate vs the generalization gap
# ----------------------------------------------------------------------------------------------------

def two_input_neuron(w1: float = 0.8, w2: float = -0.5, x: float = 1.0, y: float = 2.0, p: float = 0.5) -> dict:
    """The expectation argument for one neuron a = w1 * x + w2 * y whose two inputs are dropped
    independently with probability p. Enumerates the four masks exactly.

    Returns the full (test-time) activation, the expected activation with plain masks (= (1 - p) times the
    full one, hence the old test-time rescaling by 1 - p) and with inverted masks m / (1 - p) (= the full
    one, so nothing changes at test time), and the four (mask, probability, activation) terms.
    """
    full = w1 * x + w2 * y
    terms = []
    for m1 in (1, 0):
        for m2 in (1, 0):
            prob = (1 - p if m1 else p) * (1 - p if m2 else p)
            terms.append(((m1, m2), prob, w1 * m1 * x + w2 * m2 * y))
    plain = sum(prob * a for _, prob, a in terms)
    inverted = sum(prob * a / (1 - p) for _, prob, a in terms)
    return {"full": full, "plain": plain, "inverted": inverted, "terms": terms}


@_one_thread
def dropout_samples(p: float = 0.5, units: int = 256, draws: int = 4000, seed: int = 0) -> torch.Tensor:
    """`draws` outputs of torch's nn.Dropout(p) in training mode on an all-ones layer of `units` units:
    a (draws, units) tensor whose entries are 0 (dropped) or 1 / (1 - p) (kept, inverted scaling)."""
    torch.manual_seed(seed)  # nn.Dropout draws from the global generator
    drop = nn.Dropout(p).train()
    return drop(torch.ones(draws, units))


def draw_dropout_masks(p: float = 0.5, seed: int = 0, n_draws: int = 2000):
    """Four masks of nn.Dropout(p) on a 16x16 layer (white = kept, scaled to 1 / (1 - p)), and the
    running mean of the two-input neuron's output over random masks, with plain and inverted scaling."""
    samples = dropout_samples(p, units=256, draws=4, seed=seed)
    fig = _figure(11, 3.8)
    grid = fig.add_gridspec(2, 4)
    for k in range(4):
        ax = fig.add_subplot(grid[k // 2, k % 2])
        im = ax.imshow(samples[k].reshape(16, 16), cmap="gray", vmin=0, vmax=1 / (1 - p))
        im.set_gid(f"mask_{k}")
        kept = (samples[k] > 0).float().mean().item()
        ax.set_title(f"mask {k + 1}: {kept:.0%} kept", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ref = two_input_neuron(p=p)
    gen = torch.Generator().manual_seed(seed + 1)
    keep = (torch.rand(n_draws, 2, generator=gen) >= p).float()  # (draws, 2): 1 = input kept
    w, xy = torch.tensor([0.8, -0.5]), torch.tensor([1.0, 2.0])
    running = torch.cumsum((keep * xy * w).sum(1), 0) / torch.arange(1, n_draws + 1)
    ax = fig.add_subplot(grid[:, 2:])
    steps = np.arange(1, n_draws + 1)
    _gid(ax.plot(steps, running.numpy(), color="tab:red", label="plain masks")[0], "running_plain")
    _gid(ax.plot(steps, running.numpy() / (1 - p), color="tab:blue", label="inverted masks: m / (1 - p)")[0],
         "running_inverted")
    ax.axhline(ref["full"], color="tab:blue", ls="--", lw=1, label=f"test time, all inputs: {ref['full']:.2f}")
    ax.axhline(ref["plain"], color="tab:red", ls=":", lw=1.2, label=f"(1 - p) x that = {ref['plain']:.2f}")
    ax.set_xscale("log")
    ax.set_ylim(-1.2, 1.8)
    ax.legend(fontsize=8, loc="upper right")
    _style(ax, f"running mean of a = 0.8 x - 0.5 y at (x, y) = (1, 2), p = {p}", xlabel="number of random masks",
           ylabel="mean output")
    fig.tight_layout()
    return fig


def dropout_run(p: float = 0.5, weight_decay: float = 0.0, epochs: int = EPOCHS, seed: int = 0):
    """The lecture's MLP with nn.Dropout(p) after every hidden ReLU and weight decay (gradient
    weight_decay * w on weight matrices), via the cached mlp_run. Returns (History, model in eval mode)."""
    return mlp_run(dropout=p, l2=weight_decay, epochs=epochs, seed=seed)


def draw_dropout(p: float = 0.5, weight_decay: float = 0.0, epochs: int = EPOCHS, seed: int = 0,
                 progress: Callable | None = None):
    """Train/validation curves for the chosen drop rate and weight decay next to the unregularized
    baseline, and the final gap of both."""
    (base, _), (run, _) = _run_all([(dropout_run, dict(p=0.0, weight_decay=0.0, epochs=epochs, seed=seed)),
                                    (dropout_run, dict(p=p, weight_decay=weight_decay, epochs=epochs, seed=seed))],
                                   progress)
    fig, (ax_acc, ax_loss, ax_bar) = new_figure(3, width=4.4, height=3.4)
    label = f"p={p:g}, wd={weight_decay:g}"
    for hist, name, color, tag in ((base, "no dropout, no wd", "tab:gray", "base"), (run, label, "tab:green", "run")):
        _curve(ax_acc, hist.train_acc, f"train_acc_{tag}", color=color, ls="--", lw=1.2, label=f"{name}: train")
        _curve(ax_acc, hist.val_acc, f"val_acc_{tag}", color=color, lw=1.8, label=f"{name}: val")
        _curve(ax_loss, hist.train_loss, f"train_loss_{tag}", color=color, ls="--", lw=1.2)
        _curve(ax_loss, hist.val_loss, f"val_loss_{tag}", color=color, lw=1.8)
    _style(ax_acc, "accuracy (train = on the noisy labels)", ylabel="accuracy")
    ax_acc.legend(fontsize=7, loc="lower right")
    _style(ax_loss, "cross-entropy (dashed: train)", ylabel="loss")
    ax_loss.set_yscale("log")
    names = ["baseline", label]
    xs = np.arange(2)
    for off, key, color in ((-0.2, "train_acc", TRAIN_COLOR), (0.2, "val_acc", VAL_COLOR)):
        vals = [getattr(h, key)[-1] for h in (base, run)]
        _bars(ax_bar, xs + off, vals, f"bar_{key}", width=0.4, color=color, label=key.replace("_", " "))
        for x_, v in zip(xs + off, vals):
            ax_bar.text(x_, v + 0.01, f"{v:.2f}", ha="center", fontsize=8)
    ax_bar.set_xticks(xs, names)
    ax_bar.set_ylim(0, 1.25)
    ax_bar.legend(fontsize=8, loc="upper center", ncol=2)
    _style(ax_bar, f"final gap: {gap(base):.2f} (baseline) vs {gap(run):.2f}", xlabel="", ylabel="accuracy")
    fig.tight_layout()
    return fig


DROP_RATES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8)
WEIGHT_DECAYS = (0.0, 1e-3, 3e-3, 1e-2, 3e-2)


def make_dropout_panel(p: float = 0.5, weight_decay: float = 0.0) -> Panel:
    """Widget: drop rate and weight decay vs the train/validation gap (Run trains; results are cached)."""
    controls = {
        "p": W.SelectionSlider(options=list(DROP_RATES), value=p, description="drop p"),
        "weight_decay": W.Dropdown(options=list(WEIGHT_DECAYS), value=weight_decay, description="weight decay",
                                   style={"description_width": "initial"}),
    }
    return Panel(draw_dropout, controls, run_button=True, title="Dropout and weight decay vs the train/validation gap")


@_one_thread
@torch.no_grad()
def mc_dropout_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_masks=(1, 2, 5, 10, 20, 50),
                        seed: int = 0) -> dict:
    """Accuracy of the average softmax over K random dropout masks (train-mode passes) for each K, and of
    the deterministic eval-mode network (the weight-scaling rule). Restores the model's mode."""
    was_training = model.training
    torch.manual_seed(seed)
    model.train()
    probs = torch.stack([F.softmax(model(x), dim=1) for _ in range(max(n_masks))])  # (K, N, 10)
    model.eval()
    det = F.softmax(model(x), dim=1)
    model.train(was_training)
    mc = {k: (probs[:k].mean(0).argmax(1) == y).float().mean().item() for k in n_masks}
    return {"mc": mc, "eval": (det.argmax(1) == y).float().mean().item(),
            "agreement": (probs.mean(0).argmax(1) == det.argmax(1)).float().mean().item()}


def draw_mc_dropout(p: float = 0.5, seed: int = 0):
    """Validation accuracy of the explicit ensemble of K masks vs the single eval-mode pass."""
    _, model = dropout_run(p=p, weight_decay=0.0, epochs=EPOCHS, seed=seed)
    data = noisy_digits()
    res = mc_dropout_accuracy(model, data.x_val, data.y_val, seed=seed)
    fig, (ax,) = new_figure(1, width=5.2, height=3.4)
    ks = list(res["mc"])
    line = ax.plot(ks, [res["mc"][k] for k in ks], "o-", color="tab:green", label="average of K random masks")[0]
    line.set_gid("mc")
    ax.axhline(res["eval"], color="k", ls="--", label=f"eval mode (all units, no rescaling): {res['eval']:.3f}")
    ax.set_xscale("log")
    ax.legend(fontsize=8, loc="lower right")
    _style(ax, f"dropout p={p}: weight scaling vs an explicit ensemble of masks", xlabel="K masks",
           ylabel="validation accuracy")
    fig.tight_layout()
    return fig, res


# ----------------------------------------------------------------------------------------------------
# Topic 3: BatchNorm before dropout (the variance shift)
# ----------------------------------------------------------------------------------------------------

def predicted_test_std(p: float, mean: float = 1.0, std: float = 1.0) -> float:
    """Std of BatchNorm's output at test time when nn.Dropout(p) (inverted) sits right before it and the
    features have this mean and std. In training the dropped signal u * m / (1 - p) has the same mean but
    variance (std^2 + mean^2) / (1 - p) - mean^2, which BN stores as its running variance; at test time
    dropout is off, the variance is back to std^2, and BN divides by the wrong number."""
    train_var = (std ** 2 + mean ** 2) / (1 - p) - mean ** 2
    return std / math.sqrt(train_var)


@_one_thread
@torch.no_grad()
def variance_shift(p: float, order: str, mean: float = 1.0, std: float = 1.0, features: int = 64,
                   batch: int = 128, steps: int = 100, seed: int = 0) -> dict:
    """Train-mode passes of `steps` batches through dropout and BatchNorm1d (momentum=None: the running
    statistics are plain averages) in the given order ('dropout->bn' or 'bn->dropout'), then one eval-mode
    pass on fresh data. Returns the std and mean of the BN output at test time and BN's running variance."""
    if order not in ("dropout->bn", "bn->dropout"):
        raise ValueError(f"order must be 'dropout->bn' or 'bn->dropout', got {order!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    bn, drop = nn.BatchNorm1d(features, momentum=None), nn.Dropout(p)
    layers = [drop, bn] if order == "dropout->bn" else [bn, drop]
    net = nn.Sequential(*layers).train()
    for _ in range(steps):
        net(mean + std * torch.randn(batch, features, generator=gen))
    net.eval()
    x = mean + std * torch.randn(4096, features, generator=gen)
    out = bn(drop(x)) if order == "dropout->bn" else bn(x)  # eval mode: dropout is the identity
    return {"test_std": out.std().item(), "test_mean": out.mean().item(),
            "running_var": bn.running_var.mean().item()}


def draw_variance_shift(ps=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), mean: float = 1.0, std: float = 1.0,
                        seed: int = 0):
    """Test-time std of BatchNorm's output for both orders, measured and predicted."""
    fig, (ax,) = new_figure(1, width=6.0, height=3.6)
    results = {}
    for order, color, marker in (("dropout->bn", "tab:red", "o"), ("bn->dropout", "tab:blue", "s")):
        stds = [variance_shift(p, order, mean, std, seed=seed)["test_std"] for p in ps]
        results[order] = stds
        _gid(ax.plot(ps, stds, marker, color=color, label=f"{order}: measured")[0], order)
    fine = np.linspace(0, max(ps), 100)
    ax.plot(fine, [predicted_test_std(p, mean, std) for p in fine], "--", color="tab:red", lw=1,
            label="dropout->bn: predicted")
    ax.axhline(1.0, color="tab:blue", ls=":", lw=1)
    ax.set_ylim(0, 1.15)
    ax.legend(fontsize=8, loc="lower left")
    _style(ax, f"std of BN output at test time (features ~ N({mean:g}, {std:g}^2))", xlabel="drop rate p",
           ylabel="std (train time: 1)")
    fig.tight_layout()
    return fig, results


# ----------------------------------------------------------------------------------------------------
# Topic 4: dropout variants, as masks
# ----------------------------------------------------------------------------------------------------

def dropblock_mask(shape: tuple[int, int, int, int], p: float, block: int, gen: torch.Generator) -> torch.Tensor:
    """0/1 DropBlock mask of shape (N, C, H, W): block x block squares set to 0, with the seed rate chosen
    so that about a fraction p of the units is dropped (Ghiasi et al.). Seeds are only placed where the
    whole square fits, so every dropped unit lies in a complete square."""
    n, c, h, w = shape
    valid = (h - block + 1) * (w - block + 1)
    gamma = p / block ** 2 * (h * w) / valid
    seeds = (torch.rand(n, c, h - block + 1, w - block + 1, generator=gen) < gamma).float()  # top-left corners
    covered = F.max_pool2d(F.pad(seeds, (block - 1,) * 4), kernel_size=block, stride=1)  # (N, C, H, W)
    return 1.0 - covered


@_one_thread
def variant_masks(p: float = 0.3, seed: int = 0) -> dict[str, torch.Tensor]:
    """One draw of each kind of mask (1 = kept, 0 = dropped), made with torch:
    - 'dropout': nn.Dropout on a (4, 8, 8) feature map; 'spatial': nn.Dropout2d (whole channels);
      'dropblock': 3x3 blocks;
    - 'dropout_as_weights': dropping input units of a 12x16 linear layer = zeroing whole columns of W;
      'dropconnect': independent zeros in W;
    - 'droppath': per sample (rows, 16 samples) and residual branch (columns, 8 branches)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    ones = torch.ones(1, 4, 8, 8)
    unit_keep = (torch.rand(16, generator=gen) >= p).float()  # (in,)
    return {
        "dropout": (nn.Dropout(p).train()(ones) > 0).float()[0],
        "spatial": (nn.Dropout2d(p).train()(ones) > 0).float()[0],
        "dropblock": dropblock_mask((1, 4, 8, 8), p, 3, gen)[0],
        "dropout_as_weights": unit_keep.expand(12, 16).clone(),
        "dropconnect": (torch.rand(12, 16, generator=gen) >= p).float(),
        "droppath": (torch.rand(16, 8, generator=gen) >= p).float(),
    }


def _mosaic(maps: torch.Tensor) -> np.ndarray:
    """(C, H, W) -> (H, C * (W + 1) - 1) image with a NaN column between channels."""
    c, h, w = maps.shape
    out = np.full((h, c * (w + 1) - 1), np.nan)
    for i in range(c):
        out[:, i * (w + 1):i * (w + 1) + w] = maps[i].numpy()
    return out


def draw_variant_masks(p: float = 0.3, seed: int = 0):
    """Six panels: what each dropout variant removes (black = dropped)."""
    masks = variant_masks(p, seed)
    fig, axes = new_figure(3, 2, width=4.2, height=2.6)
    cmap = plt.get_cmap("gray").with_extremes(bad="#cde")
    panels = [
        ("dropout", "Dropout: single units\n(4 channels of an 8x8 map)", "channels side by side"),
        ("spatial", "Spatial dropout (Dropout2d):\nwhole channels", "channels side by side"),
        ("dropblock", "DropBlock: 3x3 squares", "channels side by side"),
        ("dropout_as_weights", "Dropout seen on W (12x16):\ndropped inputs = zero columns", "input unit"),
        ("dropconnect", "DropConnect: single weights", "input unit"),
        ("droppath", "DropPath: whole residual branches,\nper sample", "residual branch"),
    ]
    for ax, (key, title, xlabel) in zip(axes, panels):
        m = masks[key]
        img = _mosaic(m) if m.dim() == 3 else m.numpy()
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1, aspect="auto" if key == "droppath" else "equal").set_gid(key)
        kept = m.float().mean().item()
        ax.set_title(f"{title}  [{1 - kept:.0%} dropped]", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_xticks(np.arange(-0.5, img.shape[1], 1), minor=True)
        ax.set_yticks(np.arange(-0.5, img.shape[0], 1), minor=True)
        ax.grid(which="minor", color="#999", lw=0.3)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    axes[3].set_ylabel("output unit", fontsize=8)
    axes[5].set_ylabel("sample in batch", fontsize=8)
    fig.suptitle(f"black = dropped, white = kept; drop rate p = {p}", fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# Topic 5: stochastic depth
# ----------------------------------------------------------------------------------------------------

class StochasticDepthMLP(nn.Module):
    """stem Linear -> `blocks` residual blocks h + f(h), f = Linear-ReLU-Linear -> ReLU -> Linear head.

    Block l (1..L) survives with probability p_l = 1 - l / L * (1 - last_survival) (the linear decay of
    Huang et al.). Training: one coin per block and mini-batch (torch's global generator); a dropped block
    is the identity. Evaluation: every block runs, its branch scaled by p_l, the expected branch output.
    `active` records how many blocks ran in each training forward pass.
    """

    def __init__(self, blocks: int = 10, width: int = 64, last_survival: float = 0.5, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Linear(64, width)
        self.branches = nn.ModuleList(nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
                                      for _ in range(blocks))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(width, 10))
        self.survival = [1.0 - (l + 1) / blocks * (1.0 - last_survival) for l in range(blocks)]
        self.active: list[int] = []
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=gen)
                    m.bias.zero_()
            for branch in self.branches:  # each block starts as the identity (Fixup-style)
                branch[2].weight.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)  # (N, width)
        n_active = 0
        for branch, p_l in zip(self.branches, self.survival):
            if self.training:
                if torch.rand(()) < p_l:
                    h = h + branch(h)
                    n_active += 1
            else:
                h = h + p_l * branch(h)
        if self.training:
            self.active.append(n_active)
        return self.head(h)


SD_BLOCKS, SD_EPOCHS, SD_LR = 8, EPOCHS, 1e-3  # the residual net is jumpy at the MLP's 2e-3


@functools.lru_cache(maxsize=16)
@_one_thread
def stochastic_depth_run(last_survival: float = 0.5, blocks: int = SD_BLOCKS, epochs: int = SD_EPOCHS,
                         seed: int = 0):
    """Train a StochasticDepthMLP on the noisy digits (Adam, learning rate SD_LR). Returns (History, model
    in eval mode)."""
    model = StochasticDepthMLP(blocks=blocks, last_survival=last_survival, seed=seed)
    hist = fit(model, noisy_digits(), epochs=epochs, lr=SD_LR, seed=seed)
    return hist, model


def draw_stochastic_depth(last_survival: float = 0.5, blocks: int = SD_BLOCKS, epochs: int = SD_EPOCHS,
                          seed: int = 0, progress: Callable | None = None):
    """Survival probabilities per block, the depth used per training step, and validation loss and accuracy
    with stochastic depth (final survival p_L = last_survival) and without (every block always runs)."""
    (h_all, m_all), (h_sd, m_sd) = _run_all(
        [(stochastic_depth_run, dict(last_survival=1.0, blocks=blocks, epochs=epochs, seed=seed)),
         (stochastic_depth_run, dict(last_survival=last_survival, blocks=blocks, epochs=epochs, seed=seed))],
        progress)
    fig, (ax_p, ax_l, ax_a) = new_figure(3, width=4.3, height=3.4)
    _bars(ax_p, np.arange(1, blocks + 1), m_sd.survival, "survival", color="tab:purple")
    _style(ax_p, f"p_L = {last_survival:g}: E[depth] {sum(m_sd.survival):.2f}, ran {np.mean(m_sd.active):.2f} "
           "on average", xlabel="block l", ylabel="survival probability p_l")
    ax_p.set_ylim(0, 1.05)
    for hist, name, color, tag in ((h_all, "all blocks", "tab:gray", "all"),
                                   (h_sd, f"p_L = {last_survival:g}", "tab:purple", "sd")):
        _curve(ax_l, hist.val_loss, f"val_loss_{tag}", color=color, label=name)
        _curve(ax_l, hist.train_loss, f"train_loss_{tag}", color=color, ls="--", lw=1)
        _curve(ax_a, hist.train_acc, f"train_acc_{tag}", color=color, ls="--", lw=1)
        _curve(ax_a, hist.val_acc, f"val_acc_{tag}", color=color, label=f"{name}: val {hist.val_acc[-1]:.3f}")
    ax_l.set_yscale("log")
    ax_l.legend(fontsize=8)
    _style(ax_l, f"{blocks} residual blocks: cross-entropy (dashed: train)", ylabel="loss")
    ax_a.legend(fontsize=8, loc="lower right")
    _style(ax_a, "accuracy (dashed: train, noisy labels)", ylabel="accuracy")
    fig.tight_layout()
    return fig


def make_stochastic_depth_panel(last_survival: float = 0.5) -> Panel:
    """Widget: stochastic depth with a chosen final survival probability vs all blocks (Run trains)."""
    controls = {"last_survival": W.SelectionSlider(options=[0.9, 0.7, 0.5, 0.3, 0.2], value=last_survival,
                                                   description="p_L")}
    return Panel(draw_stochastic_depth, controls, run_button=True, title="Stochastic depth on a small residual net")


# ----------------------------------------------------------------------------------------------------
# Topic 6: data augmentation, label safety, test-time augmentation
# ----------------------------------------------------------------------------------------------------

def class_examples(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first clean training image of each class 0..9: ((10, 1, 8, 8) pixels in [0, 1], labels 0..9)."""
    data = digits(seed=seed, standardize=False, images=True)
    idx = torch.stack([torch.nonzero(data.y_train == c)[0, 0] for c in range(10)])
    return data.x_train[idx], data.y_train[idx]


GALLERY_AUGMENTATIONS = ("hflip", "shift", "rotate", "jitter", "cutout", "erasing", "shift+rotate")


@_one_thread
def augment_examples(augmentation: str, draws: int = 3, seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The ten class examples and `draws` augmented versions of them (the same generator for all draws).
    hflip is shown with probability 1, so every image is mirrored."""
    x, _ = class_examples()
    gen = torch.Generator().manual_seed(seed)
    fn = (lambda xb, g: aug.hflip(xb, g, prob=1.0)) if augmentation == "hflip" else aug.AUGMENTATIONS[augmentation]
    return x, [fn(x, gen) for _ in range(draws)]


def draw_augmentation_gallery(augmentation: str = "shift", draw_seed: int = 0, fig=None):
    """One clean digit per class (top row) and three random draws of the chosen augmentation."""
    x, outs = augment_examples(augmentation, draws=3, seed=draw_seed)
    # one axes holding all 40 images side by side (40 separate axes would take most of a redraw's time)
    fig, (ax,) = new_figure(1, width=9.5, height=4.4, reuse=fig)
    size, gap = x.shape[-1], 1
    for r, batch in enumerate([x] + outs):
        for c in range(10):
            left, top = c * (size + gap), r * (size + gap)
            ax.imshow(batch[c, 0].numpy(), cmap="gray_r", vmin=0, vmax=1,
                      extent=(left, left + size, top + size, top)).set_gid(f"img_{r}_{c}")
            if r == 0:
                ax.text(left + size / 2, -0.6, str(c), ha="center", va="bottom", fontsize=9)
        ax.text(-0.6, top + size / 2, "original" if r == 0 else f"draw {r}", ha="right", va="center", fontsize=8)
    ax.set_xlim(-gap, 10 * (size + gap))
    ax.set_ylim(4 * (size + gap), -gap)
    ax.set_aspect("equal")
    ax.axis("off")
    safe = aug.LABEL_SAFE[augmentation]
    note = "keeps the label" if safe else "CHANGES the meaning of most digits: not label-safe here"
    fig.suptitle(f"{augmentation}: {note}", fontsize=10, color="k" if safe else "tab:red")
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.01, top=0.9)
    return fig


def make_augmentation_gallery_panel(augmentation: str = "shift") -> Panel:
    """Widget: a gallery of augmented digits; instant."""
    controls = {"augmentation": W.Dropdown(options=list(GALLERY_AUGMENTATIONS), value=augmentation,
                                           description="augmentation"),
                "draw_seed": W.IntSlider(value=0, min=0, max=20, description="new draw")}
    return Panel(draw_augmentation_gallery, controls,
                 title="Augmentation gallery: what each transformation does to a digit")


AUG_EPOCHS = EPOCHS
TRAIN_AUGMENTATIONS = ("none",) + GALLERY_AUGMENTATIONS + ("mixup", "cutmix")


@functools.lru_cache(maxsize=64)
@_one_thread
def augmentation_run(augmentation: str = "shift", label_noise: float = LABEL_NOISE, epochs: int = AUG_EPOCHS,
                     seed: int = 0, mix_alpha: float = 1.0):
    """Train the lecture's MLP on (N, 1, 8, 8) digits with the augmentation applied to every training batch
    ('mixup' / 'cutmix' with lam ~ Beta(mix_alpha, mix_alpha)). Returns (History, model in eval mode)."""
    if augmentation not in TRAIN_AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augmentation!r}; choose one of {TRAIN_AUGMENTATIONS}")
    if augmentation == "none":  # exactly the flat baseline: the same numbers in the same order
        hist, model = mlp_run(epochs=epochs, seed=seed, label_noise=label_noise)
        return hist, nn.Sequential(nn.Flatten(), model)
    model = classifier(seed=seed, images=True)
    hist = fit(model, noisy_digits(label_noise=label_noise, images=True), epochs=epochs, seed=seed,
               augment=augmentation, mix_alpha=mix_alpha)
    return hist, model


def draw_augmentation(augmentation: str = "shift", label_noise: float = LABEL_NOISE, epochs: int = AUG_EPOCHS,
                      seed: int = 0, progress: Callable | None = None):
    """Validation (and train) accuracy with and without the augmentation."""
    (base, _), (run, _) = _run_all(
        [(augmentation_run, dict(augmentation="none", label_noise=label_noise, epochs=epochs, seed=seed)),
         (augmentation_run, dict(augmentation=augmentation, label_noise=label_noise, epochs=epochs, seed=seed))],
        progress)
    fig, (ax_c, ax_b) = new_figure(2, width=5.0, height=3.4)
    run_color = "tab:cyan" if aug.LABEL_SAFE.get(augmentation, True) else "tab:red"
    for hist, name, color, tag in ((base, "no augmentation", "tab:gray", "base"),
                                   (run, augmentation, run_color, "run")):
        _curve(ax_c, hist.train_acc, f"train_acc_{tag}", color=color, ls="--", lw=1.1)
        _curve(ax_c, hist.val_acc, f"val_acc_{tag}", color=color, lw=1.8, label=f"{name}: val")
    ax_c.legend(fontsize=8, loc="lower right")
    _style(ax_c, f"accuracy, label noise {label_noise:g} (dashed: train)", ylabel="accuracy")
    vals = [base.val_acc[-1], run.val_acc[-1]]
    _bars(ax_b, [0, 1], vals, "final_val_acc", color=["tab:gray", run_color], width=0.6)
    for i, v in enumerate(vals):
        ax_b.text(i, v + 0.01, f"{v:.3f}", ha="center", fontsize=9)
    ax_b.set_xticks([0, 1], ["none", augmentation])
    ax_b.set_ylim(0.5, 1.0)
    _style(ax_b, f"final validation accuracy ({vals[1] - vals[0]:+.3f})", xlabel="", ylabel="accuracy")
    fig.tight_layout()
    return fig


def make_augmentation_panel(augmentation: str = "shift", label_noise: float = LABEL_NOISE) -> Panel:
    """Widget: train with and without an augmentation (Run trains; results are cached)."""
    controls = {"augmentation": W.Dropdown(options=list(TRAIN_AUGMENTATIONS[1:]), value=augmentation,
                                           description="augmentation"),
                "label_noise": W.Dropdown(options=[0.0, LABEL_NOISE], value=label_noise, description="label noise")}
    return Panel(draw_augmentation, controls, run_button=True,
                 title="Training with an augmentation: validation accuracy")


@_one_thread
@torch.no_grad()
def per_class_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Accuracy of model (eval mode) on each class 0..9."""
    model.eval()
    pred = model(x).argmax(1)
    return np.array([(pred[y == c] == c).float().mean().item() for c in range(10)])


def draw_flip_test(label_noise: float = LABEL_NOISE, seed: int = 0):
    """The model trained without augmentation, tested on the validation digits as they are and mirrored:
    per-class accuracy."""
    _, model = augmentation_run("none", label_noise=label_noise, seed=seed)
    data = noisy_digits(label_noise=label_noise, images=True)
    plain = per_class_accuracy(model, data.x_val, data.y_val)
    flipped = per_class_accuracy(model, data.x_val.flip(-1), data.y_val)
    fig, (ax,) = new_figure(1, width=7.0, height=3.2)
    xs = np.arange(10)
    _bars(ax, xs - 0.2, plain, "plain", width=0.4, color="tab:gray", label=f"as is (mean {plain.mean():.2f})")
    _bars(ax, xs + 0.2, flipped, "flipped", width=0.4, color="tab:red", label=f"mirrored (mean {flipped.mean():.2f})")
    ax.set_xticks(xs)
    ax.set_ylim(0, 1.15)
    ax.legend(fontsize=8, ncol=2, loc="upper center")
    _style(ax, "the network trained without augmentation, shown mirrored digits", xlabel="true class",
           ylabel="validation accuracy")
    fig.tight_layout()
    return fig, plain, flipped


TTA_SHIFTS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@_one_thread
@torch.no_grad()
def tta_predict(model: nn.Module, x: torch.Tensor, views: str = "shifts") -> torch.Tensor:
    """Test-time augmentation: the average softmax over a fixed set of views of every image.
    views: 'none' (the image itself), 'shifts' (the 9 shifts by at most one pixel), or
    'shifts+hflip' (those 9 and their mirror images). Returns (N, 10) probabilities."""
    model.eval()
    n = len(x)
    batches = [x]
    if views in ("shifts", "shifts+hflip"):
        batches = [aug.shift(x, torch.full((n,), dy), torch.full((n,), dx)) for dy, dx in TTA_SHIFTS]
    if views == "shifts+hflip":
        batches += [b.flip(-1) for b in batches]
    return torch.stack([F.softmax(model(b), dim=1) for b in batches]).mean(0)


def tta_table(seed: int = 0) -> list[dict]:
    """Validation accuracy without and with test-time augmentation, for the model trained without
    augmentation and the one trained with random shifts (both on the noisy labels)."""
    data = noisy_digits(images=True)
    rows = []
    for train_aug in ("none", "shift"):
        _, model = augmentation_run(train_aug, seed=seed)
        row = {"trained with": train_aug}
        for views in ("none", "shifts", "shifts+hflip"):
            acc = (tta_predict(model, data.x_val, views).argmax(1) == data.y_val).float().mean().item()
            row[f"test views: {views}"] = acc
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------------
# Topic 7: mixup and CutMix
# ----------------------------------------------------------------------------------------------------

def beta_pdf(lam: np.ndarray, alpha: float) -> np.ndarray:
    """Density of Beta(alpha, alpha) on (0, 1)."""
    log_norm = math.lgamma(2 * alpha) - 2 * math.lgamma(alpha)
    return np.exp(log_norm + (alpha - 1) * (np.log(lam) + np.log1p(-lam)))


def beta_middle_mass(alpha: float, lo: float = 0.1, hi: float = 0.9, n: int = 20001) -> float:
    """P(lo < lam < hi) for lam ~ Beta(alpha, alpha), by the trapezoid rule on the density."""
    grid = np.linspace(lo, hi, n)
    return float(np.trapezoid(beta_pdf(grid, alpha), grid))


def draw_beta(alphas=(0.2, 1.0, 2.0), n: int = 20000, seed: int = 0):
    """Histograms of lam ~ Beta(alpha, alpha) with the density on top. Returns (figure, {alpha: share of
    samples in (0.1, 0.9)})."""
    rng = np.random.default_rng(seed)
    fig, axes = new_figure(len(alphas), width=3.6, height=3.0)
    shares = {}
    grid = np.linspace(0.002, 0.998, 400)
    for ax, a in zip(axes, alphas):
        lam = rng.beta(a, a, size=n)
        shares[a] = float(((lam > 0.1) & (lam < 0.9)).mean())
        ax.hist(lam, bins=40, range=(0, 1), density=True, color="tab:blue", alpha=0.6)
        ax.plot(grid, beta_pdf(grid, a), color="k", lw=1)
        ax.set_ylim(0, 4)
        _style(ax, f"Beta({a:g}, {a:g}): {shares[a]:.0%} in (0.1, 0.9)", xlabel="lambda", ylabel="density")
    fig.tight_layout()
    return fig, shares


BOX_POSITIONS = ("centre", "top-left", "bottom-right")


def _box_corner(position: str, size: int, side: int) -> int:
    return {"centre": (size - side) // 2, "top-left": 0, "bottom-right": size - side}[position]


def mixing_pair(pair: int = 3):
    """Images a (class `pair`) and b (class (pair + 5) mod 10) from class_examples: (a, b, ya, yb)."""
    x, y = class_examples()
    j = (pair + 5) % 10
    return x[pair, 0], x[j, 0], int(y[pair]), int(y[j])


def draw_mixing(lam: float = 0.7, pair: int = 3, box: str = "centre", fig=None):
    """Two digits, their mixup and their CutMix for mixing weight lam, with the label vectors as bars.
    The CutMix box has side round(8 sqrt(1 - lam)); its label weight is the pasted area, which differs
    from lam by rounding on an 8x8 image."""
    a, b, ya, yb = mixing_pair(pair)
    mixed = _mix_pair(a, b, lam)
    side, _ = _cutmix_box(8, 8, lam)
    corner = _box_corner(box, 8, side)
    cut, pasted, (top, left, bh, bw) = _cutmix_pair(a, b, lam, corner, corner)
    ta, tb = F.one_hot(torch.tensor(ya), 10).float(), F.one_hot(torch.tensor(yb), 10).float()
    labels = [ta, tb, _mix_pair(ta, tb, lam), (1 - pasted) * ta + pasted * tb]
    titles = [f"a (class {ya})", f"b (class {yb})", f"mixup: {lam:.2f} a + {1 - lam:.2f} b",
              f"CutMix: {bh}x{bw} box from b\n= {bh * bw}/64 px -> weight {pasted:.3f}"]
    fig, axes = new_figure(4, 2, width=2.7, height=2.5, reuse=fig)
    for k, (img, tag) in enumerate(zip([a, b, mixed, cut], ["a", "b", "mixup", "cutmix"])):
        ax = axes[k]
        ax.imshow(img.numpy(), cmap="gray_r", vmin=0, vmax=1).set_gid(f"img_{tag}")
        ax.set_title(titles[k], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        bars = _bars(axes[4 + k], np.arange(10), labels[k].numpy(), f"label_{tag}", color="tab:blue")
        for c in (ya, yb):
            axes[4 + k].text(c, bars[c].get_height() + 0.03, f"{labels[k][c]:.2f}", ha="center", fontsize=8)
        axes[4 + k].set_xticks(range(10))
        axes[4 + k].set_ylim(0, 1.2)
        axes[4 + k].set_title("label vector", fontsize=9)
    axes[3].add_patch(_gid(Rectangle((left - 0.5, top - 0.5), bw, bh, fill=False, ec="tab:red", lw=2), "box"))
    fig.suptitle(f"lambda = {lam:.2f}. Mixup weights b by 1 - lambda = {1 - lam:.2f}; CutMix asks for that share "
                 f"of b's pixels and gets a whole-pixel box: {pasted:.3f}", fontsize=10)
    # fixed margins: tight_layout measures every label, most of a redraw's time
    fig.subplots_adjust(left=0.05, right=0.985, bottom=0.08, top=0.83, wspace=0.22, hspace=0.25)
    return fig


def make_mixing_panel(lam: float = 0.7, pair: int = 3, box: str = "centre") -> Panel:
    """Widget: mixup and CutMix of two digits for a lambda slider; instant."""
    controls = {"lam": W.FloatSlider(value=lam, min=0.0, max=1.0, step=0.05, description="lambda"),
                "pair": W.IntSlider(value=pair, min=0, max=9, description="pair"),
                "box": W.Dropdown(options=list(BOX_POSITIONS), value=box, description="CutMix box")}
    return Panel(draw_mixing, controls, title="Mixup and CutMix: mixed images and their mixed labels")


# ----------------------------------------------------------------------------------------------------
# Topic 8: early stopping
# ----------------------------------------------------------------------------------------------------

ES_MAX_EPOCHS = EPOCHS


@dataclass
class EarlyStoppingResult:
    """What train_with_early_stopping did: the epochs are 1-based; history stops at stop_epoch."""

    history: History
    best_epoch: int
    stop_epoch: int
    restored_val_loss: float
    restored_val_acc: float
    stopped: bool


@functools.lru_cache(maxsize=64)
@_one_thread
def train_with_early_stopping(patience: int = 5, min_delta: float = 0.0, max_epochs: int = ES_MAX_EPOCHS,
                              seed: int = 0) -> EarlyStoppingResult:
    """Train the lecture's MLP (no dropout) on the noisy digits, watching the validation loss.

    After every epoch: if the loss is below best - min_delta, remember it, the epoch and a copy of the
    weights; otherwise count one more epoch without improvement, and stop once `patience` such epochs
    follow each other. At the end the weights of the best epoch are loaded back.
    """
    model = classifier(seed=seed)
    data = noisy_digits()
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    hist = History()
    best_loss, best_epoch, best_state, waited = math.inf, 0, None, 0
    stopped = False
    for epoch in range(1, max_epochs + 1):
        with torch.enable_grad():
            _train_epoch(model, opt, data, gen, rng, hist)
        _record(model, data, hist)
        _report(epoch / max_epochs)
        if hist.val_loss[-1] < best_loss - min_delta:
            best_loss, best_epoch, waited = hist.val_loss[-1], epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                stopped = True
                break
    model.load_state_dict(best_state)
    loss, acc = evaluate(model, data.x_val, data.y_val)
    return EarlyStoppingResult(hist, best_epoch, len(hist.val_loss), loss, acc, stopped)


def full_run(epochs: int = ES_MAX_EPOCHS, seed: int = 0) -> History:
    """The same model, data and seeds as train_with_early_stopping, trained for all epochs (what would have
    happened without stopping): the cached baseline mlp_run."""
    return mlp_run(epochs=epochs, seed=seed)[0]


def draw_early_stopping(patience: int = 5, min_delta: float = 0.0, seed: int = 0, progress: Callable | None = None):
    """Validation loss with the best epoch, the stopping epoch and the untouched continuation."""
    full, res = _run_all([(full_run, dict(epochs=ES_MAX_EPOCHS, seed=seed)),
                          (train_with_early_stopping, dict(patience=patience, min_delta=min_delta,
                                                           max_epochs=ES_MAX_EPOCHS, seed=seed))], progress)
    h = res.history
    fig, (ax_l, ax_a) = new_figure(2, width=5.2, height=3.5)
    _curve(ax_l, full.val_loss, "val_loss_full", color="tab:gray", lw=1, ls=":", label="val, without stopping")
    _curve(ax_l, full.train_loss, "train_loss_full", color=TRAIN_COLOR, lw=1, ls=":", label="train, without stopping")
    _curve(ax_l, h.val_loss, "val_loss", color=VAL_COLOR, lw=2, label="val, trained")
    _curve(ax_l, h.train_loss, "train_loss", color=TRAIN_COLOR, lw=2, label="train, trained")
    ax_l.axvspan(res.best_epoch, res.stop_epoch, color="tab:orange", alpha=0.12, label=f"{patience} epochs of patience")
    _gid(ax_l.axvline(res.stop_epoch, color="k", lw=1), "stop")
    _gid(ax_l.plot([res.best_epoch], [h.val_loss[res.best_epoch - 1]], "*", color="tab:red", ms=14,
                   label=f"best epoch {res.best_epoch}")[0], "best")
    ax_l.set_yscale("log")
    ax_l.legend(fontsize=7, loc="lower left")
    outcome = f"stop after epoch {res.stop_epoch}" if res.stopped else f"no stop within {ES_MAX_EPOCHS} epochs"
    _style(ax_l, f"patience {patience}, min_delta {min_delta:g}: {outcome}", ylabel="loss")
    _curve(ax_a, full.val_acc, "val_acc_full", color="tab:gray", lw=1, ls=":", label="without stopping")
    _curve(ax_a, h.val_acc, "val_acc", color=VAL_COLOR, lw=2, label="trained")
    _gid(ax_a.plot([res.best_epoch], [res.restored_val_acc], "*", color="tab:red", ms=14,
                   label=f"restored: {res.restored_val_acc:.3f}")[0], "restored")
    ax_a.axhline(full.val_acc[-1], color="tab:gray", lw=0.8, ls="--",
                 label=f"after {ES_MAX_EPOCHS}: {full.val_acc[-1]:.3f}")
    ax_a.legend(fontsize=7, loc="lower right")
    _style(ax_a, "validation accuracy", ylabel="accuracy")
    fig.tight_layout()
    return fig


def make_early_stopping_panel(patience: int = 5, min_delta: float = 0.0) -> Panel:
    """Widget: early stopping with patience and min_delta (Run trains; results are cached)."""
    controls = {"patience": W.IntSlider(value=patience, min=1, max=30, description="patience"),
                "min_delta": W.SelectionSlider(options=[0.0, 0.001, 0.003, 0.01, 0.03], value=min_delta,
                                               description="min_delta")}
    return Panel(draw_early_stopping, controls, run_button=True,
                 title="Early stopping: patience, min_delta and the restored checkpoint")


# ----------------------------------------------------------------------------------------------------
# Topic 9: ensembles
# ----------------------------------------------------------------------------------------------------

ENSEMBLE_EPOCHS = EPOCHS


def ensemble_member(seed: int, epochs: int = ENSEMBLE_EPOCHS) -> np.ndarray:
    """Validation softmax (N_val, 10) of the baseline MLP trained from `seed` (initialization and batch
    order; the data are the same for every member), via the cached mlp_run."""
    _, model = mlp_run(epochs=epochs, seed=seed)
    with torch.no_grad():
        return F.softmax(model(noisy_digits().x_val), dim=1).numpy()


def majority_vote(probs: np.ndarray) -> np.ndarray:
    """probs: (M, N, C) member probabilities. Each member votes for its argmax; the class with most votes
    wins, ties going to the tied class with the highest mean probability. Returns (N,) labels."""
    m, n, c = probs.shape
    votes = np.zeros((n, c))
    np.add.at(votes, (np.arange(n)[None, :].repeat(m, 0), probs.argmax(2)), 1)
    tied_best = votes == votes.max(1, keepdims=True)
    return np.where(tied_best, probs.mean(0), -np.inf).argmax(1)


def ensemble_scores(probs: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy of each member, and of the first k members combined by averaging probabilities and by
    majority vote, for k = 1..M; and the cross-entropy (mean -log p of the true class) of each member and of
    the averaged probabilities ('member_nll', 'averaging_nll')."""
    members = [(p.argmax(1) == y).mean() for p in probs]
    averaging = [(probs[:k].mean(0).argmax(1) == y).mean() for k in range(1, len(probs) + 1)]
    voting = [(majority_vote(probs[:k]) == y).mean() for k in range(1, len(probs) + 1)]
    nll = lambda p: float(-np.log(p[np.arange(len(y)), y]).mean())  # noqa: E731
    return {"members": np.array(members), "averaging": np.array(averaging), "voting": np.array(voting),
            "member_nll": np.array([nll(p) for p in probs]),
            "averaging_nll": np.array([nll(probs[:k].mean(0)) for k in range(1, len(probs) + 1)])}


def draw_ensemble(n_models: int = 5, epochs: int = ENSEMBLE_EPOCHS, first_seed: int = 0):
    """Member accuracies vs the averaged and the voted ensemble, and accuracy vs ensemble size; the members
    are trained from seeds first_seed, first_seed + 1, ..."""
    probs = np.stack([ensemble_member(first_seed + s, epochs) for s in range(n_models)])  # (M, N_val, 10)
    y = noisy_digits().y_val.numpy()
    sc = ensemble_scores(probs, y)
    fig, (ax_b, ax_k) = new_figure(2, width=5.0, height=3.4)
    names = [f"net {i}" for i in range(n_models)] + ["average", "vote"]
    vals = list(sc["members"]) + [sc["averaging"][-1], sc["voting"][-1]]
    _bars(ax_b, np.arange(len(vals)), vals, "ensemble_bars", color=["tab:gray"] * n_models + ["tab:green", "tab:olive"])
    for i, v in enumerate(vals):
        ax_b.text(i, v + 0.005, f"{v:.3f}", ha="center", fontsize=7)
    ax_b.set_xticks(np.arange(len(vals)), names, fontsize=8)
    ax_b.set_ylim(min(vals) - 0.05, max(vals) + 0.03)
    _style(ax_b, f"{n_models} nets from different seeds (y axis zoomed)", xlabel="", ylabel="validation accuracy")
    ks = np.arange(1, n_models + 1)
    _gid(ax_k.plot(ks, sc["averaging"], "o-", color="tab:green", label="average the probabilities")[0], "averaging")
    _gid(ax_k.plot(ks, sc["voting"], "s--", color="tab:olive", label="majority vote")[0], "voting")
    ax_k.axhline(sc["members"].mean(), color="tab:gray", ls=":", label=f"mean single net {sc['members'].mean():.3f}")
    ax_k.set_xticks(ks)
    ax_k.legend(fontsize=8, loc="lower right")
    _style(ax_k, "ensemble of the first k nets", xlabel="k", ylabel="validation accuracy")
    fig.tight_layout()
    return fig, sc


# ----------------------------------------------------------------------------------------------------
# Topic 10: randomness in training, averaged out at test time
# ----------------------------------------------------------------------------------------------------

@_one_thread
@torch.no_grad()
def randomness_table(seed: int = 0) -> list[dict]:
    """For each technique, the largest difference between two training-mode passes of the same input and
    between two test-mode passes: random in training, deterministic at test time."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, 8, 8, generator=gen)
    others = torch.rand(2, 15, 64, generator=gen)  # two different sets of batchmates
    rows = []

    def row(name, train_a, train_b, test_a, test_b, test_rule):
        rows.append({"technique": name, "train: |pass1 - pass2|": (train_a - train_b).abs().max().item(),
                     "test: |pass1 - pass2|": (test_a - test_b).abs().max().item(), "at test time": test_rule})

    drop = nn.Dropout(0.5)
    v = x.flatten(1)
    row("dropout", drop.train()(v), drop(v), drop.eval()(v), drop(v), "all units, no rescaling (inverted)")
    bn = nn.BatchNorm1d(64)
    bn.train()
    tr1, tr2 = bn(torch.cat([v, others[0]]))[0], bn(torch.cat([v, others[1]]))[0]
    bn.eval()
    row("batch norm", tr1, tr2, bn(torch.cat([v, others[0]]))[0], bn(torch.cat([v, others[1]]))[0],
        "running mean and variance")
    sd = StochasticDepthMLP(blocks=6, last_survival=0.5, seed=seed)
    with torch.no_grad():  # give the branches non-zero output weights so that dropping a block shows
        for branch in sd.branches:
            branch[2].weight.normal_(0, 0.1, generator=gen)
    outs = [sd.train()(v) for _ in range(8)]
    row("stochastic depth", outs[0], max(outs[1:], key=lambda o: (o - outs[0]).abs().max().item()),
        sd.eval()(v), sd(v), "every block, branch scaled by p_l")
    row("augmentation (shift+rotate)", aug.AUGMENTATIONS["shift+rotate"](x, gen),
        aug.AUGMENTATIONS["shift+rotate"](x, gen), x, x, "the plain image (or TTA)")
    a, b = torch.rand(2, 1, 8, 8, generator=gen)
    lam1, lam2 = np.random.default_rng(seed).beta(0.2, 0.2, size=2)
    row("mixup", _mix_pair(x[0], a, float(lam1)), _mix_pair(x[0], b, float(lam2)), x, x, "the plain image")
    return rows


# ----------------------------------------------------------------------------------------------------
# Topic 11: normalization and generalization
# ----------------------------------------------------------------------------------------------------

BN_BATCH_SIZES = (4, 8, 16, 32, 64, 128, 256)


@_one_thread
@torch.no_grad()
def bn_noise(batch_sizes=BN_BATCH_SIZES, x0: float = 1.0, draws: int = 2000, seed: int = 0) -> dict[int, float]:
    """Std (over random batchmates drawn from N(0, 1)) of BatchNorm's training-mode output for one fixed
    input value x0, for each batch size B. Each of the `draws` columns of a BatchNorm1d(draws) is one
    independent batch whose first row is x0."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for bsz in batch_sizes:
        batch = torch.randn(bsz, draws, generator=gen)
        batch[0] = x0
        out[bsz] = nn.BatchNorm1d(draws).train()(batch)[0].std().item()
    return out


def draw_bn_noise(batch_sizes=BN_BATCH_SIZES, x0: float = 1.0, seed: int = 0):
    """The BN noise of one sample vs the batch size, on log-log axes with a 1/sqrt(B) line."""
    noise = bn_noise(batch_sizes, x0, seed=seed)
    bs = np.array(list(noise))
    stds = np.array(list(noise.values()))
    big = bs >= 16  # the 1/sqrt(B) law is a large-batch law
    slope = float(np.polyfit(np.log(bs[big]), np.log(stds[big]), 1)[0])
    fig, (ax,) = new_figure(1, width=5.2, height=3.4)
    _gid(ax.plot(bs, stds, "o-", color="tab:blue", label=f"measured (slope for B >= 16: {slope:.2f})")[0], "bn_noise")
    ax.plot(bs, stds[-1] * np.sqrt(bs[-1] / bs), "k--", lw=1, label="proportional to 1/sqrt(B)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(bs, [str(b) for b in bs])
    ax.set_yticks([0.1, 0.2, 0.3, 0.5], ["0.1", "0.2", "0.3", "0.5"])
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize=8)
    _style(ax, f"BN output of one sample (x = {x0:g}) over random batchmates", xlabel="batch size B",
           ylabel="std of its normalized value")
    fig.tight_layout()
    return fig, noise, slope


NORMS = ("none", "batch", "layer")
NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def norm_run(norm: str = "none", batch_size: int = BATCH, epochs: int = EPOCHS, seed: int = 0):
    """The lecture's MLP with the given normalization after each hidden Linear, trained with this batch
    size (via the cached mlp_run). Returns (History, model in eval mode)."""
    return mlp_run(norm=norm, batch_size=batch_size, epochs=epochs, seed=seed)


@_one_thread
@torch.no_grad()
def noisy_input_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, sigmas=NOISE_LEVELS,
                         seed: int = 0) -> list[float]:
    """Validation accuracy when Gaussian noise of std sigma is added to every pixel (pixels in [0, 1])."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen)
    return [(model(x + s * noise).argmax(1) == y).float().mean().item() for s in sigmas]


def draw_normalization(batch_size: int = BATCH, epochs: int = EPOCHS, seed: int = 0, progress: Callable | None = None):
    """No normalization vs BatchNorm vs LayerNorm at one batch size: curves, final gap, robustness to
    input noise."""
    runs = _run_all([(norm_run, dict(norm=n, batch_size=batch_size, epochs=epochs, seed=seed)) for n in NORMS],
                    progress)
    data = noisy_digits()
    colors = {"none": "tab:gray", "batch": "tab:blue", "layer": "tab:brown"}
    fig, (ax_c, ax_g, ax_r) = new_figure(3, width=4.4, height=3.4)
    gaps = []
    for norm, (hist, model) in zip(NORMS, runs):
        _curve(ax_c, hist.train_acc, f"train_acc_{norm}", color=colors[norm], ls="--", lw=1.1)
        _curve(ax_c, hist.val_acc, f"val_acc_{norm}", color=colors[norm], lw=1.8, label=f"{norm}: val")
        gaps.append(gap(hist))
        acc = noisy_input_accuracy(model, data.x_val, data.y_val, seed=seed)
        _gid(ax_r.plot(NOISE_LEVELS, acc, "o-", color=colors[norm], label=norm)[0], f"robust_{norm}")
    ax_c.legend(fontsize=8, loc="lower right")
    _style(ax_c, f"batch size {batch_size} (dashed: train, noisy labels)", ylabel="accuracy")
    _bars(ax_g, np.arange(3), gaps, "gap", color=[colors[n] for n in NORMS])
    for i, (g_, (hist, _)) in enumerate(zip(gaps, runs)):
        ax_g.text(i, g_ + 0.005, f"{g_:.3f}\nval {hist.val_acc[-1]:.3f}", ha="center", fontsize=8)
    ax_g.set_xticks(np.arange(3), NORMS)
    ax_g.set_ylim(min(0.0, min(gaps) - 0.02), max(gaps) + 0.08)
    _style(ax_g, "final gap: train acc - val acc", xlabel="normalization", ylabel="gap")
    ax_r.legend(fontsize=8)
    _style(ax_r, "validation accuracy, noisy pixels", xlabel="noise std (pixels in [0, 1])", ylabel="accuracy")
    fig.tight_layout()
    return fig


def make_normalization_panel(batch_size: int = BATCH) -> Panel:
    """Widget: generalization gap with and without normalization at a chosen batch size (Run trains)."""
    controls = {"batch_size": W.SelectionSlider(options=[8, 16, 32, 64, 128], value=batch_size,
                                                description="batch size")}
    return Panel(draw_normalization, controls, run_button=True,
                 title="The generalization gap with and without normalization")
