"""Claims about the outcomes of lecture 3's random experiments (initnorm.generalization, initnorm.augment), each a
function claim(seed) that runs the experiment with that seed and asserts the claim with the margin used in the
tests and in the lecture's cells (tests/test_generalization.py asserts them with seed 0, tests/test_seeds.py with
five others). Training runs vary the initialization, batch order, masks and augmentations with the seed; the
noisy digits (data split and corrupted labels) stay those of the lecture, except in `noisy_labels`.

Every margin was set from the spread of the bounded quantity over seeds 0-9 (the range is quoted next to the
assertion), not fitted to one run.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from torch import nn

from initnorm import augment as A
from initnorm import generalization as gen

MEASURED: dict[str, list[dict]] = {}  # name -> the statistics of every run, for the measuring script


def measured(name: str, **values) -> dict:
    MEASURED.setdefault(name, []).append(values)
    return values


def _close(fig) -> None:
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- sampling claims

def noisy_labels(seed: int = 0) -> None:
    """About a quarter of the 200 training labels is wrong (test and lecture)."""
    noisy, clean = gen.noisy_digits(seed=seed), gen.noisy_digits(seed=seed, label_noise=0.0)
    s = measured("noisy_labels", wrong=(noisy.y_train != clean.y_train).float().mean().item())
    # binomial(200, 0.25) / 200 has std 0.031; over seeds 0-9: 0.205..0.310 (mean 0.262); bars 0.25 -+ 0.12 (3.9 std)
    assert 0.13 < s["wrong"] < 0.37, s


def dropout_masks(seed: int = 0) -> None:
    """nn.Dropout drops a fraction p and rescales by 1 / (1 - p) (test: p 0.2, 0.5 on 400k units; lecture: 0.3, 1M)."""
    for p, units, draws, tol_p, tol_mean in ((0.2, 200, 2000, 0.01, 0.02), (0.5, 200, 2000, 0.01, 0.02),
                                             (0.3, 256, 4000, 0.005, 0.01)):
        out = gen.dropout_samples(p=p, units=units, draws=draws, seed=seed)
        s = measured(f"dropout_masks_{p}", dropped_err=abs((out == 0).float().mean().item() - p),
                     mean_err=abs(out.mean().item() - 1))
        # std of the dropped share: sqrt(p(1-p)/n) <= 0.0008 (400k) and 0.00046 (1M); bars over 10 std. Over seeds
        # 0-9 the errors of the share stay <= 0.0014 and of the mean <= 0.0027
        assert s["dropped_err"] < tol_p and s["mean_err"] < tol_mean, (p, s)


def variance_shift(seed: int = 0) -> None:
    """Dropout before BN shrinks BN's test-time std to the predicted value; BN before dropout keeps 1 (test,
    lecture: p 0.5 within 0.01)."""
    for mean, std, p in ((1.0, 1.0, 0.5), (0.5, 2.0, 0.3), (0.0, 1.0, 0.2)):
        pred = gen.predicted_test_std(p, mean, std)
        s = measured(f"variance_shift_{p}", err_dropout_bn=abs(gen.variance_shift(p, "dropout->bn", mean, std,
                                                                                  seed=seed)["test_std"] - pred),
                     err_bn_dropout=abs(gen.variance_shift(p, "bn->dropout", mean, std, seed=seed)["test_std"] - 1))
        # over seeds 0-9 all errors are <= 0.0040 (mean 0.0010); bar 0.02 (test); for (1, 1, 0.5), the point the
        # lecture's draw_variance_shift measures with the same call, bar 0.01 (lecture)
        bar = 0.01 if (mean, std, p) == (1.0, 1.0, 0.5) else 0.02
        assert s["err_dropout_bn"] < bar and s["err_bn_dropout"] < bar, (p, s)


def dropblock_rate(seed: int = 0) -> None:
    """DropBlock with p 0.2 drops about 20% of 64 x 4 x 12 x 12 units (test: (0.1, 0.26))."""
    mask = gen.dropblock_mask((64, 4, 12, 12), p=0.2, block=3, gen=torch.Generator().manual_seed(seed))
    s = measured("dropblock_rate", dropped=(mask == 0).float().mean().item())
    # over seeds 0-9: 0.176..0.189 (mean 0.183); bars 0.1 and 0.26
    assert 0.1 < s["dropped"] < 0.26, s


def stochastic_depth_mean_depth(seed: int = 0) -> None:
    """Over 1500 training passes the number of blocks run averages sum p_l (test: within 0.12)."""
    net = gen.StochasticDepthMLP(blocks=5, width=16, last_survival=0.4, seed=seed).train()
    torch.manual_seed(seed)
    with torch.no_grad():
        for _ in range(1500):
            net(torch.zeros(1, 64))
    s = measured("stochastic_depth_mean_depth", err=abs(np.mean(net.active) - sum(net.survival)))
    # std of the mean of 1500 passes <= sqrt(sum p(1-p) / 1500) = 0.025; over seeds 0-9: 0.006..0.054; bar 0.12
    assert s["err"] < 0.12, s


def beta_shares(seed: int = 0) -> None:
    """Shares of Beta(a, a) draws in (0.1, 0.9) match the exact mass (test: n 20000 within 0.015 at a 0.2, order of
    the shares; lecture: n 40000 within 0.01)."""
    fig, shares = gen.draw_beta(alphas=(0.2, 2.0), n=20000, seed=seed)
    _close(fig)
    exact = stats.beta.cdf(0.9, 0.2, 0.2) - stats.beta.cdf(0.1, 0.2, 0.2)
    s = measured("beta_shares", err_02=abs(shares[0.2] - exact), share_2=shares[2.0], share_02=shares[0.2])
    # std of a share of 20000 draws <= 0.0035; over seeds 0-9: error 0.0018..0.0065, share at a 2.0 0.942..0.947,
    # at a 0.2 0.321..0.333; bars 0.015, 0.9 and 0.4
    assert s["err_02"] < 0.015 and s["share_2"] > 0.9 > 0.4 > s["share_02"], s
    fig, shares = gen.draw_beta(alphas=(0.2, 1.0, 2.0), n=40000, seed=seed)
    _close(fig)
    s = measured("beta_shares_lecture", err=max(abs(v - gen.beta_middle_mass(a)) for a, v in shares.items()))
    # std <= 0.0025 at n 40000; over seeds 0-9: largest error 0.0007..0.0031; bar 0.01
    assert s["err"] < 0.01, s


def bn_noise(seed: int = 0) -> None:
    """One sample's BN output over random batchmates: 2 sqrt(q(1-q)) for B = 2, ~ 1/sqrt(B) for larger B (test,
    lecture: the log-log slope within (-0.6, -0.4))."""
    q = stats.norm.cdf(1.0)
    two = gen.bn_noise((2,), x0=1.0, draws=20000, seed=seed)[2]
    noise = gen.bn_noise((16, 64, 256), seed=seed)
    fig, lecture_noise, slope = gen.draw_bn_noise(seed=seed)
    _close(fig)
    s = measured("bn_noise", err_two=abs(two - 2 * np.sqrt(q * (1 - q))), ratio=noise[16] / noise[256],
                 ordered=noise[16] > noise[64] > noise[256], slope=slope,
                 lecture_ordered=lecture_noise[4] > lecture_noise[32] > lecture_noise[256])
    # over seeds 0-9: B = 2 error 0.002..0.009, bar 0.02; ratio 3.85..4.18, bar 4 -+ 15%; slope -0.511..-0.488,
    # bars -0.6 and -0.4; both orderings held for every seed
    assert s["err_two"] < 0.02 and abs(s["ratio"] / 4 - 1) < 0.15 and s["ordered"], s
    assert -0.6 < s["slope"] < -0.4 and s["lecture_ordered"], s


def randomness_table(seed: int = 0) -> None:
    """Every technique differs between two training passes and not between two test passes (test, lecture)."""
    rows = gen.randomness_table(seed=seed)
    s = measured("randomness_table", smallest_train=min(r["train: |pass1 - pass2|"] for r in rows),
                 largest_test=max(r["test: |pass1 - pass2|"] for r in rows))
    # over seeds 0-9: smallest training difference 0.011..0.88; bar 1e-3; the test passes are equal by construction
    assert s["smallest_train"] > 1e-3 and s["largest_test"] == 0, s


def random_shifts(seed: int = 0) -> None:
    """Random shifts of 42 images by at most one pixel draw at least 5 of the 9 shifts; the gallery's 30 draws move
    at least 15 images (test). Expected: 9 distinct and 26.7 moved."""
    x = torch.rand(42, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    out = A.random_shift(x, torch.Generator().manual_seed(seed), max_shift=1)
    moves = {(dy, dx) for img, res in zip(x[:, 0], out[:, 0]) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
             if torch.equal(res, torch.roll(img, (dy, dx), (0, 1)) * _inside(dy, dx))}
    orig, outs = gen.augment_examples("shift", draws=3, seed=seed)
    s = measured("random_shifts", distinct=len(moves),
                 moved=sum(not torch.equal(o[c], orig[c]) for o in outs for c in range(10)))
    # over seeds 0-9: 8..9 distinct shifts, 25..29 moved; bars 5 and 15
    assert s["distinct"] >= 5 and s["moved"] >= 15, s


def _inside(dy: int, dx: int) -> torch.Tensor:
    """(8, 8) mask of the pixels a shift by (dy, dx) fills from the image (zeros enter elsewhere)."""
    m = torch.zeros(8, 8)
    m[max(dy, 0):8 + min(dy, 0), max(dx, 0):8 + min(dx, 0)] = 1
    return m


def mc_dropout_toy(seed: int = 0) -> None:
    """An untrained dropout net: the average of 200 masks agrees with eval mode on > 90% of the inputs, one mask
    on fewer (test)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 3))
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = model.eval()(x).argmax(1)
    res = gen.mc_dropout_accuracy(model, x, y, n_masks=(1, 200), seed=seed)
    s = measured("mc_dropout_toy", mc200=res["mc"][200], mc1=res["mc"][1])
    # over seeds 0-9: 200 masks 0.917..0.983, one mask 0.52..0.75; bar 0.85
    assert s["mc200"] > 0.85 and s["mc1"] < s["mc200"], s


# ---------------------------------------------------------------------------------------------- training claims

def dropout_gap(seed: int = 0) -> None:
    """The baseline memorizes the noisy labels; dropout 0.5 shrinks the train-validation gap (test, lecture)."""
    base, _ = gen.dropout_run(p=0.0, seed=seed)
    drop, _ = gen.dropout_run(p=0.5, seed=seed)
    s = measured("dropout_gap", base=gen.gap(base), shrink=gen.gap(base) - gen.gap(drop))
    # over seeds 0-9: baseline gap 0.198..0.245 (mean 0.216), bar 0.15; dropout shrinks it by 0.166..0.259, bar 0.1
    assert s["base"] > 0.15 and s["shrink"] > 0.1, s


def mc_dropout_lecture(seed: int = 0) -> None:
    """The average of 50 dropout masks predicts like the single eval-mode pass (lecture)."""
    fig, res = gen.draw_mc_dropout(p=0.5, seed=seed)
    _close(fig)
    s = measured("mc_dropout_lecture", diff=abs(res["mc"][50] - res["eval"]), agreement=res["agreement"])
    # over seeds 0-9: |MC - eval| 0..0.013 (mean 0.004), bar 0.03; agreement 0.947..0.976, bar 0.9
    assert s["diff"] < 0.03 and s["agreement"] > 0.9, s


