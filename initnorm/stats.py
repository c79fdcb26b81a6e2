"""Per-layer statistics of a network, recorded with forward and backward hooks.

    with StatsRecorder(model) as rec:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    rec.stats  # one LayerStats per recorded layer, in forward order
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .models import ACTIVATIONS

_ACTIVATION_TYPES = tuple({type(f()) for f in ACTIVATIONS.values()} - {nn.Identity})


@dataclass
class LayerStats:
    """What one layer's output looked like on one batch.

    - mean, std: of the layer's output over the batch and all units.
    - saturated: fraction of outputs in the flat tails (|tanh| > 0.97; sigmoid < 0.03 or > 0.97); 0 otherwise.
    - dead: fraction of units that output exactly zero for every sample of the batch (ReLU units that are off).
    - grad_std: std of the loss gradient with respect to the layer's output (NaN before backward).
    - values: a sample of at most `keep` output values, for histograms.
    """

    name: str
    kind: str
    mean: float
    std: float
    saturated: float
    dead: float
    grad_std: float = float("nan")
    values: torch.Tensor = field(default_factory=lambda: torch.empty(0), repr=False)
    grads: torch.Tensor = field(default_factory=lambda: torch.empty(0), repr=False)


def _saturation(module: nn.Module, out: torch.Tensor) -> float:
    if isinstance(module, nn.Tanh):
        return (out.abs() > 0.97).float().mean().item()
    if isinstance(module, nn.Sigmoid):
        return ((out < 0.03) | (out > 0.97)).float().mean().item()
    return 0.0


def _dead(out: torch.Tensor) -> float:
    flat = out.reshape(out.shape[0], out.shape[1], -1) if out.dim() > 2 else out.unsqueeze(-1)
    return (flat == 0).all(dim=0).all(dim=-1).float().mean().item()


class StatsRecorder:
    """Context manager that hooks the activation modules of `model` (or those of the given types) and
    records a LayerStats per hooked module on the next forward (and backward) pass.

    Hooks are removed on exit. `keep` bounds how many values per layer are kept for histograms.
    """

    def __init__(self, model: nn.Module, types: tuple[type, ...] = _ACTIVATION_TYPES, keep: int = 4096):
        self.modules = [(name, m) for name, m in model.named_modules() if isinstance(m, types)]
        if not self.modules:
            raise ValueError(f"model has no module of types {[t.__name__ for t in types]} to record")
        self.keep = keep
        self._by_module: dict[nn.Module, LayerStats] = {}
        self._handles: list = []

    def __enter__(self) -> "StatsRecorder":
        for name, m in self.modules:
            self._handles.append(m.register_forward_hook(self._on_forward(name)))
            self._handles.append(m.register_full_backward_hook(self._on_backward))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _on_forward(self, name: str):
        def hook(module, inputs, out):
            out = out.detach()
            self._by_module[module] = LayerStats(
                name=name, kind=type(module).__name__, mean=out.mean().item(), std=out.std().item(),
                saturated=_saturation(module, out), dead=_dead(out), values=out.flatten()[: self.keep].clone())
        return hook

    def _on_backward(self, module, grad_input, grad_output):
        g = grad_output[0].detach()
        st = self._by_module[module]
        st.grad_std = g.std().item()
        st.grads = g.flatten()[: self.keep].clone()

    @property
    def stats(self) -> list[LayerStats]:
        return [self._by_module[m] for _, m in self.modules if m in self._by_module]


def layer_stats(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, keep: int = 4096,
                types: tuple[type, ...] = _ACTIVATION_TYPES) -> list[LayerStats]:
    """One forward pass (and, if labels y are given, a cross-entropy backward pass) with a StatsRecorder."""
    model.zero_grad(set_to_none=True)
    with StatsRecorder(model, types=types, keep=keep) as rec:
        out = model(x)
        if y is not None:
            torch.nn.functional.cross_entropy(out, y).backward()
    return rec.stats


def update_to_data(model: nn.Module, lr: float) -> list[float]:
    """log10 of std(lr * grad) / std(weight) for every weight matrix (dim >= 2) that has a gradient.

    Karpathy's rule of thumb: around -3 is healthy; much lower learns slowly, much higher is unstable.
    """
    ratios = []
    for p in model.parameters():
        if p.dim() >= 2 and p.grad is not None:
            ratio = (lr * p.grad).std() / (p.data.std() + 1e-12)
            ratios.append(torch.log10(ratio + 1e-12).item())
    return ratios
