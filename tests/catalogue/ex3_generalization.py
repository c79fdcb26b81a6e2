"""Wrong and alternative-correct implementations of exercise 3 (generalization).

Each WRONG entry is one realistic mistake; `fails` lists the test cells that must catch it. Each CORRECT entry
draws its random numbers in another order, with other NumPy calls or other (equally valid) conventions, and must
keep full points: the tests check properties of the masks, mixes and boxes, never exact random values.
"""
from tests.catalogue import Variant

_DROPOUT_MASK = "mask = (rng.random(x.shape) >= p) / (1.0 - p)"
_CUTMIX_LAM = "    lam = rng.beta(alpha, alpha)\n    perm = rng.permutation(N)\n"
_MIXUP_LAM = "    lam = rng.beta(alpha, alpha)\n    perm = rng.permutation(len(x))\n"
_ES_MIN = "improved = metric < self.best_metric - self.min_delta"
_ES_MAX = "improved = metric > self.best_metric + self.min_delta"
_ES_COPY = "self.best_state = copy.deepcopy(state)"
_PAYOFF = "test_smaller_gap"

WRONG = [
    # --- dropout_forward
    Variant("dropout_no_rescale",
            patch={"dropout_forward": [(_DROPOUT_MASK, "mask = (rng.random(x.shape) >= p) * 1.0")]},
            fails=("test_dropout_forward",),
            why="keeps the survivors as they are: the expected activation shrinks by 1 - p during training"),
    Variant("dropout_keep_and_drop_swapped",
            patch={"dropout_forward": [(_DROPOUT_MASK, "mask = (rng.random(x.shape) < p) / (1.0 - p)")]},
            fails=("test_dropout_forward",),
            why="treats p as the keep probability (the original paper's convention, not PyTorch's)"),
    Variant("dropout_mask_in_test_mode",
            patch={"dropout_forward": [("        out = x.copy()\n",
                                        "        out = x * (rng.random(x.shape) >= p) / (1.0 - p)\n")]},
            fails=("test_dropout_forward",),
            why="drops units at test time too: predictions become random"),
    Variant("dropout_not_inverted",
            patch={"dropout_forward": [(_DROPOUT_MASK, "mask = (rng.random(x.shape) >= p) * 1.0"),
                                       ("        out = x.copy()\n", "        out = x * (1.0 - p)\n")]},
            fails=("test_dropout_forward",),
            why="classic dropout: no scaling in training, multiply by 1 - p at test time"),
    Variant("dropout_p_not_checked",
            patch={"dropout_forward": [("    if not 0.0 <= p < 1.0:\n"
                                        "        raise ValueError(f\"the drop probability p must lie in [0, 1), "
                                        "got {p}\")\n", "")]},
            fails=("test_dropout_forward",),
            why="accepts p = 1 (divides by zero) and negative p instead of raising ValueError"),
    Variant("dropout_global_rng",
            patch={"dropout_forward": [("rng.random(x.shape)", "np.random.random(x.shape)")]},
            fails=("test_dropout_forward",),
            why="draws from NumPy's global generator: a seeded rng does not reproduce the mask"),
    Variant("dropout_mask_per_feature",
            patch={"dropout_forward": [("rng.random(x.shape)", "rng.random(x.shape[1:])")]},
            fails=("test_dropout_forward",),
            why="one mask for the whole batch, broadcast over the samples"),
    Variant("dropout_in_place",
            patch={"dropout_forward": [("        out = x * mask\n", "        x *= mask\n        out = x\n")]},
            fails=("test_dropout_forward",),
            why="multiplies the input array in place, destroying the caller's x"),
    # --- dropout_backward
    Variant("dropout_backward_ignores_mask",
            patch={"dropout_backward": [("        return dout * mask\n", "        return dout.copy()\n")]},
            fails=("test_dropout_backward",),
            why="passes the gradient to every unit, also to the dropped ones"),
    Variant("dropout_backward_without_scale",
            patch={"dropout_backward": [("        return dout * mask\n", "        return dout * (mask != 0)\n")]},
            fails=("test_dropout_backward",),
            why="uses the 0/1 pattern of the mask but forgets the 1 / (1 - p) of the forward pass"),
    # --- mixup
    Variant("mixup_labels_reversed_lambda",
            patch={"mixup": [("y_mix = lam * y + (1.0 - lam) * y[perm]", "y_mix = (1.0 - lam) * y + lam * y[perm]")]},
            fails=("test_mixup",),
            why="the image that is 70% sample i gets a label that is 30% sample i"),
    Variant("mixup_uniform_lambda",
            patch={"mixup": [(_MIXUP_LAM, "    lam = rng.uniform()\n    perm = rng.permutation(len(x))\n")]},
            fails=("test_mixup",),
            why="lambda ~ U(0, 1) whatever alpha: Beta(1, 1) only"),
    Variant("mixup_separate_lambdas",
            patch={"mixup": [("    y_mix = lam * y + (1.0 - lam) * y[perm]\n",
                              "    lam_y = rng.beta(alpha, alpha)\n"
                              "    y_mix = lam_y * y + (1.0 - lam_y) * y[perm]\n")]},
            fails=("test_mixup",),
            why="draws a second lambda for the labels"),
    Variant("mixup_lambda_per_sample",
            cells={"mixup": (
                "def mixup(x, y, alpha, rng):\n"
                "    lam = rng.beta(alpha, alpha, size=len(x))  # (N,)\n"
                "    perm = rng.permutation(len(x))\n"
                "    lam_x = lam.reshape((-1,) + (1,) * (x.ndim - 1))\n"
                "    x_mix = lam_x * x + (1.0 - lam_x) * x[perm]\n"
                "    y_mix = lam[:, None] * y + (1.0 - lam[:, None]) * y[perm]\n"
                "    return x_mix, y_mix\n")},
            fails=("test_mixup",),
            why="one lambda per sample instead of one per call"),
    Variant("mixup_labels_not_mixed",
            patch={"mixup": [("y_mix = lam * y + (1.0 - lam) * y[perm]", "y_mix = y.astype(float)")]},
            fails=("test_mixup",),
            why="mixes the images but keeps the hard labels"),
    Variant("mixup_reversed_batch",
            patch={"mixup": [("perm = rng.permutation(len(x))", "perm = np.arange(len(x))[::-1]")]},
            fails=("test_mixup",),
            why="always mixes sample i with sample N - 1 - i: the same pairs in every call (caught by hidden tests)"),
    # --- cutmix
    Variant("cutmix_labels_from_unclipped_box",
            patch={"cutmix": [("pasted = (bottom - top) * (right - left) / (H * W)", "pasted = 1.0 - lam")]},
            fails=("test_cutmix",),
            why="weights the labels with the lambda drawn, not with the area pasted after clipping"),
    Variant("cutmix_labels_from_box_size",
            patch={"cutmix": [("pasted = (bottom - top) * (right - left) / (H * W)", "pasted = h * w / (H * W)")]},
            fails=("test_cutmix",),
            why="uses the rounded box size before clipping it to the image"),
    Variant("cutmix_labels_swapped",
            patch={"cutmix": [("y_mix = (1.0 - pasted) * y + pasted * y[perm]",
                               "y_mix = pasted * y + (1.0 - pasted) * y[perm]")]},
            fails=("test_cutmix",),
            why="gives the pasted fraction to the sample's own label"),
    Variant("cutmix_in_place",
            patch={"cutmix": [("    x_mix = x.copy()\n", "    x_mix = x\n")]},
            fails=("test_cutmix",),
            why="pastes the boxes into the caller's array"),
    Variant("cutmix_box_side_linear",
            patch={"cutmix": [("h, w = int(round(H * math.sqrt(1.0 - lam))), int(round(W * math.sqrt(1.0 - lam)))",
                               "h, w = int(round(H * (1.0 - lam))), int(round(W * (1.0 - lam)))")]},
            fails=("test_cutmix",),
            why="box sides (1 - lambda) * H: the area is (1 - lambda)^2, far too small"),
    Variant("cutmix_uniform_lambda",
            patch={"cutmix": [(_CUTMIX_LAM, "    lam = rng.uniform()\n    perm = rng.permutation(N)\n")]},
            fails=("test_cutmix",),
            why="lambda ~ U(0, 1) whatever alpha"),
    Variant("cutmix_partner_patch_from_corner",
            patch={"cutmix": [("x[perm][:, :, top:bottom, left:right]",
                               "x[perm][:, :, :bottom - top, :right - left]")]},
            fails=("test_cutmix",),
            why="pastes the partner's top-left corner instead of the same region of the partner"),
    # --- EarlyStopping
    Variant("early_stopping_patience_off_by_one",
            patch={"EarlyStopping": [("return self.bad_steps >= self.patience",
                                      "return self.bad_steps > self.patience")]},
            fails=("test_early_stopping",),
            why="stops one epoch late"),
    Variant("early_stopping_min_delta_ignored",
            patch={"EarlyStopping": [(_ES_MIN, "improved = metric < self.best_metric"),
                                     (_ES_MAX, "improved = metric > self.best_metric")]},
            fails=("test_early_stopping",),
            why="counts every tiny gain as an improvement"),
    Variant("early_stopping_best_state_aliased",
            patch={"EarlyStopping": [(_ES_COPY, "self.best_state = state")]},
            fails=("test_early_stopping", _PAYOFF),
            why="keeps a reference to the live state_dict: the 'best' weights are the latest ones"),
    Variant("early_stopping_best_state_shallow_copy",
            patch={"EarlyStopping": [(_ES_COPY, "self.best_state = None if state is None else state.copy()")]},
            fails=("test_early_stopping", _PAYOFF),
            why="a new dict holding the same arrays/tensors, which the optimizer keeps changing"),
    Variant("early_stopping_tie_is_improvement",
            patch={"EarlyStopping": [(_ES_MIN, "improved = metric <= self.best_metric - self.min_delta"),
                                     (_ES_MAX, "improved = metric >= self.best_metric + self.min_delta")]},
            fails=("test_early_stopping",),
            why="an equal loss resets the patience and moves the best epoch"),
    Variant("early_stopping_counter_not_reset",
            patch={"EarlyStopping": [("            self.bad_steps = 0\n", "")]},
            fails=("test_early_stopping",),
            why="counts all bad epochs since the start, not the consecutive ones"),
    Variant("early_stopping_mode_ignored",
            patch={"EarlyStopping": [("        if self.mode == \"min\":\n            improved",
                                      "        if True:\n            improved")]},
            fails=("test_early_stopping",),
            why="always minimizes: an accuracy that rises never counts as an improvement"),
    Variant("early_stopping_best_epoch_one_based",
            patch={"EarlyStopping": [("self.best_metric, self.best_epoch = metric, self.steps",
                                      "self.best_metric, self.best_epoch = metric, self.steps + 1")]},
            fails=("test_early_stopping",),
            why="counts epochs from 1"),
    Variant("early_stopping_max_starts_at_zero",
            patch={"EarlyStopping": [("self.best_metric = math.inf if mode == \"min\" else -math.inf",
                                      "self.best_metric = math.inf if mode == \"min\" else 0.0")]},
            fails=("test_early_stopping",),
            why="mode 'max' starts from 0: a metric that is always negative (a log-likelihood) never improves"),
    # --- drop_path
    Variant("drop_path_per_element",
            cells={"drop_path": (
                "def drop_path(x, p, training, rng):\n"
                "    if not training or p == 0.0:\n"
                "        return x.copy()\n"
                "    keep = rng.random(x.shape) >= p\n"
                "    return x * keep / (1.0 - p)\n")},
            fails=("test_drop_path",),
            why="ordinary dropout: one draw per element instead of one per sample"),
    Variant("drop_path_no_rescale",
            patch={"drop_path": [("scale = keep / (1.0 - p)", "scale = keep * 1.0")]},
            fails=("test_drop_path",),
            why="the kept branches are not scaled by 1 / (1 - p)"),
    Variant("drop_path_in_eval",
            patch={"drop_path": [("    if not training or p == 0.0:\n", "    if p == 0.0:\n")]},
            fails=("test_drop_path",),
            why="drops paths at evaluation time too"),
    Variant("drop_path_keep_and_drop_swapped",
            patch={"drop_path": [("keep = rng.random(x.shape[0]) >= p", "keep = rng.random(x.shape[0]) < p")]},
            fails=("test_drop_path",),
            why="keeps a sample with probability p"),
]

