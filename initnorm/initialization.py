"""Lecture 1 (initialization): experiments, their drawing functions and the widget panels.

The sections follow the lecture:

1. (and 13.) the same MLP trained on the digits from every initialization scheme (panel with a Run button);
2. symmetry: the 2-input/2-hidden worked example, and a small MLP trained from a constant start (panel);
3. small random initialization: per-layer activation histograms of the slides' 4096-wide net for several scales;
4. vanishing and exploding signals: the scalar chain g = S^(m-1), the forward and backward variance
   conditions, and the signal-propagation explorer on the digits (panel);
5. activation functions: curves, derivatives and the second moment each passes on (the gain it needs);
6. and 7. Xavier/Glorot and He/Kaiming: the worked numbers, fan_in against fan_out, PyTorch's default;
8. Xavier with ReLU collapses in the 7-layer, 4096-wide net, He keeps the scale (panel);
9. LSUV: orthogonal start, then per-layer rescaling with a batch of data;
10. residual blocks: Var(x + F(x)) grows per block; Fixup keeps it;
11. pre-trained weights as an initialization: copying a network's body, a new classifier, freezing;
12. data pre-processing: centring, scaling, decorrelation, whitening, fitted on the training set only.

Compute functions are cached (functools.lru_cache) and run on one torch thread (see _cached), the
draw_* functions turn them into a matplotlib Figure, and make_*_panel() wraps a draw function with its controls
in an initnorm.widgets.Panel. Gradients come from autograd; per-layer statistics from initnorm.stats.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Callable

import ipywidgets as W
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import nn

from .data import Split, correlated_features, digits
from .models import GAINS, _activation, init_weights_, linear_layers, mlp, residual_mlp, weight_std
from .normalization import cached, one_thread
from .plots import log_decades, new_figure, plot_curves, plot_histograms, plot_layer_profile
from .stats import LayerStats, layer_stats
from .train import History, evaluate, train
from .widgets import Panel

# second moment a unit-variance Gaussian keeps through the activation: E[f(z)^2] for z ~ N(0, 1);
# the same number is E[f'(z)^2], what the backward pass keeps (for the piecewise-linear ones)
KEPT_FRACTION = {"linear": 1.0, "relu": 0.5, "leaky_relu": (1 + 0.01 ** 2) / 2}
COLORS = {"zeros": "tab:gray", "small": "tab:purple", "default": "tab:brown", "xavier": "tab:orange",
          "he": "tab:green", "lsuv": "tab:blue", "lecun": "tab:red", "orthogonal": "tab:cyan"}


def _cached(fn):
    """normalization.cached (functools.lru_cache keyed on the bound arguments, defaults filled in, so f(a) and
    f(a, b=default) share one entry) around fn run with one torch thread: the models are tiny, and on a shared
    machine a second thread only adds waiting. The result exposes cache_info() and cache_clear()."""
    @functools.wraps(fn)
    def single_threaded(*args, **kwargs):
        with one_thread():
            return fn(*args, **kwargs)
    return cached(single_threaded)


def _finish(fig, legend_fontsize: float = 8):
    """Grid and legend on every axes that has labelled lines, tight layout; returns the figure."""
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        if any(not h.get_label().startswith("_") for h in ax.get_lines()):
            ax.legend(fontsize=legend_fontsize)
    fig.tight_layout()
    return fig


def _probe(n: int = 512, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n standardized training digits and their labels: the batch every statistic is measured on."""
    data = digits(seed=seed)
    return data.x_train[:n], data.y_train[:n]


# ----------------------------------------------------------------------------------------------------------
# 2. Symmetry
# ----------------------------------------------------------------------------------------------------------

def tiny_net(weight, v=(0.5, 0.5), x=(1.0, 2.0), target: float = 1.0, activation: str = "sigmoid") -> dict:
    """The slides' 2-input/2-hidden network, followed by a fixed output unit, in float64.

    h = W x (pre-activations, (2,)), a = f(h), y = v . a, loss = (y - target)^2 / 2.
    Inputs: weight (2, 2), row i holds the weights into hidden unit i; v (2,) output weights; x (2,).
    Returns {"h": (2,), "a": (2,), "grad": dloss/dW (2, 2)} as NumPy arrays, the gradient by autograd.
    """
    w = torch.tensor(np.asarray(weight, dtype=np.float64), requires_grad=True)
    h = w @ torch.tensor(x, dtype=torch.float64)  # (2,)
    a = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation](h)
    y = torch.tensor(v, dtype=torch.float64) @ a
    (0.5 * (y - target) ** 2).backward()
    return {"h": h.detach().numpy(), "a": a.detach().numpy(), "grad": w.grad.numpy()}


SYMMETRY_INITS = ("constant", "zeros", "random")
SYMMETRY_CONSTANT = 0.05  # pre-activations 0.05 * sum(pixels) stay in the responsive range of sigmoid and tanh


@dataclass(frozen=True)
class SymmetryRun:
    weights: np.ndarray   # (steps + 1, hidden, 64): the first layer's weights at every step
    loss: np.ndarray      # (steps + 1,) full-batch training loss before each step (the last: after training)
    spread: np.ndarray    # (steps + 1,) largest |w[i, j] - mean over units of w[:, j]|: 0 while the units agree
    val_acc: float


