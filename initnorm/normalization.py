"""Lecture 2 (normalization): experiments, their drawing functions and the widget panels.

The sections follow the lecture:

1. conditioning: gradient descent on a quadratic loss with raw or standardized features (panel);
2. internal covariate shift: a per-unit KL divergence before/after each update, with and without BatchNorm,
   and BatchNorm followed by injected noise (Santurkar et al.'s counter-experiment);
3. BatchNorm in training and in evaluation: batch statistics against running averages;
4. what BatchNorm buys: an MLP on digits with and without BN across learning rates and batch sizes (panel);
5. where to put the norm: Linear -> BN -> ReLU against Linear -> ReLU -> BN;
6-8. InstanceNorm removes per-image style; which elements BN / LN / IN / GN average over (panel);
9. local response normalization written out channel by channel;
11. spectral normalization: power iteration and the Lipschitz bound;
13. how deep a plain MLP trains with and without BatchNorm.

Compute functions are pure and cached with functools.lru_cache (see `cached`; their results are immutable),
the draw_* functions turn them into a Figure, and make_*_panel() wraps a draw function with its controls.
Nothing here implements a backward pass: gradients come from autograd.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from .cache import cached, one_thread
from .data import digits
from .models import init_weights_, mlp
from .plots import new_figure
from .train import evaluate, train
from .widgets import Panel

BLUE, ORANGE, GREEN, RED, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"


@contextlib.contextmanager
def frozen_running_stats(model: nn.Module):
    """Forward passes in training mode inside this block leave BatchNorm's running averages untouched.

    With momentum 0, PyTorch's update running = (1 - momentum) * running + momentum * batch keeps the old value.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield model
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Running mean of the given width (shorter at the start, so the output keeps len(y) points)."""
    y = np.asarray(y, dtype=float)
    if width <= 1 or len(y) == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - width, 0)
    return (c[idx] - c[lo]) / (idx - lo)


# ----------------------------------------------------------------------------------------------------------
# 1. Conditioning: gradient descent on the least-squares loss of a linear model
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quadratic:
    """L(w) = 1/(2n) ||X w - y||^2 = 1/2 w^T H w - b^T w + const, with H = X^T X / n and b = X^T y / n."""

    X: np.ndarray        # (n, 2) features the model sees
    y: np.ndarray        # (n,) targets
    H: np.ndarray        # (2, 2) Hessian
    b: np.ndarray        # (2,)
    w_star: np.ndarray   # (2,) minimizer
    loss_star: float

    def loss(self, w: np.ndarray) -> np.ndarray:
        """Loss at one point (2,) or at many points (..., 2)."""
        r = np.einsum("nd,...d->...n", self.X, np.asarray(w, dtype=float)) - self.y
        return 0.5 * np.mean(r ** 2, axis=-1)

    @property
    def eigenvalues(self) -> np.ndarray:
        return np.linalg.eigvalsh(self.H)

    @property
    def condition_number(self) -> float:
        lam = self.eigenvalues
        return float(lam[-1] / lam[0])


def regression_data(scale_ratio: float, offset: float, n: int = 200, seed: int = 0):
    """Two raw features on very different scales and a target that is linear in them.

    Inputs:
    - scale_ratio: std of feature 2 divided by the std of feature 1 (which is 1).
    - offset: mean added to both features (uncentred inputs tilt the loss contours).
    Returns X (n, 2) and y (n,), with y = X @ [2, -1/scale_ratio] + 0.1 * noise (no intercept needed).
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    X = z * np.array([1.0, scale_ratio]) + offset  # (n, 2)
    y = X @ np.array([2.0, -1.0 / scale_ratio]) + 0.1 * rng.standard_normal(n)
    return X, y


def quadratic_problem(scale_ratio: float, offset: float, standardize: bool, n: int = 200,
                      seed: int = 0) -> Quadratic:
    """The least-squares loss on raw features, or on standardized features with a centred target.

    Standardizing the features makes them zero-mean, so the intercept of the model decouples from the weights
    and is exactly mean(y): fitting the centred target with two weights is the same model.
    """
    X, y = regression_data(scale_ratio, offset, n, seed)
    if standardize:
        X = (X - X.mean(0)) / X.std(0)
        y = y - y.mean()
    H = X.T @ X / len(X)
    b = X.T @ y / len(X)
    w_star = np.linalg.solve(H, b)
    loss_star = float(0.5 * np.mean((X @ w_star - y) ** 2))
    return Quadratic(X, y, H, b, w_star, loss_star)


@dataclass(frozen=True)
class DescentPath:
    path: np.ndarray            # (t + 1, 2) iterates w_0 .. w_t (shorter than steps + 1 if it diverged)
    gap: np.ndarray             # (t + 1,) L(w_k) - L*
    lr: float                   # the absolute step size used
    kappa: float                # condition number of H
    converged_at: int | None    # first k with gap_k <= tol * gap_0, or None
    diverged: bool


@cached
def gradient_descent(scale_ratio: float, offset: float, standardize: bool, lr_factor: float, steps: int,
                     tol: float = 1e-6, seed: int = 0) -> DescentPath:
    """Plain gradient descent from w = 0 with step size lr = lr_factor / lambda_max(H).

    Any fixed step would be unfair to one of the two problems: the largest stable step is 2 / lambda_max,
    which differs by orders of magnitude between raw and standardized features, so the step is given
    relative to it (lr_factor < 2 is stable). Convergence: the loss gap falls below tol times its start value.
    """
    q = quadratic_problem(scale_ratio, offset, standardize, seed=seed)
    lam = q.eigenvalues
    lr = lr_factor / lam[-1]
    w = np.zeros(2)
    path, gap = [w.copy()], [float(q.loss(w)) - q.loss_star]
    converged_at, diverged = None, False
    for k in range(1, steps + 1):
        w = w - lr * (q.H @ w - q.b)
        g = float(q.loss(w)) - q.loss_star
        path.append(w.copy())
        gap.append(max(g, 0.0))
        if converged_at is None and g <= tol * gap[0]:
            converged_at = k
        if g > 1e8 * gap[0]:
            diverged = True
            break
    path_arr, gap_arr = np.array(path), np.array(gap)
    path_arr.setflags(write=False)
    gap_arr.setflags(write=False)
    return DescentPath(path_arr, gap_arr, float(lr), float(lam[-1] / lam[0]), converged_at, diverged)


def _describe(run: DescentPath, steps: int) -> str:
    if run.diverged:
        return "diverged"
    if run.converged_at is None:
        return f"not converged in {steps} steps"
    return f"converged in {run.converged_at} steps"


