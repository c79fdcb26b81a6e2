"""Model builders: MLPs, a small CNN and a residual MLP with a chosen depth, width, activation,
initialization scheme and normalization layer."""
from __future__ import annotations

import math

import torch
from torch import nn

LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default: "leaky_relu" means this slope everywhere in the course
PRELU_INIT = 0.25   # nn.PReLU's initial slope (it learns it)

# the one table of activations: name -> a module factory (a module is also a function of a tensor)
ACTIVATIONS = {
    "linear": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE),
    "prelu": lambda: nn.PReLU(init=PRELU_INIT),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation_module(name: str) -> nn.Module:
    """A fresh module of the activation `name` (one of ACTIVATIONS)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


@torch.no_grad()
def gaussian_second_moment(name: str, n: int = 200_001) -> float:
    """E[f(z)^2] for z ~ N(0, 1), by the trapezoid rule on [-12, 12] in float64."""
    z = torch.linspace(-12.0, 12.0, n, dtype=torch.float64)
    density = torch.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi)
    return torch.trapezoid(activation_module(name).double()(z) ** 2 * density, z).item()


# gain g such that Var[w] = g^2 / fan keeps the signal's scale through the activation. Where
# torch.nn.init.calculate_gain defines one, its value (linear 1, ReLU sqrt 2, leaky ReLU sqrt(2/(1+a^2)), tanh 5/3,
# sigmoid 1, SELU 3/4); PyTorch has none for PReLU, ELU, GELU and SiLU: for those 1/sqrt(E[f(z)^2]), the factor
# that brings a unit-variance Gaussian back to unit second moment (for PReLU's initial slope that is the leaky
# ReLU formula; ELU about 1.245, GELU 1.534, SiLU 1.677).
GAINS = {name: nn.init.calculate_gain(name, LEAKY_SLOPE if name == "leaky_relu" else None)
         for name in ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu")}
GAINS.update({name: 1 / math.sqrt(gaussian_second_moment(name)) for name in ("prelu", "elu", "gelu", "swish")})

INIT_SCHEMES = ("zeros", "constant", "small", "lecun", "xavier", "xavier_uniform", "he", "he_uniform",
                "orthogonal", "default")


def weight_std(scheme: str, fan_in: int, fan_out: int, activation: str = "relu") -> float:
    """Standard deviation of the weights that `scheme` draws for a layer with these fans.

    'xavier' is Glorot's 2/(fan_in+fan_out) and 'he' is Kaiming's 2/fan_in whatever the activation;
    'lecun' is 1/fan_in; 'small' is the fixed 0.01; 'orthogonal' uses the activation's gain over sqrt(fan_in).
    """
    if scheme in ("xavier", "xavier_uniform"):
        return math.sqrt(2.0 / (fan_in + fan_out))
    if scheme in ("he", "he_uniform"):
        return math.sqrt(2.0 / fan_in)
    if scheme == "lecun":
        return math.sqrt(1.0 / fan_in)
    if scheme == "small":
        return 0.01
    if scheme == "orthogonal":
        return GAINS[activation] / math.sqrt(fan_in)
    raise ValueError(f"no single std for init scheme {scheme!r}")


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    receptive = int(math.prod(weight.shape[2:])) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def init_weights_(model: nn.Module, scheme: str, scale: float = 1.0, activation: str = "relu",
                  constant: float = 0.5, generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialize every Linear and Conv layer of `model` in place; biases are set to zero.

    scheme: one of INIT_SCHEMES. 'default' keeps PyTorch's own initialization (and its biases).
    scale: multiplies the standard deviation (or the constant) the scheme would use.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
    if scheme == "default":
        return model
    for m in model.modules():
        if not isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            continue
        w = m.weight
        fan_in, fan_out = _fans(w)
        if scheme == "zeros":
            w.zero_()
        elif scheme == "constant":
            w.fill_(constant * scale)
        elif scheme == "orthogonal":
            flat = torch.empty(w.shape[0], fan_in)
            nn.init.orthogonal_(flat, generator=generator)
            w.copy_(flat.view_as(w) * GAINS[activation] * scale)
        elif scheme.endswith("uniform"):
            bound = math.sqrt(3.0) * weight_std(scheme, fan_in, fan_out) * scale
            w.uniform_(-bound, bound, generator=generator)
        else:
            w.normal_(0.0, weight_std(scheme, fan_in, fan_out) * scale, generator=generator)
        if m.bias is not None:
            m.bias.zero_()
    return model


def _norm_layer(norm: str, width: int, conv: bool = False) -> nn.Module | None:
    if norm == "none":
        return None
    if norm == "batch":
        return nn.BatchNorm2d(width) if conv else nn.BatchNorm1d(width)
    if norm == "layer":
        return nn.GroupNorm(1, width) if conv else nn.LayerNorm(width)
    if norm == "group" and conv:
        return nn.GroupNorm(min(4, width), width)
    raise ValueError(f"unknown norm {norm!r}; choose none, batch, layer" + (" or group" if conv else ""))


def mlp(in_dim: int, out_dim: int, depth: int, width: int, activation: str = "relu", init: str = "he",
        norm: str = "none", scale: float = 1.0, dropout: float = 0.0, seed: int = 0) -> nn.Sequential:
    """A plain MLP with `depth` hidden layers: [Linear -> (norm) -> activation -> (dropout)] * depth -> Linear.

    The norm layer sits between the linear layer and the activation. Every Linear is initialized with `init`
    (see init_weights_) from a generator seeded with `seed`.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be at least 1, got depth={depth}, width={width}")
    torch.manual_seed(seed)  # PyTorch's own default init (and PReLU) draw from the global generator
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(d, width))
        norm_layer = _norm_layer(norm, width)
        if norm_layer is not None:
            layers.append(norm_layer)
        layers.append(activation_module(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        d = width
    layers.append(nn.Linear(d, out_dim))
    model = nn.Sequential(*layers)
    return init_weights_(model, init, scale=scale, activation=activation,
                         generator=torch.Generator().manual_seed(seed))


def cnn(in_channels: int = 1, n_classes: int = 10, depth: int = 3, channels: int = 16, activation: str = "relu",
        init: str = "he", norm: str = "none", seed: int = 0) -> nn.Sequential:
    """A small CNN for 8x8 images: `depth` 3x3 conv blocks (conv -> norm -> activation), global average
    pooling, then a linear classifier."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    c = in_channels
    for _ in range(depth):
        layers.append(nn.Conv2d(c, channels, 3, padding=1))
        norm_layer = _norm_layer(norm, channels, conv=True)
        if norm_layer is not None:
            layers.append(norm_layer)
        layers.append(activation_module(activation))
        c = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)]
    model = nn.Sequential(*layers)
    return init_weights_(model, init, activation=activation, generator=torch.Generator().manual_seed(seed))


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(Linear(x))), optionally with the branch's last layer zero-initialized (Fixup)."""

    def __init__(self, width: int):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(width, width)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


def residual_mlp(in_dim: int, out_dim: int, blocks: int, width: int, fixup: bool = False,
                 seed: int = 0) -> nn.Sequential:
    """Linear stem -> `blocks` residual blocks -> Linear head, all He-initialized.

    With fixup=True the last layer of every residual branch (and the head) starts at zero, so every block
    starts as the identity and the output variance no longer grows with depth.
    """
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(in_dim, width), *[ResidualBlock(width) for _ in range(blocks)],
                          nn.Linear(width, out_dim))
    init_weights_(model, "he", generator=torch.Generator().manual_seed(seed))
    if fixup:
        with torch.no_grad():
            for block in model:
                if isinstance(block, ResidualBlock):
                    block.fc2.weight.zero_()
            model[-1].weight.zero_()
    return model


def linear_layers(model: nn.Module) -> list[nn.Module]:
    """The Linear and Conv layers of a model, in registration (= forward, for Sequential) order."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