CORRECT = [
    Variant("dropout_binomial_mask_and_test_identity",
            cells={
                "dropout_forward": (
                    "def dropout_forward(x, p, mode, rng):\n"
                    "    if p < 0 or p >= 1:\n"
                    "        raise ValueError('p must be in [0, 1)')\n"
                    "    if mode == 'test':\n"
                    "        return x, None\n"
                    "    keep = rng.binomial(1, 1 - p, size=x.shape).astype(bool)\n"
                    "    return np.where(keep, x / (1 - p), 0.0), (keep, p)\n"),
                "dropout_backward": (
                    "def dropout_backward(dout, cache):\n"
                    "    if cache is None:\n"
                    "        return dout\n"
                    "    keep, p = cache\n"
                    "    return np.where(keep, dout / (1 - p), 0.0)\n"),
            },
            why="binomial draws, a boolean mask with the scale applied in both passes, test mode returns x itself"),
    Variant("mixup_partner_weighted_by_lambda",
            cells={"mixup": (
                "def mixup(x, y, alpha, rng):\n"
                "    partners = rng.permutation(x.shape[0])\n"
                "    lam = rng.beta(alpha, alpha)\n"
                "    return (x + lam * (x[partners] - x), y + lam * (y[partners] - y))\n")},
            why="permutation first, lambda on the partner's side (Beta(alpha, alpha) is symmetric)"),
    Variant("mixup_own_sample_dominates",
            cells={"mixup": (
                "def mixup(x, y, alpha, rng):\n"
                "    order = rng.permutation(len(x))\n"
                "    lam = rng.beta(alpha, alpha)\n"
                "    lam = max(lam, 1 - lam)  # each sample keeps the larger share\n"
                "    return lam * x + (1 - lam) * np.take(x, order, axis=0), lam * y + (1 - lam) * y[order]\n")},
            why="lambda folded to max(lambda, 1 - lambda), as several mixup codebases do"),
    Variant("cutmix_timm_style_mask",
            cells={"cutmix": (
                "def cutmix(x, y, alpha, rng):\n"
                "    n, _, H, W = x.shape\n"
                "    perm = rng.permutation(n)\n"
                "    lam = rng.beta(alpha, alpha)\n"
                "    cut_h, cut_w = int(H * np.sqrt(1 - lam)), int(W * np.sqrt(1 - lam))\n"
                "    cy, cx = rng.integers(0, H), rng.integers(0, W)\n"
                "    box = np.zeros((H, W), dtype=bool)\n"
                "    rows = slice(max(cy - cut_h // 2, 0), min(cy + cut_h // 2, H))\n"
                "    cols = slice(max(cx - cut_w // 2, 0), min(cx + cut_w // 2, W))\n"
                "    box[rows, cols] = True\n"
                "    x_mix = np.where(box, x[perm], x)\n"
                "    lam_adj = 1 - box.mean()\n"
                "    return x_mix, lam_adj * y + (1 - lam_adj) * y[perm]\n")},
            why="timm's rand_bbox (floored sides, centre +- half), a boolean box and np.where, area from the mask"),
    Variant("cutmix_box_inside_image",
            cells={"cutmix": (
                "def cutmix(x, y, alpha, rng):\n"
                "    H, W = x.shape[2:]\n"
                "    lam = rng.beta(alpha, alpha)\n"
                "    bh, bw = int(round(H * (1 - lam) ** 0.5)), int(round(W * (1 - lam) ** 0.5))\n"
                "    top, left = rng.integers(0, H - bh + 1), rng.integers(0, W - bw + 1)\n"
                "    perm = rng.permutation(len(x))\n"
                "    x_mix = np.array(x)\n"
                "    x_mix[..., top:top + bh, left:left + bw] = x[perm, ..., top:top + bh, left:left + bw]\n"
                "    share = bh * bw / (H * W)\n"
                "    return x_mix, (1 - share) * y + share * y[perm]\n")},
            why="the box is placed wholly inside the image (no clipping needed), as in lecture 3's helper"),
    Variant("early_stopping_history",
            cells={"EarlyStopping": (
                "class EarlyStopping:\n"
                "    def __init__(self, patience=5, min_delta=0.0, mode='min'):\n"
                "        signs = {'min': 1.0, 'max': -1.0}\n"
                "        if mode not in signs:\n"
                "            raise ValueError(mode)\n"
                "        self.sign, self.patience, self.min_delta = signs[mode], patience, min_delta\n"
                "        self.history = []\n"
                "        self.best_metric = self.best_epoch = self.best_state = None\n"
                "\n"
                "    def step(self, metric, state=None):\n"
                "        self.history.append(metric)\n"
                "        if self.best_epoch is None or self.sign * (self.best_metric - metric) > self.min_delta:\n"
                "            self.best_metric, self.best_epoch = metric, len(self.history) - 1\n"
                "            self.best_state = copy.deepcopy(state)\n"
                "        return len(self.history) - 1 - self.best_epoch >= self.patience\n")},
            why="keeps the whole history and counts the steps since the best one; one sign for both modes"),
    Variant("drop_path_binomial_where",
            cells={"drop_path": (
                "def drop_path(x, p, training, rng):\n"
                "    if not training:\n"
                "        return x\n"
                "    keep = rng.binomial(1, 1.0 - p, size=len(x)).astype(bool)\n"
                "    keep = keep.reshape((len(x),) + (1,) * (x.ndim - 1))\n"
                "    return np.where(keep, x / (1.0 - p), 0.0)\n")},
            why="binomial draws (also at p = 0), np.where, and x itself when not training"),
]
