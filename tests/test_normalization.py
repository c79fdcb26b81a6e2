"""Lecture 2 (normalization): the lecture's own code (its `define` cells, see lecture_code) against independent
references (nn.BatchNorm1d, autograd, centred differences, torch.nn.functional, torch.linalg, scikit-learn, gradient
descent written here), its widgets, and every claim the lecture asserts about a random experiment (SEED_CLAIMS in
tests/claims_normalization.py, re-run with other seeds by test_seeds.py)."""
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import initnorm as inn
from initnorm import normalization as nrm
from tests import claims_normalization as claims
from tests.claims_normalization import SEED_CLAIMS, lecture  # noqa: F401  (tests/test_seeds.py runs them with other seeds)
from tests.panels import all_text, check_redraws_like_fresh, differ, pixels


# ---------------------------------------------------------------------------------------------------------
# The claims, with the lecture's seed; that each can fail
# ---------------------------------------------------------------------------------------------------------

# the claims that only run nets at initialization or on fixed data take well under a second: test-fast runs them
QUICK = {claims.undo_batch_statistics, claims.deep_profiles, claims.pre_post_ln, claims.lipschitz_bound}
QUICKEST = {claims.undo_batch_statistics, claims.lipschitz_bound}  # checked twice more below: once contradicted


@pytest.mark.parametrize("claim", [c if c in QUICK else pytest.param(c, marks=pytest.mark.slow) for c in SEED_CLAIMS],
                         ids=[c.__name__ for c in SEED_CLAIMS])
def test_claim_holds_with_the_lectures_seed(claim):
    claim(0)


def _contradict(value):
    """A value that breaks any bar: NaN fails every comparison, flipped booleans fail all()/not any()."""
    if isinstance(value, (bool, np.bool_)):
        return not value
    if isinstance(value, list):
        return [not v for v in value]
    return math.nan


@pytest.mark.parametrize("claim", [c if c in QUICKEST else pytest.param(c, marks=pytest.mark.slow) for c in SEED_CLAIMS],
                         ids=[c.__name__ for c in SEED_CLAIMS])
def test_every_claim_can_fail(claim, monkeypatch):
    """A claim is not vacuous: when every measured number contradicts it, it raises."""
    monkeypatch.setattr(claims, "measured", lambda name, **stats: {k: _contradict(v) for k, v in stats.items()})
    with pytest.raises(AssertionError):
        claim(0)


# ---------------------------------------------------------------------------------------------------------
# 1. conditioning
# ---------------------------------------------------------------------------------------------------------

def reference_descent(X, y, lr_factor, steps, tol=1e-6):
    """Gradient descent from 0 on 1/(2n)||Xw - y||^2 with autograd gradients; (steps to reach tol * initial gap or
    None, kappa)."""
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    loss_star = 0.5 * np.mean((X @ w_star - y) ** 2)
    eig = np.linalg.eigvalsh(X.T @ X / len(X))
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
            w -= lr_factor / eig[-1] * w.grad
            w.grad = None
    return None, eig[-1] / eig[0]


def test_descend_matches_independent_gradient_descent():
    from sklearn.preprocessing import StandardScaler  # imported here: scikit-learn takes seconds to import

    ns = lecture()
    X, y = ns["regression_data"](10.0, 1.0)
    assert X[:, 1].std() / X[:, 0].std() == pytest.approx(10.0, rel=0.2)
    n_raw, kappa_raw = reference_descent(X, y, 1.0, 600)
    n_std, kappa_std = reference_descent(StandardScaler().fit_transform(X), y - y.mean(), 1.0, 600)
    raw, std = (ns["descend"](10.0, 1.0, s, 1.0, 600) for s in (False, True))
    assert (raw["converged_at"], std["converged_at"]) == (n_raw, n_std) and n_std < n_raw / 10
    assert raw["kappa"] == pytest.approx(kappa_raw) and std["kappa"] == pytest.approx(kappa_std)
    np.testing.assert_allclose(raw["w_star"], np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-8)


