"""Claims about the outcomes of the exercises' payoff experiments, re-run with other seeds by tests/test_seeds.py.

Exercise 1's payoff (solutions/ex1_initialization, cells payoff_setup, relu_output_profile and
test_deep_relu_net_trains) measures the ReLU outputs' scale through the 30-layer net with the reference's LeCun,
Xavier and He, then trains it with He: the text says Xavier shrinks the scale by about 1/sqrt(2) per layer, He keeps
it, and in the payoff's budget only He reaches the bar of 0.55. The reference's own cells are executed, then the
runs with `seed`.

Exercise 3's payoff (solutions/ex3_generalization, cells plain_run and test_smaller_gap) trains the plain MLP and
the reference dropout + early stopping on the noisy digits and asserts the gap and accuracy margins below. Here the
reference solution's own cells are executed (not a copy of them), then the payoff runs with `mlp(p, seed)` and
`train_run(..., seed=seed)`. Exercise 2's payoff compares two float64 trainings step by step (exact arithmetic up
to 1e-9): no seed claim.
"""
from __future__ import annotations

import functools
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
EX3 = ROOT / "solutions" / "ex3_generalization" / "ex3_generalization.ipynb"
EX3_CELLS = ("setup", "dropout_forward", "dropout_backward", "EarlyStopping", "payoff_setup")

EX1 = ROOT / "solutions" / "ex1_initialization" / "ex1_initialization.ipynb"
EX1_CELLS = ("setup", "compute_fans", "calculate_gain", "xavier_normal_", "kaiming_normal_", "payoff_setup")

MEASURED: dict[str, list[dict]] = {}


def _execute(notebook: pathlib.Path, names: tuple[str, ...]) -> dict:
    cells = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
             for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"}
    namespace: dict = {}
    for name in names:
        exec(compile(cells[name], f"{notebook.name}:{name}", "exec"), namespace)  # noqa: S102 (our own notebook)
    return namespace


@functools.lru_cache(maxsize=1)
def ex1_namespace() -> dict:
    """The reference solution's setup, fan, gain and kaiming_normal_ cells and the payoff's first run, executed."""
    return _execute(EX1, EX1_CELLS)


def ex1_payoff(seed: int = 0) -> None:
    """Xavier and LeCun shrink the ReLU outputs' scale by about 1/sqrt(2) per layer, He keeps it; trained in the
    payoff's budget, He reaches the bar of 0.55 and Xavier does not (the payoff cells' text and bar)."""
    ns = ex1_namespace()
    kaiming, xavier = ns["kaiming_normal_"], ns["xavier_normal_"]
    fills = {"lecun": lambda w, gen: kaiming(w, nonlinearity="linear", generator=gen),
             "xavier": lambda w, gen: xavier(w, generator=gen),
             "he": lambda w, gen: kaiming(w, nonlinearity="relu", generator=gen)}
    x, s = ns["DIGITS"].x_train[:512], {}
    for name, fill in fills.items():
        stds = ns["relu_output_stds"](ns["deep_relu_net"](fill, seed=seed), x)
        s[f"{name} per layer"] = (stds[-1] / stds[0]) ** (1 / 29)
    budget = {**ns["BUDGET"], "seed": seed}
    for name in ("xavier", "he"):
        s[f"{name} best"] = max(ns["initnorm"].train(ns["deep_relu_net"](fills[name], seed=seed), ns["DIGITS"],
                                                     **budget).val_acc)
    MEASURED.setdefault("ex1_payoff", []).append(s)
    # over seeds 10-21 (5 epochs of fused Adam): He best 0.648..0.869 (mean 0.754), Xavier best 0.214..0.499 (mean
    # 0.379): the bar 0.55 sits 0.10 below He's worst and 0.05 above Xavier's best; per-layer factors 0.70 / 0.99
    assert abs(s["lecun per layer"] - 0.5 ** 0.5) < 0.05 and abs(s["xavier per layer"] - 0.5 ** 0.5) < 0.05, s
    assert abs(s["he per layer"] - 1) < 0.05, s
    assert s["he best"] >= 0.55 > s["xavier best"], s


@functools.lru_cache(maxsize=1)
def ex3_namespace() -> dict:
    """The reference solution's setup, dropout, EarlyStopping and payoff_setup cells, executed in order."""
    return _execute(EX3, EX3_CELLS)


def ex3_payoff(seed: int = 0) -> None:
    """The plain net memorizes; reference dropout 0.5 + EarlyStopping(patience 5) stops early, shrinks the gap by
    0.15 and gains 0.04 validation accuracy (the margins of the payoff cells)."""
    ns = ex3_namespace()
    plain = ns["mlp"](p=0.0, seed=seed)
    ns["train_run"](plain, seed=seed)
    plain_train, plain_val = ns["accuracies"](plain)
    yours = ns["mlp"](p=0.5, seed=seed)
    stopper = ns["EarlyStopping"](patience=5)
    curves = ns["train_run"](yours, stopper, seed=seed)
    yours.load_state_dict(stopper.best_state)
    your_train, your_val = ns["accuracies"](yours)
    s = {"plain_train": plain_train, "plain_gap": plain_train - plain_val, "stopped_at": len(curves["val_loss"]),
         "gap_shrink": (plain_train - plain_val) - (your_train - your_val), "val_gain": your_val - plain_val}
    MEASURED.setdefault("ex3_payoff", []).append(s)
    # over seeds 0-9: plain train 0.995..1.0, plain gap 0.218..0.270, stopped after 25..42 of 60 epochs, the gap
    # shrinks by 0.279..0.401 and validation gains 0.069..0.131 (mean 0.108): the payoff's bars 0.97, 0.15, 60, 0.15
    # and 0.04 hold with room, none changed
    assert s["plain_train"] > 0.97 and s["plain_gap"] > 0.15, s
    assert s["stopped_at"] < ns["MAX_EPOCHS"] and s["gap_shrink"] > 0.15 and s["val_gain"] > 0.04, s


SEED_CLAIMS = [ex1_payoff, ex3_payoff]
