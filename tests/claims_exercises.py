"""Claims about the outcomes of the exercises' payoff experiments, re-run with other seeds by tests/test_seeds.py.

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

MEASURED: dict[str, list[dict]] = {}


@functools.lru_cache(maxsize=1)
def ex3_namespace() -> dict:
    """The reference solution's setup, dropout, EarlyStopping and payoff_setup cells, executed in order."""
    cells = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
             for c in json.loads(EX3.read_text())["cells"] if c["cell_type"] == "code"}
    namespace: dict = {}
    for name in EX3_CELLS:
        exec(compile(cells[name], f"{EX3.name}:{name}", "exec"), namespace)  # noqa: S102 (our own notebook)
    return namespace


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


SEED_CLAIMS = [ex3_payoff]
