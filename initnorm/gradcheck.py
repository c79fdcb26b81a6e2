"""The course's one relative-error function and one numeric gradient checker."""
from __future__ import annotations

from typing import Callable

import numpy as np


def rel_error(x, y) -> float:
    """max |x - y| / max(1e-8, |x| + |y|), elementwise; 0 for identical arrays."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error got shapes {x.shape} and {y.shape}; they must match")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))) if x.size else 0.0


def numeric_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                     h: float = 1e-5) -> np.ndarray:
    """Centred finite-difference gradient of sum(f(x) * dout) with respect to x.

    f is evaluated on perturbed copies; x itself is restored. Use a random dout, never all ones:
    a sum hides gradients that cancel across the output.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.sum(f(x) * dout)
        x[i] = old - h
        minus = np.sum(f(x) * dout)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad
