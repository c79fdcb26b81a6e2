"""Claims about the outcomes of lecture 2's random experiments, each a function claim(seed) that runs the lecture's own
code (its `define` cells, tests/lecture_code.py) with that seed and asserts the claim with the margin of the lecture's
cell (tests/test_normalization.py asserts them with seed 0, tests/test_seeds.py with five others).

Every margin was set from the spread of the bounded quantity over seeds 0-9 (`python -m benchmarks.seed_spread
claims_normalization`; the range is quoted next to the assertion, here and in the lecture): floating-point kernels
differ between CPUs, so a margin fitted to one run breaks on the next machine. The exact checks (BatchNorm against
nn.BatchNorm1d, the backward against autograd, the conditioning experiment on fixed data) are not listed here.
Together the claims cost 5.7-7.4 s of CPU per seed on one thread (seeds 202-505, load average about 3 on 2 cores;
the first seed of a process adds about 3 s of torch start-up).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from tests.lecture_code import definitions
from tests.notebooks import ROOT

LECTURE = ROOT / "lectures" / "02_normalization.ipynb"
MEASURED: dict[str, list[dict]] = {}  # name -> the statistics of every run, for benchmarks/seed_spread.py


def lecture() -> dict:
    """The namespace of the lecture's define cells (executed once per process)."""
    return definitions(LECTURE)


def measured(name: str, **stats) -> dict:
    MEASURED.setdefault(name, []).append(stats)
    return stats


def noisy_batchnorm(seed: int = 0) -> None:
    """Section 2: shift noise injected after every BatchNorm does not undo BatchNorm's benefit."""
    run = lecture()["noise_run"]
    clean, noisy = run(False, seed=seed)[1][-1], run(True, seed=seed)[1][-1]
    s = measured("noisy_batchnorm", noisy=noisy, noisy_minus_clean=noisy - clean)
    # over seeds 0-9: noisy 0.904..0.962, noisy - clean -0.036..+0.038; bars 0.85 and -0.1
    assert s["noisy"] > 0.85 and s["noisy_minus_clean"] > -0.1, s


def landscape(seed: int = 0) -> None:
    """Section 2: the loss and the gradient vary far less along the gradient with BatchNorm (Santurkar et al.)."""
    runs = {n: lecture()["landscape"](n, seed=seed) for n in ("none", "batch")}
    spread = {n: np.median(r["loss_hi"] - r["loss_lo"]) for n, r in runs.items()}
    change = {n: np.median(r["grad_change"]) for n, r in runs.items()}
    s = measured("landscape", loss_range_ratio=spread["none"] / spread["batch"],
                 grad_change_ratio=change["none"] / change["batch"])
    # over seeds 0-9: loss range plain / BN 23.5..58.7, gradient change 7.3..18.1; bars 3 and 2
    assert s["loss_range_ratio"] > 3 and s["grad_change_ratio"] > 2, s


def undo_batch_statistics(seed: int = 0) -> None:
    """Section 3: with gamma = sqrt(sigma^2 + eps), beta = mu of the population, training mode on batches of 16 stays
    about a third of the inputs' spread away from the identity (the lecture's cell, as a function of the seed)."""
    ns = lecture()
    torch.manual_seed(seed)
    z = torch.nn.Linear(64, 16)(ns["data"].x_train).detach()
    var, mean = torch.var_mean(z, dim=0, correction=0)
    batches = z[:1344].view(84, 16, 16)
    out = ns["batch_norm"](batches, torch.sqrt(var + 1e-5), mean, torch.zeros(84, 16), torch.ones(84, 16), training=True)
    s = measured("undo_batch_statistics", off=((out - batches).std() / z.std()).item())
    # over seeds 0-9: 0.299..0.313; bar 0.2
    assert s["off"] > 0.2, s


def eval_mode(seed: int = 0) -> None:
    """Section 3: scoring in training mode with chunks of two is far worse than evaluation mode."""
    ns = lecture()
    model = ns["running_stats_run"](seed=seed)[0]
    acc_eval = ns["inn"].evaluate(model, ns["data"].x_val, ns["data"].y_val)[1]
    chunk_2 = ns["accuracy_in_training_mode"](model, 2)
    s = measured("eval_mode", drop=acc_eval - chunk_2, full_minus_2=ns["accuracy_in_training_mode"](model, 449) - chunk_2)
    # over seeds 0-9: eval - chunks of 2 0.402..0.460; one chunk of 449 - chunks of 2 0.406..0.467; bars 0.2
    assert s["drop"] > 0.2 and s["full_minus_2"] > 0.2, s


def effective_learning_rate(seed: int = 0) -> None:
    """Section 4: weights x10 at the same learning rate turn 100 times more slowly in the first step (less over 20
    steps, as the original's weights grow), and weights x10 at 100 times the rate train like the original (float64)."""
    ns = lecture()
    sgd, w0 = ns["first_layer_sgd"], ns["bn_mlp"](depth=2, seed=seed)[0].weight.double().detach()
    angle = lambda w: torch.acos(torch.clamp(torch.nn.functional.cosine_similarity(w, w0, dim=1), -1, 1)).mean().item()  # noqa: E731
    (base, w_base), (same, _), (slow, w_slow) = (sgd(scale, lr, seed=seed) for scale, lr in ((1, 0.1), (10, 10.0), (10, 0.1)))
    first = angle(sgd(1, 0.1, steps=1, seed=seed)[1]) / angle(sgd(10, 0.1, steps=1, seed=seed)[1])
    s = measured("effective_learning_rate", first_step_ratio=first, loss_gap=float(np.abs(same / base - 1).max()),
                 ratio_20_steps=angle(w_base) / angle(w_slow), slow_minus_base=slow[-1] - base[-1])
    # over seeds 0-9: first step 100.0 to four digits, bar 90..110; loss gap (epsilon's effect) 3e-8..9.5e-7, bar 1e-3;
    # over 20 steps 73..82, bar: below the first step's
    assert 90 < s["first_step_ratio"] < 110 and s["loss_gap"] < 1e-3 and s["ratio_20_steps"] < first, s
    # over seeds 0-9: the final loss of the long weights at the same rate is higher by 0.31..0.39; bar 0
    assert s["slow_minus_base"] > 0, s


def learning_rates(seed: int = 0) -> None:
    """Section 5 (batch 128, 4 epochs): the plain net fails at lr 0.3 and 1.0, BatchNorm trains at every rate from 0.03
    to 1.0, and its best run is as good as the best plain run (within 0.03)."""
    sweep = {n: lecture()["lr_sweep"](n, 128, seed=seed) for n in ("none", "batch")}
    final = {(n, lr): (math.nan if r[2] else r[1][-1]) for n in sweep for lr, r in sweep[n].items()}
    lrs = list(sweep["none"])
    s = measured("learning_rates", plain_fails=[sweep["none"][lr][2] or final["none", lr] < 0.3 for lr in (0.3, 1.0)],
                 bn_diverged=any(sweep["batch"][lr][2] for lr in lrs),
                 bn_worst=min(final["batch", lr] for lr in (0.03, 0.1, 0.3, 1.0)),
                 best_gain=np.nanmax([final["batch", lr] for lr in lrs]) - np.nanmax([final["none", lr] for lr in lrs]))
    # over seeds 0-9: plain failed at both rates every time, BN never diverged; BN's worst 0.893..0.949, bar 0.85;
    # best BN - best plain -0.002..+0.076 (mean 0.034), bar -0.03
    assert all(s["plain_fails"]) and not s["bn_diverged"] and s["bn_worst"] > 0.85 and s["best_gain"] > -0.03, s


def placement(seed: int = 0) -> None:
    """Section 6: 8 default-initialized layers: the plain net stays at chance, BN before or after ReLU learns."""
    final = {p: lecture()["placement_run"](p, seed=seed)[1][-1] for p in ("none", "before", "after")}
    s = measured("placement", plain=final["none"], bn=min(final["before"], final["after"]))
    # over seeds 0-9: plain 0.087..0.127 (chance), BN 0.880..0.931; bars 0.2 and 0.7
    assert s["plain"] < 0.2 and s["bn"] > 0.7, s


def batch_size(seed: int = 0) -> None:
    """Section 9: at batch 2 BatchNorm collapses and GroupNorm does not; at batch 16 BatchNorm has caught up."""
    run = lecture()["batch_size_run"]
    bn = {b: run("batch", b, seed=seed)[1][-1] for b in (2, 16)}
    gn_2 = run("group", 2, seed=seed)[1][-1]
    s = measured("batch_size", gn_2=gn_2, gn_minus_bn_2=gn_2 - bn[2], bn_16=bn[16])
    # over seeds 0-9: GN at 2 0.900..0.953, bar 0.8; BN at 2 0.205..0.528, GN - BN at 2 0.421..0.742, bar 0.3;
    # BN at 16 0.931..0.956, bar 0.85
    assert s["gn_2"] > 0.8 and s["gn_minus_bn_2"] > 0.3 and s["bn_16"] > 0.85, s