@pytest.mark.slow  # renders four figures
def test_conditioning_panel_shows_the_step_counts_and_the_stability_limit():
    ns = lecture()
    X, y = ns["regression_data"](10.0, 1.0)
    n_raw, kappa_raw = reference_descent(X, y, 1.0, 600)
    panel = ns["conditioning_panel"]
    title = panel.update(scale_ratio=10.0, offset=1.0, lr_factor=1.0, steps=600, standardize=False).axes[0].get_title()
    assert f"converged in {n_raw} steps" in title and f"kappa = {kappa_raw:.3g}" in title
    unstable = panel.update(scale_ratio=3.0, offset=0.0, lr_factor=2.1, steps=3000)
    assert "diverged" in unstable.axes[0].get_title()                     # beyond 2 / lambda_max
    assert "diverged" not in panel.update(lr_factor=1.9).axes[0].get_title()


# ---------------------------------------------------------------------------------------------------------
# 3-4. BatchNorm forward and backward, written in the lecture
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,d,momentum", [(7, 5, 0.1), (2, 3, 0.1), (33, 16, 0.3)])
def test_batch_norm_matches_nn_batchnorm1d_in_both_modes(n, d, momentum):
    ns = lecture()
    ours, theirs = ns["BatchNorm"](d, momentum=momentum), nn.BatchNorm1d(d, momentum=momentum)
    gen = torch.Generator().manual_seed(n)
    with torch.no_grad():
        theirs.weight.copy_(torch.rand(d, generator=gen) + 0.5)
        theirs.bias.copy_(torch.randn(d, generator=gen))
        ours.gamma.copy_(theirs.weight)
        ours.beta.copy_(theirs.bias)
    for _ in range(4):
        x = torch.randn(n, d, generator=gen) * 3 + 2
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)   # unbiased, PyTorch's momentum
    assert torch.equal(ours.last_mean, x.mean(0))
    ours.eval()
    theirs.eval()
    x_before = x.clone()
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    assert torch.equal(x, x_before)                                         # the input is not mutated


def test_stacked_batch_norm_is_each_net_on_its_own():
    batch_norm = lecture()["batch_norm"]
    gen = torch.Generator().manual_seed(0)
    x, gamma, beta = torch.randn(3, 10, 4, generator=gen), torch.rand(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
    rm, rv = torch.zeros(3, 4), torch.ones(3, 4)
    y = batch_norm(x, gamma, beta, rm, rv, training=True)
    for k in range(3):
        rm_k, rv_k = torch.zeros(4), torch.ones(4)
        torch.testing.assert_close(y[k], batch_norm(x[k], gamma[k], beta[k], rm_k, rv_k, training=True))
        torch.testing.assert_close(rm[k], rm_k)
        torch.testing.assert_close(rv[k], rv_k)


@pytest.mark.parametrize("n,d,eps", [(7, 5, 1e-5), (16, 3, 0.0), (4, 9, 1e-3)])
def test_batch_norm_backward_is_autograds_and_orthogonal(n, d, eps):
    ns = lecture()
    gen = torch.Generator().manual_seed(n)
    x = (torch.randn(n, d, generator=gen, dtype=torch.float64) * 4 - 3).requires_grad_()
    gamma = (torch.rand(d, generator=gen, dtype=torch.float64) + 0.5).requires_grad_()
    beta = torch.randn(d, generator=gen, dtype=torch.float64).requires_grad_()
    dy = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = ns["batch_norm"](x, gamma, beta, torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64),
                         training=True, eps=eps)
    expected = torch.autograd.grad(y, (x, gamma, beta), dy)
    got = ns["batch_norm_backward"](dy, x.detach(), gamma.detach(), eps=eps)
    for name, a, b in zip(("dx", "dgamma", "dbeta"), got, expected):
        assert a.shape == b.shape, f"{name} has shape {tuple(a.shape)}, expected {tuple(b.shape)}"
        assert inn.rel_error(a, b) < 1e-8, name
    assert got[0].sum(0).abs().max() < 1e-10                               # orthogonal to the all-ones vector
    if eps == 0:
        x_hat = (x.detach() - x.detach().mean(0)) / x.detach().std(0, unbiased=False)
        assert (got[0] * x_hat).sum(0).abs().max() < 1e-10                 # and to x_hat


