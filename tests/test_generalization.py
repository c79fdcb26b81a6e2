"""Lecture 3 (initnorm.generalization, initnorm.augment): every panel is driven through panel.update() with
at least two settings, and what it draws is checked against references computed here, independently."""
import collections
import io
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from tests import claims_generalization as claims
import initnorm as inn
from tests.claims_generalization import SEED_CLAIMS  # noqa: F401  (tests/test_seeds.py runs them with other seeds)
from initnorm import augment as A
from initnorm import generalization as gen


# ---------------------------------------------------------------------------------------------- helpers

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread, and the machines running the suite are shared."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def pixels(fig) -> bytes:
    """The rendered figure as raw RGBA bytes (savefig works whatever canvas the figure has)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=40)
    return buf.getvalue()


def changed(fig_a, fig_b) -> bool:
    return pixels(fig_a) != pixels(fig_b)


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


def stop_epoch_reference(val_loss, patience, min_delta):
    """Early stopping on a finished curve, written out independently: (best epoch, stop epoch), 1-based."""
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_loss, start=1):
        if loss < best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return best_epoch, epoch
    return best_epoch, len(val_loss)


# ---------------------------------------------------------------------------------------------- data

def test_noisy_digits_corrupt_only_training_labels():
    noisy = gen.noisy_digits()
    clean = inn.digits(seed=0, n_train=gen.N_TRAIN, standardize=False)
    assert torch.equal(noisy.x_train, clean.x_train) and torch.equal(noisy.x_val, clean.x_val)
    assert torch.equal(noisy.y_val, clean.y_val), "validation labels must stay clean"
    claims.noisy_labels(0)  # about a quarter of the training labels is wrong
    assert torch.equal(gen.noisy_digits().y_train, noisy.y_train), "not deterministic"
    assert torch.equal(gen.noisy_digits(label_noise=0.0).y_train, clean.y_train)
    assert noisy.x_train.min() >= 0 and noisy.x_train.max() <= 1


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
    again = A.AUGMENTATIONS[name](batch, torch.Generator().manual_seed(0))
    assert torch.equal(out, again), f"{name} is not determined by its generator"
    if name != "none":
        other = A.AUGMENTATIONS[name](batch, torch.Generator().manual_seed(1))
        assert not torch.equal(out, other), f"{name} ignores its generator"


def test_hflip_and_rotate_against_torch(batch):
    g = torch.Generator().manual_seed(0)
    assert torch.equal(A.hflip(batch, g, prob=1.0), torch.flip(batch, dims=[-1]))
    assert torch.equal(A.hflip(batch, g, prob=0.0), batch)
    n = len(batch)
    assert torch.allclose(A.rotate(batch, torch.zeros(n)), batch, atol=1e-6)
    assert torch.allclose(A.rotate(batch, torch.full((n,), 90.0)), torch.rot90(batch, 1, dims=(-2, -1)), atol=1e-5)
    assert torch.allclose(A.rotate(batch, torch.full((n,), 180.0)), torch.rot90(batch, 2, dims=(-2, -1)), atol=1e-5)


def test_shift_moves_down_and_right(batch):
    n = len(batch)
    for dy, dx in ((1, 0), (0, -1), (-1, 1), (2, 2)):
        out = A.shift(batch, torch.full((n,), dy), torch.full((n,), dx)).numpy()
        for img, res in zip(batch[:, 0].numpy(), out[:, 0]):
            assert np.array_equal(res, shifted(img, dy, dx)), (dy, dx)
    mixed = A.shift(batch[:2], torch.tensor([1, -1]), torch.tensor([0, 0])).numpy()
    assert np.array_equal(mixed[1, 0], shifted(batch[1, 0].numpy(), -1, 0)), "per-image shifts mixed up"


def test_random_shift_is_one_of_the_nine_shifts(batch):
    out = A.random_shift(batch, torch.Generator().manual_seed(5), max_shift=1).numpy()
    seen = set()
    for img, res in zip(batch[:, 0].numpy(), out[:, 0]):
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if np.array_equal(res, shifted(img, dy, dx))]
        assert matches, "output is no shift of the input by at most one pixel"
        seen.add(matches[0])
    claims.random_shifts(0)  # and the draws spread over the nine shifts


def test_cutout_and_erasing_touch_one_rectangle(batch):
    x = batch[:32]  # random images: no pixel is exactly 0 by chance
    out = A.cutout(x, torch.Generator().manual_seed(2), size=3)
    for img, res in zip(x[:, 0], out[:, 0]):
        diff = torch.nonzero(img != res)
        assert len(diff) > 0 and (res[img != res] == 0).all()
        rows, cols = diff[:, 0], diff[:, 1]
        assert rows.max() - rows.min() <= 2 and cols.max() - cols.min() <= 2
        assert len(diff) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1), "not a full rectangle"
    out = A.random_erasing(x, torch.Generator().manual_seed(2), prob=1.0)
    for img, res in zip(x[:, 0], out[:, 0]):
        diff = torch.nonzero(img != res)
        rows, cols = diff[:, 0], diff[:, 1]
        assert len(diff) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert 1 <= len(diff) <= 0.4 * 64


def test_intensity_jitter_is_monotone_per_image(batch):
    x = batch[:32] * 0.5 + 0.25  # stay away from the clipping
    out = A.intensity_jitter(x, torch.Generator().manual_seed(0), brightness=0.1, contrast=0.2)
    for img, res in zip(x.flatten(1).numpy(), out.flatten(1).numpy()):
        slope, intercept = np.polyfit(img, res, 1)
        assert 0.8 - 1e-6 <= slope <= 1.2 + 1e-6
        assert np.allclose(res, slope * img + intercept, atol=1e-5), "jitter must be affine per image"


# ---------------------------------------------------------------------------------------------- gallery panel

def test_gallery_panel_draws_the_augmentations():
    panel = gen.make_augmentation_gallery_panel()
    originals, _ = first_of_each_class()
    fig_flip = panel.update(augmentation="hflip", draw_seed=0)
    for c in range(10):
        assert np.array_equal(image(fig_flip, f"img_0_{c}"), originals[c])
        for r in (1, 2, 3):
            assert np.array_equal(image(fig_flip, f"img_{r}_{c}"), originals[c][:, ::-1])
    flip_px = pixels(fig_flip)  # the panel redraws into the same figure
    fig_shift = panel.update(augmentation="shift", draw_seed=4)
    assert pixels(fig_shift) != flip_px
    n_moved = 0
    for c in range(10):
        for r in (1, 2, 3):
            img = image(fig_shift, f"img_{r}_{c}")
            ok = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                  if np.array_equal(img, shifted(originals[c], dy, dx))]
            assert ok, f"class {c}, draw {r} is not a shift of the original"
            n_moved += ok[0] != (0, 0)
    assert n_moved >= 15  # claims.random_shifts checks this count over seeds
    shift_px = pixels(fig_shift)
    fig_rot = panel.update(augmentation="rotate", draw_seed=4)
    assert pixels(fig_rot) != shift_px
    assert all(0 <= image(fig_rot, f"img_{r}_{c}").min() and image(fig_rot, f"img_{r}_{c}").max() <= 1
               for r in range(4) for c in range(10))


# ---------------------------------------------------------------------------------------------- mixup / CutMix

def test_mix_pair_and_cutmix_pair_on_noise():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(8, 8, generator=g), torch.rand(8, 8, generator=g) + 2.0  # no pixel of a equals one of b
    for lam in (0.0, 0.2, 0.5, 0.7, 1.0):
        assert torch.allclose(gen._mix_pair(a, b, lam), lam * a + (1 - lam) * b)
        out, pasted, (top, left, bh, bw) = gen._cutmix_pair(a, b, lam, 1, 2)
        from_b = (out == b).float().mean().item()
        assert from_b == pytest.approx(pasted), "label weight must equal the share of pixels taken from b"
        assert ((out == a) | (out == b)).all()
        assert abs(pasted - (1 - lam)) <= 2 * 8 * 0.5 / 64 + 1 / 64, "box far from the asked area"


def test_mix_batch_cutmix_targets_follow_the_pasted_area():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 8, 8, generator=g)
    t = F.one_hot(torch.arange(6), 10).float()
    xm, tm = gen._mix_batch(x, t, "cutmix", 0.6, torch.Generator().manual_seed(9))
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(9))  # the same draw, made here
    for i in range(6):
        if perm[i] == i:
            continue
        share = (xm[i] == x[perm[i]]).float().mean().item()
        assert tm[i, i] == pytest.approx(1 - share) and tm[i, perm[i]] == pytest.approx(share)
    xm, tm = gen._mix_batch(x, t, "mixup", 0.3, torch.Generator().manual_seed(9))
    assert torch.allclose(xm, 0.3 * x + 0.7 * x[perm]) and torch.allclose(tm, 0.3 * t + 0.7 * t[perm])


def test_mixing_panel_against_the_definitions():
    panel = gen.make_mixing_panel()
    originals, labels = first_of_each_class()
    shown = []  # the panel draws into one figure: keep each picture as pixels
    for lam, pair, box in ((0.7, 3, "centre"), (0.35, 1, "top-left"), (0.9, 6, "bottom-right")):
        fig = panel.update(lam=lam, pair=pair, box=box)
        shown.append(pixels(fig))
        a, b = originals[pair], originals[(pair + 5) % 10]
        ya, yb = labels[pair], labels[(pair + 5) % 10]
        assert np.array_equal(image(fig, "img_a"), a) and np.array_equal(image(fig, "img_b"), b)
        assert np.allclose(image(fig, "img_mixup"), lam * a + (1 - lam) * b, atol=1e-6)
        onehot = np.eye(10)
        assert np.allclose(heights(fig, "label_mixup"), lam * onehot[ya] + (1 - lam) * onehot[yb], atol=1e-6)
        rect = by_gid(fig, "box")[0]
        left, top = int(round(rect.get_x() + 0.5)), int(round(rect.get_y() + 0.5))
        w, h = int(round(rect.get_width())), int(round(rect.get_height()))
        inside = np.zeros((8, 8), bool)
        inside[top:top + h, left:left + w] = True
        cut = image(fig, "img_cutmix")
        assert np.array_equal(cut[inside], b[inside]) and np.array_equal(cut[~inside], a[~inside])
        share = inside.mean()  # pasted pixel fraction, counted from the image's box
        assert np.allclose(heights(fig, "label_cutmix"), (1 - share) * onehot[ya] + share * onehot[yb], atol=1e-6)
        assert abs(share - (1 - lam)) < 0.15
    assert shown[0] != shown[1] and shown[1] != shown[2]


def test_beta_mass_against_scipy():
    for a in (0.2, 1.0, 2.0, 5.0):
        exact = stats.beta.cdf(0.9, a, a) - stats.beta.cdf(0.1, a, a)
        assert gen.beta_middle_mass(a) == pytest.approx(exact, abs=1e-4)
    claims.beta_shares(0)  # the sampled shares match the exact masses


# ---------------------------------------------------------------------------------------------- dropout

def test_two_input_neuron_expectation():
    for w1, w2, x, y, p in ((0.8, -0.5, 1.0, 2.0, 0.5), (1.5, 2.0, -1.0, 0.3, 0.2), (0.1, 0.4, 3.0, -2.0, 0.7)):
        ex = gen.two_input_neuron(w1, w2, x, y, p)
        assert sum(prob for _, prob, _ in ex["terms"]) == pytest.approx(1.0)
        assert ex["plain"] == pytest.approx((1 - p) * (w1 * x + w2 * y))
        assert ex["inverted"] == pytest.approx(w1 * x + w2 * y)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_samples_are_inverted_dropout(p):
    out = gen.dropout_samples(p=p, units=200, draws=2000)
    assert torch.allclose(out[out != 0], torch.tensor(1 / (1 - p)))
    claims.dropout_masks(0)  # the dropped share is p and the mean stays 1


def test_dropout_panel_curves_gap_and_cache():
    panel = gen.make_dropout_panel()
    seen = []
    fig0 = panel.update(p=0.0, weight_decay=0.0)
    fig5 = panel.update(p=0.5, weight_decay=0.0)
    assert changed(fig0, fig5)
    # the grey baseline equals the shared trainer inn.train on the same model, data and seeds
    model = inn.mlp(64, 10, depth=2, width=256, seed=0)
    torch.manual_seed(0)
    ref = inn.train(model, gen.noisy_digits(), epochs=gen.EPOCHS, lr=gen.LR, batch_size=gen.BATCH, optimizer="adam")
    assert np.allclose(ydata(fig5, "val_acc_base"), ref.val_acc, atol=0.01)
    assert np.allclose(ydata(fig5, "train_loss_base"), ref.train_loss, rtol=0.05, atol=1e-3)
    # the green curves equal the same trainer with nn.Dropout(0.5)
    model = inn.mlp(64, 10, depth=2, width=256, dropout=0.5, seed=0)
    torch.manual_seed(0)
    ref = inn.train(model, gen.noisy_digits(), epochs=gen.EPOCHS, lr=gen.LR, batch_size=gen.BATCH, optimizer="adam")
    assert np.allclose(ydata(fig5, "val_acc_run"), ref.val_acc, atol=0.01)
    for fig in (fig0, fig5):
        train_acc, val_acc = ydata(fig, "train_acc_run"), ydata(fig, "val_acc_run")
        seen.append(train_acc[-1] - val_acc[-1])
        assert np.allclose(heights(fig, "bar_train_acc")[1], train_acc[-1])
        assert np.allclose(heights(fig, "bar_val_acc")[1], val_acc[-1])
    claims.dropout_gap(0)  # the baseline overfits the noisy labels; dropout 0.5 shrinks the gap
    # cache: going back is instant, draws the same curves, and hits mlp_run's cache
    hits = gen.mlp_run.cache_info().hits
    start = time.perf_counter()
    fig_back = panel.update(p=0.0, weight_decay=0.0)
    assert time.perf_counter() - start < 5.0
    assert gen.mlp_run.cache_info().hits >= hits + 2
    assert np.array_equal(ydata(fig_back, "val_acc_run"), ydata(fig0, "val_acc_run"))
    assert gen.dropout_run(p=0.5) is gen.dropout_run(p=0.5)


def test_progress_bar_reaches_one_and_moves():
    values = []
    gen.draw_dropout(p=0.2, weight_decay=0.0, progress=values.append)
    assert values and values[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in zip(values, values[1:])), "progress went backwards"
    assert len(values) >= 3


def test_mc_dropout_matches_weight_scaling():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 3))
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model.eval()(x).argmax(1)
    res = gen.mc_dropout_accuracy(model, x, y, n_masks=(1, 200))
    assert res["eval"] == 1.0 and not model.training
    claims.mc_dropout_toy(0)  # 200 masks agree with eval mode, one mask less


# ---------------------------------------------------------------------------------------------- BN before dropout

@pytest.mark.parametrize("mean,std,p", [(1.0, 1.0, 0.5), (0.5, 2.0, 0.3), (0.0, 1.0, 0.2)])
def test_variance_shift_formula(mean, std, p):
    train_var = (std ** 2 + mean ** 2) / (1 - p) - mean ** 2  # variance of u * m / (1 - p), written here
    expected = math.sqrt(std ** 2 / train_var)
    assert gen.predicted_test_std(p, mean, std) == pytest.approx(expected)


def test_variance_shift_is_measured_as_predicted():
    claims.variance_shift(0)


# ---------------------------------------------------------------------------------------------- dropout variants

def test_dropblock_drops_whole_squares():
    g = torch.Generator().manual_seed(0)
    mask = gen.dropblock_mask((64, 4, 12, 12), p=0.2, block=3, gen=g)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    claims.dropblock_rate(0)  # about p = 0.2 of the units dropped
    dropped = (mask == 0).float()
    # a pixel is covered by a complete 3x3 dropped square iff the 3x3 min-pool around some corner is 0
    full = -F.max_pool2d(-dropped, 3, stride=1)  # (N, C, 10, 10): 1 where the square starting there is all dropped
    covered = F.max_pool2d(F.pad(full, (2, 2, 2, 2)), 3, stride=1)
    assert torch.equal(covered, dropped), "a dropped unit lies outside any complete 3x3 square"


def test_variant_masks_and_their_picture():
    m = gen.variant_masks(p=0.3, seed=1)
    channels = m["spatial"].flatten(1)
    assert ((channels == 0).all(1) | (channels == 1).all(1)).all()
    assert (m["dropout_as_weights"] == m["dropout_as_weights"][0]).all()
    assert m["dropconnect"].shape == (12, 16) and m["droppath"].shape == (16, 8)
    fig_a, fig_b = gen.draw_variant_masks(p=0.3, seed=1), gen.draw_variant_masks(p=0.6, seed=1)
    assert changed(fig_a, fig_b)
    assert np.array_equal(image(fig_a, "dropconnect"), m["dropconnect"].numpy())


# ---------------------------------------------------------------------------------------------- stochastic depth

def test_stochastic_depth_eval_is_the_expected_branch():
    net = gen.StochasticDepthMLP(blocks=5, width=16, last_survival=0.4, seed=0)
    torch.manual_seed(1)
    with torch.no_grad():
        for branch in net.branches:
            branch[2].weight.normal_(0, 0.3)
    x = torch.randn(7, 64)
    probs = [1 - (l / 5) * 0.6 for l in range(1, 6)]
    assert net.survival == pytest.approx(probs)
    with torch.no_grad():
        h = net.stem(x)
        for branch, p in zip(net.branches, probs):
            h = h + p * branch(h)
        expected = net.head(h)
        assert torch.allclose(net.eval()(x), expected, atol=1e-6)
        torch.manual_seed(0)
        net.train()
        for _ in range(1500):
            net(x)
    claims.stochastic_depth_mean_depth(0)  # the blocks run average sum p_l


def test_stochastic_depth_panel():
    panel = gen.make_stochastic_depth_panel()
    fig5 = panel.update(last_survival=0.5)
    fig3 = panel.update(last_survival=0.3)
    assert changed(fig5, fig3)
    for fig, p_last in ((fig5, 0.5), (fig3, 0.3)):
        L = gen.SD_BLOCKS
        assert np.allclose(heights(fig, "survival"), [1 - l / L * (1 - p_last) for l in range(1, L + 1)])
    assert np.array_equal(ydata(fig5, "val_loss_all"), ydata(fig3, "val_loss_all")), "the reference run changed"
    claims.stochastic_depth_training(0)  # without stochastic depth the net memorizes, with it less


# ---------------------------------------------------------------------------------------------- augmentation training

def test_augmentation_panel():
    panel = gen.make_augmentation_panel()
    fig_shift = panel.update(augmentation="shift", label_noise=gen.LABEL_NOISE)
    fig_erase = panel.update(augmentation="erasing", label_noise=gen.LABEL_NOISE)
    assert changed(fig_shift, fig_erase)
    base, _ = gen.mlp_run()  # 'none' is the flat baseline
    for fig in (fig_shift, fig_erase):
        assert np.array_equal(ydata(fig, "val_acc_base"), base.val_acc)
        val = ydata(fig, "val_acc_run")
        assert np.allclose(heights(fig, "final_val_acc"), [base.val_acc[-1], val[-1]])
    claims.augmentation_helps(0)  # a label-safe augmentation helps against the noisy labels
    hist, model = gen.augmentation_run("shift")
    assert np.array_equal(ydata(fig_shift, "val_acc_run"), hist.val_acc)
    # the trained model really is evaluated on clean, unaugmented validation images
    d = gen.noisy_digits(images=True)
    assert inn.evaluate(model, d.x_val, d.y_val)[1] == pytest.approx(hist.val_acc[-1])


def test_tta_predict_averages_the_shifted_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(gen.tta_predict(model, x, "none"), F.softmax(model(x), 1))
        views = [torch.from_numpy(np.stack([shifted(img, dy, dx) for img in x[:, 0].numpy()]))[:, None]
                 for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        expected = torch.stack([F.softmax(model(v), 1) for v in views]).mean(0)
        assert torch.allclose(gen.tta_predict(model, x, "shifts"), expected, atol=1e-6)
        both = torch.stack([F.softmax(model(v), 1) for v in views + [v.flip(-1) for v in views]]).mean(0)
        assert torch.allclose(gen.tta_predict(model, x, "shifts+hflip"), both, atol=1e-6)


# ---------------------------------------------------------------------------------------------- early stopping

@pytest.mark.parametrize("patience,min_delta", [(3, 0.0), (6, 0.01)])
def test_early_stopping_panel(patience, min_delta):
    panel = gen.make_early_stopping_panel()
    fig = panel.update(patience=patience, min_delta=min_delta)
    other = panel.update(patience=patience + 10, min_delta=min_delta)
    assert changed(fig, other)
    full = ydata(fig, "val_loss_full")
    assert len(full) == gen.ES_MAX_EPOCHS
    best, stop = stop_epoch_reference(full, patience, min_delta)
    trained = ydata(fig, "val_loss")
    assert len(trained) == stop and np.array_equal(trained, full[:stop]), "early-stopped run differs from the full run"
    assert by_gid(fig, "stop")[0].get_xdata()[0] == stop
    assert by_gid(fig, "best")[0].get_xdata()[0] == best
    # restored checkpoint: its accuracy is the one the full run had at the best epoch
    assert by_gid(fig, "restored")[0].get_ydata()[0] == pytest.approx(ydata(fig, "val_acc_full")[best - 1], abs=1e-6)
    res = gen.train_with_early_stopping(patience=patience, min_delta=min_delta)
    assert res.restored_val_loss == pytest.approx(full[best - 1], abs=1e-6)


# ---------------------------------------------------------------------------------------------- ensembles

def reference_vote(probs):
    out = []
    for i in range(probs.shape[1]):
        votes = collections.Counter(probs[:, i].argmax(1).tolist())
        top = max(votes.values())
        tied = [c for c, v in votes.items() if v == top]
        out.append(max(tied, key=lambda c: probs[:, i, c].mean()))
    return np.array(out)


def test_majority_vote_and_scores():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(4, 300))  # 4 members: many ties
    assert np.array_equal(gen.majority_vote(probs), reference_vote(probs))
    y = rng.integers(0, 4, 300)
    sc = gen.ensemble_scores(probs, y)
    assert np.allclose(sc["members"], [(p.argmax(1) == y).mean() for p in probs])
    assert sc["averaging"][-1] == pytest.approx((probs.mean(0).argmax(1) == y).mean())
    assert sc["voting"][2] == pytest.approx((reference_vote(probs[:3]) == y).mean())


def test_ensemble_figure_small():
    fig, sc = gen.draw_ensemble(n_models=2)
    bars = heights(fig, "ensemble_bars")
    assert np.allclose(bars[:2], sc["members"]) and bars[2] == pytest.approx(sc["averaging"][-1])
    member0 = gen.ensemble_member(0)
    assert sc["members"][0] == pytest.approx((member0.argmax(1) == gen.noisy_digits().y_val.numpy()).mean())


# ---------------------------------------------------------------------------------------------- common pattern, norms

def test_randomness_table():
    rows = gen.randomness_table()
    assert len(rows) >= 5
    claims.randomness_table(0)  # random in training, deterministic at test time


def test_bn_noise_against_two_sample_batches():
    # with B = 2 the normalized value of x0 is sign(x0 - z) up to eps: std = 2 sqrt(P(z < x0) P(z > x0))
    claims.bn_noise(0)  # 2 sqrt(q (1 - q)) at B = 2, then like 1 / sqrt(B)


def test_normalization_panel():
    panel = gen.make_normalization_panel()
    fig32 = panel.update(batch_size=32)
    fig128 = panel.update(batch_size=128)
    assert changed(fig32, fig128)
    for fig, bsz in ((fig32, 32), (fig128, 128)):
        gaps = [ydata(fig, f"train_acc_{n}")[-1] - ydata(fig, f"val_acc_{n}")[-1] for n in gen.NORMS]
        assert np.allclose(heights(fig, "gap"), gaps)
        for n in gen.NORMS:  # no pixel noise: the robustness curve starts at the final validation accuracy
            assert ydata(fig, f"robust_{n}")[0] == pytest.approx(ydata(fig, f"val_acc_{n}")[-1], abs=1e-6)
        _, model = gen.norm_run("batch", bsz)
        assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
        _, model = gen.norm_run("layer", bsz)
        assert any(isinstance(m, nn.LayerNorm) for m in model.modules())
    steps32 = len(gen.norm_run("none", 32)[0].step_loss)
    assert steps32 == gen.EPOCHS * math.ceil(gen.N_TRAIN / 32)


# ---------------------------------------------------------------------------------------------- topic 1

def test_one_step_l2_vs_weight_decay():
    diff = gen.one_step_l2_vs_weight_decay(lam=0.05)
    assert diff["sgd"] < 1e-6 and diff["adam_vs_adamw"] > 1e-4


def test_penalty_experiment():
    fig, rows = gen.penalty_experiment()
    weights = {kind: gen.penalty_run(kind, s)[1] for kind, s in gen.PENALTIES}
    for row, (kind, _) in zip(rows, gen.PENALTIES):
        w = weights[kind]
        assert row["|w|<0.01"] == pytest.approx(np.mean(np.abs(w) < 0.01))
        assert row["|W1|_F"] == pytest.approx(np.linalg.norm(w), rel=1e-5)
    claims.penalties(0)  # L2 shrinks the weights, L1 sparsifies them, both shrink the gap
    # the L1 run really penalized: with l1 the loss at the last step exceeds plain cross-entropy of that model
    hist, _ = gen.penalty_run("l1", 1e-3)
    assert hist.step_loss[-1] > hist.train_loss[-1]


def test_format_table():
    text = gen.format_table([{"a": 1.23456, "b": "x"}, {"a": 2.0, "b": "long"}])
    lines = text.splitlines()
    assert len(lines) == 4 and "1.235" in lines[2] and lines[3].strip().endswith("long")
