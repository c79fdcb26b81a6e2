"""Lecture 1 (initialization): the lecture's own code (its `define` cells, see lecture_code) against independent
references (closed forms, torch.nn.init, autograd, manual loops, scikit-learn), its widgets, and every claim the
lecture asserts about a random experiment, re-run with other seeds (SEED_CLAIMS, collected by test_seeds.py)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tests.lecture_code import definitions
from tests.notebooks import ROOT
from tests.panels import check_redraws_like_fresh, differ, pixels
from torch import nn

import initnorm as inn
from initnorm import initialization as ini

LECTURE = ROOT / "lectures" / "01_initialization.ipynb"


def lecture():
    """The namespace of the lecture's define cells (executed once per test session)."""
    return definitions(LECTURE)


def relative_spread(n: int, kurtosis: float) -> float:
    """Relative standard error of a sample variance of n i.i.d. draws (3 for normal, 9/5 for uniform)."""
    return math.sqrt((kurtosis - 1) / n)


# ------------------------------------------------------------------------------------------------------
# Claims about random experiments: the same experiment and margin as the lecture's assertion. measure_*
# returns the numbers, claim_* asserts on them; margins were measured over seeds 0-9 (benchmarks/seed_margins.py)
# ------------------------------------------------------------------------------------------------------

def measure_training(seed):
    """The zero start is left at seed 0: its hidden layers output exactly 0 for any seed (relu(0) = 0, and no
    gradient reaches them), so only the output biases learn and the accuracy is that of one class."""
    best = {init: lecture()["run_from"](init, seed=0 if init == "zeros" else seed)[1].max()
            for init in ("zeros", "small", "default", "xavier", "he", "lsuv")}
    return {"chance": max(best["zeros"], best["small"], best["default"]), "he": best["he"], "xavier": best["xavier"],
            "lsuv": best["lsuv"], "he - xavier": best["he"] - best["xavier"]}


def claim_training(seed):
    m = measure_training(seed)
    assert m["chance"] < 0.25 and m["he"] > 0.9 and m["lsuv"] > 0.9 and m["xavier"] > 0.5 and m["he - xavier"] > 0, m


def measure_symmetry(seed):
    """The constant and zero starts draw nothing (full-batch descent, every weight set): the seed cannot change them,
    so they are run once, with seed 0."""
    run = lecture()["symmetry_run"]
    const, rand = run("constant", "sigmoid"), run("random", "sigmoid", seed=seed)
    return {"const spread": const["spread"].max(), "random spread": rand["spread"][-1], "const acc": const["val_acc"],
            "random acc": rand["val_acc"], "zeros relu moves": float(run("zeros", "relu")["weights"].any())}


def claim_symmetry(seed):
    m = measure_symmetry(seed)
    assert m["const spread"] < 1e-6 and m["random spread"] > 0.1 and m["zeros relu moves"] == 0, m
    assert m["const acc"] < 0.4 < 0.85 < m["random acc"], m


def measure_deep(seed):
    runs = lecture()["deep_runs"](seed=seed)
    std = {key: np.array([o.std().item() for o in outs]) for key, outs in runs.items()}
    return {"tanh 0.01 shrink": (std["tanh", "0.01"][-1] / std["tanh", "0.01"][0]) ** (1 / 5),
            "tanh 0.05 saturated": (runs["tanh", "0.05"][-1].abs() > 0.9).float().mean().item(),
            "tanh xavier layer 6": std["tanh", "xavier"][-1],
            "relu xavier per layer": (std["relu", "xavier"][-1] / std["relu", "xavier"][0]) ** (1 / 5),
            "relu he ratio": std["relu", "he"][-1] / std["relu", "he"][0]}


def claim_deep(seed):
    m = measure_deep(seed)
    assert 0.5 < m["tanh 0.01 shrink"] < 0.64 and m["tanh 0.05 saturated"] > 0.5, m
    assert 0.2 < m["tanh xavier layer 6"] < 0.7, m
    assert abs(m["relu xavier per layer"] - 1 / math.sqrt(2)) < 0.02 and 0.9 < m["relu he ratio"] < 1.1, m