def penalties(seed: int = 0) -> None:
    """L2 shrinks the first layer, L1 makes it sparsest, both shrink the gap (test; lecture: gaps by 0.05)."""
    fig, rows = gen.penalty_experiment(seed=seed)
    _close(fig)
    none, l2, l1 = rows
    s = measured("penalties", norm_l2_over_none=l2["|W1|_F"] / none["|W1|_F"],
                 sparse=(none["|w|<0.01"], l2["|w|<0.01"], l1["|w|<0.01"]),
                 gap_shrink_l2=none["gap"] - l2["gap"], gap_shrink_l1=none["gap"] - l1["gap"])
    # over seeds 0-9: |W1| with L2 / without 0.416..0.428; share |w| < 0.01: none 0.039..0.046, L2 0.328..0.363,
    # L1 0.642..0.675; the gap shrinks with L2 by 0.089..0.160 (mean 0.117), with L1 by 0.117..0.196; bars 0.05
    assert s["norm_l2_over_none"] < 1 and s["sparse"][2] > s["sparse"][1] > s["sparse"][0], s
    assert s["gap_shrink_l2"] > 0.05 and s["gap_shrink_l1"] > 0.05, s


def stochastic_depth_training(seed: int = 0) -> None:
    """Without stochastic depth the residual net memorizes the noisy labels; with p_L 0.5 its training loss stays
    higher (test). Both are judged on the mean of the last 10 epochs: the residual net's loss spikes now and then
    (seed 303's last epoch: 0.31, its last-10 mean 0.07)."""
    last10 = lambda p: float(np.mean(gen.stochastic_depth_run(last_survival=p, seed=seed)[0].train_loss[-10:]))  # noqa
    s = measured("stochastic_depth_training", full=last10(1.0), sd_over_full=last10(0.5) / last10(1.0))
    # over seeds 0-25, 303, 404: all blocks 0.009..0.116, p_L 0.5 1.9..20 times higher; bars 0.25 and 1.3
    assert s["full"] < 0.25 and s["sd_over_full"] > 1.3, s