def test_scale_invariance_of_the_weights_before_batchnorm():
    ns = lecture()
    model = ns["bn_mlp"](depth=2, seed=3).double()
    x, y = ns["data"].x_train[:64].double(), ns["data"].y_train[:64]
    w = model[3].weight                                                     # the second layer, also before a BN
    g, = torch.autograd.grad(F.cross_entropy(model(x), y), w)
    with torch.no_grad():
        w.mul_(3.0)
    g3, = torch.autograd.grad(F.cross_entropy(model(x), y), w)
    assert (3 * g3 - g).norm() < 1e-4 * g.norm()                            # the gradient divided by 3
    assert ((w * g3).sum(1).abs() / (w.norm(dim=1) * g3.norm(dim=1))).max() < 1e-4   # orthogonal to every row


def test_first_layer_sgd_trains_only_as_asked():
    ns = lecture()
    losses, w = ns["first_layer_sgd"](3.0, 0.0, steps=3)                   # the first layer frozen
    torch.testing.assert_close(w, 3.0 * ns["bn_mlp"](depth=2, seed=0)[0].weight.double())
    assert losses.shape == (3,) and losses[-1] < losses[0]


def test_accuracy_in_training_mode_leaves_the_model_alone():
    ns = lecture()
    model = ns["bn_mlp"](seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    acc = ns["accuracy_in_training_mode"](model, 449)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        reference = (model.train()(ns["data"].x_val).argmax(1) == ns["data"].y_val).float().mean().item()
    assert acc == pytest.approx(reference)


def test_train_is_the_cores_loop_and_stops_at_a_non_finite_loss():
    """The lecture's visible loop against inn.train (fused SGD with momentum 0.9, batches in randperm(seed) order)."""
    ns = lecture()
    data = inn.gaussian_blobs(n=200, n_features=64, n_classes=10, seed=1)
    model, reference = inn.mlp(64, 10, 1, width=16, seed=3), inn.mlp(64, 10, 1, width=16, seed=3)
    steps = []
    losses, acc, diverged = ns["train"](model, data, epochs=2, lr=0.05, batch=32, seed=4,
                                        on_step=lambda m, step: steps.append(step))
    assert steps == list(range(1, len(losses) + 1)) and len(losses) == 2 * math.ceil(150 / 32) and not diverged
    history = inn.train(reference, data, epochs=2, lr=0.05, batch_size=32, seed=4)
    np.testing.assert_allclose(losses, history.step_loss, rtol=1e-5)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)
    assert acc == pytest.approx(history.val_acc)
    _, acc, diverged = ns["train"](inn.mlp(64, 10, 1, width=16, seed=3), data, epochs=2, lr=1e6, batch=32)
    assert diverged and acc == []


@pytest.mark.slow  # twelve short runs
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_the_stacked_sweep_trains_each_rate_as_train_does(norm):
    """Every learning rate of lr_sweep against its own run of the lecture's train() with inn.mlp (nn.Linear,
    nn.BatchNorm1d, torch.optim.SGD): one epoch of batch 128, the same step losses and validation accuracy."""
    ns = lecture()
    sweep = ns["lr_sweep"](norm, 128, epochs=1)
    for lr, (losses, acc, diverged) in sweep.items():
        ref = ns["train"](inn.mlp(64, 10, depth=6, width=64, norm=norm, seed=0), ns["data"], 1, lr=lr, batch=128)
        assert diverged == ref[2] and len(losses) == len(ref[0]) == 11, lr
        if lr <= 0.1:  # larger rates are chaotic in float32: rounding differences grow within a few steps
            np.testing.assert_allclose(losses, ref[0], rtol=2e-4)
            assert acc == pytest.approx(ref[1], abs=3e-3)


