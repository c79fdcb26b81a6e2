"""Exercise 2 (normalization): implementations that are wrong in one realistic way, and correct alternatives.

Every WRONG entry names the test cells that must catch it; the comment in `why` is the mistake as a student
would make it. CORRECT entries are equivalent rewrites that must keep full points.
"""
from tests.catalogue import Variant

BN, BWD, ALT = "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"
LN, LN_BWD = "layernorm_forward", "layernorm_backward"
SBN, SBN_BWD = "spatial_batchnorm_forward", "spatial_batchnorm_backward"
GN, GN_BWD = "groupnorm_forward", "groupnorm_backward"

# spatial BatchNorm written with reductions over (N, H, W) instead of reusing batchnorm_forward
SPATIAL_DIRECT = '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.1)
    N, C, H, W = x.shape
    M = N * H * W
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    running_mean = bn_param.get("running_mean", np.zeros(C))
    running_var = bn_param.get("running_var", np.ones(C))
    if mode == "train":
        mu = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        std = np.sqrt(var + eps)
        xhat = (x - mu.reshape(1, C, 1, 1)) / std.reshape(1, C, 1, 1)
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var * M / (M - 1)
        return g * xhat + b, (xhat, std, gamma)
    xhat = (x - running_mean.reshape(1, C, 1, 1)) / np.sqrt(running_var.reshape(1, C, 1, 1) + eps)
    return g * xhat + b, None