@_cached
def symmetry_run(init: str = "constant", activation: str = "sigmoid", hidden: int = 8, steps: int = 150,
                 lr: float = 0.5, seed: int = 0) -> SymmetryRun:
    """Full-batch gradient descent on the digits for a 64 -> hidden -> 10 MLP started from `init`:
    'constant' (every weight SYMMETRY_CONSTANT), 'zeros', or 'random' (Xavier normal); biases start at 0."""
    if init not in SYMMETRY_INITS:
        raise ValueError(f"init must be one of {SYMMETRY_INITS}, got {init!r}")
    data = digits(seed=0)
    model = mlp(64, 10, depth=1, width=hidden, activation=activation, init="xavier", seed=seed)
    if init != "random":
        init_weights_(model, init, constant=SYMMETRY_CONSTANT)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    first = model[0].weight
    weights, losses = [first.detach().clone()], []
    for _ in range(steps):
        loss = F.cross_entropy(model(data.x_train), data.y_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        weights.append(first.detach().clone())
    losses.append(evaluate(model, data.x_train, data.y_train)[0])
    w = torch.stack(weights).numpy()  # (steps + 1, hidden, 64)
    spread = np.abs(w - w.mean(axis=1, keepdims=True)).max(axis=(1, 2))
    return SymmetryRun(w, np.array(losses), spread, evaluate(model, data.x_val, data.y_val)[1])


def _mosaic(maps: np.ndarray, cols: int) -> np.ndarray:
    """(k, 8, 8) maps -> one image with `cols` maps per row and NaN gaps between them."""
    k = len(maps)
    rows = -(-k // cols)
    out = np.full((rows * 9 - 1, cols * 9 - 1), np.nan)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        out[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = m
    return out


def draw_symmetry(init: str = "constant", activation: str = "sigmoid", pixel: int = 36, fig=None):
    """Left: the weight from one pixel into each hidden unit over training; middle: every hidden unit's 64
    incoming weights after training, as 8x8 images; right: the training loss of this start and of a random one."""
    run = symmetry_run(init, activation)
    fig, axes = new_figure(3, width=4.6, height=3.6, reuse=fig)
    steps = np.arange(len(run.weights))
    for i in range(run.weights.shape[1]):
        axes[0].plot(steps, run.weights[:, i, pixel], lw=2.5 - 0.25 * i, alpha=0.75)
    axes[0].set(xlabel="gradient step", ylabel=f"weight from pixel {pixel}",
                title=f"{run.weights.shape[1]} hidden units (one line each)")
    axes[0].grid(alpha=0.3)
    final = run.weights[-1]
    lim = max(np.abs(final).max(), 1e-8)
    axes[1].imshow(_mosaic(final.reshape(-1, 8, 8), cols=4), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_axis_off()
    axes[1].set_title(f"incoming weights after training\nlargest difference between units: {run.spread[-1]:.2g}",
                      fontsize=9)
    plot_curves({f"{init} start": run.loss[:-1], "random start": symmetry_run("random", activation).loss[:-1]},
                axes[2], ylabel="training loss", xlabel="gradient step")
    axes[2].set_title(f"validation accuracy {run.val_acc:.2f} (random start "
                      f"{symmetry_run('random', activation).val_acc:.2f})", fontsize=10)
    fig.suptitle(f"{init} initialization, {activation} hidden units", fontsize=11)
    # fixed margins: tight_layout measures every label, most of a redraw's time
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.17, top=0.81, wspace=0.22)
    return fig


def make_symmetry_panel(init: str = "constant", activation: str = "sigmoid") -> Panel:
    controls = {"init": W.Dropdown(options=list(SYMMETRY_INITS), value=init, description="init"),
                "activation": W.Dropdown(options=["sigmoid", "tanh", "relu"], value=activation,
                                         description="activation"),
                "pixel": W.IntSlider(value=36, min=0, max=63, description="pixel")}
    return Panel(draw_symmetry, controls, title="Symmetry: do the hidden units ever differ?")


# ----------------------------------------------------------------------------------------------------------
# 3. and 8. The slides' deep net: dims = [width] * 7, Gaussian input, six weight layers
# ----------------------------------------------------------------------------------------------------------

DEEP_INITS = {"0.01": "N(0, 0.01²)", "0.05": "N(0, 0.05²)", "xavier": "Xavier: std 1/√n", "he": "He: std √(2/n)"}


def deep_std(init: str, width: int) -> float:
    """The weight std of the slides' experiments: fixed 0.01 or 0.05, Xavier 1/sqrt(n) (fan_in = fan_out = n,
    so 2/(n_in + n_out) = 1/n), He sqrt(2/n)."""
    stds = {"0.01": 0.01, "0.05": 0.05, "xavier": 1 / math.sqrt(width), "he": math.sqrt(2 / width)}
    if init not in stds:
        raise ValueError(f"init must be one of {sorted(stds)}, got {init!r}")
    return stds[init]


@dataclass(frozen=True)
class DeepRun:
    values: tuple[np.ndarray, ...]  # per layer: every activation value of the batch, flattened
    mean: np.ndarray                # (layers,)
    std: np.ndarray                 # (layers,)


DEEP_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


@_cached
def _deep_all(width: int, layers: int, batch: int, seed: int) -> dict[tuple[str, str], DeepRun]:
    """deep_runs for every activation and init at once, from the same Gaussian draws: drawing a 4096 x 4096
    matrix costs more than the eight products it feeds, so the panel's activation dropdown then costs nothing."""
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(batch, width, generator=gen)
    keys = [(act, init) for act in DEEP_ACTIVATIONS for init in DEEP_INITS]
    xs = {key: x0 for key in keys}
    values: dict[tuple[str, str], list[np.ndarray]] = {key: [] for key in keys}
    for _ in range(layers):
        w = torch.randn(width, width, generator=gen)                     # (width, width)
        for act, init in keys:
            x = DEEP_ACTIVATIONS[act](xs[act, init] @ w * deep_std(init, width))  # (batch, width)
            xs[act, init] = x
            values[act, init].append(x.flatten().numpy().copy())
    return {key: DeepRun(tuple(v), np.array([a.mean() for a in v]), np.array([a.std() for a in v]))
            for key, v in values.items()}


def deep_runs(activation: str = "relu", width: int = 4096, layers: int = 6, batch: int = 16,
              seed: int = 0) -> dict[str, DeepRun]:
    """x ~ N(0, 1) of shape (batch, width), then `layers` times x = f(x @ W) with W ~ N(0, deep_std^2), for every
    init of DEEP_INITS: each layer's Gaussian matrix is drawn once and scaled per init (and shared with the
    other activation), so the runs differ only in scale."""
    if activation not in DEEP_ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(DEEP_ACTIVATIONS)}, got {activation!r}")
    runs = _deep_all(width, layers, batch, seed)
    return {init: runs[activation, init] for init in DEEP_INITS}


def deep_activations(activation: str = "relu", init: str = "xavier", width: int = 4096, layers: int = 6,
                     batch: int = 16, seed: int = 0) -> DeepRun:
    """One init's run of deep_runs (computed together with the others, and cached)."""
    deep_std(init, width)  # rejects unknown inits with a clear message
    return deep_runs(activation, width, layers, batch, seed)[init]


def draw_deep_grid(activation: str = "relu", inits=("xavier", "he"), width: int = 4096, fig=None):
    """One row of per-layer activation histograms per init, all on one x-range per row (so a shrinking
    distribution shows as a narrowing spike). ReLU's exact zeros (half of the values) are left out."""
    fig, axes = new_figure(6, len(inits), width=2.3, height=2.3, reuse=fig)
    axes = axes.reshape(len(inits), 6)
    for row, init in zip(axes, inits):
        run = deep_activations(activation, init, width)
        vals = [v[v != 0] if activation == "relu" else v for v in run.values]
        hi = max(max(float(np.percentile(np.abs(v), 99.5)) if v.size else 0.0 for v in vals), 1e-12)
        rng = (-1.0, 1.0) if activation == "tanh" else (0.0, hi)
        for layer, (ax, v) in enumerate(zip(row, vals), start=1):
            counts, edges = np.histogram(v, bins=50, range=rng)
            ax.stairs(counts, edges, fill=True, color=COLORS.get(init, "tab:blue"))  # one artist, not 50 bars
            ax.set_yticks([])
            ax.set_title(f"layer {layer}\nmean {run.mean[layer - 1]:.2g}, std {run.std[layer - 1]:.2g}", fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel(DEEP_INITS[init], fontsize=9)
    zeros = "; ReLU's exact zeros not drawn" if activation == "relu" else ""
    fig.suptitle(f"{activation}, dims = [{width}] * 7, input N(0, 1){zeros}", fontsize=10)
    # fixed margins in inches (tight_layout would measure every label, and start from the previous layout)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.025, right=0.99, bottom=0.3 / height, top=1 - 0.75 / height, wspace=0.1,
                        hspace=0.55)
    return fig


def draw_deep_histograms(activation: str = "relu", init: str = "xavier", width: int = 4096, fig=None):
    return draw_deep_grid(activation, (init,), width, fig=fig)


def make_collapse_panel(activation: str = "relu", init: str = "xavier") -> Panel:
    controls = {"activation": W.Dropdown(options=["relu", "tanh"], value=activation, description="activation"),
                "init": W.Dropdown(options=[(label, key) for key, label in DEEP_INITS.items()], value=init,
                                   description="weights"),
                "width": W.Dropdown(options=[256, 1024, 4096], value=4096, description="width")}
    return Panel(draw_deep_histograms, controls, title="Activations of a 7-layer net, layer by layer")


# ----------------------------------------------------------------------------------------------------------
# 4. Vanishing and exploding signals
# ----------------------------------------------------------------------------------------------------------

def scalar_chain_gradient(scale: float, depth: int, x: float = 1.0) -> float:
    """d y / d w_1 for y = w_depth * ... * w_1 * x with every w_i = scale (autograd, float64)."""
    ws = [torch.tensor(float(scale), dtype=torch.float64, requires_grad=True) for _ in range(depth)]
    y = torch.tensor(float(x), dtype=torch.float64)
    for w in ws:
        y = w * y
    y.backward()
    return ws[0].grad.item()


def draw_scalar_chain(scales=(0.5, 0.9, 1.0, 1.1, 1.5), max_depth: int = 50):
    fig, axes = new_figure(1, width=5.5, height=3.4)
    depths = np.arange(1, max_depth + 1)
    for s in scales:
        axes[0].plot(depths, [abs(scalar_chain_gradient(s, int(m))) for m in depths], label=f"S = {s}")
    axes[0].set(yscale="log", xlabel="depth m", ylabel="|dy/dw₁| = S^(m-1)",
                title="gradient of the first weight in a chain of m scalars")
    return _finish(fig)


@dataclass(frozen=True)
class VarianceCheck:
    forward_measured: float    # Var[z] over units, samples and weight draws
    forward_predicted: float   # n_in * Var[w] * E[a^2]
    backward_measured: float   # Var[dL/da]
    backward_predicted: float  # n_out * Var[w] * E[(dL/dz)^2]


@_cached
def variance_conditions(n_out: int = 256, w_std: float = 0.1, draws: int = 20, seed: int = 0) -> VarianceCheck:
    """One linear layer z = a W^T on the standardized digits (n_in = 64), with weights ~ N(0, w_std^2) drawn
    `draws` times, and a random upstream gradient dL/dz ~ N(0, 1): both variance formulas, measured."""
    a, _ = _probe(512)                                                   # (512, 64)
    gen = torch.Generator().manual_seed(seed)
    zs, grads = [], []
    for _ in range(draws):
        w = (torch.randn(n_out, a.shape[1], generator=gen) * w_std).requires_grad_()  # (n_out, 64)
        a_leaf = a.clone().requires_grad_()
        z = a_leaf @ w.T                                                 # (512, n_out)
        upstream = torch.randn(z.shape, generator=gen)
        (z * upstream).sum().backward()                                  # dL/dz = upstream
        zs.append(z.detach())
        grads.append(a_leaf.grad)
    return VarianceCheck(torch.cat(zs).var().item(), a.shape[1] * w_std ** 2 * (a ** 2).mean().item(),
                         torch.cat(grads).var().item(), n_out * w_std ** 2 * 1.0)


# what each of the explorer's inits draws before scaling: N(0, 1), an orthogonal matrix, or U(-1, 1)
# (in the order of the explorer's init dropdown)
EXPLORER_DRAWS = {"small": "normal", "default": "uniform", "lecun": "normal", "xavier": "normal", "he": "normal",
                  "orthogonal": "orthogonal"}


class _UnitDraws:
    """The explorer's weights and biases before scaling, for one (width, kind, seed): hidden layers drawn in order
    from one generator and kept, the output layer from a generator of its own. Every init of a kind is a multiple of
    the same draws (normal: std x N(0, 1); orthogonal: gain x Q; PyTorch's default: 1/sqrt(fan_in) x U(-1, 1)), so
    a move of the init within a kind, of the activation, of the scale or of the depth draws nothing new (a deeper
    net only adds layers). Drawing is most of the cost of building a 50 x 512 net: 50 QR decompositions for
    orthogonal weights."""

    def __init__(self, width: int, kind: str, seed: int):
        self.width, self.kind = width, kind
        self.generator = torch.Generator().manual_seed(seed)
        self.layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.head = self._draw(10, width, torch.Generator().manual_seed(seed + 7919))

    def _draw(self, fan_out: int, fan_in: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "orthogonal":
            w = nn.init.orthogonal_(torch.empty(fan_out, fan_in), generator=gen)
        elif self.kind == "uniform":
            w = torch.rand(fan_out, fan_in, generator=gen) * 2 - 1
        else:
            w = torch.randn(fan_out, fan_in, generator=gen)
        b = torch.rand(fan_out, generator=gen) * 2 - 1 if self.kind == "uniform" else torch.zeros(fan_out)
        return w, b

    def hidden(self, depth: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        while len(self.layers) < depth:
            self.layers.append(self._draw(self.width, self.width if self.layers else 64, self.generator))
        return self.layers[:depth]


@functools.lru_cache(maxsize=4)  # a 50 x 512 net's draws take 50 MB
def _unit_draws(width: int, kind: str, seed: int) -> _UnitDraws:
    return _UnitDraws(width, kind, seed)


class ScaledLinear(nn.Module):
    """y = factor * (x @ unit^T) + bias: a linear layer whose weight is factor * unit, with the unit-scale draws
    shared (not copied) and the factor applied to the output. Scaling a 64 x 512 output costs an eighth of scaling
    a 512 x 512 weight, and 50 fresh weight copies cost more than the forward pass they feed. `weight` gives the
    effective weight."""

    def __init__(self, unit: torch.Tensor, factor: float, bias: torch.Tensor):
        super().__init__()
        self.register_buffer("unit", unit, persistent=False)
        self.factor = float(factor)
        self.bias = nn.Parameter(bias)

    @property
    def weight(self) -> torch.Tensor:
        return self.unit * self.factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.unit) * self.factor + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.unit.shape[1]}, out_features={self.unit.shape[0]}, factor={self.factor:.4g}"


def _scaled_linear(w: torch.Tensor, b: torch.Tensor, init: str, activation: str, scale: float) -> ScaledLinear:
    fan_out, fan_in = w.shape
    if init == "default":  # nn.Linear's own: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        w_factor = b_factor = 1 / math.sqrt(fan_in)
    else:
        w_factor, b_factor = (GAINS[activation] if init == "orthogonal" else weight_std(init, fan_in, fan_out)), 0.0
    return ScaledLinear(w, w_factor * scale, b * b_factor)


def _explorer_model(depth: int, width: int, activation: str, init: str, scale: float, seed: int) -> nn.Module:
    """[Linear -> activation] * depth -> Linear (the layout of models.mlp) with weights `init` x `scale`; biases zero
    except for PyTorch's default init, which draws them too (unscaled)."""
    if init not in EXPLORER_DRAWS:
        raise ValueError(f"init must be one of {sorted(EXPLORER_DRAWS)}, got {init!r}")
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    draws = _unit_draws(width, EXPLORER_DRAWS[init], seed)
    layers: list[nn.Module] = []
    for w, b in draws.hidden(depth):
        layers += [_scaled_linear(w, b, init, activation, scale), _activation(activation)]
    layers.append(_scaled_linear(*draws.head, init, activation, scale))
    return nn.Sequential(*layers)


# 16,384 values per layer at width 256 (2,048 at width 32): every std to about 1-2 %, invisible on the log scale
# that spans decades, and a 50 x 512 net's forward and backward pass takes about 40 ms (a slider move stays under
# 0.2 s; with 256 digits it took 0.3 s)
SIGNAL_BATCH = 64


@_cached
def signal_profile(depth: int = 20, width: int = 256, activation: str = "relu", init: str = "xavier",
                   scale: float = 1.0, seed: int = 0) -> list[LayerStats]:
    """Per-layer statistics (activation output and gradient with respect to it) of an MLP at initialization,
    on one batch of SIGNAL_BATCH digits with the cross-entropy loss."""
    model = _explorer_model(depth, width, activation, init, scale, seed).requires_grad_(False)
    x, y = _probe(SIGNAL_BATCH)
    types = (nn.Identity,) if activation == "linear" else tuple({type(m) for m in model[1::2]})
    # gradients with respect to the activations only: the input asks for one, the frozen weights do not (their
    # gradients would double the backward pass and are not shown)
    return layer_stats(model, x.clone().requires_grad_(), y, types=types)


def predicted_factor(width: int, activation: str, init: str, scale: float = 1.0) -> float | None:
    """How much one width -> width layer multiplies the std of the signal, forward and backward:
    sqrt(n * Var[w] * E[f'(z)^2]); None where there is no closed form (saturating or smooth activations)."""
    if activation not in KEPT_FRACTION or init in ("zeros", "constant"):
        return None
    std = 1 / math.sqrt(3 * width) if init == "default" else weight_std(init, width, width, activation)
    return math.sqrt(width * (std * scale) ** 2 * KEPT_FRACTION[activation])


def draw_signal_explorer(depth: int = 20, width: int = 256, activation: str = "relu", init: str = "xavier",
                         scale: float = 1.0, fig=None):
    stats = signal_profile(depth, width, activation, init, scale)
    label = f"{activation}, {init}" + (f" x{scale:g}" if scale != 1 else "")
    fig, axes = new_figure(2, 2, width=5.2, height=3.3, reuse=fig)
    plot_layer_profile({label: stats}, fig=fig)
    factor = predicted_factor(width, activation, init, scale)
    if factor is not None:
        layers = np.arange(1, depth + 1)
        axes[0].plot(layers, stats[0].std * factor ** (layers - 1), "k--", lw=1, label="n·Var[w]·E[f'²] rule")
        axes[1].plot(layers, stats[-1].grad_std * factor ** (depth - layers), "k--", lw=1)
        axes[0].legend(fontsize=8)
    shown = [replace(stats[i], name=f"layer {i + 1}", values=stats[i].values[stats[i].values != 0])
             for i in sorted({0, depth // 4, depth // 2, (3 * depth) // 4, depth - 1})]
    plot_histograms(shown, axes[2], "values")
    plot_histograms(shown, axes[3], "grads")
    axes[3].get_legend().remove()  # the same layers, in the same colours, as on the left
    axes[2].set_title("activation histograms (exact zeros left out)")
    axes[3].set_title("gradient histograms, same layers")
    for ax in axes[2:]:  # tiny gradients: a power of ten beside the axis, not 0.00075 on every tick
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_yticks([])  # counts per bin say nothing here; the shapes do (and each label costs redraw time)
    for ax in axes[:2]:  # at least two decades, so that a flat profile looks flat
        log_decades(ax)
        lo, hi = ax.get_ylim()
        if hi / lo < 100:
            mid = math.sqrt(lo * hi)
            ax.set_ylim(mid / 10, mid * 10)
    ratio_a = stats[-1].std / max(stats[0].std, 1e-30)
    ratio_g = stats[0].grad_std / max(stats[-1].grad_std, 1e-30)
    fig.suptitle(f"activation std, last / first layer: {ratio_a:.2g};  gradient std, first / last layer: "
                 f"{ratio_g:.2g}", fontsize=10)
    # fixed margins: tight_layout would measure every tick label first, the slowest step of a slider move
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.9, wspace=0.24, hspace=0.4)
    return fig


def make_signal_panel(depth: int = 20, width: int = 256, activation: str = "relu", init: str = "xavier") -> Panel:
    controls = {
        "depth": W.IntSlider(value=depth, min=2, max=50, description="depth"),
        "width": W.Dropdown(options=[32, 64, 128, 256, 512], value=width, description="width"),
        "activation": W.Dropdown(options=["relu", "tanh", "sigmoid", "leaky_relu", "selu", "gelu", "linear"],
                                 value=activation, description="activation"),
        "init": W.Dropdown(options=list(EXPLORER_DRAWS), value=init, description="init"),
        "scale": W.FloatLogSlider(value=1.0, base=2, min=-2, max=2, step=0.25, description="scale"),
    }
    return Panel(draw_signal_explorer, controls, title="Signal propagation at initialization (digits)")


# ----------------------------------------------------------------------------------------------------------
# 5. Activation functions
# ----------------------------------------------------------------------------------------------------------

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.1), "elu": F.elu, "selu": F.selu, "gelu": F.gelu, "swish": F.silu,
}
TORCH_GAIN = {"sigmoid": ("sigmoid",), "tanh": ("tanh",), "relu": ("relu",), "leaky_relu": ("leaky_relu", 0.1),
              "selu": ("selu",)}


def activation_curve(name: str, lo: float = -5.0, hi: float = 5.0, n: int = 2001):
    """(z, f(z), f'(z)) on a grid, the derivative by autograd, as float64 NumPy arrays."""
    z = torch.linspace(lo, hi, n, dtype=torch.float64, requires_grad=True)
    f = ACTIVATION_FNS[name](z)
    (df,) = torch.autograd.grad(f.sum(), z)
    return z.detach().numpy(), f.detach().numpy(), df.numpy()


def gaussian_moments(name: str, std: float = 1.0, n: int = 400_001) -> tuple[float, float]:
    """(E[f(z)], E[f(z)^2]) for z ~ N(0, std^2), by the trapezoid rule on [-12 std, 12 std]."""
    z = torch.linspace(-12 * std, 12 * std, n, dtype=torch.float64)
    density = torch.exp(-0.5 * (z / std) ** 2) / (std * math.sqrt(2 * math.pi))
    f = ACTIVATION_FNS[name](z)
    return torch.trapezoid(f * density, z).item(), torch.trapezoid(f ** 2 * density, z).item()


def activation_table() -> list[dict]:
    """Per activation: f(0), f'(0), the largest slope, E[f(z)] and E[f(z)^2] for z ~ N(0, 1), the gain
    1 / sqrt(E[f(z)^2]) that would restore a unit second moment, and torch.nn.init.calculate_gain's value."""
    rows = []
    for name in ACTIVATION_FNS:
        _, _, df = activation_curve(name)
        _, f0, df0 = activation_curve(name, 0.0, 0.0, 1)  # exactly at z = 0
        mean, second = gaussian_moments(name)
        torch_gain = nn.init.calculate_gain(*TORCH_GAIN[name]) if name in TORCH_GAIN else float("nan")
        rows.append({"activation": name, "f(0)": float(f0[0]), "f'(0)": float(df0[0]), "max slope": float(df.max()),
                     "E f(z)": mean, "E f(z)^2": second, "gain 1/sqrt(E f^2)": 1 / math.sqrt(second),
                     "torch gain": torch_gain})
    return rows


def draw_activations():
    """One small plot per activation: f(z) solid, f'(z) (autograd) dashed."""
    fig, axes = new_figure(4, 2, width=2.9, height=2.4)
    for ax, name in zip(axes, ACTIVATION_FNS):
        z, f, df = activation_curve(name)
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


# ----------------------------------------------------------------------------------------------------------
# 6. and 7. Xavier / Glorot and He / Kaiming
# ----------------------------------------------------------------------------------------------------------

def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """std of Glorot's normal init: gain * sqrt(2 / (fan_in + fan_out))."""
    return gain * weight_std("xavier", fan_in, fan_out)


def xavier_bound(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """a of Glorot's uniform init U(-a, a): U(-a, a) has variance a^2 / 3, so a = sqrt(3) * std."""
    return math.sqrt(3.0) * xavier_std(fan_in, fan_out, gain)


def he_std(fan: int, gain: float = math.sqrt(2.0)) -> float:
    """std of He's normal init: gain / sqrt(fan); with ReLU's gain sqrt(2) that is sqrt(2 / fan)."""
    return gain / math.sqrt(fan)


def he_bound(fan: int, gain: float = math.sqrt(2.0)) -> float:
    """a of He's uniform init: sqrt(3) * std, sqrt(6 / fan) for ReLU."""
    return math.sqrt(3.0) * he_std(fan, gain)


@dataclass(frozen=True)
class WorkedNumber:
    layer: str
    quantity: str
    formula: str
    value: float       # computed here
    slide: float       # as printed in the lecture slides
    decimals: int      # how many decimals the slide prints

    @property
    def tolerance(self) -> float:
        """Half a unit of the slide's last printed decimal."""
        return 0.5 * 10.0 ** -self.decimals


def worked_numbers() -> list[WorkedNumber]:
    """The slides' worked examples for Xavier (n_in x n_out layers) and He (n_in inputs)."""
    return [
        WorkedNumber("784 x 128", "Xavier uniform bound", "sqrt(6 / 912)", xavier_bound(784, 128), 0.0811, 4),
        WorkedNumber("256 x 64", "Xavier normal std", "sqrt(2 / 320)", xavier_std(256, 64), 0.0791, 4),
        WorkedNumber("10 x 5", "Xavier uniform bound", "sqrt(6 / 15)", xavier_bound(10, 5), 0.6325, 4),
        WorkedNumber("2048 x 1024", "Xavier uniform bound", "sqrt(6 / 3072)", xavier_bound(2048, 1024), 0.0442, 4),
        WorkedNumber("2048 x 1024", "Xavier normal std", "sqrt(2 / 3072)", xavier_std(2048, 1024), 0.0255, 4),
        WorkedNumber("4 -> 3", "He normal std", "sqrt(2 / 4)", he_std(4), 0.707, 3),
        WorkedNumber("128 -> 64", "He normal std", "sqrt(2 / 128)", he_std(128), 0.125, 3),
    ]


# the slides' comparison table: n_in, Xavier std sqrt(1/n_in) (fan_in = fan_out), He std sqrt(2/n_in)
SLIDE_XAVIER_VS_HE = [(4, 0.500, 0.707), (16, 0.250, 0.354), (64, 0.125, 0.177), (256, 0.0625, 0.088)]


def draw_xavier_examples(seed: int = 0):
    """Left: weights drawn by torch.nn.init.xavier_uniform_ for three worked layers, divided by the formula's
    bound a. Right: bound and std against n_in + n_out, with the slides' worked numbers."""
    gen = torch.Generator().manual_seed(seed)
    fig, axes = new_figure(2, width=5.2, height=3.4)
    shapes = [(784, 128), (256, 64), (2048, 1024)]  # the 10 x 5 layer has too few weights for a histogram
    for n_in, n_out in shapes:
        w = nn.init.xavier_uniform_(torch.empty(n_out, n_in), generator=gen)  # PyTorch stores (out, in)
        a = xavier_bound(n_in, n_out)
        axes[0].hist((w / a).flatten().numpy(), bins=40, range=(-1.25, 1.25), density=True, histtype="step",
                     lw=1.5, label=f"{n_in} x {n_out}: a = {a:.4f}")
    axes[0].set(xlabel="weight / a", ylabel="density", title="torch.nn.init.xavier_uniform_, in units of a")
    axes[0].legend(fontsize=7, loc="lower center")
    fans = np.logspace(1, 4, 100)
    axes[1].plot(fans, np.sqrt(6 / fans), label="uniform bound sqrt(6/(n_in+n_out))")
    axes[1].plot(fans, np.sqrt(2 / fans), label="normal std sqrt(2/(n_in+n_out))")
    for n in worked_numbers()[:5]:
        total = sum(int(s) for s in n.layer.split(" x "))
        axes[1].plot(total, n.value, "ko", ms=4)
        axes[1].annotate(f"{n.slide}", (total, n.value), textcoords="offset points", xytext=(4, 3), fontsize=7)
    axes[1].set(xscale="log", yscale="log", xlabel="n_in + n_out", title="bigger layers, smaller weights")
    return _finish(fig, legend_fontsize=7)


@_cached
def fan_mode_profile(mode: str, widths=(32, 64, 128, 256, 512, 1024), seed: int = 0) -> list[LayerStats]:
    """A ReLU MLP whose layers get wider (64 -> 32 -> 64 -> ... -> 1024 -> 10), initialized with
    torch.nn.init.kaiming_normal_(mode='fan_in' or 'fan_out') or, for mode='xavier', xavier_normal_ with ReLU's
    gain; per-layer statistics on the digits."""
    gen = torch.Generator().manual_seed(seed)
    dims = (64, *widths)
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(dims[-1], 10))
    with torch.no_grad():
        for layer in linear_layers(model):
            if mode == "xavier":
                nn.init.xavier_normal_(layer.weight, gain=math.sqrt(2.0), generator=gen)
            else:
                nn.init.kaiming_normal_(layer.weight, mode=mode, nonlinearity="relu", generator=gen)
            layer.bias.zero_()
    x, y = _probe(512)
    return layer_stats(model, x, y)


def draw_fan_modes():
    runs = {"He, fan_in": fan_mode_profile("fan_in"), "He, fan_out": fan_mode_profile("fan_out"),
            "Xavier (gain √2)": fan_mode_profile("xavier")}
    fig = plot_layer_profile(runs)
    fig.suptitle("layers widen 64 → 32 → 64 → ... → 1024: fan_in keeps the forward pass, fan_out the backward",
                 fontsize=9)
    fig.tight_layout()
    return fig


def pytorch_default_variance(fan_in: int = 512, fan_out: int = 512, seed: int = 0) -> float:
    """The variance of nn.Linear's own initial weights (kaiming_uniform_ with a = sqrt(5))."""
    torch.manual_seed(seed)  # nn.Linear draws from the global generator
    return nn.Linear(fan_in, fan_out).weight.var().item()


# ----------------------------------------------------------------------------------------------------------
# 9. LSUV
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LsuvStep:
    layer: int
    variance_before: float  # the layer's output variance with the orthogonal start (and earlier layers fixed)
    rescalings: int
    variance_after: float


@torch.no_grad()
def _output_variance(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> float:
    seen: list[float] = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append(out.var().item()))
    try:
        model(x)
    finally:
        handle.remove()
    return seen[0]


@torch.no_grad()
def lsuv(model: nn.Module, x: torch.Tensor, tol: float = 0.05, max_iter: int = 10,
         generator: torch.Generator | None = None) -> list[LsuvStep]:
    """Layer-sequential unit-variance initialization (Mishkin & Matas, 2016) of every Linear/Conv layer, in place.

    Orthogonal weights and zero biases first; then, layer by layer in forward order, divide the weight by the
    standard deviation of the layer's output on the batch x until that variance is within tol of 1, at most
    max_iter times. Returns what happened at each layer.
    """
    layers = linear_layers(model)
    for layer in layers:
        nn.init.orthogonal_(layer.weight, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
    steps = []
    for i, layer in enumerate(layers):
        before = var = _output_variance(model, layer, x)
        n = 0
        while abs(var - 1.0) > tol and n < max_iter:
            layer.weight.div_(math.sqrt(var))
            var = _output_variance(model, layer, x)
            n += 1
        steps.append(LsuvStep(i, before, n, var))
    return steps



@dataclass(frozen=True)
class LsuvProfile:
    variances: np.ndarray          # (depth + 1,) variance of every Linear layer's output on 768 held-out digits
    steps: tuple[LsuvStep, ...]    # what LSUV did (empty for the other inits)


@_cached
def lsuv_profile(init: str = "lsuv", activation: str = "relu", depth: int = 30, width: int = 128,
                 seed: int = 0) -> LsuvProfile:
    """An MLP initialized with 'lsuv' (on 256 training digits), 'orthogonal' (gain 1, what LSUV starts from)
    or an init_weights_ scheme; its Linear layers' output variances measured on 768 other training digits."""
    data = digits(seed=0)
    model = mlp(64, 10, depth, width, activation=activation, init=init if init in ("xavier", "he") else "he",
                seed=seed)
    gen = torch.Generator().manual_seed(seed)
    steps: tuple[LsuvStep, ...] = ()
    if init == "orthogonal":
        init_weights_(model, "orthogonal", activation="linear", generator=gen)
    elif init == "lsuv":
        steps = tuple(lsuv(model, data.x_train[:256], generator=gen))
    held_out = data.x_train[256:1024]  # digits LSUV did not see
    variances = np.array([s.std ** 2 for s in layer_stats(model, held_out, types=(nn.Linear,))])
    return LsuvProfile(variances, steps)


def draw_lsuv(depth: int = 30):
    fig, axes = new_figure(2, width=5.2, height=3.4)
    for ax, activation, baseline in zip(axes, ("relu", "tanh"), ("he", "xavier")):
        for init, label in (("orthogonal", "orthogonal, gain 1"), (baseline, baseline), ("lsuv", "LSUV")):
            prof = lsuv_profile(init, activation, depth)
            if prof.steps:
                label += f" ({sum(s.rescalings for s in prof.steps)} rescalings in all)"
            ax.plot(np.arange(1, len(prof.variances) + 1), prof.variances, "o-", ms=3, label=label,
                    color=COLORS.get(init))
        ax.set(yscale="log", xlabel="Linear layer (the last one is the classifier)", ylabel="output variance",
               title=f"{depth} {activation} layers of width 128, unseen digits")
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
    return _finish(fig, legend_fontsize=7)


# ----------------------------------------------------------------------------------------------------------
# 10. Residual blocks and Fixup
# ----------------------------------------------------------------------------------------------------------

RESIDUAL_VARIANTS = {"he_both": "He (factor 2) on both branch layers",
                     "he": "He where a ReLU feeds the layer: Var F(x) = Var x",
                     "fixup": "Fixup: last branch layer starts at 0"}


@_cached
def residual_variances(variant: str = "he", blocks: int = 12, width: int = 256, seed: int = 0) -> np.ndarray:
    """Variance of the residual stream after the stem and after each block x + fc2(relu(fc1(x))), on 512 digits.

    'he_both': both branch layers He-initialized (initnorm.residual_mlp as built); 'he': fc1, whose input x is not
    rectified, gets 1/fan_in and fc2, fed by a ReLU, 2/fan_in, so that Var F(x) = Var x; 'fixup': fc2 = 0.
    """
    if variant not in RESIDUAL_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(RESIDUAL_VARIANTS)}, got {variant!r}")
    model = residual_mlp(64, 10, blocks, width, fixup=variant == "fixup", seed=seed)
    if variant == "he":
        gen = torch.Generator().manual_seed(seed + 1)
        for block in model[1:-1]:
            init_weights_(block.fc1, "lecun", generator=gen)
    x, _ = _probe(512)
    out = []
    with torch.no_grad():
        h = model[0](x)  # (512, width)
        out.append(h.var().item())
        for block in model[1:-1]:
            h = block(h)
            out.append(h.var().item())
    return np.array(out)


def draw_residual(blocks: int = 12):
    fig, axes = new_figure(1, width=6.0, height=3.6)
    k = np.arange(blocks + 1)
    for variant, label in RESIDUAL_VARIANTS.items():
        v = residual_variances(variant, blocks)
        axes[0].plot(k, v / v[0], "o-", ms=3, label=label)
    for base in (2, 3):
        axes[0].plot(k, float(base) ** k, "k:", lw=0.8)
        axes[0].annotate(f"{base}^k", (k[-1], float(base) ** k[-1]), fontsize=8, xytext=(-18, 4),
                         textcoords="offset points")
    axes[0].set(yscale="log", xlabel="residual blocks passed (k)", ylabel="Var(stream) / Var(after stem)",
                title="Var(x + F(x)) = Var x + Var F(x) at every block")
    return _finish(fig)


# ----------------------------------------------------------------------------------------------------------
# 11. Pre-trained weights as an initialization
# ----------------------------------------------------------------------------------------------------------

def _subset(data: Split, classes, n_train: int | None = None) -> Split:
    keep_t = torch.isin(data.y_train, torch.tensor(classes))
    keep_v = torch.isin(data.y_val, torch.tensor(classes))
    xt, yt = data.x_train[keep_t][:n_train], data.y_train[keep_t][:n_train]
    return Split(xt, yt, data.x_val[keep_v], data.y_val[keep_v])


SOURCE_CLASSES = (0, 1, 2, 3, 4)


@_cached
def pretrained_source(epochs: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    """The state_dict of a 64-128-128-10 ReLU MLP trained (Adam, lr 1e-3) on the training digits 0-4: a
    stand-in for a downloaded checkpoint."""
    model = mlp(64, 10, depth=2, width=128, activation="relu", init="he", seed=seed)
    train(model, _subset(digits(seed=0), SOURCE_CLASSES), epochs=epochs, lr=1e-3, optimizer="adam", seed=seed)
    return {k: v.clone() for k, v in model.state_dict().items()}


def from_pretrained(state: dict[str, torch.Tensor], n_classes: int, freeze: bool = False,
                    seed: int = 0) -> nn.Sequential:
    """A new 64-128-128-n_classes MLP whose hidden layers start from `state` and whose classifier is new
    (Xavier). freeze=True turns off the gradients of the copied layers (feature extraction)."""
    model = mlp(64, n_classes, depth=2, width=128, activation="relu", init="he", seed=seed)
    head = str(len(model) - 1)
    body = {k: v for k, v in state.items() if not k.startswith(head + ".")}
    missing, unexpected = model.load_state_dict(body, strict=False)
    assert sorted(missing) == [f"{head}.bias", f"{head}.weight"] and not unexpected, (missing, unexpected)
    init_weights_(model[-1], "xavier", generator=torch.Generator().manual_seed(seed))
    for p in model[:-1].parameters():
        p.requires_grad_(not freeze)
    return model


# ----------------------------------------------------------------------------------------------------------
# 12. Data pre-processing
# ----------------------------------------------------------------------------------------------------------

PREPROCESSING = ("raw", "centred", "standardized", "decorrelated", "whitened")


@dataclass(frozen=True)
class Preprocessor:
    """x -> (x - mean) @ matrix, with mean (D,) and matrix (D, D) fitted on the training set."""

    mode: str
    mean: np.ndarray
    matrix: np.ndarray

    def __call__(self, x) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.mean) @ self.matrix


def fit_preprocessor(x, mode: str, eps: float = 1e-8) -> Preprocessor:
    """Fit one of PREPROCESSING (or 'zca') on x (N, D): statistics of x only, to be applied unchanged to test data.

    decorrelated: rotate onto the eigenvectors of the covariance (PCA), so the covariance becomes diagonal;
    whitened: also divide by sqrt(eigenvalue + eps), so it becomes the identity; zca: rotate back afterwards.
    """
    x = np.asarray(x, dtype=float)
    d = x.shape[1]
    if mode == "raw":
        return Preprocessor(mode, np.zeros(d), np.eye(d))
    mean = x.mean(axis=0)
    if mode == "centred":
        return Preprocessor(mode, mean, np.eye(d))
    if mode == "standardized":
        return Preprocessor(mode, mean, np.diag(1.0 / (x.std(axis=0) + eps)))
    lam, vecs = np.linalg.eigh(np.cov(x - mean, rowvar=False, bias=True))
    lam, vecs = lam[::-1], vecs[:, ::-1]  # largest variance first
    if mode == "decorrelated":
        return Preprocessor(mode, mean, vecs)
    white = vecs / np.sqrt(lam + eps)
    if mode == "whitened":
        return Preprocessor(mode, mean, white)
    if mode == "zca":
        return Preprocessor(mode, mean, white @ vecs.T)
    raise ValueError(f"mode must be one of {PREPROCESSING + ('zca',)}, got {mode!r}")


def preprocessing_example() -> tuple[np.ndarray, np.ndarray]:
    """Two correlated features on different scales, away from the origin: 400 training and 150 test points
    drawn from the same distribution."""
    kw = dict(scales=(1.0, 3.0), correlation=0.8, offset=(6.0, 4.0))
    return correlated_features(400, seed=0, **kw), correlated_features(150, seed=1, **kw)


def draw_preprocessing():
    train_x, test_x = preprocessing_example()
    fig, axes = new_figure(5, width=2.9, height=3.1)
    for ax, mode in zip(axes, PREPROCESSING):
        p = fit_preprocessor(train_x, mode)
        a, b = p(train_x), p(test_x)
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


# ----------------------------------------------------------------------------------------------------------
# 1. and 13. Training the same network from every initialization
# ----------------------------------------------------------------------------------------------------------

COMPARISON_SCHEMES = ("zeros", "small", "default", "xavier", "he", "lsuv")


@_cached
def comparison_run(scheme: str, depth: int = 10, activation: str = "relu", epochs: int = 8, lr: float = 0.01,
                   seed: int = 0) -> History:
    """SGD with momentum 0.9 (batches of 64) on the digits for an MLP with `depth` hidden layers of 128 units,
    initialized with `scheme` (one of COMPARISON_SCHEMES; 'lsuv' on 256 training digits)."""
    if scheme not in COMPARISON_SCHEMES:
        raise ValueError(f"scheme must be one of {COMPARISON_SCHEMES}, got {scheme!r}")
    data = digits(seed=0)
    model = mlp(64, 10, depth, 128, activation=activation, init="he" if scheme == "lsuv" else scheme, seed=seed)
    if scheme == "lsuv":
        lsuv(model, data.x_train[:256], generator=torch.Generator().manual_seed(seed))
    return train(model, data, epochs=epochs, lr=lr, batch_size=64, optimizer="sgd", momentum=0.9, seed=seed)


def comparison_table(depth: int = 10, activation: str = "relu", epochs: int = 8, lr: float = 0.01) -> list[dict]:
    rows = []
    for scheme in COMPARISON_SCHEMES:
        h = comparison_run(scheme, depth, activation, epochs, lr)
        rows.append({"init": scheme, "final train loss": h.train_loss[-1] if h.train_loss else float("nan"),
                     "best val acc": max(h.val_acc, default=float("nan")), "diverged": h.diverged})
    return rows


def draw_init_comparison(depth: int = 10, activation: str = "relu", epochs: int = 8, lr: float = 0.01,
                         progress: Callable[[float], None] | None = None):
    runs = {}
    for i, scheme in enumerate(COMPARISON_SCHEMES):
        runs[scheme] = comparison_run(scheme, depth, activation, epochs, lr)
        if progress is not None:
            progress((i + 1) / len(COMPARISON_SCHEMES))
    fig, axes = new_figure(2, width=5.2, height=3.5)
    steps_per_epoch = math.ceil(len(digits(seed=0).x_train) / 64)
    for scheme, h in runs.items():
        loss = np.convolve(h.step_loss, np.ones(10) / 10, mode="valid") if len(h.step_loss) >= 10 else h.step_loss
        axes[0].plot(np.arange(len(loss)) / steps_per_epoch, loss, color=COLORS[scheme], label=scheme)
        axes[1].plot(np.arange(1, len(h.val_acc) + 1), h.val_acc, "o-", ms=3, color=COLORS[scheme], label=scheme)
    axes[0].set(xlabel="epoch", ylabel="training loss (running mean of 10 steps)", ylim=(0, 2.6))
    axes[1].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
    fig.suptitle(f"{depth} hidden {activation} layers of 128 units, SGD lr {lr} momentum 0.9", fontsize=10)
    return _finish(fig)


def make_comparison_panel(depth: int = 10, activation: str = "relu", epochs: int = 8, lr: float = 0.01) -> Panel:
    controls = {"depth": W.IntSlider(value=depth, min=1, max=30, description="depth"),
                "activation": W.Dropdown(options=["relu", "tanh"], value=activation, description="activation"),
                "epochs": W.IntSlider(value=epochs, min=2, max=20, description="epochs"),
                "lr": W.Dropdown(options=[0.005, 0.01, 0.02, 0.05, 0.1], value=lr, description="learning rate")}
    return Panel(draw_init_comparison, controls, run_button=True, title="Training from each initialization")