def draw_conditioning(scale_ratio: float = 10.0, offset: float = 1.0, lr_factor: float = 1.0, steps: int = 600,
                      standardize: bool = False, fig=None):
    """Left: loss contours and the gradient-descent path in weight space. Right: the loss gap per step for
    raw and standardized features at the same relative learning rate."""
    runs = {s: gradient_descent(scale_ratio, offset, s, lr_factor, steps) for s in (False, True)}
    q = quadratic_problem(scale_ratio, offset, standardize)
    run = runs[standardize]
    fig, (ax, ax2) = new_figure(2, width=5.6, height=4.4, reuse=fig)

    # a square window around the optimum that holds the start and the first iterates, at most three times
    # the start's distance (a diverging path leaves it); equal aspect: an elongated bowl must look elongated
    ws = q.w_star
    start = np.abs(run.path[0] - ws).max()
    reach = min(np.abs(run.path[: min(len(run.path), 60)] - ws).max(), 3 * start)
    half = 1.25 * max(reach, 1e-3)
    g1 = np.linspace(ws[0] - half, ws[0] + half, 161)
    g2 = np.linspace(ws[1] - half, ws[1] + half, 161)
    grid = np.stack(np.meshgrid(g1, g2), axis=-1)  # (161, 161, 2)
    d = grid - ws
    gap_grid = 0.5 * np.einsum("...i,ij,...j->...", d, q.H, d)
    top = max(run.gap[0], 1e-12)
    levels = top * np.logspace(-5, 1, 13)
    ax.contour(g1, g2, gap_grid, levels=levels, cmap="viridis", linewidths=0.8)
    p = run.path
    ax.plot(p[:, 0], p[:, 1], "-", color=RED, lw=1.0, alpha=0.8)
    ax.plot(p[: min(len(p), 40), 0], p[: min(len(p), 40), 1], "o", color=RED, ms=2.5)
    ax.plot(*p[0], "s", color="k", ms=6, label="start w = 0")
    ax.plot(*ws, "*", color="gold", mec="k", ms=14, label="minimum")
    ax.set_xlim(g1[0], g1[-1])
    ax.set_ylim(g2[0], g2[-1])
    ax.set_aspect("equal")
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.legend(loc="upper left", fontsize=7)
    kind = "standardized" if standardize else "raw"
    ax.set_title(f"{kind} features: kappa = {run.kappa:.3g}, lr = {run.lr:.3g}\n{_describe(run, steps)}",
                 fontsize=10)

    for s, r in runs.items():
        name = "standardized" if s else "raw"
        style = dict(lw=2.2, alpha=1.0) if s == standardize else dict(lw=1.2, ls="--", alpha=0.7)
        gaps = r.gap / max(r.gap[0], 1e-300)
        below = np.nonzero(gaps < 1e-14)[0]
        gaps = gaps[: below[0] + 1] if len(below) else gaps  # beyond ~1e-15 only rounding noise is left
        ax2.plot(np.arange(len(gaps)), np.maximum(gaps, 1e-16), color=GREEN if s else BLUE,
                 label=f"{name}: kappa {r.kappa:.3g}, {_describe(r, steps)}", **style)
    ax2.axhline(1e-6, color=GREY, lw=0.8, ls=":")
    ax2.set_yscale("log")
    ax2.set_ylim(1e-16, 1e3)
    ax2.set_xlabel("gradient-descent step")
    ax2.set_ylabel("(L(w) - L*) / (L(w0) - L*)")
    ax2.set_title(f"same relative step: lr = {lr_factor:g} / lambda_max", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="lower left")
    # fixed margins: tight_layout measures every label, most of a redraw's time
    fig.subplots_adjust(left=0.06, right=0.985, bottom=0.135, top=0.87, wspace=0.18)
    return fig


def make_conditioning_panel() -> Panel:
    """Sliders: feature scale ratio, offset, relative learning rate, number of steps; standardize on/off."""
    style = {"description_width": "initial"}
    controls = {
        "scale_ratio": W.FloatLogSlider(value=10.0, base=10, min=0, max=2, step=0.1,
                                        description="scale ratio x2/x1", style=style),
        "offset": W.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.5, description="offset", style=style),
        "lr_factor": W.FloatSlider(value=1.0, min=0.1, max=2.2, step=0.1, description="lr x lambda_max",
                                   style=style),
        "steps": W.IntSlider(value=600, min=10, max=3000, step=10, description="steps", style=style),
        "standardize": W.Checkbox(value=False, description="standardize features"),
    }
    return Panel(draw_conditioning, controls, title="Gradient descent on a quadratic loss")


# ----------------------------------------------------------------------------------------------------------
# 2. Internal covariate shift
# ----------------------------------------------------------------------------------------------------------

class ShiftNoise(nn.Module):
    """y = scale * x + shift per unit, with scale ~ U(lo, hi) and shift ~ N(0, shift_std^2) redrawn by
    `resample(generator)`; the identity in eval mode. Placed after BatchNorm it makes the distribution the
    next layer sees jump at every step (Santurkar et al., 2018)."""

    def __init__(self, width: int, scale_range=(0.5, 1.5), shift_std: float = 0.5):
        super().__init__()
        self.scale_range, self.shift_std = scale_range, shift_std
        self.register_buffer("scale", torch.ones(width))
        self.register_buffer("shift", torch.zeros(width))

    def resample(self, generator: torch.Generator) -> None:
        lo, hi = self.scale_range
        self.scale = lo + (hi - lo) * torch.rand(self.scale.shape, generator=generator)
        self.shift = self.shift_std * torch.randn(self.shift.shape, generator=generator)

    def forward(self, x):
        return x * self.scale + self.shift if self.training else x


ICS_VARIANTS = ("plain", "batchnorm", "batchnorm + noise")


def ics_model(variant: str, depth: int = 4, width: int = 64, seed: int = 0) -> nn.Sequential:
    """[Linear -> (BN -> (ShiftNoise)) -> ReLU] * depth -> Linear on 64 inputs, He-initialized.

    The linear layers before a BatchNorm have no bias: BN's beta does that job.
    """
    if variant not in ICS_VARIANTS:
        raise ValueError(f"variant must be one of {ICS_VARIANTS}, got {variant!r}")
    layers: list[nn.Module] = []
    d = 64
    for _ in range(depth):
        layers.append(nn.Linear(d, width, bias=variant == "plain"))
        if variant != "plain":
            layers.append(nn.BatchNorm1d(width))
        if variant == "batchnorm + noise":
            layers.append(ShiftNoise(width))
        layers.append(nn.ReLU())
        d = width
    layers.append(nn.Linear(d, 10))
    return init_weights_(nn.Sequential(*layers), "he", generator=torch.Generator().manual_seed(seed))