def deep_profiles(seed: int = 0) -> None:
    """Section 13, at initialization (the lecture's cell as a function of the seed): without normalization the signal
    vanishes; with BatchNorm it keeps its scale but the gradient grows towards the input; residual connections tame it."""
    ns = lecture()
    x, y = ns["data"].x_train[:256], ns["data"].y_train[:256]
    plain, bn, res = (ns["block_profile"](ns["deep_net"](30, norm, residual, seed=seed), x, y)
                      for norm, residual in (("none", False), ("batch", False), ("batch", True)))
    s = measured("deep_profiles", plain_decay=plain[0][-1] / plain[0][0], bn_spread=bn[0].max() / bn[0].min(),
                 bn_grad_ratio=bn[1][0] / bn[1][-1], res_grad_ratio=res[1][0] / res[1][-1], bn_weight_ratio=bn[2][0] / bn[2][-1])
    # over seeds 0-9: plain decay 4.5e-9..7.9e-9, bar 1e-4; BN spread 1.07..1.12, bar 3; BN gradient ratio 194..351,
    # bar 50; residual 6.7..9.2, bar 20
    assert s["plain_decay"] < 1e-4 and s["bn_spread"] < 3, s
    assert s["bn_grad_ratio"] > 50 and s["res_grad_ratio"] < 20, s
    # over seeds 0-9: the first block's weight gradient / the last's 133..310; bar 50
    assert s["bn_weight_ratio"] > 50, s


def depth(seed: int = 0) -> None:
    """Section 13: the plain BatchNorm net trains at 10 blocks; at 30 the residual one trains and the plain one falls
    far behind."""
    run = lecture()["depth_run"]
    plain, res = run(30, False, seed=seed)[1][-1], run(30, True, seed=seed)[1][-1]
    s = measured("depth", plain_10=run(10, False, seed=seed)[1][-1], plain_30=plain, res_30=res, gap=res - plain)
    # over seeds 0-9: plain 0.105..0.207, residual 0.869..0.902, gap 0.695..0.786; bars 0.8 and a gap of 0.3
    assert s["res_30"] > 0.8 and s["gap"] > 0.3, s
    # over seeds 0-9: plain at 10 blocks 0.751..0.904; bar 0.65
    assert s["plain_10"] > 0.65, s


def pre_post_ln(seed: int = 0) -> None:
    """Section 14, 24 blocks at initialization: post-LN gradients grow towards the output, pre-LN ones do not, and the
    post-LN stack's last block gets the larger gradient."""
    grads = lecture()["ln_gradients"]
    post, pre = grads(24, False, seed=seed), grads(24, True, seed=seed)
    s = measured("pre_post_ln", post_growth=post[-1] / post[0], pre_growth=pre[-1] / pre[0], last_ratio=post[-1] / pre[-1])
    # over seeds 0-9: post 1.42..2.49, bar 1.2; pre 0.34..0.66, bar 0.8; post last / pre last 2.0..3.8, bar 1.5
    assert s["post_growth"] > 1.2 and s["pre_growth"] < 0.8 and s["last_ratio"] > 1.5, s


def lipschitz_bound(seed: int = 0) -> None:
    """Section 12: the plain He x 1.5 MLP's Lipschitz bound is large; the spectrally normalized one's is 1."""
    ns = lecture()
    (plain_ratios, plain_bound), (ratios, bound) = (ns["stretch"](ns["lipschitz_mlp"](sn, seed=seed), n_pairs=300, seed=seed)
                                                    for sn in (False, True))
    s = measured("lipschitz_bound", plain_bound=plain_bound, spectral_bound=bound)
    # over seeds 0-9: plain bound 52..59; bar 10; the spectral bound is 1 by construction
    assert s["plain_bound"] > 10 and abs(s["spectral_bound"] - 1) < 1e-3, s
    assert plain_ratios.max() <= plain_bound and ratios.max() <= bound, s


SEED_CLAIMS = [noisy_batchnorm, landscape, undo_batch_statistics, eval_mode, effective_learning_rate, learning_rates,
               placement, batch_size, deep_profiles, depth, pre_post_ln, lipschitz_bound]