def measure_variance_conditions(seed):
    """The lecture's cell, as a function of the seed (it is written inline there)."""
    data = lecture()["data"]
    a = data.x_train[:512].clone().requires_grad_()
    gen = torch.Generator().manual_seed(seed)
    W = 0.1 * torch.randn(20, 256, 64, generator=gen)
    z = a @ W.transpose(1, 2)
    upstream = torch.randn(z.shape, generator=gen)
    (z * upstream).sum().backward()
    return {"forward": z.var().item() / (64 * 0.01 * (a.detach() ** 2).mean().item()),
            "backward": a.grad.var().item() / 20 / (256 * 0.01)}


def claim_variance_conditions(seed):
    m = measure_variance_conditions(seed)
    assert abs(m["forward"] - 1) < 0.05 and abs(m["backward"] - 1) < 0.05, m


def measure_signal(seed):
    ns = lecture()
    (xav, xav_g), (he, he_g) = (ns["stds"](ns["signal_profile"](init=i, seed=seed)) for i in ("xavier", "he"))
    selu_lecun, _ = ns["stds"](ns["signal_profile"](30, 256, "selu", "lecun", seed=seed))
    selu_he, _ = ns["stds"](ns["signal_profile"](30, 256, "selu", "he", seed=seed))
    return {"xavier per layer": ns["per_layer"](xav), "he per layer": ns["per_layer"](he),
            "xavier act ratio": xav[-1] / xav[0], "xavier grad ratio": xav_g[0] / xav_g[-1],
            "he act ratio": he[-1] / he[0], "he grad ratio": he_g[0] / he_g[-1],
            "selu lecun min": selu_lecun.min(), "selu lecun max": selu_lecun.max(), "selu he last": selu_he[-1]}


def claim_signal(seed):
    m = measure_signal(seed)
    assert abs(m["xavier per layer"] - 1 / math.sqrt(2)) < 0.05 and abs(m["he per layer"] - 1) < 0.05, m
    assert m["xavier act ratio"] < 1e-2 and m["xavier grad ratio"] < 1e-2, m
    assert 0.3 < m["he act ratio"] < 3 and 0.3 < m["he grad ratio"] < 3, m
    assert 0.85 < m["selu lecun min"] and m["selu lecun max"] < 1.15 and m["selu he last"] > 3, m


def measure_fan_modes(seed):
    ns = lecture()
    batch = ns["data"].x_train[:512], ns["data"].y_train[:512]
    (fi_act, fi_grad), (fo_act, fo_grad) = (ns["layer_profile"](ns["widening_net"](mode, seed=seed), *batch)
                                            for mode in ("fan_in", "fan_out"))
    spread = lambda v: v.max() / v.min()  # noqa: E731
    return {"fan_in act": spread(fi_act), "fan_out grad": spread(fo_grad), "fan_in grad": spread(fi_grad),
            "fan_out act": spread(fo_act)}


def claim_fan_modes(seed):
    m = measure_fan_modes(seed)
    assert m["fan_in act"] < 1.5 and m["fan_out grad"] < 1.5 and m["fan_in grad"] > 3 and m["fan_out act"] > 3, m


def measure_lsuv(seed):
    ns = lecture()
    report = ns["lsuv"](ns["inn"].mlp(64, 10, depth=30, width=128, activation="tanh", seed=seed),
                        ns["data"].x_train[:256], seed=seed)
    profile = lambda init, act: ns["lsuv_profile"](init, act, seed=seed)  # noqa: E731
    unseen = np.r_[profile("lsuv", "relu"), profile("lsuv", "tanh")]
    return {"rescalings": sum(n for _, n, _ in report), "worst after": max(abs(v - 1) for _, _, v in report),
            "unseen min": unseen.min(), "unseen max": unseen.max(),
            "orthogonal relu last": profile("orthogonal", "relu")[-1], "xavier tanh last": profile("xavier", "tanh")[-1]}


def claim_lsuv(seed):
    m = measure_lsuv(seed)
    assert m["rescalings"] <= 34 and m["worst after"] <= 0.05, m
    assert 0.7 < m["unseen min"] and m["unseen max"] < 1.4, m
    assert m["orthogonal relu last"] < 1e-6 and m["xavier tanh last"] < 0.1, m


def measure_residual(seed):
    v = lecture()["stream_variances"]
    growth = lambda x: float(np.exp(np.mean(np.log(x[1:] / x[:-1]))))  # noqa: E731
    return {"he": growth(v("he", seed=seed)), "he_both": growth(v("he_both", seed=seed))}