def gaussian_kl(mu_p: torch.Tensor, sd_p: torch.Tensor, mu_q: torch.Tensor, sd_q: torch.Tensor) -> float:
    """Mean over units of KL(N(mu_p, sd_p^2) || N(mu_q, sd_q^2)), in nats."""
    kl = torch.log(sd_q / sd_p) + (sd_p ** 2 + (mu_p - mu_q) ** 2) / (2 * sd_q ** 2) - 0.5
    return kl.mean().item()


@dataclass(frozen=True)
class ShiftRun:
    kl: tuple[float, ...]      # per step: KL between the probed distribution before and after the update
    loss: tuple[float, ...]    # per step: training loss of the mini-batch
    val_acc: float


@cached
def covariate_shift(variant: str, steps: int = 120, lr: float = 0.1, batch_size: int = 32, depth: int = 4,
                    seed: int = 0) -> ShiftRun:
    """Train an ics_model with SGD (momentum 0.9) and measure, at every step, how much the distribution that
    the last hidden layer's activation function receives moves.

    Before and after each update a fixed probe batch (256 validation digits) goes through the network in
    training mode (running statistics frozen); every unit's input is summarized by its mean and std and the
    shift is the KL divergence between the two Gaussians, averaged over units.
    """
    data = digits(seed=0)
    probe = data.x_val[:256]
    with one_thread():
        model = ics_model(variant, depth=depth, seed=seed)
        target = [m for m in model if isinstance(m, nn.ReLU)][-1]
        noises = [m for m in model if isinstance(m, ShiftNoise)]
        gen = torch.Generator().manual_seed(seed + 1)
        for m in noises:
            m.resample(gen)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        seen: dict[str, torch.Tensor] = {}
        hook = target.register_forward_hook(lambda mod, inp, out: seen.__setitem__("x", inp[0].detach()))

        def moments():
            with torch.no_grad(), frozen_running_stats(model):
                model(probe)
            x = seen["x"]  # (256, width)
            return x.mean(0), x.std(0) + 1e-4

        kls, losses = [], []
        before = moments()
        order = torch.randperm(len(data.x_train), generator=gen)
        per_epoch = len(data.x_train) // batch_size
        model.train()
        try:
            for step in range(steps):
                if step and step % per_epoch == 0:
                    order = torch.randperm(len(data.x_train), generator=gen)
                idx = order[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]
                loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for m in noises:
                    m.resample(gen)
                after = moments()  # what the next step starts from: reused as its "before"
                kls.append(gaussian_kl(*before, *after))
                losses.append(loss.item())
                before = after
        finally:
            hook.remove()
        _, acc = evaluate(model, data.x_val, data.y_val)
    return ShiftRun(tuple(kls), tuple(losses), acc)