'''

SPATIAL_DIRECT_BACKWARD = '''
def spatial_batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    C = dout.shape[1]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    g = dout * gamma.reshape(1, C, 1, 1)
    axes = (0, 2, 3)
    dx = (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    return dx / std.reshape(1, C, 1, 1), dgamma, dbeta
'''

# GroupNorm on a five-dimensional view (N, G, C//G, H, W) instead of (N, G, -1)
GN_FIVE_DIM = '''
def groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    if C % G:
        raise ValueError(f"C={C} is not divisible by G={G}")
    xg = x.reshape(N, G, C // G, H, W)
    mu = xg.mean(axis=(2, 3, 4), keepdims=True)
    var = xg.var(axis=(2, 3, 4), keepdims=True)
    xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    return gamma[None, :, None, None] * xhat + beta[None, :, None, None], (xhat, var, eps, gamma, G)
'''

GN_FIVE_DIM_BACKWARD = '''
def groupnorm_backward(dout, cache):
    xhat, var, eps, gamma, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    g = (dout * gamma[None, :, None, None]).reshape(N, G, C // G, H, W)
    xh = xhat.reshape(N, G, C // G, H, W)
    M = C // G * H * W
    axes = (2, 3, 4)
    dx = (M * g - g.sum(axis=axes, keepdims=True) - xh * (g * xh).sum(axis=axes, keepdims=True))
    dx = dx / (M * np.sqrt(var + eps))
    return dx.reshape(N, C, H, W), dgamma, dbeta
'''

# LayerNorm as BatchNorm of the transposed data (the CS231n trick), gamma and beta applied outside
LN_VIA_BATCHNORM = '''
def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    N = x.shape[0]
    xhat_t, bn_cache = batchnorm_forward(x.T, np.ones(N), np.zeros(N), {"mode": "train", "eps": eps})
    xhat = xhat_t.T
    return gamma * xhat + beta, (bn_cache, xhat, gamma)
'''

LN_VIA_BATCHNORM_BACKWARD = '''
def layernorm_backward(dout, cache):
    bn_cache, xhat, gamma = cache
    dx_t, _, _ = batchnorm_backward_alt((dout * gamma).T, bn_cache)
    return dx_t.T, (dout * xhat).sum(axis=0), dout.sum(axis=0)
'''

# the staged backward written with the formulas of Ioffe and Szegedy's paper (dvar, dmu, then dx)
BWD_PAPER = '''
def batchnorm_backward(dout, cache):
    xc, var, std, xhat, gamma = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xc, axis=0) * -0.5 * std ** -3
    dmu = np.sum(-dxhat / std, axis=0) + dvar * np.mean(-2 * xc, axis=0)
    dx = dxhat / std + dvar * 2 * xc / N + dmu / N
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
'''

WRONG = [
    # --- BatchNorm forward, training mode
    Variant("bn_unbiased_variance_in_normalization",
            patch={BN: [("var = (xc ** 2).mean(axis=0)", "var = (xc ** 2).sum(axis=0) / (N - 1)"),
                        ("momentum * var * N / (N - 1)", "momentum * var")]},
            fails=("test_batchnorm_forward_train",),
            why="normalizes with the unbiased variance (N - 1), as np.var(ddof=1) or torch.var default"),
    Variant("bn_eps_outside_sqrt", patch={BN: [("std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps")]},
            fails=("test_batchnorm_forward_train",), why="divides by sqrt(var) + eps"),
    Variant("bn_mutates_input", patch={BN: [("xc = x - mu  ", "x -= mu\n        xc = x  ")]},
            fails=("test_batchnorm_forward_train",), why="centres x in place (x -= mean)"),
    # --- running statistics
    Variant("bn_biased_running_var",
            patch={BN: [("momentum * var * N / (N - 1)", "momentum * var")]},
            fails=("test_batchnorm_running_stats",), why="updates running_var with the biased variance"),
    Variant("bn_momentum_reversed",
            patch={BN: [("(1 - momentum) * running_mean + momentum * mu",
                         "momentum * running_mean + (1 - momentum) * mu"),
                        ("(1 - momentum) * running_var + momentum * var * N / (N - 1)",
                         "momentum * running_var + (1 - momentum) * var * N / (N - 1)")]},
            fails=("test_batchnorm_running_stats", "test_batchnorm_in_pytorch"),
            why="CS231n's decay convention (momentum weighs the old value) instead of PyTorch's"),
    Variant("bn_running_var_never_updated",
            patch={BN: [("running_var = (1 - momentum) * running_var + momentum * var * N / (N - 1)", "pass")]},
            fails=("test_batchnorm_running_stats", "test_batchnorm_in_pytorch"),
            why="forgets to update running_var"),
    Variant("bn_running_mean_never_updated",
            patch={BN: [("running_mean = (1 - momentum) * running_mean + momentum * mu", "pass")]},
            fails=("test_batchnorm_running_stats", "test_batchnorm_in_pytorch"),
            why="forgets to update running_mean"),
    Variant("bn_running_stats_written_to_bn_param_only",
            patch={BN: [("running_mean = (1 - momentum) * running_mean + momentum * mu",
                         'bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu'),
                        ("running_var = (1 - momentum) * running_var + momentum * var * N / (N - 1)",
                         'bn_param["running_var"] = (1 - momentum) * running_var + momentum * var * N / (N - 1)')]},
            fails=("test_batchnorm_running_stats", "test_batchnorm_in_pytorch"),
            why="stores the new averages in bn_param (CS231n habit), and the skeleton's last lines overwrite them "
                "with the old local values"),
    # --- test mode
    Variant("bn_test_mode_uses_batch_statistics",
            patch={BN: [("out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
                         "out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta")]},
            fails=("test_batchnorm_test_mode", "test_batchnorm_in_pytorch"),
            why="normalizes with the batch statistics at test time too"),
    Variant("bn_test_mode_without_eps",
            patch={BN: [("np.sqrt(running_var + eps) + beta", "np.sqrt(running_var) + beta")]},
            fails=("test_batchnorm_test_mode",), why="drops eps in test mode"),
    # --- staged backward
    Variant("bn_backward_misses_mean_path", patch={BWD: [("dx = dxc + dmu / N", "dx = dxc")]},
            fails=("test_batchnorm_backward",), why="treats the batch mean as a constant"),
    Variant("bn_backward_misses_variance_path",
            patch={BWD: [("dxc = dxc + 2 * xc * dvar / N", "dxc = dxc")]},
            fails=("test_batchnorm_backward",), why="treats the batch variance as a constant"),
    Variant("bn_backward_ignores_gamma", patch={BWD: [("dxhat = dout * gamma", "dxhat = dout")]},
            fails=("test_batchnorm_backward",), why="forgets the factor gamma on the way to xhat"),
    Variant("bn_backward_dgamma_sums_dout",
            patch={BWD: [("dgamma = (dout * xhat).sum(axis=0)", "dgamma = dout.sum(axis=0)")]},
            fails=("test_batchnorm_backward",), why="dgamma computed like dbeta"),
    Variant("bn_backward_dbeta_keeps_dims",
            patch={BWD: [("dbeta = dout.sum(axis=0)", "dbeta = dout.sum(axis=0, keepdims=True)")]},
            fails=("test_batchnorm_backward",), why="dbeta of shape (1, D)"),
    # --- closed-form backward
    Variant("bn_alt_factor_n",
            patch={ALT: [("/ (N * std)", "/ std")]},
            fails=("test_batchnorm_backward_alt", "test_batchnorm_in_pytorch"),
            why="forgets the 1/N in front of the closed form"),
    Variant("bn_alt_misses_xhat_term",
            patch={ALT: [(" - xhat * (g * xhat).sum(axis=0)", "")]},
            fails=("test_batchnorm_backward_alt", "test_batchnorm_in_pytorch"),
            why="drops the term of the variance path"),
    Variant("bn_alt_scales_dout_in_place",
            patch={ALT: [("g = dout * gamma  ", "dout *= gamma\n    g = dout  ")]},
            fails=("test_batchnorm_backward_alt",),
            why="multiplies the upstream gradient by gamma in place (dout *= gamma), changing the caller's array"),
    # --- LayerNorm
    Variant("ln_statistics_over_batch_axis",
            patch={LN: [("mu = x.mean(axis=1, keepdims=True)", "mu = x.mean(axis=0, keepdims=True)"),
                        ("(xc ** 2).mean(axis=1, keepdims=True)", "(xc ** 2).mean(axis=0, keepdims=True)")]},
            fails=("test_layernorm_forward",), why="copies BatchNorm's axis"),
    Variant("ln_backward_misses_mean_term",
            patch={LN_BWD: [("dx = (g - g.mean(axis=1, keepdims=True)", "dx = (g")]},
            fails=("test_layernorm_backward",), why="drops the path through the per-sample mean"),
    Variant("ln_backward_dgamma_over_features",
            patch={LN_BWD: [("dgamma = (dout * xhat).sum(axis=0)", "dgamma = (dout * xhat).sum(axis=1)")]},
            fails=("test_layernorm_backward",), why="sums dgamma over the features instead of the batch"),
    # --- spatial BatchNorm
    Variant("spatial_reshape_without_transpose",
            patch={SBN: [("x.transpose(0, 2, 3, 1).reshape(-1, C)", "x.reshape(-1, C)"),
                         ("out.reshape(N, H, W, C).transpose(0, 3, 1, 2)", "out.reshape(N, C, H, W)")],
                   SBN_BWD: [("dout.transpose(0, 2, 3, 1).reshape(-1, C)", "dout.reshape(-1, C)"),
                             ("drows.reshape(N, H, W, C).transpose(0, 3, 1, 2)", "drows.reshape(N, C, H, W)")]},
            fails=("test_spatial_batchnorm_forward", "test_spatial_batchnorm_backward"),
            why="x.reshape(-1, C) without moving the channel axis last"),
    Variant("spatial_running_var_counts_n_only",
            cells={SBN: SPATIAL_DIRECT.replace("var * M / (M - 1)", "var * N / (N - 1)"),
                   SBN_BWD: SPATIAL_DIRECT_BACKWARD},
            fails=("test_spatial_batchnorm_forward",),
            why="unbiased correction with the batch size N instead of the N*H*W values per channel"),
    # --- GroupNorm
    Variant("gn_groups_in_wrong_memory_order",
            patch={GN: [("xg = x.reshape(N, G, -1)", "xg = x.reshape(N, C // G, G, H * W)"),
                        ("mu = xg.mean(axis=2, keepdims=True)", "mu = xg.mean(axis=(1, 3), keepdims=True)"),
                        ("(xc ** 2).mean(axis=2, keepdims=True)", "(xc ** 2).mean(axis=(1, 3), keepdims=True)")]},
            fails=("test_groupnorm_forward",), why="group g gets the channels g, g+G, ... (an (N, C//G, G) view)"),
    Variant("gn_without_divisibility_check",
            patch={GN: [('    if C % G != 0:\n        raise ValueError(f"GroupNorm needs the number of channels C={C} '
                         'to be divisible by G={G}")\n', "")]},
            fails=("test_groupnorm_divisibility",), why="no ValueError when C is not divisible by G"),
    Variant("gn_backward_dbeta_keeps_dims",
            patch={GN_BWD: [("dbeta = dout.sum(axis=(0, 2, 3))", "dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)")]},
            fails=("test_groupnorm_backward",), why="dbeta of shape (1, C, 1, 1)"),
    Variant("gn_backward_misses_variance_term",
            patch={GN_BWD: [(" - xh * (g * xh).mean(axis=2, keepdims=True)", "")]},
            fails=("test_groupnorm_backward",), why="drops the path through the group variance"),
]

CORRECT = [
    Variant("bn_forward_with_np_var",
            patch={BN: [("var = (xc ** 2).mean(axis=0)", "var = np.var(x, axis=0)"),
                        ("momentum * var * N / (N - 1)", "momentum * np.var(x, axis=0, ddof=1)")]},
            why="np.var (ddof=0, then ddof=1) instead of the mean of squares"),
    Variant("bn_backward_paper_formulas", cells={BWD: BWD_PAPER},
            why="dvar and dmu as in Ioffe and Szegedy (2015) instead of one line per stage"),
    Variant("bn_alt_through_dgamma_dbeta",
            patch={ALT: [("dx = (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0)) / (N * std)",
                          "dx = gamma * (N * dout - dbeta - xhat * dgamma) / (N * std)")]},
            why="the closed form written with dbeta and dgamma"),
    Variant("spatial_direct_reductions", cells={SBN: SPATIAL_DIRECT, SBN_BWD: SPATIAL_DIRECT_BACKWARD},
            why="reductions over axes (0, 2, 3) instead of transposing and calling batchnorm_forward"),
    Variant("gn_five_dimensional_view", cells={GN: GN_FIVE_DIM, GN_BWD: GN_FIVE_DIM_BACKWARD},
            why="x viewed as (N, G, C//G, H, W), statistics over axes (2, 3, 4), variance kept in the cache"),
    Variant("ln_through_batchnorm", cells={LN: LN_VIA_BATCHNORM, LN_BWD: LN_VIA_BATCHNORM_BACKWARD},
            why="LayerNorm as batchnorm_forward / batchnorm_backward_alt of the transposed data"),
    Variant("ln_staged_backward",
            patch={LN_BWD: [("    dx = (g - g.mean(axis=1, keepdims=True)\n"
                             "          - xhat * (g * xhat).mean(axis=1, keepdims=True)) / std     # (N, D)",
                             "    D = dout.shape[1]\n"
                             "    xc = xhat * std\n"
                             "    dxc = g / std\n"
                             "    dvar = -0.5 * (g * xc).sum(axis=1, keepdims=True) / std ** 3\n"
                             "    dxc = dxc + 2 * xc * dvar / D\n"
                             "    dx = dxc - dxc.mean(axis=1, keepdims=True)")]},
            why="LayerNorm backward stage by stage, rebuilding xc from the cache"),
]