def claim_residual(seed):
    m = measure_residual(seed)
    assert abs(m["he"] - 2) < 0.15 and abs(m["he_both"] - 3) < 0.3, m


def measure_pretrained(seed):
    ns = lecture()
    data = ns["data"]
    keep_train, keep_val = data.y_train < 5, data.y_val < 5
    digits_0_4 = inn.Split(data.x_train[keep_train], data.y_train[keep_train], data.x_val[keep_val],
                           data.y_val[keep_val])
    _, acc = ns["train"](inn.mlp(64, 10, depth=2, width=128, seed=seed), digits_0_4, epochs=5, lr=0.01, seed=seed)
    return {"source acc": acc[-1]}


def claim_pretrained(seed):
    assert measure_pretrained(seed)["source acc"] > 0.9


def measure_whitening(seed):
    ns = lecture()
    train_x, test_x = ns["correlated_points"](400, seed), ns["correlated_points"](150, seed + 1)
    cov = np.cov(ns["fit"](train_x, "whitened")(test_x), rowvar=False, bias=True)
    return {"test distance from I": np.abs(cov - np.eye(2)).max()}


def claim_whitening(seed):
    m = measure_whitening(seed)
    assert 1e-3 < m["test distance from I"] < 0.5, m


def measure_last_layer(seed):
    start = lecture()["last_layer_start"]
    return {"x0.01": start(0.01, seed=seed)[0], "x10": start(10.0, seed=seed)[0]}


def claim_last_layer(seed):
    m = measure_last_layer(seed)
    assert abs(m["x0.01"] - math.log(10)) < 0.01 and m["x10"] > 3 * math.log(10), m


def measure_unit_health(seed):
    health = lecture()["unit_health"]
    return {"relu he": health("relu", seed=seed)[1][-1], "relu bias -1": health("relu", bias=-1.0, seed=seed)[1][-1],
            "tanh xavier": health("tanh", "xavier", seed=seed)[1][-1],
            "tanh xavier x3": health("tanh", "xavier", scale=3.0, seed=seed)[1][-1]}


def claim_unit_health(seed):
    m = measure_unit_health(seed)
    assert m["relu he"] < 0.1 and m["relu bias -1"] > 0.4, m
    assert m["tanh xavier"] < 0.05 and m["tanh xavier x3"] > 0.3, m


def measure_update_ratios(seed):
    first = {init: np.median(lecture()["update_ratios"](init, seed=seed)[:, 0]) for init in ("he", "xavier", "default")}
    return {"he - default": first["he"] - first["default"], "he - xavier": first["he"] - first["xavier"],
            "xavier - default": first["xavier"] - first["default"]}


def claim_update_ratios(seed):
    m = measure_update_ratios(seed)
    assert m["he - default"] > 2 and m["he - xavier"] > 0 and m["xavier - default"] > 0, m


MEASURES = [measure_training, measure_symmetry, measure_deep, measure_variance_conditions, measure_signal,
            measure_fan_modes, measure_lsuv, measure_residual, measure_pretrained, measure_whitening,
            measure_last_layer, measure_unit_health, measure_update_ratios]
SEED_CLAIMS = [claim_training, claim_symmetry, claim_deep, claim_variance_conditions, claim_signal, claim_fan_modes,
               claim_lsuv, claim_residual, claim_pretrained, claim_whitening, claim_last_layer, claim_unit_health,
               claim_update_ratios]


# the claims that train nets or take seconds run in `make test` only (marked slow), the others in test-fast too
SLOW_CLAIMS = {claim_training, claim_deep, claim_pretrained, claim_unit_health, claim_update_ratios}


@pytest.mark.parametrize("claim", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CLAIMS else c
                                   for c in SEED_CLAIMS], ids=[c.__name__ for c in SEED_CLAIMS])
def test_claim_holds_with_the_lectures_seed(claim):
    claim(0)


@pytest.mark.slow  # measures each claim's experiment once (trains nets)
def test_every_claim_can_fail():
    """A claim is not vacuous: on numbers that contradict it, it raises."""
    from tests import test_initialization as me

    for name in ("training", "signal", "unit_health", "update_ratios"):
        measure, claim = getattr(me, f"measure_{name}"), getattr(me, f"claim_{name}")
        good = measure(0)
        bad = {k: -1e9 for k in good}  # every number impossible
        setattr(me, f"measure_{name}", lambda seed, bad=bad: bad)
        try:
            with pytest.raises(AssertionError):
                claim(0)
        finally:
            setattr(me, f"measure_{name}", measure)


