"""Lecture 2 (normalization): the panels redraw, and what they show agrees with independent references
(torch.nn.functional, torch.linalg, scikit-learn, gradient descent written here)."""
import io
import math
import re

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.preprocessing import StandardScaler
from torch import nn

from tests import claims_normalization as claims
import initnorm as inn
from tests.claims_normalization import SEED_CLAIMS  # noqa: F401  (tests/test_seeds.py runs them with other seeds)
from initnorm import normalization as nrm


def pixels(fig) -> np.ndarray:
    """The figure rendered to raw RGBA bytes (works for closed figures too)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=40)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def differ(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or not np.array_equal(a, b)


def all_text(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


# ---------------------------------------------------------------------------------------------------------
# 1. conditioning
# ---------------------------------------------------------------------------------------------------------

def reference_descent(X, y, lr_factor, steps, tol=1e-6):
    """Gradient descent from 0 on 1/(2n)||Xw - y||^2 with autograd gradients; returns (steps to reach
    tol * initial gap or None, kappa)."""
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    loss_star = 0.5 * np.mean((X @ w_star - y) ** 2)
    eig = np.linalg.eigvalsh(X.T @ X / len(X))
    lr = lr_factor / eig[-1]
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    gap0 = None
    for k in range(steps + 1):
        loss = 0.5 * ((Xt @ w - yt) ** 2).mean()
        gap = loss.item() - loss_star
        gap0 = gap if gap0 is None else gap0
        if k and gap <= tol * gap0:
            return k, eig[-1] / eig[0]
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad = None
    return None, eig[-1] / eig[0]


def test_conditioning_panel_matches_independent_gradient_descent():
    panel = nrm.make_conditioning_panel()
    settings = dict(scale_ratio=10.0, offset=1.0, lr_factor=1.0, steps=600)
    raw_fig = panel.update(standardize=False, **settings)
    raw_px, raw_title = pixels(raw_fig), raw_fig.axes[0].get_title()  # the panel redraws into this figure
    std_fig = panel.update(standardize=True)
    assert differ(raw_px, pixels(std_fig)), "toggling standardize did not change the figure"
    std_title = std_fig.axes[0].get_title()

    X, y = nrm.regression_data(10.0, 1.0)
    assert X[:, 1].std() / X[:, 0].std() == pytest.approx(10.0, rel=0.2)
    n_raw, kappa_raw = reference_descent(X, y, 1.0, 600)
    Z = StandardScaler().fit_transform(X)
    n_std, kappa_std = reference_descent(Z, y - y.mean(), 1.0, 600)
    assert n_raw is not None and n_std is not None
    assert n_std < n_raw / 10, (n_std, n_raw)
    assert kappa_raw > 20 * kappa_std

    # the panel reports the same step counts and condition numbers as the reference
    assert f"converged in {n_raw} steps" in raw_title
    assert f"kappa = {kappa_raw:.3g}" in raw_title
    assert f"converged in {n_std} steps" in std_title
    assert f"kappa = {kappa_std:.3g}" in std_title

    # the minimum the contours are centred on is the least-squares solution
    q = nrm.quadratic_problem(10.0, 1.0, standardize=False)
    np.testing.assert_allclose(q.w_star, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-8)


def test_conditioning_stability_limit_is_two_over_lambda_max():
    panel = nrm.make_conditioning_panel()
    stable = panel.update(scale_ratio=3.0, offset=0.0, standardize=False, lr_factor=1.9, steps=3000)
    stable_px, stable_title = pixels(stable), stable.axes[0].get_title()  # the panel redraws into this figure
    unstable = panel.update(lr_factor=2.1)
    assert differ(stable_px, pixels(unstable))
    assert "diverged" not in stable_title
    assert "diverged" in unstable.axes[0].get_title()
    X, y = nrm.regression_data(3.0, 0.0)
    assert f"converged in {reference_descent(X, y, 1.9, 3000)[0]} steps" in stable_title


# ---------------------------------------------------------------------------------------------------------
# 2. internal covariate shift
# ---------------------------------------------------------------------------------------------------------

def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(3)
    mu_p, mu_q = torch.randn(20, generator=g), torch.randn(20, generator=g)
    sd_p, sd_q = torch.rand(20, generator=g) + 0.2, torch.rand(20, generator=g) + 0.2
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu_p, sd_p),
                                            torch.distributions.Normal(mu_q, sd_q)).mean().item()
    assert nrm.gaussian_kl(mu_p, sd_p, mu_q, sd_q) == pytest.approx(ref, rel=1e-5)


def test_frozen_running_stats_keeps_running_averages():
    bn = nn.BatchNorm1d(5)
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(0)) * 3 + 2
    with nrm.frozen_running_stats(bn):
        y = bn.train()(x)
    assert torch.equal(bn.running_mean, torch.zeros(5)) and torch.equal(bn.running_var, torch.ones(5))
    assert bn.momentum == 0.1
    assert torch.allclose(y, F.batch_norm(x, None, None, training=True), atol=1e-6)  # still batch statistics
    bn(x)
    assert not torch.equal(bn.running_mean, torch.zeros(5)), "momentum was not restored"


def test_covariate_shift_ordering():
    runs = {v: nrm.covariate_shift(v, steps=120) for v in nrm.ICS_VARIANTS}
    assert all(len(r.kl) == 120 and len(r.loss) == 120 for r in runs.values())
    # BN fixes the input distribution of the next layer; the injected noise makes it jump (margins measured over seeds)
    claims.covariate_shift_kl(0)
    assert nrm.covariate_shift("plain", steps=120) is runs["plain"]  # cached


def test_draw_covariate_shift_shows_the_runs():
    fig = nrm.draw_covariate_shift()
    runs = {v: nrm.covariate_shift(v) for v in nrm.ICS_VARIANTS}
    text = all_text(fig)
    for v, r in runs.items():
        assert f"{v}: val acc {r.val_acc:.2f}" in text
    # Santurkar et al.: shifting the distribution after BN does not undo BN's benefit at this learning rate
    claims.covariate_shift_val_acc(0)


# ---------------------------------------------------------------------------------------------------------
# 3. train vs eval mode
# ---------------------------------------------------------------------------------------------------------

def test_running_stats_trace():
    t = nrm.running_stats_trace()
    assert t.running_mean[0] == pytest.approx(0.1 * t.batch_mean[0])  # PyTorch momentum 0.1, from 0
    assert t.running_mean[1] == pytest.approx(0.9 * 0.1 * t.batch_mean[0] + 0.1 * t.batch_mean[1])
    claims.running_stats_eval_mode(0)  # two-sample batch statistics are poor
    fig = nrm.draw_running_stats()
    assert f"({t.acc_eval_mode:.3f})" in all_text(fig)


# ---------------------------------------------------------------------------------------------------------
# 4. what BatchNorm buys (run-button panel with a cache)
# ---------------------------------------------------------------------------------------------------------

def test_bn_training_panel_caches_and_shows_the_sweep():
    nrm.train_sweep.cache_clear()
    panel = nrm.make_bn_training_panel()
    assert panel.run_button
    first = panel.update(lr=0.1, batch_size=256, epochs=2)
    first_px = pixels(first)
    assert panel.progress.value == 1.0
    misses = nrm.train_sweep.cache_info().misses
    assert misses == 2  # one sweep over all learning rates per normalization
    second = panel.update(lr=1.0, batch_size=32)
    assert differ(first_px, pixels(second))
    misses = nrm.train_sweep.cache_info().misses
    back = panel.update(lr=0.1, batch_size=256)
    assert nrm.train_sweep.cache_info().misses == misses, "moving back retrained instead of using the cache"
    assert not differ(first_px, pixels(back)), "the same cached results must give the same picture"

    # the right-hand axis plots every learning rate's final validation accuracy
    ax = second.axes[1]
    curves = [line.get_ydata() for line in ax.get_lines() if len(line.get_xdata()) == len(nrm.LEARNING_RATES)]
    for norm, ys in zip(("none", "batch"), curves):
        expected = [nrm.train_run(norm, lr, 32, 2).final_val_acc for lr in nrm.LEARNING_RATES]
        np.testing.assert_allclose(ys, expected)
    # with momentum 0.9, lr 0.3 and 1.0 blow the plain MLP up; with BN the losses stay finite, and at 0.3 it learns
    claims.bn_allows_large_rates(0)
    assert "no normalization: diverged" in all_text(second)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_the_stacked_sweep_trains_each_rate_as_inn_train_does(norm):
    """Every learning rate of the sweep against its own one-net run of inn.train (nn.Linear, nn.BatchNorm1d,
    torch.optim.SGD), in float64 where rounding cannot blow up into chaos: the same step losses, divergence and
    validation accuracies."""
    data = inn.digits(seed=0)
    data64 = type(data)(data.x_train.double(), data.y_train, data.x_val.double(), data.y_val)
    runs = nrm.train_sweep(norm, nrm.LEARNING_RATES, 32, 2, dtype=torch.float64)
    diverged = []
    for lr, run in zip(nrm.LEARNING_RATES, runs):
        model = inn.mlp(64, 10, depth=6, width=64, norm=norm, seed=0).double()
        ref = inn.train(model, data64, epochs=2, lr=lr, batch_size=32, seed=0)
        assert run.diverged == ref.diverged and len(run.step_loss) == len(ref.step_loss), lr
        finite = np.isfinite(ref.step_loss)
        np.testing.assert_allclose(np.array(run.step_loss)[finite], np.array(ref.step_loss)[finite], rtol=1e-6)
        np.testing.assert_allclose(run.val_acc, ref.val_acc, atol=1e-12)
        assert run.steps_per_epoch == 43
        diverged.append(run.diverged)
    assert diverged == ([False] * 4 + [True] * 2 if norm == "none" else [False] * 6)


def test_train_run_rejects_a_last_batch_of_one():
    with pytest.raises(ValueError, match="one sample"):
        nrm.train_run("batch", 0.1, 1347, 1)


# ---------------------------------------------------------------------------------------------------------
# 5. where to put the norm
# ---------------------------------------------------------------------------------------------------------

def test_placement_models_and_results():
    kinds = lambda m: [type(x).__name__ for x in m][:3]  # noqa: E731
    assert kinds(nrm.placement_mlp("before activation")) == ["Linear", "BatchNorm1d", "ReLU"]
    assert kinds(nrm.placement_mlp("after activation")) == ["Linear", "ReLU", "BatchNorm1d"]
    assert nrm.placement_mlp("before activation")[0].bias is None  # beta makes the bias redundant
    fig = nrm.draw_placement()
    runs = {p: nrm.placement_run(p) for p in nrm.PLACEMENTS}
    claims.placement(0)  # default init, 8 layers: the signal vanishes without BN; with it the net learns
    for p, r in runs.items():
        assert f"{nrm.PLACEMENT_NAMES[p]}: {r.final_val_acc:.3f}" in all_text(fig)


# ---------------------------------------------------------------------------------------------------------
# 7-8. InstanceNorm and the axes explorer
# ---------------------------------------------------------------------------------------------------------

def test_instance_norm_removes_style_keeps_content():
    styled, normalized = nrm.styled_digits()
    k = len(nrm.STYLES)
    assert not torch.allclose(styled[0], styled[1])
    for start in (0, k):
        for j in range(1, k):
            assert torch.allclose(normalized[start], normalized[start + j], atol=1e-3)
    assert (normalized[0] - normalized[k]).abs().max() > 0.5  # two different digits stay different
    assert len(nrm.draw_instance_norm().axes) == 2 * len(styled)


TORCH_NORM = {
    "batch": lambda x, g: F.batch_norm(x, None, None, training=True, eps=1e-5),
    "layer": lambda x, g: F.layer_norm(x, x.shape[1:], eps=1e-5),
    "instance": lambda x, g: F.instance_norm(x, eps=1e-5),
    "group": lambda x, g: F.group_norm(x, g, eps=1e-5),
}
CASES = [("batch", 1), ("layer", 1), ("instance", 1), ("group", 1), ("group", 2), ("group", 3), ("group", 6)]


@pytest.mark.parametrize("kind,groups", CASES)
def test_normalize_matches_torch(kind, groups):
    x = nrm.conv_activations()
    ref = TORCH_NORM[kind](x, groups)
    assert torch.allclose(nrm.normalize(x, kind, groups), ref, atol=1e-5)
    # the same on a random odd-shaped tensor with an offset and a scale
    y = torch.randn(3, 6, 5, 7, generator=torch.Generator().manual_seed(1)) * 4 + 3
    assert torch.allclose(nrm.normalize(y, kind, groups), TORCH_NORM[kind](y, groups), atol=1e-5)


@pytest.mark.parametrize("kind,groups", CASES)
@pytest.mark.parametrize("n,c", [(2, 4), (0, 0), (3, 5), (1, 3)])
def test_highlighted_set_is_what_torch_averages_over(kind, groups, n, c):
    """Shifting one (sample, channel) map changes torch's normalized output of map (n, c) exactly when
    that map belongs to the set drawn around (n, c)."""
    x = nrm.conv_activations().clone()
    N, C = x.shape[:2]
    mask = nrm.set_of(kind, N, C, groups, n, c)
    assert mask[n, c], "the chosen map must be in its own set"
    base = TORCH_NORM[kind](x, groups)[n, c]
    for i in range(N):
        for j in range(C):
            if (i, j) == (n, c):
                continue
            x2 = x.clone()
            x2[i, j] += 1.0 + torch.linspace(0, 1, 64).reshape(8, 8)  # a shift and a change of spread
            moved = (TORCH_NORM[kind](x2, groups)[n, c] - base).abs().max().item() > 1e-4
            assert moved == bool(mask[i, j]), (kind, groups, i, j)


def test_norm_axes_panel_shows_torch_statistics():
    panel = nrm.make_norm_axes_panel()
    bn_fig = panel.update(kind="batch", sample=0, channel=0)
    bn_px, bn_title, bn_sets = pixels(bn_fig), bn_fig.axes[1].get_title(), bn_fig.axes[0].get_title()
    gn_fig = panel.update(kind="group", groups=3, sample=2, channel=4)
    gn_px, title, gn_sets = pixels(gn_fig), gn_fig.axes[1].get_title(), gn_fig.axes[0].get_title()  # one figure
    assert differ(bn_px, gn_px)
    assert differ(gn_px, pixels(panel.update(kind="instance")))
    x = nrm.conv_activations()
    # torch computes the statistics; read them back from F.group_norm: out = (x - mean) / sqrt(var + eps)
    xg = x.reshape(4, 3, -1)
    var_ref, mean_ref = torch.var_mean(xg, dim=-1, unbiased=False)
    mean, var = nrm.norm_statistics(x, "group", 3)
    assert torch.allclose(mean, mean_ref, atol=1e-6) and torch.allclose(var, var_ref, atol=1e-6)
    out = F.group_norm(x, 3, eps=1e-5).reshape(4, 3, -1)
    recovered_std = (xg[..., 1] - xg[..., 0]) / (out[..., 1] - out[..., 0])
    assert torch.allclose(recovered_std, torch.sqrt(var + 1e-5), rtol=1e-3)
    # the framed set's mean and std in the picture
    shown = re.search(r"framed set: mean (-?[\d.]+), std ([\d.]+)", title)
    assert float(shown.group(1)) == pytest.approx(mean[2, 4 // 2].item(), abs=1e-3)
    assert float(shown.group(2)) == pytest.approx(math.sqrt(var[2, 4 // 2].item()), abs=1e-3)
    bn_mean = x[:, 0].mean().item()
    assert f"mean {bn_mean:.3f}" in bn_title
    assert "6 sets of 256 values" in bn_sets
    assert "12 sets of 128 values" in gn_sets


def test_layer_and_instance_norm_are_group_norm_extremes():
    x = nrm.conv_activations()
    assert torch.allclose(F.group_norm(x, 1), F.layer_norm(x, x.shape[1:]), atol=1e-5)
    assert torch.allclose(F.group_norm(x, x.shape[1]), F.instance_norm(x), atol=1e-5)
    with pytest.raises(ValueError):
        nrm.norm_statistics(x, "group", 4)  # 4 does not divide 6 channels


# ---------------------------------------------------------------------------------------------------------
# 9. local response normalization
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm_matches_torch(size):
    x = torch.randn(2, 7, 4, 3, generator=torch.Generator().manual_seed(size)) * 3
    ref = nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=2.0)(x)
    assert torch.allclose(nrm.local_response_norm(x, size, alpha=0.5, beta=0.75, k=2.0), ref, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# 11. spectral normalization
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (64, 64), (8, 3, 3, 3)])
def test_power_iteration_converges_to_the_largest_singular_value(shape):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(len(shape)))
    sigmas, u, v = nrm.power_iteration(w, 500)
    flat = w.reshape(shape[0], -1).double()
    top = torch.linalg.svdvals(flat)[0].item()
    assert torch.linalg.matrix_norm(flat, ord=2).item() == pytest.approx(top)
    assert abs(sigmas[-1] - top) / top < 1e-4
    assert np.all(sigmas <= top * (1 + 1e-9)), "power iteration must approach sigma_max from below"
    assert abs((u @ flat @ v).item() - top) / top < 1e-4


def test_power_iteration_rate_follows_the_singular_value_gap():
    s = [2.0, 1.6, 0.5, 0.1]
    w = nrm.matrix_with_spectrum(s, (10, 6))
    found = torch.linalg.svdvals(w).numpy()  # (6,): the four requested, then zeros (rank 4)
    np.testing.assert_allclose(found[:4], s, atol=1e-12)
    assert np.all(found[4:] < 1e-12)
    sigmas, _, _ = nrm.power_iteration(w, 16)
    err = np.abs(sigmas - 2.0)
    # the vectors improve by (sigma2/sigma1)^2 per round, the estimate (quadratic in them) by its square
    assert err[15] / err[14] == pytest.approx((1.6 / 2.0) ** 4, rel=0.02)


def test_spectral_normalized_mlp_is_1_lipschitz():
    model = nrm.lipschitz_mlp(spectral=True)
    for m in model:
        if isinstance(m, nn.Linear):
            assert torch.linalg.matrix_norm(m.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=1e-4)
    ratios, bound = nrm.lipschitz_ratios(model, n_pairs=300)
    assert bound == pytest.approx(1.0, abs=1e-3) and ratios.max() <= bound
    plain_ratios, plain_bound = nrm.lipschitz_ratios(nrm.lipschitz_mlp(spectral=False), n_pairs=300)
    assert plain_ratios.max() <= plain_bound
    claims.lipschitz_bound(0)
    fig = nrm.draw_spectral(n_iter=50)
    assert "spectral norm: bound 1" in all_text(fig)


# ---------------------------------------------------------------------------------------------------------
# 13. depth
# ---------------------------------------------------------------------------------------------------------

def test_depth_profile_and_runs():
    plain, bn = nrm.activation_profile(30, "none"), nrm.activation_profile(30, "batch")
    assert len(plain) == len(bn) == 30
    fig = nrm.draw_depth()
    accs = {norm: [nrm.depth_run(d, norm).final_val_acc for d in nrm.DEPTHS] for norm in ("none", "batch")}
    # the input's influence vanishes without normalization and keeps its scale with BN; at depth 10 BN trains and
    # the plain net does not; BN alone does not make depth free
    claims.depth(0)
    text = all_text(fig)
    assert all(f"{a:.2f}" in text for a in accs["batch"])
