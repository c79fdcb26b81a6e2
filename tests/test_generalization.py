"""Lecture 3 (generalization): the lecture's own code (its `define` cells, see tests/lecture_code.py) against
independent references (torch.optim, torch.nn.functional, hand-written loops, closed forms), its widgets driven
through panel.update(), initnorm.augment, and every claim the lecture asserts about a random experiment
(tests/claims_generalization.py; SEED_CLAIMS, re-run with other seeds by tests/test_seeds.py)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

import initnorm as inn
from initnorm import augment as A
from initnorm import generalization as gen
from tests import claims_generalization as claims
from tests.claims_generalization import SEED_CLAIMS  # noqa: F401  (tests/test_seeds.py runs them with other seeds)
from tests.panels import another_value, check_redraws_like_fresh, differ, pixels

lecture = claims.lecture  # the namespace of the lecture's define cells (executed once per process)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread, and the machines running the suite are shared."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def by_gid(fig, gid: str) -> list:
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert found, f"nothing with gid {gid!r} in the figure"
    return found


def ydata(fig, gid: str) -> np.ndarray:
    return np.asarray(by_gid(fig, gid)[0].get_ydata(), dtype=float)


def image(fig, gid: str) -> np.ndarray:
    return np.asarray(by_gid(fig, gid)[0].get_array(), dtype=float)


def heights(fig, gid: str) -> np.ndarray:
    return np.array([bar.get_height() for bar in by_gid(fig, gid)])


def shifted(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """img (H, W) moved by dy rows down and dx columns right, zeros entering: written with numpy slicing."""
    h, w = img.shape
    out = np.zeros_like(img)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out


def first_of_each_class():
    """The first clean training image of every class, from initnorm.data directly: (10, 8, 8), labels."""
    d = inn.digits(seed=0, standardize=False, images=True)
    idx = [int(torch.nonzero(d.y_train == c)[0, 0]) for c in range(10)]
    return d.x_train[idx, 0].numpy(), d.y_train[idx].numpy()


# ---------------------------------------------------------------------------------------------- claims
@pytest.mark.parametrize("claim", [c if c in claims.SAMPLING_CLAIMS else pytest.param(c, marks=pytest.mark.slow)
                                   for c in claims.SEED_CLAIMS], ids=[c.__name__ for c in claims.SEED_CLAIMS])
def test_claim_holds_with_the_lectures_seed(claim):
    claim(0)


# ---------------------------------------------------------------------------------------------- data
def test_noisy_digits_corrupt_only_training_labels():
    noisy = gen.noisy_digits()
    clean = inn.digits(seed=0, n_train=gen.N_TRAIN, standardize=False)
    assert torch.equal(noisy.x_train, clean.x_train) and torch.equal(noisy.x_val, clean.x_val)
    assert torch.equal(noisy.y_val, clean.y_val), "validation labels must stay clean"
    assert (noisy.y_train != clean.y_train).any() and torch.equal(gen.noisy_digits().y_train, noisy.y_train)
    assert torch.equal(gen.noisy_digits(label_noise=0.0).y_train, clean.y_train)
    assert noisy.x_train.min() >= 0 and noisy.x_train.max() <= 1


# ---------------------------------------------------------------------------------------------- the training loop
def test_train_is_adam_on_soft_targets_with_both_penalties():
    """The lecture's loop against the same updates written here: torch.optim.Adam, batches in randperm order, the
    L1 and L2 penalties on weight matrices only."""
    ns = lecture()
    data = inn.gaussian_blobs(n=120, n_features=64, n_classes=10, seed=1)
    model, reference = inn.mlp(64, 10, depth=1, width=16, seed=3), inn.mlp(64, 10, depth=1, width=16, seed=3)
    hist = ns["train"](model, data, epochs=2, l1=1e-3, l2=1e-2, batch=16, seed=4)
    opt, g = torch.optim.Adam(reference.parameters(), lr=ns["LR"]), torch.Generator().manual_seed(4)
    for _ in range(2):
        for idx in torch.randperm(90, generator=g).split(16):
            w = [reference[0].weight, reference[2].weight]
            loss = (F.cross_entropy(reference(data.x_train[idx]), data.y_train[idx])
                    + 1e-3 * sum(p.abs().sum() for p in w) + 0.5e-2 * sum((p ** 2).sum() for p in w))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(model.parameters(), reference.parameters()))
    assert len(hist.step_loss) == 2 * math.ceil(90 / 16) and len(hist.val_acc) == 2 and not model.training
    assert hist.val_acc[-1] == pytest.approx(inn.evaluate(model, data.x_val, data.y_val)[1])


def test_train_stops_when_on_epoch_says_so_and_early_stopping_matches_a_reference():
    ns = lecture()
    data = inn.gaussian_blobs(n=120, n_features=64, n_classes=10, seed=1)
    calls = []
    hist = ns["train"](inn.mlp(64, 10, depth=1, width=8, seed=0), data, epochs=5,
                       on_epoch=lambda e, m, h: calls.append(e) or e == 2)
    assert calls == [0, 1, 2] and len(hist.val_loss) == 3
    # EarlyStopping on a made-up curve against the rule written out here
    curve = [1.0, 0.8, 0.85, 0.79, 0.795, 0.9, 0.91, 0.92, 0.5]
    for patience, min_delta in ((2, 0.0), (3, 0.0), (2, 0.02), (10, 0.0)):
        stopper, h = ns["EarlyStopping"](patience, min_delta), inn.History()
        model = nn.Linear(1, 1)
        stop = len(curve)
        for epoch, loss in enumerate(curve):
            h.val_loss.append(loss)
            if stopper(epoch, model, h):
                stop = epoch + 1
                break
        best, best_epoch, bad, expected_stop = math.inf, 0, 0, len(curve)
        for epoch, loss in enumerate(curve, start=1):
            if loss < best - min_delta:
                best, best_epoch, bad = loss, epoch, 0
            else:
                bad += 1
                if bad == patience:
                    expected_stop = epoch
                    break
        assert (stopper.best_epoch, stop) == (best_epoch, expected_stop), (patience, min_delta)


@pytest.mark.parametrize("kind", ["adam+l2", "adamw", "sgd+wd"])
def test_weight_decay_optimizer_is_torch_and_splits_its_step(kind):
    ns = lecture()
    torch.manual_seed(0)
    ours, theirs = [torch.randn(7, 5)], [torch.randn(7, 5)]
    theirs[0].data.copy_(ours[0])
    lr, lam = (1e-2, 0.1) if kind != "sgd+wd" else (0.05, 0.1)
    opt = ns["WeightDecay"](ours, kind, lr, lam)
    ref = {"adam+l2": lambda: torch.optim.Adam(theirs, lr=lr, weight_decay=lam),
           "adamw": lambda: torch.optim.AdamW(theirs, lr=lr, weight_decay=lam),
           "sgd+wd": lambda: torch.optim.SGD(theirs, lr=lr, momentum=0.9, weight_decay=lam)}[kind]()
    g = torch.Generator().manual_seed(1)
    scales = torch.logspace(-3, 1, 5)  # columns with very different gradient sizes
    for _ in range(20):
        grad = torch.randn(7, 5, generator=g) * scales
        ours[0].grad, theirs[0].grad = grad.clone(), grad.clone()
        opt.step()
        ref.step()
    assert torch.allclose(ours[0], theirs[0], atol=1e-5), kind
    rms, rate = ns["decay_per_step"](opt)
    assert np.allclose(rms.reshape(7, 5).mean(0) / scales.numpy(), 1, atol=0.5)
    if kind == "adamw":
        assert np.allclose(rate, 1, atol=1e-5)
    elif kind == "sgd+wd":
        assert 1 <= rate.min() and rate.max() <= 10 + 1e-4
    else:  # the columns with large gradients are decayed less: by far, once the gradient outgrows lam * w
        per_column = rate.reshape(7, 5).mean(0)
        assert per_column[-1] < per_column[-2] < per_column[:3].min() and per_column[-1] < per_column[:3].min() / 10


def test_rank_correlation_is_spearmans():
    g = np.random.default_rng(0)
    a, b = g.normal(size=500), g.normal(size=500)
    b = a + 0.7 * b
    assert lecture()["rank_correlation"](a, b) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)


def test_mix_batch_against_the_definitions():
    ns = lecture()
    g = torch.Generator().manual_seed(0)
    x, t = torch.rand(6, 64, generator=g), F.one_hot(torch.arange(6), 10).float()
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(9))  # the draw mix_batch makes first
    xm, tm = ns["mix_batch"](x, t, "mixup", 0.3, torch.Generator().manual_seed(9))
    assert torch.allclose(xm, 0.3 * x + 0.7 * x[perm]) and torch.allclose(tm, 0.3 * t + 0.7 * t[perm])
    for lam in (0.2, 0.6, 0.9):
        xm, tm = ns["mix_batch"](x, t, "cutmix", lam, torch.Generator().manual_seed(9))
        for i in range(6):
            from_partner = (xm[i] == x[perm[i]]).float().mean().item()
            assert ((xm[i] == x[i]) | (xm[i] == x[perm[i]])).all()
            if perm[i] != i:
                assert tm[i, perm[i]] == pytest.approx(from_partner) and tm[i, i] == pytest.approx(1 - from_partner)
                assert abs(from_partner - (1 - lam)) < 0.15
        img = xm[0].view(8, 8) != x[0].view(8, 8)
        rows, cols = torch.nonzero(img, as_tuple=True)
        if len(rows):
            assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1), "not one square"


# ---------------------------------------------------------------------------------------------- dropout and variants
def test_mc_dropout_on_a_toy_net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 3))
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model.eval()(x).argmax(1)
    mc, det, agreement = lecture()["mc_dropout"](model, x, y, ks=(1, 50))
    assert det == 1.0 and mc[1] < 1.0 and mc[50] > mc[1] and agreement == pytest.approx(mc[50])


@pytest.mark.parametrize("mean,std,p", [(1.0, 1.0, 0.5), (0.5, 2.0, 0.3), (0.0, 1.0, 0.2)])
def test_variance_shift_formula_and_measurement(mean, std, p):
    ns = lecture()
    train_var = (std ** 2 + mean ** 2) / (1 - p) - mean ** 2  # variance of u * m / (1 - p), written here
    assert ns["predicted_std"](p, mean, std) == pytest.approx(math.sqrt(std ** 2 / train_var))
    assert abs(ns["variance_shift"](p, "dropout->bn", mean, std) - ns["predicted_std"](p, mean, std)) < 0.02
    assert abs(ns["variance_shift"](p, "bn->dropout", mean, std) - 1) < 0.02


def test_variant_masks():
    m = lecture()["variant_masks"](p=0.3, seed=1)
    dropped = 1 - m["DropBlock: 3x3 squares"][None]  # (1, 4, 8, 8): 1 where dropped
    full = -F.max_pool2d(-dropped, 3, stride=1)   # 1 where the 3x3 square starting there is all dropped
    assert torch.equal(F.max_pool2d(F.pad(full, (2, 2, 2, 2)), 3, stride=1), dropped), "a dropped unit outside a square"
    assert m["DropConnect: single weights"].shape == (12, 16) and m["DropPath: 8 branches x 16 samples"].shape == (16, 8)
    channels = m["Spatial dropout: channels"].flatten(1)
    assert ((channels == 0).all(1) | (channels == 1).all(1)).all()


@pytest.mark.slow  # a six-panel figure
def test_draw_masks_shows_the_masks():
    m = lecture()["variant_masks"](p=0.3, seed=1)
    fig = gen.draw_masks(m)
    assert np.array_equal(image(fig, "DropConnect: single weights"), m["DropConnect: single weights"].numpy())


def test_dropconnect_inference_moments():
    ns = lecture()
    g = torch.Generator().manual_seed(0)
    W, b, v = torch.randn(5, 40, generator=g) * 0.3, torch.randn(5, generator=g), torch.rand(3, 40, generator=g)
    ref, mean_inf, gauss = ns["dropconnect_inference"](W, b, v, q=1.0)      # no mask: all three are the layer
    assert torch.allclose(ref, torch.relu(v @ W.T + b), atol=1e-5) and torch.allclose(mean_inf, ref, atol=1e-5)
    assert torch.allclose(gauss, ref, atol=1e-5)
    q = 0.4  # the Gaussian's moments against many masks, computed here
    M = (torch.rand(20000, 5, 40, generator=g) < q).float()
    u = torch.einsum("kij,j->ki", M * W, v[0]) + b                           # (20000, 5)
    assert torch.allclose(u.mean(0), q * W @ v[0] + b, atol=0.03)
    assert torch.allclose(u.var(0), q * (1 - q) * (W ** 2) @ (v[0] ** 2), rtol=0.05)


def test_stochastic_depth_eval_is_the_expected_branch():
    net = lecture()["StochasticDepthMLP"](blocks=5, width=16, last_survival=0.4, seed=0)
    torch.manual_seed(1)
    with torch.no_grad():
        for branch in net.branches:
            branch[2].weight.normal_(0, 0.3)
        x = torch.randn(7, 64)
        probs = [1 - (l / 5) * 0.6 for l in range(1, 6)]
        assert net.survival == pytest.approx(probs)
        h = net.stem(x)
        for branch, p in zip(net.branches, probs):
            h = h + p * branch(h)
        assert torch.allclose(net.eval()(x), net.head(h), atol=1e-6)


def test_bn_noise_at_batch_size_two():
    # with B = 2 the normalized value of x0 is sign(x0 - z) up to eps: std = 2 sqrt(P(z < x0) P(z > x0))
    q = stats.norm.cdf(1.0)
    assert lecture()["bn_noise"]((2,), x0=1.0, draws=20000)[2] == pytest.approx(2 * math.sqrt(q * (1 - q)), abs=0.02)


def test_tta_predict_averages_the_shifted_views():
    torch.manual_seed(0)
    model = nn.Linear(64, 10)
    x = torch.rand(5, 64, generator=torch.Generator().manual_seed(1))
    tta_predict = lecture()["tta_predict"]
    with torch.no_grad():
        assert torch.allclose(tta_predict(model, x, "none"), F.softmax(model(x), 1))
        views = [torch.from_numpy(np.stack([shifted(img, dy, dx) for img in x.view(-1, 8, 8).numpy()])).flatten(1)
                 for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        expected = torch.stack([F.softmax(model(v), 1) for v in views]).mean(0)
        assert torch.allclose(tta_predict(model, x, "shifts"), expected, atol=1e-6)
        flipped = [v.view(-1, 8, 8).flip(-1).flatten(1) for v in views]
        both = torch.stack([F.softmax(model(v), 1) for v in views + flipped]).mean(0)
        assert torch.allclose(tta_predict(model, x, "shifts+hflip"), both, atol=1e-6)


# ---------------------------------------------------------------------------------------------- augmentations
@pytest.fixture
def batch():
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    digits_, _ = first_of_each_class()
    return torch.cat([x, torch.from_numpy(digits_)[:, None]])


@pytest.mark.parametrize("name", sorted(A.AUGMENTATIONS))
def test_augmentations_keep_shape_range_and_input(name, batch):
    before = batch.clone()
    out = A.AUGMENTATIONS[name](batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert out.min() >= 0 and out.max() <= 1, (name, out.min(), out.max())
    assert torch.equal(batch, before), f"{name} modified its input"
    assert torch.equal(out, A.AUGMENTATIONS[name](batch, torch.Generator().manual_seed(0))), "not seeded"
    if name != "none":
        assert not torch.equal(out, A.AUGMENTATIONS[name](batch, torch.Generator().manual_seed(1))), "ignores its seed"


def test_hflip_rotate_and_shift_against_torch_and_numpy(batch):
    g = torch.Generator().manual_seed(0)
    assert torch.equal(A.hflip(batch, g, prob=1.0), torch.flip(batch, dims=[-1]))
    assert torch.equal(A.hflip(batch, g, prob=0.0), batch)
    n = len(batch)
    assert torch.allclose(A.rotate(batch, torch.zeros(n)), batch, atol=1e-6)
    assert torch.allclose(A.rotate(batch, torch.full((n,), 90.0)), torch.rot90(batch, 1, dims=(-2, -1)), atol=1e-5)
    for dy, dx in ((1, 0), (0, -1), (-1, 1), (2, 2)):
        out = A.shift(batch, torch.full((n,), dy), torch.full((n,), dx)).numpy()
        assert all(np.array_equal(res, shifted(img, dy, dx)) for img, res in zip(batch[:, 0].numpy(), out[:, 0]))
    out = A.random_shift(batch, torch.Generator().manual_seed(5), max_shift=1).numpy()
    for img, res in zip(batch[:, 0].numpy(), out[:, 0]):
        assert any(np.array_equal(res, shifted(img, dy, dx)) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_cutout_and_erasing_touch_one_rectangle(batch):
    x = batch[:32]  # random images: no pixel is exactly 0 by chance
    for out in (A.cutout(x, torch.Generator().manual_seed(2), size=3),
                A.random_erasing(x, torch.Generator().manual_seed(2), prob=1.0)):
        for img, res in zip(x[:, 0], out[:, 0]):
            diff = torch.nonzero(img != res)
            rows, cols = diff[:, 0], diff[:, 1]
            assert 1 <= len(diff) <= 0.4 * 64
            assert len(diff) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1), "not a full rectangle"


def test_intensity_jitter_is_affine_per_image(batch):
    x = batch[:32] * 0.5 + 0.25  # stay away from the clipping
    out = A.intensity_jitter(x, torch.Generator().manual_seed(0), brightness=0.1, contrast=0.2)
    for img, res in zip(x.flatten(1).numpy(), out.flatten(1).numpy()):
        slope, intercept = np.polyfit(img, res, 1)
        assert 0.8 - 1e-6 <= slope <= 1.2 + 1e-6 and np.allclose(res, slope * img + intercept, atol=1e-5)


# ---------------------------------------------------------------------------------------------- widgets
INSTANT = ["gallery_panel", "mixing_panel"]
TRAINING = ["decay_panel", "dropout_panel", "depth_panel", "augmentation_panel", "stopping_panel", "normalization_panel"]


def test_the_lecture_defines_these_panels():
    from initnorm.widgets import Panel

    panels = {k for k, v in lecture().items() if isinstance(v, Panel)}
    assert panels == set(INSTANT) | set(TRAINING)
    assert all(lecture()[name].run_button for name in TRAINING) and not any(lecture()[n].run_button for n in INSTANT)


@pytest.mark.slow  # renders each panel four times per control: seconds per panel
@pytest.mark.parametrize("name", INSTANT)
def test_an_instant_panel_redrawn_into_its_figure_looks_exactly_like_a_fresh_drawing(name):
    # the gallery starts from a random augmentation: with hflip (every image mirrored) a new draw shows the same
    check_redraws_like_fresh(lecture()[name], start={"augmentation": "shift"} if name == "gallery_panel" else None)


@pytest.mark.slow  # draws 40 images twice: seconds on a loaded machine
def test_gallery_panel_draws_the_augmentations():
    panel = lecture()["gallery_panel"]
    originals, _ = first_of_each_class()
    fig = panel.update(augmentation="hflip", draw_seed=0)
    for c in range(10):
        assert np.array_equal(image(fig, f"img_0_{c}"), originals[c])
        assert all(np.array_equal(image(fig, f"img_{r}_{c}"), originals[c][:, ::-1]) for r in (1, 2, 3))
    fig = panel.update(augmentation="shift", draw_seed=4)
    moved = 0
    for c in range(10):
        for r in (1, 2, 3):
            ok = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                  if np.array_equal(image(fig, f"img_{r}_{c}"), shifted(originals[c], dy, dx))]
            assert ok, f"class {c}, draw {r} is not a shift of the original"
            moved += ok[0] != (0, 0)
    assert moved >= 10  # 30 draws, each still with probability 1/9: P(fewer than 10 moved) < 1e-10


@pytest.mark.slow  # three redraws of an 8-panel figure
def test_mixing_panel_against_the_definitions():
    panel = lecture()["mixing_panel"]
    originals, labels = first_of_each_class()
    onehot = np.eye(10)
    for lam, pair, box in ((0.7, 3, "centre"), (0.35, 1, "top-left"), (0.9, 6, "bottom-right")):
        fig = panel.update(lam=lam, pair=pair, box=box)
        a, b = originals[pair], originals[(pair + 5) % 10]
        ya, yb = labels[pair], labels[(pair + 5) % 10]
        assert np.array_equal(image(fig, "img_a"), a) and np.array_equal(image(fig, "img_b"), b)
        assert np.allclose(image(fig, "img_mixup"), lam * a + (1 - lam) * b, atol=1e-6)
        assert np.allclose(heights(fig, "label_mixup"), lam * onehot[ya] + (1 - lam) * onehot[yb], atol=1e-6)
        rect = by_gid(fig, "box")[0]
        left, top = int(round(rect.get_x() + 0.5)), int(round(rect.get_y() + 0.5))
        w, h = int(round(rect.get_width())), int(round(rect.get_height()))
        inside = np.zeros((8, 8), bool)
        inside[top:top + h, left:left + w] = True
        cut = image(fig, "img_cutmix")
        assert np.array_equal(cut[inside], b[inside]) and np.array_equal(cut[~inside], a[~inside])
        share = inside.mean()
        assert np.allclose(heights(fig, "label_cutmix"), (1 - share) * onehot[ya] + share * onehot[yb], atol=1e-6)


@pytest.mark.slow  # a four-panel figure with tight_layout
def test_draw_runs_bars_are_the_curves_last_values():
    h1, h2 = inn.History(), inn.History()
    for h, v in ((h1, 0.5), (h2, 0.8)):
        h.train_acc, h.val_acc, h.train_loss, h.val_loss = [0.1, v], [0.2, v - 0.1], [2.0, 1.0], [2.1, 1.5]
    fig, axes = gen.draw_runs({"a": h1, "b": h2}, extra=1)
    assert len(axes) == 4 and np.allclose(heights(fig, "bar_train_acc"), [0.5, 0.8])
    assert np.allclose(ydata(fig, "val_acc_b"), [0.2, 0.7])


def test_format_table():
    lines = gen.format_table([{"a": 1.23456, "b": "x"}, {"a": 2.0, "b": "long"}]).splitlines()
    assert len(lines) == 4 and "1.235" in lines[2] and lines[3].strip().endswith("long")


@pytest.mark.slow  # trains the lecture's nets at lecture size (make test runs it)
@pytest.mark.parametrize("name", TRAINING)
def test_a_training_panel_runs_moves_its_progress_bar_and_caches(name):
    panel = lecture()[name]
    first = panel.update()
    assert panel.progress.value == 1.0
    px = pixels(first)
    control = next(iter(panel.controls))
    before = panel.controls[control].value
    assert differ(px, pixels(panel.update(**{control: another_value(panel.controls[control])})))
    assert panel.render(panel.update(**{control: before})) == panel.render(first), "going back drew something else"


@pytest.mark.slow  # trains the lecture's nets at lecture size
def test_decay_panel_is_labelled_for_what_it_runs():
    ns = lecture()
    panel = ns["decay_panel"]
    assert set(panel.controls["method"].options) == {"Adam + L2", "AdamW", "SGD + weight decay"}
    for method, kind in (("Adam + L2", "adam+l2"), ("AdamW", "adamw"), ("SGD + weight decay", "sgd+wd")):
        fig = panel.update(method=method, strength=1.0)
        hist, opt = ns["decay_run"](method)
        assert opt.kind == kind and opt.lam == ns["DECAY"][method][2]
        assert np.array_equal(ydata(fig, f"val_acc_{method}, λ = {opt.lam:g}"), hist.val_acc)
        reference = "SGD, no decay" if kind == "sgd+wd" else "Adam, no decay"
        expected = ns["decay_run"](method, 0.0)[0] if kind == "sgd+wd" else ns["run"]()[0]
        assert np.array_equal(ydata(fig, f"val_acc_{reference}"), expected.val_acc)
        assert by_gid(fig, f"decay_{method}")