# ------------------------------------------------------------------------------------------------------
# The lecture's code against independent references
# ------------------------------------------------------------------------------------------------------

def test_train_is_plain_sgd_with_momentum_and_calls_on_step_after_every_update():
    ns = lecture()
    data = inn.gaussian_blobs(n=200, n_features=64, n_classes=10, seed=1)
    steps, model = [], inn.mlp(64, 10, depth=1, width=16, seed=3)
    reference = inn.mlp(64, 10, depth=1, width=16, seed=3)
    losses, val_acc = ns["train"](model, data, epochs=2, lr=0.05, batch=32, seed=4,
                                  on_step=lambda m, step: steps.append(step))
    assert steps == list(range(1, len(losses) + 1)) and len(losses) == 2 * math.ceil(150 / 32) and len(val_acc) == 2
    # the same updates by hand: torch.optim.SGD with momentum 0.9, batches in the order of randperm(seed)
    opt, gen = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9), torch.Generator().manual_seed(4)
    for _ in range(2):
        for idx in torch.randperm(150, generator=gen).split(32):
            loss = F.cross_entropy(reference(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), reference.parameters()))
    assert val_acc[-1] == pytest.approx(inn.evaluate(model, data.x_val, data.y_val)[1])


def test_tiny_net_gradient_is_the_hand_derived_one():
    tiny_net = lecture()["tiny_net"]
    W = np.array([[0.5, -0.3], [0.2, 0.4]])
    x, v, t = np.array([1.0, 2.0]), np.array([0.5, 0.5]), 1.0
    h, a, grad = tiny_net(W)
    s = 1 / (1 + np.exp(-(W @ x)))
    np.testing.assert_allclose(h, [-0.1, 1.0], atol=1e-12)
    np.testing.assert_allclose(grad, np.outer((v @ s - t) * v * s * (1 - s), x), rtol=1e-12)
    np.testing.assert_allclose(tiny_net(np.zeros((2, 2)))[2], np.outer((0.5 - 1) * v * 0.25, x))
    tanh = tiny_net(np.zeros((2, 2)), activation=torch.tanh)[2]  # tanh'(0) = 1 but tanh(0) = 0: y = 0, moves
    assert tanh.any() and np.array_equal(tanh[0], tanh[1])


def test_symmetry_run_keeps_every_step_and_constant_units_move_together():
    run = lecture()["symmetry_run"]("constant", "sigmoid")
    assert run["weights"].shape == (151, 8, 64) and run["loss"].shape == (150,) and run["spread"].shape == (151,)
    assert np.allclose(run["weights"][0], 0.05)
    assert np.abs(run["weights"][-1] - run["weights"][0]).max() > 0.05   # they do move, all alike
    zeros = lecture()["symmetry_run"]("zeros", "relu")
    assert zeros["loss"][-1] == pytest.approx(math.log(10), abs=0.01)