@pytest.mark.slow  # trains two sweeps per setting
def test_bn_training_panel_runs_reports_progress_and_caches():
    ns = lecture()
    panel = ns["bn_training_panel"]
    assert panel.run_button
    first = panel.update(lr=0.1, batch_size=256, epochs=2)
    assert panel.progress.value == 1.0
    px, misses = pixels(first), ns["lr_sweep"].cache_info().misses
    second = panel.update(lr=1.0, batch_size=32)
    assert differ(px, pixels(second)) and "no normalization: diverged" in all_text(second)
    misses = ns["lr_sweep"].cache_info().misses
    back = panel.update(lr=0.1, batch_size=256)
    assert ns["lr_sweep"].cache_info().misses == misses, "moving back retrained instead of using the cache"
    assert not differ(px, pixels(back))
    curves = [line.get_ydata() for line in second.axes[1].get_lines() if len(line.get_xdata()) == 6]
    expected = [[math.nan if r[2] else r[1][-1] for r in ns["lr_sweep"](n, 32, 2).values()] for n in ("none", "batch")]
    np.testing.assert_allclose(curves, expected)


# ---------------------------------------------------------------------------------------------------------
# 7-10. LayerNorm, RMSNorm, which values each normalization averages, LRN
# ---------------------------------------------------------------------------------------------------------

def test_rms_norm_matches_torch_and_layer_norm_is_rms_norm_of_the_centred_vector():
    rms_norm = lecture()["rms_norm"]
    x = torch.randn(5, 7, 12, generator=torch.Generator().manual_seed(0)) * 3 + 1
    weight = torch.rand(12, generator=torch.Generator().manual_seed(1))
    layer = nn.RMSNorm(12, eps=1e-6)
    with torch.no_grad():
        layer.weight.copy_(weight)
    torch.testing.assert_close(rms_norm(x, weight), layer(x))
    torch.testing.assert_close(rms_norm(x - x.mean(-1, keepdim=True), torch.ones(12)), F.layer_norm(x, (12,), eps=1e-6))


TORCH_NORM = {
    "batch": lambda x, g: F.batch_norm(x, None, None, training=True, eps=1e-5),
    "layer": lambda x, g: F.layer_norm(x, x.shape[1:], eps=1e-5),
    "instance": lambda x, g: F.instance_norm(x, eps=1e-5),
    "group": lambda x, g: F.group_norm(x, g, eps=1e-5),
}
CASES = [("batch", 1), ("layer", 1), ("instance", 1), ("group", 1), ("group", 2), ("group", 3), ("group", 6)]


@pytest.mark.parametrize("kind,groups", CASES)
def test_normalize_matches_torch(kind, groups):
    normalize = lecture()["normalize"]
    x = nrm.conv_activations()
    torch.testing.assert_close(normalize(x, kind, groups), TORCH_NORM[kind](x, groups), atol=1e-5, rtol=1e-5)
    y = torch.randn(3, 6, 5, 7, generator=torch.Generator().manual_seed(1)) * 4 + 3   # odd shape, offset, scale
    torch.testing.assert_close(normalize(y, kind, groups), TORCH_NORM[kind](y, groups), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind,groups", CASES)
@pytest.mark.parametrize("n,c", [(2, 4), (0, 0), (3, 5), (1, 3)])
def test_highlighted_set_is_what_torch_averages_over(kind, groups, n, c):
    """Shifting one (sample, channel) map changes torch's normalized output of map (n, c) exactly when that map belongs
    to the set drawn around (n, c)."""
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


@pytest.mark.slow  # renders three figures
def test_norm_axes_panel_shows_torch_statistics():
    panel = lecture()["norm_axes_panel"]
    bn_fig = panel.update(kind="batch", sample=0, channel=0)
    bn_px, bn_title, bn_sets = pixels(bn_fig), bn_fig.axes[1].get_title(), bn_fig.axes[0].get_title()
    gn_fig = panel.update(kind="group", groups=3, sample=2, channel=4)
    assert differ(bn_px, pixels(gn_fig))
    x = nrm.conv_activations()
    var, mean = torch.var_mean(x.reshape(4, 3, -1), dim=-1, unbiased=False)   # GroupNorm's statistics, G = 3
    shown = re.search(r"framed set: mean (-?[\d.]+), std ([\d.]+)", gn_fig.axes[1].get_title())
    assert float(shown.group(1)) == pytest.approx(mean[2, 2].item(), abs=1e-3)
    assert float(shown.group(2)) == pytest.approx(math.sqrt(var[2, 2].item()), abs=1e-3)
    assert "12 sets of 128 values" in gn_fig.axes[0].get_title()
    assert f"mean {x[:, 0].mean().item():.3f}" in bn_title and "6 sets of 256 values" in bn_sets


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm_matches_torch(size):
    x = torch.randn(2, 7, 4, 3, generator=torch.Generator().manual_seed(size)) * 3
    ref = nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=2.0)(x)
    torch.testing.assert_close(lecture()["local_response_norm"](x, size, alpha=0.5, beta=0.75, k=2.0), ref)


