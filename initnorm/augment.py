"""Image augmentations for small grey-scale batches, written with plain torch ops.

Every function takes a batch x of shape (N, C, H, W) with pixel values in [0, 1] (digits loaded with
standardize=False) and returns a new tensor of the same shape and range; the input is never modified.
Random functions take an explicit torch.Generator, so a seed fixes every draw.

    gen = torch.Generator().manual_seed(0)
    x_aug = random_shift(x, gen, max_shift=1)

AUGMENTATIONS maps a short name to a function (x, generator) -> x with this course's default strengths;
LABEL_SAFE says whether the transform keeps the label of a digit.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F


def _check(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected a batch of images (N, C, H, W), got shape {tuple(x.shape)}")


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def hflip(x: torch.Tensor, gen: torch.Generator, prob: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability `prob` (label-safe for cats, not for most digits)."""
    _check(x)
    flip = torch.rand(len(x), generator=gen) < prob  # (N,)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Translate image i by (dy[i], dx[i]) whole pixels (down and right are positive); the pixels
    that enter the frame are 0. This is a crop of a zero-padded image."""
    _check(x)
    n, _, h, w = x.shape
    s = int(max(dy.abs().max().item(), dx.abs().max().item(), 0)) if n else 0
    padded = F.pad(x, (s, s, s, s))  # (N, C, H + 2s, W + 2s)
    out = torch.empty_like(x)
    for oy in range(-s, s + 1):
        for ox in range(-s, s + 1):
            pick = (dy == oy) & (dx == ox)
            if pick.any():
                out[pick] = padded[pick, :, s - oy:s - oy + h, s - ox:s - ox + w]
    return out


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Random translation by up to `max_shift` pixels in each direction (a random crop with padding)."""
    dy = torch.randint(-max_shift, max_shift + 1, (len(x),), generator=gen)
    dx = torch.randint(-max_shift, max_shift + 1, (len(x),), generator=gen)
    return shift(x, dy, dx)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate image i by degrees[i] (counter-clockwise on screen) about its centre, bilinear
    interpolation, zeros outside the frame. Outputs are convex combinations of pixels and 0, so the
    range [0, 1] is kept."""
    _check(x)
    theta = torch.deg2rad(degrees.to(x.dtype))  # (N,)
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    # affine_grid maps output coordinates to input coordinates: the inverse rotation
    mats = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(mats, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_rotate(x: torch.Tensor, gen: torch.Generator, max_degrees: float = 15.0) -> torch.Tensor:
    """Rotation by an angle drawn uniformly from [-max_degrees, max_degrees] per image."""
    return rotate(x, _uniform(len(x), -max_degrees, max_degrees, gen))


def intensity_jitter(x: torch.Tensor, gen: torch.Generator, brightness: float = 0.2,
                     contrast: float = 0.4) -> torch.Tensor:
    """The grey-scale version of colour jitter: per image, scale the contrast around the image mean by
    c ~ U(1 - contrast, 1 + contrast), add b ~ U(-brightness, brightness), clip to [0, 1]."""
    _check(x)
    n = len(x)
    c = _uniform(n, 1 - contrast, 1 + contrast, gen)[:, None, None, None]
    b = _uniform(n, -brightness, brightness, gen)[:, None, None, None]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * c + mean + b).clamp(0.0, 1.0)


def _box_mask(h: int, w: int, top: torch.Tensor, left: torch.Tensor, bh: torch.Tensor,
              bw: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) boolean mask, True inside the box [top, top + bh) x [left, left + bw) of each image."""
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + bh)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + bw)[:, None, None]))
    return inside[:, None]


def cutout(x: torch.Tensor, gen: torch.Generator, size: int = 3) -> torch.Tensor:
    """Set a size x size square to 0 (the background) at a random centre; the square is clipped at the
    border, so near an edge less than size^2 pixels are hidden (as in DeVries & Taylor's Cutout)."""
    _check(x)
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n,), generator=gen)
    cx = torch.randint(0, w, (n,), generator=gen)
    top, left = cy - size // 2, cx - size // 2
    mask = _box_mask(h, w, top, left, torch.full((n,), size), torch.full((n,), size))
    return x.masked_fill(mask, 0.0)


def random_erasing(x: torch.Tensor, gen: torch.Generator, prob: float = 0.5, area=(0.05, 0.25),
                   aspect=(0.5, 2.0)) -> torch.Tensor:
    """With probability `prob`, replace a random rectangle (a fraction `area` of the image, aspect
    ratio h/w in `aspect`, drawn log-uniformly) by uniform noise in [0, 1] (Zhong et al.)."""
    _check(x)
    n, c, h, w = x.shape
    frac = _uniform(n, area[0], area[1], gen)
    ratio = torch.exp(_uniform(n, math.log(aspect[0]), math.log(aspect[1]), gen))
    bh = torch.sqrt(frac * h * w * ratio).round().clamp(1, h).long()
    bw = torch.sqrt(frac * h * w / ratio).round().clamp(1, w).long()
    top = (torch.rand(n, generator=gen) * (h - bh + 1)).floor().long()
    left = (torch.rand(n, generator=gen) * (w - bw + 1)).floor().long()
    apply = torch.rand(n, generator=gen) < prob
    mask = _box_mask(h, w, top, left, bh, bw) & apply[:, None, None, None]
    noise = torch.rand(x.shape, generator=gen)
    return torch.where(mask, noise, x)


def compose(*fns: Callable) -> Callable:
    """Apply the augmentations one after the other, each with the same generator."""
    def composed(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        for f in fns:
            x = f(x, gen)
        return x
    return composed


AUGMENTATIONS: dict[str, Callable] = {
    "none": lambda x, gen: x.clone(),
    "hflip": hflip,
    "shift": random_shift,
    "rotate": random_rotate,
    "jitter": intensity_jitter,
    "cutout": cutout,
    "erasing": random_erasing,
}
AUGMENTATIONS["shift+rotate"] = compose(random_shift, random_rotate)

LABEL_SAFE = {"none": True, "hflip": False, "shift": True, "rotate": True, "jitter": True, "cutout": True,
              "erasing": True, "shift+rotate": True}
