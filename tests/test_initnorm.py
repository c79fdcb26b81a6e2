"""Unit tests of the helper package's shared modules (each lecture's module has its own test file)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from tests import claims_initnorm as claims
import initnorm as inn
from tests.claims_initnorm import SEED_CLAIMS  # noqa: F401  (tests/test_seeds.py runs them with other seeds)
from initnorm import models, widgets


# ---------- data
def test_digits_split_is_disjoint_deterministic_and_standardized_with_train_statistics():
    a, b = inn.digits(seed=3), inn.digits(seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert len(a.x_train) + len(a.x_val) == 1797 and a.x_train.shape[1] == 64 and a.n_classes == 10
    m = a.x_train.mean(0)
    assert m.abs().max() < 1e-4
    raw_std = inn.digits(seed=3, standardize=False).x_train.std(0, unbiased=False) * 16.0  # pixel units 0..16
    expected = raw_std / (raw_std + 1e-3)  # std + 1e-3 keeps the always-zero border pixels finite
    assert torch.allclose(a.x_train.std(0, unbiased=False), expected, atol=1e-3)
    floored = inn.digits(seed=3, std_floor=inn.data.STD_FLOOR)  # floored at one ink level
    assert torch.allclose(floored.x_train.std(0, unbiased=False), raw_std / raw_std.clamp(min=1.0), atol=1e-4)
    assert floored.x_val.abs().max() < 16 < a.x_val.abs().max()  # no validation pixel explodes (87.6 without)
    assert a.x_val.mean(0).abs().max() > 1e-3  # the validation set is not re-standardized on itself
    raw = inn.digits(seed=3, standardize=False)
    assert 0.0 <= raw.x_train.min() and raw.x_train.max() <= 1.0
    assert not torch.equal(inn.digits(seed=4).y_train, a.y_train)


def test_digits_subset_and_image_shape_and_bad_fraction():
    d = inn.digits(n_train=100, images=True)
    assert d.x_train.shape == (100, 1, 8, 8) and d.x_val.shape[1:] == (1, 8, 8)
    with pytest.raises(ValueError, match="val_fraction"):
        inn.digits(val_fraction=1.5)


# ---------- init schemes and builders
@pytest.mark.parametrize("scheme,expected", [("he", lambda i, o: 2 / i), ("xavier", lambda i, o: 2 / (i + o)),
                                             ("lecun", lambda i, o: 1 / i), ("small", lambda i, o: 1e-4)])
def test_init_scheme_variances_match_their_formulas(scheme, expected):
    layer = nn.Linear(300, 700)  # fan_in 300, fan_out 700: the three schemes differ by > 2x
    models.init_weights_(layer, scheme, generator=torch.Generator().manual_seed(0))
    n = layer.weight.numel()
    var = layer.weight.var().item()
    # the sample variance of n normal draws has relative std sqrt(2/n); allow 6 of them (claims.init_variances)
    assert abs(var / expected(300, 700) - 1) < 6 * math.sqrt(2 / n)
    assert torch.all(layer.bias == 0)


def test_init_variances_hold_for_other_seeds():
    claims.init_variances(0)


def test_uniform_schemes_respect_their_bounds_and_conv_fans_include_the_kernel():
    conv = nn.Conv2d(16, 32, kernel_size=3)
    models.init_weights_(conv, "he_uniform", generator=torch.Generator().manual_seed(0))
    bound = math.sqrt(6 / (16 * 9))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.95 * bound
    lin = nn.Linear(50, 20)
    models.init_weights_(lin, "xavier_uniform")
    assert lin.weight.abs().max() <= math.sqrt(6 / 70)


def test_zero_constant_orthogonal_and_unknown_schemes():
    net = inn.mlp(4, 3, depth=2, width=5, init="constant")
    assert all(torch.all(m.weight == 0.5) for m in models.linear_layers(net))
    net = inn.mlp(4, 3, depth=2, width=5, init="zeros")
    assert all(torch.all(m.weight == 0) for m in models.linear_layers(net))
    sq = nn.Linear(64, 64)
    models.init_weights_(sq, "orthogonal", activation="linear")
    assert torch.allclose(sq.weight @ sq.weight.T, torch.eye(64), atol=1e-5)
    with pytest.raises(ValueError, match="unknown init scheme"):
        inn.mlp(4, 3, 2, 5, init="glorot")
    with pytest.raises(ValueError, match="unknown activation"):
        inn.mlp(4, 3, 2, 5, activation="rectifier")


def test_mlp_layout_puts_the_norm_between_linear_and_activation():
    net = inn.mlp(64, 10, depth=3, width=32, activation="tanh", norm="batch", dropout=0.1)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 3 + ["Linear"]
    assert net(torch.randn(5, 64)).shape == (5, 10)
    assert inn.cnn(depth=2, channels=8, norm="group")(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_same_seed_same_model_and_fixup_blocks_start_as_identity():
    a, b = inn.mlp(8, 2, 2, 16, seed=5), inn.mlp(8, 2, 2, 16, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    res = inn.residual_mlp(8, 2, blocks=4, width=16, fixup=True)
    x = torch.randn(10, 16)
    for block in res[1:-1]:
        assert torch.equal(block(x), x)
    claims.residual_variance_growth(0)  # the variance roughly doubles per block: 2^8 = 256


# ---------- statistics recorder
def test_recorder_matches_hand_computed_statistics_and_gradients():
    torch.manual_seed(0)
    lin = nn.Linear(6, 4)
    with torch.no_grad():
        lin.bias.copy_(torch.tensor([0.0, 0.0, -100.0, 0.0]))  # unit 2 is always off: dead
    net = nn.Sequential(lin, nn.ReLU(), nn.Linear(4, 3), nn.Tanh())
    x = torch.randn(32, 6)
    y = torch.randint(0, 3, (32,))
    stats = inn.layer_stats(net, x, y)
    assert [s.kind for s in stats] == ["ReLU", "Tanh"]
    h = torch.relu(lin(x))
    assert math.isclose(stats[0].mean, h.mean().item(), rel_tol=1e-5)
    assert math.isclose(stats[0].std, h.std().item(), rel_tol=1e-5)
    assert stats[0].dead == pytest.approx(0.25)  # one unit of four
    # the gradient with respect to the ReLU output, by autograd
    h_leaf = h.detach().requires_grad_()
    out = torch.tanh(net[2](h_leaf))
    nn.functional.cross_entropy(out, y).backward()
    assert math.isclose(stats[0].grad_std, h_leaf.grad.std().item(), rel_tol=1e-5)
    assert all(len(m._forward_hooks) == 0 and len(m._backward_hooks) == 0 for m in net)


def test_saturation_of_tanh_and_sigmoid():
    claims.saturation(0)  # large weights saturate tanh and sigmoid, tiny inputs none
    calm = inn.layer_stats(nn.Sequential(nn.Linear(3, 50), nn.Tanh()), 0.01 * torch.randn(64, 3))
    assert math.isnan(calm[0].grad_std)  # no targets: no gradient statistics


def test_recorder_rejects_a_model_without_recordable_layers():
    with pytest.raises(ValueError, match="no module"):
        inn.StatsRecorder(nn.Sequential(nn.Linear(2, 2)))


def test_update_to_data_ratio_is_log10_of_the_step_over_the_weights():
    lin = nn.Linear(10, 10)
    lin.weight.grad = torch.full_like(lin.weight, 0.0)
    lin.weight.grad[0, 0] = 1.0
    lin.bias.grad = torch.ones(10)
    ratios = inn.update_to_data(lin, lr=0.1)
    expected = math.log10((0.1 * lin.weight.grad).std().item() / lin.weight.data.std().item())
    assert len(ratios) == 1 and ratios[0] == pytest.approx(expected, abs=1e-6)


# ---------- training
def test_training_learns_blobs_and_reports_divergence():
    data = inn.gaussian_blobs(n=400, seed=1, spread=0.5)
    hist = inn.train(inn.mlp(2, 3, 2, 32, seed=0), data, epochs=5, lr=0.05)
    assert len(hist.train_loss) == len(hist.val_acc) == 5 and not hist.diverged
    claims.training_learns_blobs(0)  # it learns the blobs; lr 10 on a 30x-scaled net diverges
    with pytest.raises(ValueError, match="optimizer"):
        inn.train(inn.mlp(2, 3, 1, 4), data, optimizer="lbfgs")


def test_evaluate_restores_the_training_mode():
    net = inn.mlp(2, 3, 1, 4, norm="batch")
    net.train()
    data = inn.gaussian_blobs(n=40)
    inn.evaluate(net, data.x_val, data.y_val)
    assert net.training


# ---------- gradient checking
def test_numeric_gradient_against_an_analytic_one_with_a_random_upstream_gradient():
    rng = np.random.default_rng(0)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    num = inn.numeric_gradient(lambda z: np.sin(z) * z, x.copy(), dout)
    assert inn.rel_error(num, (np.cos(x) * x + np.sin(x)) * dout) < 1e-7
    assert inn.rel_error(x, x) == 0.0 and inn.rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    with pytest.raises(ValueError, match="shapes"):
        inn.rel_error(np.zeros(2), np.zeros(3))


# ---------- widget panels
def _line_panel(run_button=False):
    import ipywidgets as W
    from initnorm.plots import new_figure
    calls = []

    def draw(slope, label, progress=None):
        calls.append((slope, label, progress))
        if progress:
            progress(1.0)
        fig, (ax,) = new_figure()
        ax.plot([0, 1], [0, slope], label=label)
        return fig

    panel = widgets.Panel(draw, {"slope": W.FloatSlider(value=1.0, min=-2, max=2), "label": W.Text("a")},
                          run_button=run_button, title="line")
    return panel, calls


def test_panel_redraws_on_control_change_and_update_returns_the_figure():
    panel, calls = _line_panel()
    fig = panel.update(slope=2.0)
    assert fig.axes[0].lines[0].get_ydata()[1] == 2.0 and calls[-1][:2] == (2.0, "a")
    panel.controls["slope"].value = -1.0  # what moving the slider does
    assert calls[-1][0] == -1.0 and panel.n_draws == 2
    assert panel.last_figure.axes[0].lines[0].get_ydata()[1] == -1.0
    with pytest.raises(ValueError, match="unknown control"):
        panel.update(slop=1)


def test_sliders_redraw_when_released_not_at_every_value_they_pass():
    panel, calls = _line_panel()
    assert panel.controls["slope"].continuous_update is False
    panel.controls["slope"].value = 0.5  # the release
    assert calls[-1][0] == 0.5


def test_run_button_panel_waits_for_the_button_and_moves_the_progress_bar():
    panel, calls = _line_panel(run_button=True)
    panel.controls["slope"].value = 0.5
    assert calls == []  # no training on every slider move
    panel.button.click()
    assert calls[-1][0] == 0.5 and panel.progress.value == 1.0


def test_panel_saves_figures_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("INITNORM_FIGDIR", str(tmp_path))
    panel, _ = _line_panel()
    panel.update(slope=0.25)
    saved = list(tmp_path.glob("*.png"))
    assert len(saved) == 1 and saved[0].stat().st_size > 1000 and "slope-0.25" in saved[0].name


def test_no_module_of_the_package_makes_a_lecture_panel():
    """Widgets are functions defined in their lecture (each lecture's test module checks its panels with
    tests/panels.py); the package only wires and draws, so no initnorm module has a `make_*_panel` factory."""
    import importlib
    import pkgutil

    found = [f"initnorm.{info.name}.{name}" for info in pkgutil.iter_modules(inn.__path__)
             for name in vars(importlib.import_module(f"initnorm.{info.name}"))
             if name.startswith("make_") and name.endswith("_panel")]
    assert not found, f"panel factories in the package (define them in the lecture): {found}"


def test_new_figure_reuses_only_a_figure_of_the_same_grid_and_size():
    from initnorm.plots import new_figure

    fig, (ax1, ax2) = new_figure(2, width=3, height=2)
    ax1.plot([0, 1], [1, 0], label="a")
    ax1.legend()
    ax1.set_title("old")
    ax1.set_ylim(5, 6)
    again, axes = new_figure(2, width=3, height=2, reuse=fig)
    assert again is fig and list(axes) == [ax1, ax2]
    assert not ax1.lines and ax1.get_legend() is None and ax1.get_title() == "" and ax1.get_autoscaley_on()
    assert new_figure(3, width=3, height=2, reuse=fig)[0] is not fig
    assert new_figure(2, width=4, height=2, reuse=fig)[0] is not fig