# ---------------------------------------------------------------------------------------------------------
# 12. spectral normalization
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (64, 64)])
def test_power_iteration_converges_to_the_largest_singular_value_from_below(shape):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(len(shape)))
    sigmas = lecture()["power_iteration"](w, 500)
    top = torch.linalg.svdvals(w.double())[0].item()
    assert abs(sigmas[-1] - top) / top < 1e-4 and np.all(sigmas <= top * (1 + 1e-9))


def test_power_iteration_rate_follows_the_singular_value_gap():
    s = [2.0, 1.6, 0.5, 0.1]
    w = nrm.matrix_with_spectrum(s, (10, 6))
    found = torch.linalg.svdvals(w).numpy()
    np.testing.assert_allclose(found[:4], s, atol=1e-12)
    err = np.abs(lecture()["power_iteration"](w, 16) - 2.0)
    assert err[15] / err[14] == pytest.approx((1.6 / 2.0) ** 4, rel=0.02)  # the estimate: (sigma2/sigma1)^4 per round


def test_spectral_normalized_mlp_is_1_lipschitz():
    ns = lecture()
    model = ns["lipschitz_mlp"](True)
    for m in model[::2]:
        assert torch.linalg.matrix_norm(m.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=1e-4)
    ratios, bound = ns["stretch"](model, n_pairs=300)
    assert bound == pytest.approx(1.0, abs=1e-3) and ratios.max() <= bound


# ---------------------------------------------------------------------------------------------------------
# 13-14. hooks and profiles
# ---------------------------------------------------------------------------------------------------------

def test_recording_keeps_block_outputs_and_their_gradients_and_removes_its_hooks():
    ns = lecture()
    model = ns["deep_net"](3, seed=2)
    x, y = ns["data"].x_train[:32], ns["data"].y_train[:32]
    spread, grads, wgrads = ns["block_profile"](model, x, y)
    assert spread.shape == grads.shape == wgrads.shape == (3,)
    h = model[1](model[0](x)).detach().requires_grad_()                      # block 1's output, by hand
    F.cross_entropy(model[4](model[3](model[2](h))), y).backward()
    assert grads[0] == pytest.approx(h.grad.std().item(), rel=1e-5)
    assert spread[0] == pytest.approx(h.detach().std(0).mean().item(), rel=1e-5)
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    with pytest.raises(RuntimeError), ns["recording"](model):
        raise RuntimeError("inside the block")
    assert all(len(m._forward_hooks) == 0 for m in model.modules())       # removed even when the block raises


def test_ln_blocks_put_the_norm_where_they_say():
    ns = lecture()
    torch.manual_seed(0)
    h = torch.randn(8, 16) * 5 + 2
    post, pre = ns["LNBlock"](16, pre=False), ns["LNBlock"](16, pre=True)
    out = post(h)
    torch.testing.assert_close(out.mean(-1), torch.zeros(8), atol=1e-5, rtol=0)   # post-LN: normalized output
    branch = pre.fc2(torch.relu(pre.fc1(F.layer_norm(h, (16,)))))
    torch.testing.assert_close(pre(h), h + branch)                               # pre-LN: the identity path untouched


# ---------------------------------------------------------------------------------------------------------
# The panels that redraw in place
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow  # renders each panel twice per control: seconds per panel
@pytest.mark.parametrize("name,start", [("conditioning_panel", {}), ("norm_axes_panel", {"kind": "group"})])
def test_a_panel_redrawn_into_its_figure_looks_exactly_like_a_fresh_drawing(name, start):
    check_redraws_like_fresh(lecture()[name], start=start)  # G matters for GroupNorm only: start there