def test_deep_runs_against_a_numpy_replay_of_the_same_draws():
    ns = lecture()
    runs = ns["deep_runs"](width=256, layers=3, batch=8, seed=3)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(8, 256, generator=gen).double().numpy()
    xs = {key: x for key in runs}
    for layer in range(3):
        w = torch.randn(256, 256, generator=gen).double().numpy()
        for (f, s) in runs:
            z = xs[f, s] @ (w * ns["DEEP_STDS"][s](256))
            xs[f, s] = np.tanh(z) if f == "tanh" else np.maximum(z, 0)
            np.testing.assert_allclose(runs[f, s][layer].numpy(), xs[f, s], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("S,depth,x", [(0.5, 10, 1.0), (1.5, 7, 2.0), (1.0, 30, -3.0)])
def test_chain_gradient(S, depth, x):
    assert lecture()["chain_gradient"](S, depth, x) == pytest.approx(S ** (depth - 1) * x, rel=1e-12)


def test_signal_profile_matches_an_nn_sequential_with_the_same_weights():
    ns = lecture()
    depth, width = 5, 64
    for init, activation, scale in (("xavier", "tanh", 1.5), ("default", "relu", 1.0), ("orthogonal", "tanh", 0.5)):
        outs = ns["signal_profile"](depth, width, activation, init, scale)
        layers = ns["unit_draws"](width, ns["KIND"][init], 0)[:depth] + ns["unit_draws"](width, ns["KIND"][init], 0)[-1:]
        model = nn.Sequential()
        for i, (w, b) in enumerate(layers):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(w * scale * ns["factor_of"](init, activation, w.shape[1], w.shape[0]))
                lin.bias.copy_(b / math.sqrt(w.shape[1]) if init == "default" else torch.zeros_like(b))
            model.append(lin)
            if i < depth:
                model.append(inn.models.activation_module(activation))
        act, grad = ns["layer_profile"](model, ns["data"].x_train[:64], ns["data"].y_train[:64])
        assert act == pytest.approx(np.array([o.std().item() for o, _ in outs]), rel=1e-4)
        assert grad == pytest.approx(np.array([g.std().item() for _, g in outs]), rel=1e-4)
    # each init's weights have the std of its formula (256 x 256 draws: within 2%)
    for init, std in (("small", 0.01), ("lecun", 1 / 16), ("xavier", 1 / 16), ("he", math.sqrt(2) / 16),
                      ("default", 1 / math.sqrt(3 * 256))):
        w = ns["unit_draws"](256, ns["KIND"][init], 0)[1][0] * ns["factor_of"](init, "relu", 256, 256)
        assert w.std().item() == pytest.approx(std, rel=0.02), init
    q = ns["unit_draws"](64, "orthogonal", 0)[1][0]
    torch.testing.assert_close(q @ q.T, torch.eye(64), atol=1e-5, rtol=0)


@pytest.mark.parametrize("activation,init,expected", [("relu", "he", 1.0), ("relu", "xavier", 1 / math.sqrt(2)),
                                                      ("linear", "lecun", 1.0), ("relu", "default", math.sqrt(1 / 6)),
                                                      ("relu", "orthogonal", 1.0), ("tanh", "he", None)])
def test_predicted_factor(activation, init, expected):
    got = lecture()["predicted_factor"](128, activation, init)
    assert got == expected if expected is None else got == pytest.approx(expected, rel=1e-9)


def test_recording_hooks_record_outputs_and_gradients_and_are_removed():
    ns = lecture()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3), nn.Tanh())
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    act, grad = ns["layer_profile"](net, x, y)
    h = torch.relu(net[0](x)).detach().requires_grad_()
    F.cross_entropy(torch.tanh(net[2](h)), y).backward()
    assert act[0] == pytest.approx(h.std().item(), rel=1e-6) and grad[0] == pytest.approx(h.grad.std().item(), rel=1e-6)
    assert all(len(m._forward_hooks) == 0 for m in net)
    with pytest.raises(RuntimeError), ns["recording"](net):
        raise RuntimeError("inside the block")
    assert all(len(m._forward_hooks) == 0 for m in net)           # removed even when the block raises


def test_lecture_lsuv_is_the_reference_lsuv():
    ns = lecture()
    x = ns["data"].x_train[:256]
    ours, theirs = (nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 50), nn.Tanh(), nn.Linear(50, 10))
                    for _ in range(2))
    report = ns["lsuv"](ours, x, tol=0.02, seed=1)
    assert np.array(report) == pytest.approx(np.array(ini.lsuv(theirs, x, tol=0.02, seed=1)))
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), theirs.parameters()))
    h = x
    for module in ours:
        h = module(h)
        if isinstance(module, nn.Linear):
            assert abs(h.var().item() - 1) <= 0.02 and not module.bias.any()


def test_lsuv_stops_after_max_iter():
    class Stubborn(nn.Linear):
        """Output variance 9 whatever the scale of the weight."""

        def forward(self, x):
            out = super().forward(x)
            return 3 * out / out.std()

    for lsuv in (lecture()["lsuv"], ini.lsuv):
        model = nn.Sequential(Stubborn(64, 16), nn.ReLU(), nn.Linear(16, 4))
        report = lsuv(model, lecture()["data"].x_train[:64], max_iter=4)
        assert report[0][1] == 4 and report[0][2] == pytest.approx(9, rel=1e-3)
        assert report[1][2] == pytest.approx(1, abs=0.05)


def test_stream_variances_fixup_is_the_identity_and_he_uses_lecun_then_he():
    ns = lecture()
    fixup = ns["stream_variances"]("fixup", blocks=3)
    assert np.array_equal(fixup, np.full_like(fixup, fixup[0]))
    torch.manual_seed(0)
    model = inn.residual_mlp(64, 10, 2, 256)
    assert ns["stream_variances"]("he_both", blocks=2)[0] == pytest.approx(model[0](ns["data"].x_train[:512]).var().item())


@pytest.mark.parametrize("mode", ["standardized", "whitened", "zca", "decorrelated", "centred"])
def test_fit_against_sklearn(mode):
    from sklearn.decomposition import PCA  # imported here: scikit-learn takes seconds to import at collection
    from sklearn.preprocessing import StandardScaler

    fit, points = lecture()["fit"], lecture()["correlated_points"]
    train_x, test_x = points(400, 0), points(150, 1)
    transform = fit(train_x, mode)
    out = transform(train_x)
    if mode == "standardized":
        scaler = StandardScaler().fit(train_x)
        np.testing.assert_allclose(out, scaler.transform(train_x), atol=1e-6)
        np.testing.assert_allclose(transform(test_x), scaler.transform(test_x), atol=1e-6)
    elif mode in ("whitened", "decorrelated"):
        ref = PCA(whiten=mode == "whitened").fit(train_x).transform(train_x)
        if mode == "whitened":  # scikit-learn divides by the unbiased variance, we by the biased one
            ref = ref * math.sqrt(len(train_x) / (len(train_x) - 1))
        np.testing.assert_allclose(np.abs(out[:, ::-1]), np.abs(ref), atol=1e-6)  # eigh: smallest first
    elif mode == "zca":
        np.testing.assert_allclose(np.cov(out, rowvar=False, bias=True), np.eye(2), atol=1e-8)
    else:
        np.testing.assert_allclose(out.mean(0), 0, atol=1e-10)
    with pytest.raises(ValueError, match="unknown mode"):
        fit(train_x, "sphere")


def test_unit_health_counts_dead_units_like_a_manual_count():
    ns = lecture()
    steps, fractions, _ = ns["unit_health"]("relu", bias=-1.0, epochs=1)
    assert steps[0] == 1 and np.all(np.diff(steps) == 5)
    model = inn.mlp(64, 10, depth=6, width=128, seed=0)
    with torch.no_grad():
        for layer in model[:-1:2]:
            layer.bias.fill_(-1.0)
    # dead units get no gradient: the count after the first step equals the count at initialization
    h, dead = ns["data"].x_train[:512], []
    for layer in model[:-1]:
        h = layer(h)
        if isinstance(layer, nn.ReLU):
            dead.append((h == 0).all(0).float().mean().item())
    assert fractions[0] == pytest.approx(np.mean(dead), abs=0.02)


def test_update_ratios_measure_the_real_step():
    ns = lecture()
    ratios = ns["update_ratios"]("he", depth=2, epochs=1, seed=0)
    model = inn.mlp(64, 10, 2, width=128, init="he", seed=0)
    before = model[0].weight.detach().clone()
    data = ns["data"]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    idx = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(0))[:64]
    F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
    opt.step()
    expected = math.log10(((model[0].weight - before).std() / before.std()).item())
    assert ratios.shape == (math.ceil(1348 / 64), 3) and ratios[0, 0] == pytest.approx(expected, abs=1e-5)


# ------------------------------------------------------------------------------------------------------
# The reference formulas, the course's gains and torch.nn.init
# ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_in,n_out,bound,std", [(784, 128, 0.0811, 0.0468), (256, 64, 0.1369, 0.0791),
                                                  (10, 5, 0.6325, 0.3651), (2048, 1024, 0.0442, 0.0255)])
def test_xavier_matches_hand_computed_numbers(n_in, n_out, bound, std):
    assert ini.xavier_bound(n_in, n_out) == pytest.approx(bound, abs=5e-5)
    assert ini.xavier_std(n_in, n_out) == pytest.approx(std, abs=5e-5)
    assert ini.xavier_bound(n_in, n_out, gain=5 / 3) == pytest.approx(5 / 3 * math.sqrt(6 / (n_in + n_out)))