def augmentation_helps(seed: int = 0) -> None:
    """Random shifts and random erasing raise the validation accuracy of the last 10 epochs (one epoch's accuracy
    jumps by a few points: the final one alone rose in only 7 of 10 seeds with erasing); shifts also shrink the
    train-validation gap (test)."""
    base = gen.augmentation_run("none", seed=seed)[0]
    runs = {a: gen.augmentation_run(a, seed=seed)[0] for a in ("shift", "erasing")}
    last10 = lambda h: float(np.mean(h.val_acc[-10:]))  # noqa: E731
    s = measured("augmentation_helps", shift=last10(runs["shift"]) - last10(base),
                 erasing=last10(runs["erasing"]) - last10(base), shift_gap=gen.gap(base) - gen.gap(runs["shift"]))
    # over seeds 0-9: shift +0.026..+0.066, erasing +0.014..+0.041 (last-10 means); shift's gap 0.27..0.40 smaller;
    # bars 0, 0 and 0.15
    assert s["shift"] > 0 and s["erasing"] > 0 and s["shift_gap"] > 0.15, s


def flip_test(seed: int = 0) -> None:
    """Mirrored digits lose most of the baseline's accuracy (lecture)."""
    fig, plain, mirrored = gen.draw_flip_test(seed=seed)
    _close(fig)
    s = measured("flip_test", drop=plain.mean() - mirrored.mean())
    # over seeds 0-9: 0.497..0.563 (mean 0.532); bar 0.3
    assert s["drop"] > 0.3, s


def tta(seed: int = 0) -> None:
    """Shifted test views help the shift-trained model; adding mirrored views hurts (lecture)."""
    row = gen.tta_table(seed=seed)[1]
    s = measured("tta", shifts_gain=row["test views: shifts"] - row["test views: none"],
                 hflip_loss=row["test views: shifts"] - row["test views: shifts+hflip"])
    # over seeds 0-9: shifted views +0.025..+0.087 (mean 0.050), mirrored ones -0.027..-0.065; bars 0
    assert s["shifts_gain"] > 0 and s["hflip_loss"] > 0, s


def early_stopping(seed: int = 0) -> None:
    """The restored best checkpoint beats the net trained for all 40 epochs (lecture)."""
    res, full = gen.train_with_early_stopping(patience=5, seed=seed), gen.full_run(seed=seed)
    s = measured("early_stopping", gain=res.restored_val_acc - full.val_acc[-1])
    # over seeds 0-9: +0.025..+0.105 (mean 0.067); bar 0
    assert s["gain"] > 0, s


def ensemble(seed: int = 0) -> None:
    """Five nets from seeds seed..seed+4: averaging their probabilities lowers the validation cross-entropy well
    below the members' mean (by Jensen's inequality it can never raise it); in accuracy, averaging and voting are
    at least as good as the average member, within 0.01 (lecture)."""
    fig, scores = gen.draw_ensemble(n_models=5, first_seed=seed)
    _close(fig)
    s = measured("ensemble", nll_ratio=scores["member_nll"].mean() / scores["averaging_nll"][-1],
                 averaging=scores["averaging"][-1] - scores["members"].mean(),
                 voting=scores["voting"][-1] - scores["members"].mean())
    # seeds 0-9: members' mean cross-entropy / the ensemble's 1.106..1.133, bar 1.05; accuracy gain over 20
    # ensembles (seeds s..s+4 and 5s..5s+4, s = 0-9): averaging +0.001..+0.039, voting +0.006..+0.033, bars -0.01
    assert s["nll_ratio"] > 1.05 and s["averaging"] > -0.01 and s["voting"] > -0.01, s


SEED_CLAIMS = [noisy_labels, dropout_masks, variance_shift, dropblock_rate, stochastic_depth_mean_depth, beta_shares,
               bn_noise, randomness_table, random_shifts, mc_dropout_toy, dropout_gap, mc_dropout_lecture, penalties,
               stochastic_depth_training, augmentation_helps, flip_test, tta, early_stopping, ensemble]