def draw_covariate_shift(steps: int = 120, lr: float = 0.1):
    """Left: the per-step KL shift of a hidden layer's input for the three variants. Right: their losses."""
    runs = {v: covariate_shift(v, steps=steps, lr=lr) for v in ICS_VARIANTS}
    colors = dict(zip(ICS_VARIANTS, (BLUE, GREEN, ORANGE)))
    fig, (ax, ax2) = new_figure(2, width=5.4, height=3.8)
    for v, r in runs.items():
        kl = np.maximum(np.array(r.kl), 1e-9)
        ax.plot(np.arange(1, len(kl) + 1), kl, color=colors[v], lw=1.2,
                label=f"{v}: median {np.median(r.kl):.2g} nats")
        ax2.plot(_smooth(r.loss, 8), color=colors[v], lw=1.5, label=f"{v}: val acc {r.val_acc:.2f}")
    ax.set_yscale("log")
    ax.set_ylim(1e-9, 10)
    ax.set_xlabel("training step")
    ax.set_ylabel("KL(before || after), nats per unit")
    ax.set_title("shift of the last hidden layer's input per update", fontsize=10)
    ax2.set_xlabel("training step")
    ax2.set_ylabel("training loss (running mean of 8)")
    ax2.set_title(f"training with SGD, lr = {lr:g}, momentum 0.9", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax2.legend(fontsize=7, loc="upper right")
    for a in (ax, ax2):
        a.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# 3. BatchNorm: training mode, evaluation mode, running averages
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunningStatsTrace:
    unit: int                         # the unit of the second BatchNorm1d that is followed
    batch_mean: tuple[float, ...]     # per step: the unit's mean over the mini-batch (what training mode uses)
    running_mean: tuple[float, ...]   # per step, after the update: the unit's running_mean
    eval_sizes: tuple[int, ...]       # batch sizes used to evaluate in training mode
    acc_train_mode: tuple[float, ...]  # validation accuracy with batch statistics, per eval batch size
    acc_eval_mode: float              # validation accuracy with running statistics (model.eval())


@cached
def running_stats_trace(epochs: int = 3, batch_size: int = 32, seed: int = 0) -> RunningStatsTrace:
    """Train a 2-hidden-layer BN MLP on digits and record the mini-batch means of every unit of the second
    BatchNorm1d; follow the unit whose running mean ends farthest from zero. Then score the validation set
    in eval mode and in training mode (batch statistics of chunks of several sizes)."""
    data = digits(seed=0)
    with one_thread():
        model = mlp(64, 10, depth=2, width=64, norm="batch", seed=seed)
        bn = [m for m in model if isinstance(m, nn.BatchNorm1d)][1]
        means: list[torch.Tensor] = []
        hook = bn.register_forward_hook(
            lambda mod, inp, out: means.append(inp[0].detach().mean(0)) if mod.training else None)
        train(model, data, epochs=epochs, lr=0.05, batch_size=batch_size, seed=seed)
        hook.remove()
        unit = int(bn.running_mean.abs().argmax())
        batch_means = [m[unit].item() for m in means]
        # replay the running average from the recorded batch means: PyTorch's convention,
        # running = (1 - momentum) * running + momentum * batch_mean, momentum = 0.1, starting at 0
        running, r = [], 0.0
        for m in batch_means:
            r = (1 - bn.momentum) * r + bn.momentum * m
            running.append(r)
        eval_sizes = (2, 4, 16, 64, len(data.x_val))
        acc_train_mode = []
        for size in eval_sizes:
            correct = 0
            with torch.no_grad(), frozen_running_stats(model):
                model.train()
                for i in range(0, len(data.x_val) - size + 1, size):
                    logits = model(data.x_val[i:i + size])
                    correct += (logits.argmax(1) == data.y_val[i:i + size]).sum().item()
            acc_train_mode.append(correct / (len(data.x_val) // size * size))
        _, acc_eval = evaluate(model, data.x_val, data.y_val)
        final_running = bn.running_mean[unit].item()
    if not math.isclose(running[-1], final_running, rel_tol=1e-4, abs_tol=1e-5):
        raise RuntimeError("replayed running mean does not match BatchNorm1d.running_mean")
    return RunningStatsTrace(unit, tuple(batch_means), tuple(running), eval_sizes, tuple(acc_train_mode),
                             acc_eval)


def draw_running_stats(epochs: int = 3, batch_size: int = 32):
    t = running_stats_trace(epochs, batch_size)
    fig, (ax, ax2) = new_figure(2, width=5.2, height=3.6)
    steps = np.arange(1, len(t.batch_mean) + 1)
    ax.plot(steps, t.batch_mean, ".", color=GREY, ms=3, label="mean of the mini-batch (training mode)")
    ax.plot(steps, t.running_mean, color=RED, lw=2, label="running_mean (momentum 0.1, used by eval)")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"mean of unit {t.unit}, second BatchNorm1d")
    ax.set_title("batch statistics jump, the running average follows slowly", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    x = np.arange(len(t.eval_sizes))
    ax2.bar(x, t.acc_train_mode, color=ORANGE, label="model.train(): statistics of each chunk")
    ax2.axhline(t.acc_eval_mode, color=BLUE, lw=2, label=f"model.eval(): running statistics ({t.acc_eval_mode:.3f})")
    for xi, a in zip(x, t.acc_train_mode):
        ax2.text(xi, a + 0.01, f"{a:.2f}", ha="center", fontsize=8)
    ax2.set_xticks(x, [str(s) for s in t.eval_sizes])
    ax2.set_xlabel("validation chunk size")
    ax2.set_ylabel("validation accuracy")
    ax2.set_ylim(0, 1.32)
    ax2.set_yticks(np.linspace(0, 1, 6))
    ax2.set_title("predicting in training mode depends on the batch", fontsize=10)
    ax2.legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# 4. What BatchNorm buys: learning rates and batch sizes
# ----------------------------------------------------------------------------------------------------------

LEARNING_RATES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
BATCH_SIZES = (4, 16, 32, 128, 256)


@dataclass(frozen=True)
class TrainRun:
    step_loss: tuple[float, ...]
    val_acc: tuple[float, ...]
    steps_per_epoch: int
    diverged: bool

    @property
    def final_val_acc(self) -> float:
        return self.val_acc[-1] if self.val_acc and not self.diverged else float("nan")


class _StackedMLP:
    """K copies of models.mlp(64, 10, depth, width, norm) trained side by side, one per learning rate, as stacked
    tensors: one batched matrix product per layer serves all K nets. At these sizes Python and dispatch overhead
    dominate a step, so a step of 6 stacked nets costs 2-3 steps of one (the panel's Run: 3.8 s -> 1.75 s). Same start (the same seeded mlp for every rate), same mini-batches, and the same
    arithmetic as nn.Linear, nn.BatchNorm1d (batch statistics in training, running ones in eval, momentum 0.1,
    unbiased running variance) and SGD with momentum; tests compare it with inn.train run by run."""

    def __init__(self, norm: str, k: int, depth: int, width: int, seed: int, dtype: torch.dtype = torch.float32):
        model = mlp(64, 10, depth=depth, width=width, norm=norm, seed=seed).to(dtype)
        stack = lambda t: t.detach().unsqueeze(0).repeat(k, *[1] * t.dim()).requires_grad_()  # noqa: E731
        self.linears = [(stack(m.weight), stack(m.bias)) for m in model if isinstance(m, nn.Linear)]
        bns = [m for m in model if isinstance(m, nn.BatchNorm1d)]
        self.norms = [(stack(m.weight), stack(m.bias)) for m in bns]
        self.running = [(m.running_mean.repeat(k, 1), m.running_var.repeat(k, 1)) for m in bns]
        self.eps, self.momentum = (bns[0].eps, bns[0].momentum) if bns else (0.0, 0.0)

    def parameters(self) -> list[torch.Tensor]:
        return [t for pair in self.linears + self.norms for t in pair]

    def __call__(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        """x: (batch, 64), the same for every net; returns logits (K, batch, 10)."""
        h = x.unsqueeze(0).expand(len(self.linears[0][0]), -1, -1)
        for i, (w, b) in enumerate(self.linears):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i == len(self.linears) - 1:
                return h
            if self.norms:
                (gamma, beta), (run_mean, run_var) = self.norms[i], self.running[i]
                if training:
                    var, mean = torch.var_mean(h, dim=1, correction=0, keepdim=True)
                    with torch.no_grad():
                        n = h.shape[1]
                        run_mean.mul_(1 - self.momentum).add_(self.momentum * mean.squeeze(1))
                        run_var.mul_(1 - self.momentum).add_(self.momentum * var.squeeze(1) * n / (n - 1))
                else:
                    mean, var = run_mean.unsqueeze(1), run_var.unsqueeze(1)
                h = (h - mean) / torch.sqrt(var + self.eps) * gamma.unsqueeze(1) + beta.unsqueeze(1)
            h = torch.relu(h)


@cached
def train_sweep(norm: str, lrs: tuple[float, ...], batch_size: int, epochs: int, depth: int = 6, width: int = 64,
                seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[TrainRun, ...]:
    """One TrainRun per learning rate: an MLP (He init, ReLU, `norm` in {'none', 'batch'}) trained on standardized
    digits with SGD and momentum 0.9, as inn.train does it (a run whose loss turns NaN or infinite stops there), all
    rates at once (_StackedMLP). Cached: the same arguments return the same (immutable) result instantly.

    With small batches and large rates training is chaotic: float32 rounding differences between this and a
    one-net loop grow to visible ones within tens of steps (in float64 the two agree to 1e-8; tests check that)."""
    data = digits(seed=0)
    n = len(data.x_train)
    if n % batch_size == 1:
        raise ValueError(f"batch size {batch_size} leaves a last batch of one sample, which BatchNorm rejects")
    k = len(lrs)
    with one_thread():
        nets = _StackedMLP(norm, k, depth, width, seed, dtype)
        params = nets.parameters()
        velocity = [torch.zeros_like(p) for p in params]
        rate = torch.tensor(lrs, dtype=dtype)
        x_train, x_val = data.x_train.to(dtype), data.x_val.to(dtype)
        gen = torch.Generator().manual_seed(seed)
        losses: list[list[float]] = [[] for _ in range(k)]
        accs: list[list[float]] = [[] for _ in range(k)]
        alive = [True] * k
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                logits = nets(x_train[idx], training=True)                      # (K, B, 10)
                y = data.y_train[idx].repeat(k)
                per_net = F.cross_entropy(logits.reshape(-1, 10), y, reduction="none").view(k, -1).mean(1)
                grads = torch.autograd.grad(per_net.sum(), params)
                with torch.no_grad():  # SGD, momentum 0.9: v = 0.9 v + g; p -= lr v
                    for p, v, g in zip(params, velocity, grads):
                        v.mul_(0.9).add_(g)
                        p.sub_(rate.view(k, *[1] * (p.dim() - 1)) * v)
                for j, loss in enumerate(per_net.tolist()):
                    if alive[j]:
                        losses[j].append(loss)
                        alive[j] = math.isfinite(loss)
                if not any(alive):
                    break
            with torch.no_grad():
                correct = (nets(x_val, training=False).argmax(-1) == data.y_val).float().mean(1).tolist()
            for j in range(k):
                if alive[j]:
                    accs[j].append(correct[j])
    steps = math.ceil(n / batch_size)
    return tuple(TrainRun(tuple(losses[j]), tuple(accs[j]), steps, not alive[j]) for j in range(k))


def train_run(norm: str, lr: float, batch_size: int, epochs: int, depth: int = 6, width: int = 64,
              seed: int = 0) -> TrainRun:
    """One learning rate's run of train_sweep (over LEARNING_RATES when lr is one of them, so the panel's sweep
    and this call share the cache)."""
    lrs = LEARNING_RATES if lr in LEARNING_RATES else (lr,)
    return train_sweep(norm, lrs, batch_size, epochs, depth, width, seed)[lrs.index(lr)]


def draw_bn_training(lr: float = 0.1, batch_size: int = 128, epochs: int = 4, progress=None):
    """Left: training loss of the chosen setting without and with BN. Right: final validation accuracy across
    all learning rates at the chosen batch size (the chosen one marked)."""
    runs = {}
    for i, norm in enumerate(("none", "batch")):
        for r, run in zip(LEARNING_RATES, train_sweep(norm, LEARNING_RATES, batch_size, epochs)):
            runs[norm, r] = run
        if progress is not None:
            progress((i + 1) / 2)
    colors = {"none": BLUE, "batch": GREEN}
    names = {"none": "no normalization", "batch": "BatchNorm"}
    fig, (ax, ax2) = new_figure(2, width=5.4, height=3.8)
    for norm in ("none", "batch"):
        run = runs[norm, lr]
        loss = np.array(run.step_loss)
        x = np.arange(1, len(loss) + 1) / run.steps_per_epoch
        finite = np.isfinite(loss)
        label = names[norm] + (": diverged" if run.diverged else f": val acc {run.final_val_acc:.3f}")
        ax.plot(x[finite], _smooth(np.minimum(loss[finite], 10.0), max(1, run.steps_per_epoch // 4)),
                color=colors[norm], lw=1.5, label=label)
        if run.diverged:
            last = x[finite][-1] if finite.any() else 0.0
            ax.plot(last, 9.5, "x", color=colors[norm], ms=10, mew=2)
    ax.axhline(math.log(10), color=GREY, ls=":", lw=1)
    ax.text(0.99, math.log(10) * 1.08, "chance level (ln 10)", color=GREY, fontsize=7, ha="right",
            transform=ax.get_yaxis_transform())
    ax.set_yscale("log")
    ax.set_ylim(0.02, 12)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title(f"lr = {lr:g}, batch size {batch_size}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    for norm in ("none", "batch"):
        accs = [runs[norm, r].final_val_acc for r in LEARNING_RATES]
        ax2.plot(LEARNING_RATES, accs, "o-", color=colors[norm], label=names[norm])
        for r in LEARNING_RATES:
            if runs[norm, r].diverged:
                ax2.plot(r, 0.02, "x", color=colors[norm], ms=9, mew=2)
    ax2.axvline(lr, color=GREY, lw=6, alpha=0.25)
    ax2.axhline(0.1, color=GREY, ls=":", lw=1)
    ax2.set_xscale("log")
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("learning rate (x = diverged)")
    ax2.set_ylabel(f"validation accuracy after {epochs} epochs")
    ax2.set_title(f"all learning rates, batch size {batch_size}", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def make_bn_training_panel() -> Panel:
    """Run-button panel: learning rate, batch size and epochs of a 6-layer MLP trained with and without BN."""
    style = {"description_width": "initial"}
    controls = {
        "lr": W.SelectionSlider(options=LEARNING_RATES, value=0.1, description="learning rate", style=style),
        "batch_size": W.SelectionSlider(options=BATCH_SIZES, value=128, description="batch size", style=style),
        "epochs": W.IntSlider(value=4, min=2, max=8, description="epochs", style=style),
    }
    return Panel(draw_bn_training, controls, run_button=True, title="Training with and without BatchNorm")


# ----------------------------------------------------------------------------------------------------------
# 5. Where to put the norm
# ----------------------------------------------------------------------------------------------------------

PLACEMENTS = ("none", "before activation", "after activation")
PLACEMENT_NAMES = {"none": "no normalization", "before activation": "Linear -> BN -> ReLU",
                   "after activation": "Linear -> ReLU -> BN"}


def placement_mlp(placement: str, depth: int = 8, width: int = 64, seed: int = 0) -> nn.Sequential:
    """An MLP with PyTorch's default init and BatchNorm1d placed as asked:
    'before activation': Linear(no bias) -> BN -> ReLU; 'after activation': Linear -> ReLU -> BN."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    torch.manual_seed(seed)  # nn.Linear's default init draws from the global generator
    layers: list[nn.Module] = []
    d = 64
    for _ in range(depth):
        layers.append(nn.Linear(d, width, bias=placement != "before activation"))
        if placement == "before activation":
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if placement == "after activation":
            layers.append(nn.BatchNorm1d(width))
        d = width
    layers.append(nn.Linear(d, 10))
    return nn.Sequential(*layers)


@cached
def placement_run(placement: str, epochs: int = 4, lr: float = 0.03, batch_size: int = 32,
                  seed: int = 0) -> TrainRun:
    data = digits(seed=0)
    with one_thread():
        model = placement_mlp(placement, seed=seed)
        h = train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    return TrainRun(tuple(h.step_loss), tuple(h.val_acc), math.ceil(len(data.x_train) / batch_size), h.diverged)


def draw_placement(epochs: int = 4):
    runs = {p: placement_run(p, epochs) for p in PLACEMENTS}
    colors = dict(zip(PLACEMENTS, (BLUE, GREEN, ORANGE)))
    fig, (ax, ax2) = new_figure(2, width=5.2, height=3.6)
    for p, r in runs.items():
        x = np.arange(1, len(r.step_loss) + 1) / r.steps_per_epoch
        ax.plot(x, _smooth(r.step_loss, 10), color=colors[p], lw=1.5, label=PLACEMENT_NAMES[p])
        ax2.plot(np.arange(1, len(r.val_acc) + 1), r.val_acc, "o-", color=colors[p],
                 label=f"{PLACEMENT_NAMES[p]}: {r.final_val_acc:.3f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title("8 hidden layers, PyTorch default init, lr 0.03", fontsize=10)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation accuracy")
    ax2.set_ylim(0, 1.02)
    ax2.set_xticks(np.arange(1, epochs + 1))
    ax2.set_title("validation accuracy per epoch", fontsize=10)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# 7. Instance normalization: style against content
# ----------------------------------------------------------------------------------------------------------

STYLES = ((1.0, 0.0), (0.35, 0.5), (2.5, -1.0))  # (contrast a, brightness b): image -> a * image + b


def styled_digits(indices=(0, 1), styles=STYLES):
    """Digits images (values in [0, 1]) re-rendered with per-image contrast and brightness.

    Returns (styled, normalized), both (len(indices) * len(styles), 1, 8, 8): the images and their
    F.instance_norm output; row k * len(styles) + j is image indices[k] in style j.
    """
    x = digits(seed=0, standardize=False, images=True).x_train[list(indices)]  # (k, 1, 8, 8)
    styled = torch.cat([a * img[None] + b for img in x for a, b in styles])
    return styled, F.instance_norm(styled, eps=1e-5)


def draw_instance_norm():
    styled, normalized = styled_digits()
    n = len(styled)
    fig, axes = new_figure(n, 2, width=1.6, height=1.8)
    lo, hi = styled.min().item(), styled.max().item()
    nlo, nhi = normalized.min().item(), normalized.max().item()
    for j in range(n):
        a, b = STYLES[j % len(STYLES)]
        axes[j].imshow(styled[j, 0].numpy(), cmap="gray", vmin=lo, vmax=hi)
        axes[j].set_title(f"{a:g} x {'+' if b >= 0 else '-'} {abs(b):g}", fontsize=8)
        axes[n + j].imshow(normalized[j, 0].numpy(), cmap="gray", vmin=nlo, vmax=nhi)
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    axes[0].set_ylabel("input", fontsize=9)
    axes[n].set_ylabel("after InstanceNorm", fontsize=9)
    fig.suptitle("per-image contrast and brightness (style) are removed, the stroke pattern (content) stays",
                 fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# 8. Which elements BN / LN / IN / GN average over
# ----------------------------------------------------------------------------------------------------------

NORM_KINDS = ("batch", "layer", "instance", "group")
NORM_NAMES = {"batch": "BatchNorm", "layer": "LayerNorm", "instance": "InstanceNorm", "group": "GroupNorm"}


@cached
def conv_activations(n_images: int = 4, channels: int = 6, seed: int = 0) -> torch.Tensor:
    """Outputs (N, C, 8, 8) of one randomly initialized 3x3 convolution on the first digits images.

    The He-normal weights and the biases (uniform in [-1, 1]) come from a generator seeded with `seed`;
    the result is read-only-by-convention (cached): clone it before changing it.
    """
    x = digits(seed=0, standardize=False, images=True).x_train[:n_images]  # (N, 1, 8, 8), values in [0, 1]
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(channels, 1, 3, 3, generator=gen) * math.sqrt(2.0 / 9)  # (C, 1, 3, 3)
    bias = 2 * torch.rand(channels, generator=gen) - 1                           # (C,)
    return F.conv2d(x, weight, bias, padding=1)                                  # (N, C, 8, 8)


def _check_groups(kind: str, channels: int, groups: int) -> int:
    if kind not in NORM_KINDS:
        raise ValueError(f"kind must be one of {NORM_KINDS}, got {kind!r}")
    if kind == "group" and (groups < 1 or channels % groups):
        raise ValueError(f"groups must divide the {channels} channels, got {groups}")
    return {"layer": 1, "instance": channels}.get(kind, groups)


def norm_statistics(x: torch.Tensor, kind: str, groups: int = 1):
    """Mean and biased variance that a normalization layer computes from x (N, C, H, W).

    Returns (mean, var) of shape (C,) for 'batch' (over N, H, W), (N,) for 'layer' (over C, H, W),
    (N, C) for 'instance' (over H, W) and (N, groups) for 'group' (over C / groups channels and H, W).
    """
    n, c = x.shape[:2]
    g = _check_groups(kind, c, groups)
    if kind == "batch":
        flat = x.transpose(0, 1).reshape(c, -1)   # (C, N*H*W)
    elif kind == "instance":
        flat = x.reshape(n, c, -1)                # (N, C, H*W)
    else:
        flat = x.reshape(n, g, -1)                # (N, G, C/G*H*W); 'layer' is G = 1
    mean = flat.mean(-1)
    var = flat.var(-1, unbiased=False)
    return (mean.squeeze(1), var.squeeze(1)) if kind == "layer" else (mean, var)


def normalize(x: torch.Tensor, kind: str, groups: int = 1, eps: float = 1e-5) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) with the statistics of norm_statistics, without gamma and beta."""
    n, c = x.shape[:2]
    mean, var = norm_statistics(x, kind, groups)
    if kind == "batch":
        shape = (1, c, 1, 1)
    elif kind == "layer":
        shape = (n, 1, 1, 1)
    elif kind == "instance":
        shape = (n, c, 1, 1)
    else:
        g = groups
        xg = x.reshape(n, g, -1)
        return ((xg - mean[..., None]) / torch.sqrt(var[..., None] + eps)).reshape(x.shape)
    return (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)


def set_of(kind: str, n_samples: int, channels: int, groups: int, sample: int, channel: int) -> np.ndarray:
    """(N, C) boolean mask of the (sample, channel) maps that share statistics with (sample, channel)."""
    g = _check_groups(kind, channels, groups)
    mask = np.zeros((n_samples, channels), dtype=bool)
    if kind == "batch":
        mask[:, channel] = True
    else:
        per = channels // g
        first = (channel // per) * per
        mask[sample, first:first + per] = True
    return mask


def cell_statistics(x: torch.Tensor, kind: str, groups: int = 1):
    """The mean and std (sqrt of the biased variance) of the set every (sample, channel) map belongs to,
    as two (N, C) arrays (equal entries = one shared set of statistics)."""
    n, c = x.shape[:2]
    mean, var = norm_statistics(x, kind, groups)
    if kind == "batch":
        mean, var = mean[None, :].expand(n, c), var[None, :].expand(n, c)
    elif kind == "layer":
        mean, var = mean[:, None].expand(n, c), var[:, None].expand(n, c)
    elif kind == "group":
        per = c // groups
        mean, var = mean.repeat_interleave(per, dim=1), var.repeat_interleave(per, dim=1)
    return mean.numpy().copy(), var.sqrt().numpy().copy()


def draw_norm_axes(kind: str = "batch", groups: int = 2, sample: int = 0, channel: int = 0, fig=None):
    """Left: the N x C grid of H x W activation maps, the maps averaged together with (sample, channel)
    framed in black. Right: the mean and std each map is normalized with (cells of one set share them)."""
    x = conv_activations()
    n, c, h, w = x.shape
    g = _check_groups(kind, c, groups)
    mask = set_of(kind, n, c, g, sample, channel)
    means, stds = cell_statistics(x, kind, g)
    count = int(mask.sum()) * h * w
    n_sets = {"batch": c, "layer": n, "instance": n * c, "group": n * g}[kind]

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
    ax.set_xlim(-1.5, mosaic.shape[1] + 0.5)
    ax.set_ylim(mosaic.shape[0] + 0.5, -1.5)
    ax.set_xticks([j * (w + pad) + w / 2 - 0.5 for j in range(c)], [str(j) for j in range(c)])
    ax.set_yticks([i * (h + pad) + h / 2 - 0.5 for i in range(n)], [str(i) for i in range(n)])
    ax.set_xlabel("channel c (each map is H x W = 8 x 8)")
    ax.set_ylabel("sample n")
    ax.tick_params(length=0)
    if kind == "group" and 1 < g < c:
        for k in range(1, g):
            xb = k * (c // g) * (w + pad) - pad / 2 - 0.5
            ax.axvline(xb, color="k", lw=1, ls="--")
    name = NORM_NAMES[kind] + (f" (G = {g})" if kind == "group" else "")
    axes_txt = {"batch": "(N, H, W)", "layer": "(C, H, W)", "instance": "(H, W)", "group": "(C/G, H, W)"}[kind]
    ax.set_title(f"{name}: one mean per set over {axes_txt}\n"
                 f"{n_sets} sets of {count} values; framed: the set of (n={sample}, c={channel})", fontsize=9)

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
    ax2.set_xlabel("channel c")
    ax2.set_ylabel("sample n")
    sel = mask.nonzero()
    ax2.set_title(f"mean (top) and std (bottom) each map is normalized with\n"
                  f"framed set: mean {means[sel][0]:.3f}, std {stds[sel][0]:.3f}", fontsize=9)
    # fixed margins: tight_layout measures every label, most of a redraw's time
    fig.subplots_adjust(left=0.05, right=0.985, bottom=0.06, top=0.955, wspace=0.12)
    return fig


def make_norm_axes_panel() -> Panel:
    """Dropdown for the normalization, G for GroupNorm, and the (sample, channel) whose set is framed."""
    x = conv_activations()
    n, c = x.shape[:2]
    divisors = [d for d in range(1, c + 1) if c % d == 0]
    style = {"description_width": "initial"}
    controls = {
        "kind": W.Dropdown(options=[(NORM_NAMES[k], k) for k in NORM_KINDS], value="batch",
                           description="normalization", style=style),
        "groups": W.SelectionSlider(options=divisors, value=2, description="G (GroupNorm)", style=style),
        "sample": W.IntSlider(value=0, min=0, max=n - 1, description="sample n", style=style),
        "channel": W.IntSlider(value=0, min=0, max=c - 1, description="channel c", style=style),
    }
    return Panel(draw_norm_axes, controls, title="Which elements does each normalization average over?")


# ----------------------------------------------------------------------------------------------------------
# 9. Local response normalization
# ----------------------------------------------------------------------------------------------------------

def local_response_norm(x: torch.Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> torch.Tensor:
    """LRN across channels, written out channel by channel (PyTorch's convention).

    b_c = a_c / (k + alpha / size * sum of a_{c'}^2 over c' in [c - size // 2, c + (size - 1) // 2]) ** beta,
    channels outside [0, C) count as zero. x: (N, C, ...) -> same shape.
    """
    c = x.shape[1]
    out = torch.empty_like(x)
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c, ch + (size - 1) // 2 + 1)
        energy = (x[:, lo:hi] ** 2).sum(1)  # (N, ...)
        out[:, ch] = x[:, ch] / (k + alpha / size * energy) ** beta
    return out


# ----------------------------------------------------------------------------------------------------------
# 11. Spectral normalization: power iteration and the Lipschitz bound
# ----------------------------------------------------------------------------------------------------------

def power_iteration(weight: torch.Tensor, n_iter: int, seed: int = 0):
    """Estimate the largest singular value of a matrix (conv weights are flattened to (out, rest)).

    Start from a random unit vector v, then repeat u = W v / ||W v||, v = W^T u / ||W^T u||; the estimate
    after each round is sigma = u^T W v = ||W^T u||, which never exceeds sigma_max. The vectors approach the
    singular vectors like (sigma_2 / sigma_1)^(2k); the estimate, quadratic in their error, like
    (sigma_2 / sigma_1)^(4k).
    Returns (sigmas, u, v): sigmas is a float64 array (n_iter,), u (out,), v (in,) the singular vectors.
    """
    w = torch.as_tensor(weight, dtype=torch.float64).reshape(len(weight), -1)  # (out, in)
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(w.shape[1], generator=gen, dtype=torch.float64)
    v = v / v.norm()
    u = torch.zeros(w.shape[0], dtype=torch.float64)
    sigmas = np.empty(n_iter)
    for i in range(n_iter):
        u = w @ v
        u = u / u.norm()
        v = w.T @ u
        sigmas[i] = v.norm().item()
        v = v / sigmas[i]
    return sigmas, u, v


def matrix_with_spectrum(singular_values, shape, seed: int = 0) -> torch.Tensor:
    """A random (out, in) float64 matrix U diag(s) V^T with the given singular values (descending)."""
    s = torch.as_tensor(singular_values, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    q1, _ = torch.linalg.qr(torch.randn(shape[0], len(s), generator=gen, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(shape[1], len(s), generator=gen, dtype=torch.float64))
    return q1 @ torch.diag(s) @ q2.T


def spectral_test_matrices(seed: int = 0) -> dict[str, torch.Tensor]:
    """Three matrices whose top-two singular value ratio is 0.5, 0.9 and 0.98, and a He-initialized
    64 x 64 linear layer's weight."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for ratio in (0.5, 0.9, 0.98):
        s = np.concatenate([[3.0, 3.0 * ratio], np.linspace(3.0 * ratio * 0.9, 0.1, 30)])
        out[f"sigma2/sigma1 = {ratio}"] = matrix_with_spectrum(s, (48, 40), seed=seed)
    out["He-init 64 x 64 layer"] = torch.randn(64, 64, generator=gen, dtype=torch.float64) * math.sqrt(2 / 64)
    return out


def lipschitz_mlp(spectral: bool, seed: int = 0) -> nn.Sequential:
    """64 -> 128 -> 128 -> 10 ReLU MLP (He init x 1.5). With spectral=True every weight is divided by its
    largest singular value (power iteration, 300 rounds), so each layer is 1-Lipschitz."""
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    init_weights_(model, "he", scale=1.5, generator=torch.Generator().manual_seed(seed))
    if spectral:
        with torch.no_grad():
            for m in model:
                if isinstance(m, nn.Linear):
                    sigma = power_iteration(m.weight, 300, seed=seed)[0][-1]
                    m.weight.div_(sigma)
    return model


def lipschitz_ratios(model: nn.Module, n_pairs: int = 2000, seed: int = 0) -> tuple[np.ndarray, float]:
    """||f(x) - f(x')|| / ||x - x'|| over random pairs of validation digits, and the product of the layers'
    largest singular values (an upper bound on that ratio, ReLU being 1-Lipschitz)."""
    x = digits(seed=0).x_val
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(x), n_pairs), rng.integers(0, len(x), n_pairs)
    keep = i != j
    i, j = i[keep], j[keep]
    with torch.no_grad():
        out = model(x)
        ratio = (out[i] - out[j]).norm(dim=1) / (x[i] - x[j]).norm(dim=1)
        bound = math.prod(torch.linalg.matrix_norm(m.weight, ord=2).item()
                          for m in model if isinstance(m, nn.Linear))
    return ratio.numpy(), bound


def draw_spectral(n_iter: int = 200):
    """Left: relative error of power iteration against torch.linalg.svdvals, per round. Right: how far
    inputs are stretched by an MLP with and without spectral normalization, and the Lipschitz bounds."""
    fig, (ax, ax2) = new_figure(2, width=5.4, height=3.8)
    colors = (BLUE, ORANGE, RED, GREEN)
    for (name, w), col in zip(spectral_test_matrices().items(), colors):
        sigmas, _, _ = power_iteration(w, n_iter)
        s = torch.linalg.svdvals(w)
        err = np.maximum(np.abs(sigmas - s[0].item()) / s[0].item(), 1e-17)
        ax.plot(np.arange(1, n_iter + 1), err, color=col, lw=1.6, label=name)
        small = np.nonzero(err < 1e-3)[0]
        if "=" in name and len(small):  # the predicted rate, drawn through the first error below 1e-3
            k, k0 = np.arange(1, n_iter + 1), small[0] + 1
            theory = err[k0 - 1] * (s[1] / s[0]).item() ** (4 * (k - k0))
            ax.plot(k, np.clip(theory, 1e-17, 1e3), color=col, lw=1.0, ls=":")
    ax.set_yscale("log")
    ax.set_ylim(1e-16, 2)
    ax.set_xlabel("power-iteration round k")
    ax.set_ylabel("|sigma_k - sigma_max| / sigma_max")
    ax.set_title("power iteration vs svdvals (dotted: slope (s2/s1)^(4k))", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    with one_thread():
        for spectral, col in ((False, BLUE), (True, GREEN)):
            ratios, bound = lipschitz_ratios(lipschitz_mlp(spectral))
            name = "spectral norm" if spectral else "plain"
            bins = np.logspace(-3, 2, 60)
            ax2.hist(ratios, bins=bins, color=col, alpha=0.6, label=f"{name}: max {ratios.max():.2f}")
            ax2.axvline(bound, color=col, lw=2, ls="--", label=f"{name}: bound {bound:.3g}")
    ax2.set_xscale("log")
    ax2.set_ylim(0, 1.45 * ax2.get_ylim()[1])
    ax2.set_xlabel("||f(x) - f(x')|| / ||x - x'|| over digit pairs")
    ax2.set_ylabel("pairs")
    ax2.set_title("Lipschitz bound = product of sigma_max", fontsize=10)
    ax2.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# 13. How deep can a plain MLP go, with and without BatchNorm?
# ----------------------------------------------------------------------------------------------------------

DEPTHS = (5, 10, 20, 30)


@cached
def depth_run(depth: int, norm: str, epochs: int = 4, lr: float = 0.1, batch_size: int = 128,
              seed: int = 0) -> TrainRun:
    """A plain MLP (width 64, ReLU, PyTorch's default init) of the given depth trained on digits."""
    data = digits(seed=0)
    with one_thread():
        model = mlp(64, 10, depth=depth, width=64, init="default", norm=norm, seed=seed)
        h = train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    return TrainRun(tuple(h.step_loss), tuple(h.val_acc), math.ceil(len(data.x_train) / batch_size), h.diverged)


def activation_profile(depth: int, norm: str, seed: int = 0) -> np.ndarray:
    """How much every ReLU's output still depends on the input, at initialization (PyTorch default init):
    the std over 256 training digits of each unit, averaged over the units. Returns (depth,).

    (The plain std over units and samples would hide the collapse: the biases keep every unit at its own
    constant level, so units differ from each other even when no unit varies with the input any more.)
    """
    x = digits(seed=0).x_train[:256]
    spread = []
    with one_thread(), torch.no_grad():
        model = mlp(64, 10, depth=depth, width=64, init="default", norm=norm, seed=seed)
        model.train()  # BatchNorm normalizes with the statistics of this batch
        for layer in model:
            x = layer(x)  # (256, width)
            if isinstance(layer, nn.ReLU):
                spread.append(x.std(0).mean().item())
    return np.array(spread)


def draw_depth(epochs: int = 4, profile_depth: int = 30):
    fig, (ax, ax2) = new_figure(2, width=5.2, height=3.6)
    names = {"none": "no normalization", "batch": "BatchNorm"}
    colors = {"none": BLUE, "batch": GREEN}
    for norm in ("none", "batch"):
        prof = activation_profile(profile_depth, norm)
        ax.plot(np.arange(1, len(prof) + 1), np.maximum(prof, 1e-30), "o-", ms=3, color=colors[norm],
                label=names[norm])
        accs = [depth_run(d, norm, epochs).final_val_acc for d in DEPTHS]
        ax2.plot(DEPTHS, accs, "o-", color=colors[norm], label=names[norm])
        for d, a in zip(DEPTHS, accs):
            ax2.text(d, a + 0.03, f"{a:.2f}", ha="center", fontsize=8, color=colors[norm])
    ax.set_yscale("log")
    ax.set_xlabel("hidden layer")
    ax.set_ylabel("std over inputs of a ReLU output")
    ax.set_title(f"depth {profile_depth} at initialization (default init)", fontsize=10)
    ax2.axhline(0.1, color=GREY, ls=":", lw=1)
    ax2.text(DEPTHS[0], 0.12, "chance", color=GREY, fontsize=7)
    ax2.set_ylim(0, 1.05)
    ax2.set_xticks(DEPTHS)
    ax2.set_xlabel("hidden layers")
    ax2.set_ylabel(f"validation accuracy after {epochs} epochs")
    ax2.set_title("plain MLP, width 64, SGD lr 0.1, batch 128", fontsize=10)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig
