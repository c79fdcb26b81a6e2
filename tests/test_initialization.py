"""Lecture 1 (initialization): the helper functions against independent references (closed forms, torch.nn.init,
autograd, finite differences, scikit-learn), and every panel redraws with what its controls say."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from test_normalization import all_text, differ, pixels
from torch import nn

import initnorm as inn
from initnorm import initialization as ini


def relative_spread(n: int, kurtosis: float) -> float:
    """Relative standard error of a sample variance of n i.i.d. draws (3 for normal, 9/5 for uniform)."""
    return math.sqrt((kurtosis - 1) / n)


# ---------------------------------------------------------------------------------------------------------
# 6. and 7. closed forms and torch.nn.init
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_in,n_out,bound,std", [(784, 128, 0.0811, 0.0468), (256, 64, 0.1369, 0.0791),
                                                  (10, 5, 0.6325, 0.3651), (2048, 1024, 0.0442, 0.0255)])
def test_xavier_matches_hand_computed_numbers(n_in, n_out, bound, std):
    assert ini.xavier_bound(n_in, n_out) == pytest.approx(bound, abs=5e-5)
    assert ini.xavier_std(n_in, n_out) == pytest.approx(std, abs=5e-5)
    assert ini.xavier_bound(n_in, n_out, gain=5 / 3) == pytest.approx(5 / 3 * math.sqrt(6 / (n_in + n_out)))


@pytest.mark.parametrize("fan,gain", [(4, math.sqrt(2)), (128, math.sqrt(2)), (300, 5 / 3), (64, 1.0)])
def test_he_matches_closed_form(fan, gain):
    assert ini.he_std(fan, gain) == pytest.approx(gain / math.sqrt(fan), rel=1e-12)
    assert ini.he_bound(fan, gain) == pytest.approx(gain * math.sqrt(3 / fan), rel=1e-12)
    assert ini.he_std(4) == pytest.approx(0.70711, abs=1e-5) and ini.he_std(128) == 0.125


def test_bounds_and_stds_agree_with_torch_nn_init_samplers():
    gen = torch.Generator().manual_seed(0)
    w = nn.init.xavier_uniform_(torch.empty(300, 700), generator=gen)        # fan_in 700, fan_out 300
    a = ini.xavier_bound(700, 300)
    assert w.abs().max() <= a and w.abs().max() > 0.999 * a
    w = nn.init.xavier_normal_(torch.empty(300, 700), gain=2.0, generator=gen)
    assert w.var().item() / ini.xavier_std(700, 300, 2.0) ** 2 == pytest.approx(1, abs=6 * relative_spread(w.numel(), 3))
    w = nn.init.kaiming_uniform_(torch.empty(300, 700), nonlinearity="relu", generator=gen)
    assert w.abs().max() <= ini.he_bound(700) and w.abs().max() > 0.999 * ini.he_bound(700)
    w = nn.init.kaiming_normal_(torch.empty(300, 700), mode="fan_out", nonlinearity="relu", generator=gen)
    assert w.var().item() / ini.he_std(300) ** 2 == pytest.approx(1, abs=6 * relative_spread(w.numel(), 3))
    # LeCun (gain 1) is half of He: the tolerance above separates them by far
    assert abs(w.var().item() / ini.he_std(300, 1.0) ** 2 - 1) > 0.5


def test_worked_numbers_are_the_slides_with_their_rounding():
    numbers = ini.worked_numbers()
    assert [n.slide for n in numbers] == [0.0811, 0.0791, 0.6325, 0.0442, 0.0255, 0.707, 0.125]
    for n in numbers:
        assert abs(n.value - n.slide) <= n.tolerance, n
        assert n.value == pytest.approx(eval(n.formula, {"sqrt": math.sqrt}), rel=1e-12)
    assert numbers[0].tolerance == 5e-5 and numbers[-1].tolerance == 5e-4
    for n, xavier, he in ini.SLIDE_XAVIER_VS_HE:
        assert math.sqrt(1 / n) == pytest.approx(xavier, abs=5e-4) and math.sqrt(2 / n) == pytest.approx(he, abs=5e-4)


def test_pytorch_default_is_a_third_of_lecun():
    var = ini.pytorch_default_variance(400, 300)
    torch.manual_seed(0)
    bound = nn.Linear(400, 300).weight.abs().max().item()
    assert bound <= 1 / math.sqrt(400)
    assert var * 3 * 400 == pytest.approx(1, abs=6 * relative_spread(120_000, 9 / 5))


def test_fan_modes_keep_their_own_direction_flat():
    fan_in, fan_out, xavier = (ini.fan_mode_profile(m) for m in ("fan_in", "fan_out", "xavier"))
    spread = lambda v: max(v) / min(v)  # noqa: E731
    assert spread([s.std for s in fan_in]) < 1.5 and spread([s.grad_std for s in fan_out]) < 1.5
    assert spread([s.grad_std for s in fan_in]) > 3 and spread([s.std for s in fan_out]) > 3
    # Xavier averages the fans: in between on both
    assert spread([s.std for s in fan_in]) < spread([s.std for s in xavier]) < spread([s.std for s in fan_out])
    fig = ini.draw_fan_modes()
    assert len(fig.axes[0].get_lines()) == 3


# ---------------------------------------------------------------------------------------------------------
# 2. symmetry
# ---------------------------------------------------------------------------------------------------------

def test_tiny_net_gradient_is_the_hand_derived_one():
    W = np.array([[0.5, -0.3], [0.2, 0.4]])
    x, v, t = np.array([1.0, 2.0]), np.array([0.5, 0.5]), 1.0
    out = ini.tiny_net(W)
    h = W @ x
    a = 1 / (1 + np.exp(-h))
    y = v @ a
    expected = np.outer((y - t) * v * a * (1 - a), x)  # dL/dW_ij = (y - t) v_i s'(h_i) x_j
    np.testing.assert_allclose(out["h"], [-0.1, 1.0], atol=1e-12)
    np.testing.assert_allclose(out["grad"], expected, rtol=1e-12)
    zero = ini.tiny_net(np.zeros((2, 2)))
    np.testing.assert_allclose(zero["grad"], np.outer((0.5 - 1) * v * 0.25, x))
    assert not ini.tiny_net(np.zeros((2, 2)), activation="relu")["grad"].any()
    tanh = ini.tiny_net(np.zeros((2, 2)), activation="tanh")["grad"]  # tanh'(0) = 1: moves, but in lockstep
    assert tanh.any() and np.array_equal(tanh[0], tanh[1])


def test_symmetry_runs():
    const, rand = ini.symmetry_run("constant", "sigmoid"), ini.symmetry_run("random", "sigmoid")
    assert const.weights.shape == (151, 8, 64) and len(const.loss) == 151
    assert np.allclose(const.weights[0], ini.SYMMETRY_CONSTANT)
    assert const.spread.max() < 1e-6 and rand.spread[-1] > 0.1
    assert np.abs(const.weights[-1] - const.weights[0]).max() > 0.05  # the constant units do move, together
    assert const.val_acc < 0.4 < 0.85 < rand.val_acc
    zeros = ini.symmetry_run("zeros", "relu")
    assert not zeros.weights.any()                    # ReLU'(0) = 0: the hidden layer never moves
    assert zeros.loss[-1] == pytest.approx(math.log(10), abs=0.01)
    with pytest.raises(ValueError, match="init must be one of"):
        ini.symmetry_run("ones")


def test_symmetry_panel_redraws():
    panel = ini.make_symmetry_panel()
    fig = panel.update(init="constant", activation="sigmoid")
    px = pixels(fig)
    run = ini.symmetry_run("constant", "sigmoid")
    assert f"largest difference between units: {run.spread[-1]:.2g}" in fig.axes[1].get_title()
    assert np.allclose(fig.axes[1].get_images()[0].get_array()[:8, :8], run.weights[-1, 0].reshape(8, 8))
    lines = fig.axes[0].get_lines()
    assert len(lines) == 8 and all(np.allclose(line.get_ydata(), lines[0].get_ydata()) for line in lines)
    fig = panel.update(init="random")
    assert differ(px, pixels(fig))
    lines = fig.axes[0].get_lines()
    assert not np.allclose(lines[0].get_ydata(), lines[1].get_ydata())
    assert f"{ini.symmetry_run('random', 'sigmoid').val_acc:.2f}" in fig.axes[2].get_title()
    fig = panel.update(init="zeros", activation="relu", pixel=10)
    assert all(not line.get_ydata().any() for line in fig.axes[0].get_lines())


# ---------------------------------------------------------------------------------------------------------
# 3. and 8. the slides' deep net
# ---------------------------------------------------------------------------------------------------------

def test_deep_activations_against_numpy():
    run = ini.deep_activations("relu", "he", width=256, layers=6, batch=16, seed=3)
    # an independent replay with the same draws
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(16, 256, generator=gen).double().numpy()
    for layer in range(6):
        w = torch.randn(256, 256, generator=gen).double().numpy() * math.sqrt(2 / 256)
        x = np.maximum(0, x @ w)
        np.testing.assert_allclose(run.values[layer], x.ravel(), rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match="init must be one of"):
        ini.deep_std("glorot", 10)


@pytest.mark.parametrize("init,per_layer", [("xavier", 1 / math.sqrt(2)), ("he", 1.0)])
def test_relu_scale_per_layer_at_full_width(init, per_layer):
    run = ini.deep_activations("relu", init, width=4096)
    assert (run.std[-1] / run.std[0]) ** (1 / 5) == pytest.approx(per_layer, abs=0.02)


def test_collapse_panel_redraws():
    panel = ini.make_collapse_panel()
    fig = panel.update(activation="relu", init="xavier", width=256)
    assert len(fig.axes) == 6 and "[256] * 7" in all_text(fig)
    run = ini.deep_activations("relu", "xavier", 256)
    assert f"std {run.std[-1]:.2g}" in fig.axes[-1].get_title()
    px = pixels(fig)
    fig = panel.update(init="he")
    assert differ(px, pixels(fig))
    assert f"std {ini.deep_activations('relu', 'he', 256).std[-1]:.2g}" in fig.axes[-1].get_title()
    fig = panel.update(activation="tanh", init="0.05")
    assert fig.axes[0].get_xlim()[0] < -0.99  # tanh: the whole of [-1, 1]
    assert len(ini.draw_deep_grid("tanh", ("0.01", "xavier"), 256).axes) == 12


# ---------------------------------------------------------------------------------------------------------
# 4. vanishing and exploding
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale,depth,x", [(0.5, 10, 1.0), (1.5, 7, 2.0), (1.0, 30, -3.0)])
def test_scalar_chain(scale, depth, x):
    assert ini.scalar_chain_gradient(scale, depth, x) == pytest.approx(scale ** (depth - 1) * x, rel=1e-12)


def test_variance_conditions_hold_on_real_data():
    for n_out, w_std in ((256, 0.1), (64, 0.3)):
        c = ini.variance_conditions(n_out=n_out, w_std=w_std)
        assert c.forward_measured == pytest.approx(c.forward_predicted, rel=0.05)
        assert c.backward_measured == pytest.approx(c.backward_predicted, rel=0.05)
        x = inn.digits(seed=0).x_train[:512]
        assert c.forward_predicted == pytest.approx(64 * w_std ** 2 * (x ** 2).mean().item(), rel=1e-6)


def test_signal_profile_matches_a_manual_forward_and_backward_pass():
    stats = ini.signal_profile(6, 64, "tanh", "xavier", 1.5)
    model = ini._explorer_model(6, 64, "tanh", "xavier", 1.5, 0)
    n = ini.SIGNAL_BATCH
    x, y = inn.digits(seed=0).x_train[:n], inn.digits(seed=0).y_train[:n]
    outs, h = [], x
    for layer in model:
        h = layer(h)
        if isinstance(layer, nn.Tanh):
            h.retain_grad()
            outs.append(h)
    F.cross_entropy(h, y).backward()
    assert len(stats) == 6
    for s, o in zip(stats, outs):
        assert s.std == pytest.approx(o.std().item(), rel=1e-5)
        assert s.grad_std == pytest.approx(o.grad.std().item(), rel=1e-4)
    # the weights really are Xavier x 1.5
    w = model[2].weight
    assert w.std().item() == pytest.approx(1.5 * ini.xavier_std(64, 64), rel=0.1)


def test_signal_profile_linear_and_default_scale():
    linear = ini.signal_profile(5, 64, "linear", "lecun")
    assert len(linear) == 5 and all(0.5 < s.std < 2 for s in linear)
    torch.manual_seed(0)
    plain = ini._explorer_model(3, 32, "relu", "default", 1.0, 0)
    doubled = ini._explorer_model(3, 32, "relu", "default", 2.0, 0)
    assert torch.allclose(doubled[0].weight, 2 * plain[0].weight)


def test_explorer_weights_follow_each_init_and_a_deeper_net_only_adds_layers():
    n = 256
    for init, std in (("small", 0.01), ("lecun", 1 / math.sqrt(n)), ("xavier", 1 / math.sqrt(n)),
                      ("he", math.sqrt(2 / n))):
        w = ini._explorer_model(4, n, "relu", init, 1.0, 0)[2].weight
        assert w.std().item() == pytest.approx(std, rel=0.02), init
    w = ini._explorer_model(4, n, "tanh", "orthogonal", 0.5, 0)[2].weight  # gain 5/3, times 0.5
    torch.testing.assert_close(w @ w.T, (0.5 * 5 / 3) ** 2 * torch.eye(n), atol=1e-4, rtol=0)
    default = ini._explorer_model(4, n, "relu", "default", 1.0, 0)[2]       # nn.Linear's U(-1/sqrt n, 1/sqrt n)
    assert default.weight.var().item() == pytest.approx(1 / (3 * n), rel=0.02)
    assert 0 < default.bias.abs().max().item() <= 1 / math.sqrt(n)
    shallow, deep = ini._explorer_model(3, 64, "relu", "he", 1.0, 0), ini._explorer_model(9, 64, "relu", "he", 1.0, 0)
    for i in (0, 2, 4):
        assert torch.equal(shallow[i].weight, deep[i].weight)
    assert torch.equal(shallow[-1].weight, deep[-1].weight)  # the output layer has its own draws
    x = torch.randn(5, 64)
    torch.testing.assert_close(shallow[0](x), x @ shallow[0].weight.T + shallow[0].bias)
    with pytest.raises(ValueError, match="init must be one of"):
        ini._explorer_model(3, 64, "relu", "glorot", 1.0, 0)


@pytest.mark.parametrize("activation,init,expected", [("relu", "he", 1.0), ("relu", "xavier", 1 / math.sqrt(2)),
                                                      ("linear", "lecun", 1.0), ("relu", "default", math.sqrt(1 / 6)),
                                                      ("relu", "orthogonal", 1.0), ("tanh", "he", None),
                                                      ("relu", "zeros", None)])
def test_predicted_factor(activation, init, expected):
    got = ini.predicted_factor(128, activation, init)
    assert got == expected if expected is None else got == pytest.approx(expected, rel=1e-9)


def test_signal_panel_xavier_collapses_and_he_stays_flat():
    panel = ini.make_signal_panel()
    fig = panel.update(depth=20, width=256, activation="relu", init="xavier", scale=1.0)
    std = fig.axes[0].get_lines()[0].get_ydata()
    assert len(std) == 20 and std[-1] / std[0] < 1e-2
    dashed = fig.axes[0].get_lines()[1].get_ydata()
    assert dashed[-1] / dashed[0] == pytest.approx(2 ** -9.5, rel=1e-6)   # (1/sqrt 2)^19
    grads = fig.axes[1].get_lines()[0].get_ydata()
    assert grads[0] / grads[-1] < 1e-2
    px = pixels(fig)
    fig = panel.update(init="he")
    assert differ(px, pixels(fig))
    std = fig.axes[0].get_lines()[0].get_ydata()
    grads = fig.axes[1].get_lines()[0].get_ydata()
    assert 0.3 < std[-1] / std[0] < 3 and 0.3 < grads[0] / grads[-1] < 3
    lo, hi = fig.axes[0].get_ylim()
    assert hi / lo >= 99  # a flat profile is drawn over two decades, not blown up
    fig = panel.update(scale=2.0)
    std = fig.axes[0].get_lines()[0].get_ydata()
    assert std[-1] / std[0] > 100                                        # sqrt(2)^19 ~ 700
    fig = panel.update(activation="selu", init="lecun", scale=1.0, depth=30)
    std = fig.axes[0].get_lines()[0].get_ydata()
    assert len(std) == 30 and all(0.85 < s < 1.15 for s in std)
    assert len(fig.axes[0].get_lines()) == 1                            # no closed-form line for SELU


# ---------------------------------------------------------------------------------------------------------
# 5. activations
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ini.ACTIVATION_FNS))
def test_activation_derivative_against_finite_differences(name):
    z, f, df = ini.activation_curve(name, -4.0, 4.0, 801)
    h = 1e-6
    fn = ini.ACTIVATION_FNS[name]
    zt = torch.tensor(z)
    numeric = ((fn(zt + h) - fn(zt - h)) / (2 * h)).numpy()
    away = np.abs(z) > 1e-3  # leave out the kinks of relu and leaky relu
    np.testing.assert_allclose(df[away], numeric[away], atol=1e-6)


def test_activation_table_against_closed_forms():
    rows = {r["activation"]: r for r in ini.activation_table()}
    assert rows["sigmoid"]["max slope"] == pytest.approx(0.25, abs=1e-12) and rows["sigmoid"]["f(0)"] == 0.5
    assert rows["relu"]["E f(z)"] == pytest.approx(1 / math.sqrt(2 * math.pi), abs=1e-8)
    assert rows["relu"]["E f(z)^2"] == pytest.approx(0.5, abs=1e-8)
    assert rows["relu"]["gain 1/sqrt(E f^2)"] == pytest.approx(rows["relu"]["torch gain"], abs=1e-8)
    assert rows["leaky_relu"]["gain 1/sqrt(E f^2)"] == pytest.approx(math.sqrt(2 / 1.01), abs=1e-8)
    assert rows["gelu"]["E f(z)"] == pytest.approx(1 / (2 * math.sqrt(math.pi)), abs=1e-8)  # E[z Phi(z)]
    assert rows["selu"]["E f(z)"] == pytest.approx(0, abs=1e-6) and rows["selu"]["E f(z)^2"] == pytest.approx(1, abs=1e-6)
    assert rows["tanh"]["torch gain"] == 5 / 3 and math.isnan(rows["swish"]["torch gain"])
    # Monte Carlo check of the tanh second moment the table integrates
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert rows["tanh"]["E f(z)^2"] == pytest.approx(torch.tanh(z).pow(2).mean().item(), abs=2e-3)
    assert len(ini.draw_activations().axes) == 8


# ---------------------------------------------------------------------------------------------------------
# 9. LSUV
# ---------------------------------------------------------------------------------------------------------

def test_lsuv_unit_variance_orthogonal_and_zero_bias():
    x = inn.digits(seed=0).x_train[:256]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 50), nn.Tanh(), nn.Linear(50, 10))
    steps = ini.lsuv(model, x, tol=0.02, generator=torch.Generator().manual_seed(1))
    assert [s.layer for s in steps] == [0, 1, 2]
    h = x
    for module in model:
        h = module(h)
        if isinstance(module, nn.Linear):
            assert abs(h.var().item() - 1) <= 0.02
            assert not module.bias.any()
            w = module.weight.detach().double()
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            assert torch.allclose(gram / gram.diagonal().mean(), torch.eye(len(gram), dtype=gram.dtype), atol=1e-5)
    assert all(s.variance_after == pytest.approx(1, abs=0.02) for s in steps)


def test_lsuv_stops_after_max_iter():
    class Stubborn(nn.Linear):
        """Output variance 9 whatever the scale of the weight."""

        def forward(self, x):
            out = super().forward(x)
            return 3 * out / out.std()

    model = nn.Sequential(Stubborn(64, 16), nn.ReLU(), nn.Linear(16, 4))
    steps = ini.lsuv(model, inn.digits(seed=0).x_train[:64], max_iter=4)
    assert steps[0].rescalings == 4 and steps[0].variance_after == pytest.approx(9, rel=1e-3)
    assert steps[1].variance_after == pytest.approx(1, abs=0.05)


def test_lsuv_profile_and_figure():
    relu = ini.lsuv_profile("lsuv", "relu")
    assert len(relu.variances) == 31 and len(relu.steps) == 31
    assert all(0.7 < v < 1.4 for v in relu.variances)
    assert ini.lsuv_profile("orthogonal", "relu").variances[-1] < 1e-6
    fig = ini.draw_lsuv()
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[0] == "orthogonal, gain 1" and labels[1] == "he" and labels[2].startswith("LSUV (")


# ---------------------------------------------------------------------------------------------------------
# 10. residual blocks
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant,factor", [("he", 2.0), ("he_both", 3.0)])
def test_residual_variance_grows_by_the_predicted_factor(variant, factor):
    v = ini.residual_variances(variant)
    ratios = v[1:] / v[:-1]
    assert len(v) == 13 and float(np.exp(np.log(ratios).mean())) == pytest.approx(factor, rel=0.08)


def test_residual_he_variant_uses_lecun_then_he_and_fixup_is_identity():
    fix = ini.residual_variances("fixup")
    assert np.allclose(fix, fix[0])
    with pytest.raises(ValueError, match="variant must be one of"):
        ini.residual_variances("plain")
    fig = ini.draw_residual()
    assert len([ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]) == 3


# ---------------------------------------------------------------------------------------------------------
# 11. and 12. pre-trained weights, pre-processing
# ---------------------------------------------------------------------------------------------------------

def test_from_pretrained_copies_the_body_and_freezes_it():
    state = ini.pretrained_source()
    model = ini.from_pretrained(state, n_classes=3, freeze=True)
    assert torch.equal(model[0].weight, state["0.weight"]) and torch.equal(model[2].bias, state["2.bias"])
    assert model[-1].weight.shape == (3, 128) and not model[-1].bias.any()
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["4.weight", "4.bias"]
    free = ini.from_pretrained(state, n_classes=3, freeze=False)
    assert all(p.requires_grad for p in free.parameters())
    # the source really learned digits 0-4
    source = inn.mlp(64, 10, depth=2, width=128)
    source.load_state_dict(state)
    data = inn.digits(seed=0)
    keep = data.y_val < 5
    assert inn.evaluate(source, data.x_val[keep], data.y_val[keep])[1] > 0.9


@pytest.mark.parametrize("mode", ["standardized", "whitened", "zca", "decorrelated", "centred", "raw"])
def test_preprocessors_against_sklearn(mode):
    train_x, test_x = ini.preprocessing_example()
    p = ini.fit_preprocessor(train_x, mode)
    out = p(train_x)
    cov = np.cov(out, rowvar=False, bias=True)
    if mode == "standardized":
        np.testing.assert_allclose(out, StandardScaler().fit(train_x).transform(train_x), atol=1e-6)
        np.testing.assert_allclose(p(test_x), StandardScaler().fit(train_x).transform(test_x), atol=1e-6)
    elif mode in ("whitened", "decorrelated"):
        ref = PCA(whiten=mode == "whitened").fit(train_x).transform(train_x)
        if mode == "whitened":  # scikit-learn divides by the unbiased variance, we by the biased one
            ref = ref * math.sqrt(len(train_x) / (len(train_x) - 1))
        np.testing.assert_allclose(np.abs(out), np.abs(ref), atol=1e-6)  # up to the sign of each component
    elif mode == "zca":
        np.testing.assert_allclose(cov, np.eye(2), atol=1e-8)
        np.testing.assert_allclose(p.matrix, p.matrix.T, atol=1e-12)   # symmetric: no rotation
    elif mode == "centred":
        np.testing.assert_allclose(out.mean(0), 0, atol=1e-10)
    else:
        np.testing.assert_array_equal(out, train_x)
    if mode in ("whitened", "zca"):
        assert not np.allclose(np.cov(p(test_x), rowvar=False, bias=True), np.eye(2), atol=1e-3)
    with pytest.raises(ValueError, match="mode must be one of"):
        ini.fit_preprocessor(train_x, "sphere")


def test_preprocessing_figure_reports_the_covariances():
    text = all_text(ini.draw_preprocessing())
    assert "whitened\ncov [[1.00, -0.00], [., 1.00]]" in text or "whitened\ncov [[1.00, 0.00], [., 1.00]]" in text
    assert "raw" in text and "standardized" in text


# ---------------------------------------------------------------------------------------------------------
# 1. and 13. the comparison panel (Run button, progress, cache)
# ---------------------------------------------------------------------------------------------------------

def test_comparison_panel_runs_reports_progress_and_caches():
    panel = ini.make_comparison_panel(depth=2, epochs=2)
    assert panel.run_button
    fig = panel.update(depth=2, activation="relu", epochs=2, lr=0.01)
    assert panel.progress.value == 1.0
    acc = {line.get_label(): line.get_ydata() for line in fig.axes[1].get_lines()}
    assert set(acc) == set(ini.COMPARISON_SCHEMES) and all(len(a) == 2 for a in acc.values())
    assert acc["zeros"][-1] < 0.2 < 0.8 < acc["he"][-1]      # zeros never leaves chance; He learns at once
    hits = ini.comparison_run.cache_info().hits
    px = pixels(fig)
    panel.update(depth=3)
    assert differ(px, pixels(panel.last_figure))
    panel.update(depth=2)                                     # back to a setting already run: all from the cache
    assert ini.comparison_run.cache_info().hits >= hits + len(ini.COMPARISON_SCHEMES)
    rows = ini.comparison_table(depth=2, epochs=2)
    assert [r["init"] for r in rows] == list(ini.COMPARISON_SCHEMES)
    assert rows[0]["final train loss"] == pytest.approx(math.log(10), abs=0.01)
    with pytest.raises(ValueError, match="scheme must be one of"):
        ini.comparison_run("glorot")