def test_he_matches_closed_form_and_torch_samplers():
    assert ini.he_std(4) == pytest.approx(0.70711, abs=1e-5) and ini.he_std(128) == 0.125
    assert ini.he_bound(300, 5 / 3) == pytest.approx(5 / 3 * math.sqrt(3 / 300), rel=1e-12)
    gen = torch.Generator().manual_seed(0)
    w = nn.init.kaiming_uniform_(torch.empty(300, 700), nonlinearity="relu", generator=gen)
    assert 0.999 * ini.he_bound(700) < w.abs().max() <= ini.he_bound(700)
    w = nn.init.kaiming_normal_(torch.empty(300, 700), mode="fan_out", nonlinearity="relu", generator=gen)
    assert w.var().item() / ini.he_std(300) ** 2 == pytest.approx(1, abs=6 * relative_spread(w.numel(), 3))
    assert abs(w.var().item() / ini.he_std(300, 1.0) ** 2 - 1) > 0.5   # LeCun is half of He: told apart by far


def test_gains_are_torchs_or_the_computed_second_moment():
    gains = inn.models.GAINS
    for name in ("linear", "relu", "tanh", "sigmoid", "selu"):
        assert gains[name] == nn.init.calculate_gain(name)
    assert gains["leaky_relu"] == nn.init.calculate_gain("leaky_relu", 0.01)
    assert gains["prelu"] == pytest.approx(math.sqrt(2 / (1 + 0.25 ** 2)), rel=1e-6)   # piecewise linear: exact
    z = torch.randn(4_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for name, value in (("elu", 1.245), ("gelu", 1.534), ("swish", 1.677)):   # the numbers, 3 decimals
        assert gains[name] == pytest.approx(value, abs=6e-4)
        monte_carlo = 1 / inn.models.activation_module(name).double()(z).pow(2).mean().sqrt().item()
        assert gains[name] == pytest.approx(monte_carlo, rel=2e-3)            # 4M draws: to about 0.1%
    assert isinstance(inn.models.activation_module("leaky_relu"), nn.LeakyReLU)
    assert inn.models.activation_module("leaky_relu").negative_slope == inn.models.LEAKY_SLOPE == 0.01


# ------------------------------------------------------------------------------------------------------
# The lecture's widgets
# ------------------------------------------------------------------------------------------------------

INSTANT = ["symmetry_panel", "signal_panel", "deep_panel"]


@pytest.mark.slow  # renders each panel four times per control: seconds per panel
@pytest.mark.parametrize("name", INSTANT)
def test_a_panel_redrawn_into_its_figure_looks_exactly_like_a_fresh_drawing(name):
    check_redraws_like_fresh(lecture()[name], avoid=(4096,))  # 4096: seconds to draw


def test_signal_panel_shows_the_collapse_and_the_rule():
    panel = lecture()["signal_panel"]
    fig = panel.update(depth=20, width=256, activation="relu", init="xavier", scale=1.0)
    std = fig.axes[0].get_lines()[0].get_ydata()
    assert len(std) == 20 and std[-1] / std[0] < 1e-2
    dashed = fig.axes[0].get_lines()[1].get_ydata()
    assert dashed[-1] / dashed[0] == pytest.approx(2 ** -9.5, rel=1e-6)   # (1/sqrt 2)^19
    fig = panel.update(activation="selu", init="lecun", depth=30)
    assert len(fig.axes[0].get_lines()) == 1                               # no closed form for SELU


@pytest.mark.slow  # trains five nets per depth
def test_training_panel_runs_reports_progress_and_caches():
    ns = lecture()
    panel = ns["training_panel"]
    assert panel.run_button
    fig = panel.update(depth=2, activation="relu", epochs=2, lr=0.01)
    assert panel.progress.value == 1.0
    acc = {line.get_label(): line.get_ydata() for line in fig.axes[1].get_lines()}
    assert set(acc) == {"zeros", "small", "default", "xavier", "he"} and all(len(a) == 2 for a in acc.values())
    hits = ns["run_from"].cache_info().hits
    px = pixels(fig)
    panel.update(depth=3)
    assert differ(px, pixels(panel.last_figure))
    panel.update(depth=2)                                                  # back: all from the cache
    assert ns["run_from"].cache_info().hits >= hits + 5
