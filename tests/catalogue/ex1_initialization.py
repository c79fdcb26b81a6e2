"""Wrong and alternative-correct implementations of exercise 1 (initialization).

Each WRONG entry is one realistic mistake; `fails` lists the test cells that must catch it. Each CORRECT entry
draws its numbers in another order or has another code shape, and must keep full points: the random
initializers are tested on their distribution, never on exact values.
"""
from tests.catalogue import Variant

_RECEPTIVE = "    for size in shape[2:]:\n        receptive_field *= size\n"
_XAVIER_STD = "std = gain * math.sqrt(2.0 / (fan_in + fan_out))"
_LSUV_RESCALE = ("        for layer in layers:\n"
                 "            for _ in range(max_iter):\n"
                 "                var = output_variance(model, layer, x)\n"
                 "                if abs(var - 1.0) <= tol:\n"
                 "                    break\n"
                 "                layer.weight.div_(math.sqrt(var))\n")
_MODE_CHECK = ("    if mode not in (\"fan_in\", \"fan_out\"):\n"
               "        raise ValueError(f\"mode must be 'fan_in' or 'fan_out', got {mode!r}\")\n")
_ALL_INIT_TESTS = ("test_xavier_uniform_", "test_xavier_normal_", "test_kaiming_uniform_", "test_kaiming_normal_")

WRONG = [
    # --- compute_fans
    Variant("fans_swapped",
            patch={"compute_fans": [("return shape[1] * receptive_field, shape[0] * receptive_field",
                                     "return shape[0] * receptive_field, shape[1] * receptive_field")]},
            fails=("test_compute_fans", "test_kaiming_uniform_", "test_kaiming_normal_"),
            why="reads a Linear weight as (in, out); Xavier is symmetric in the fans, He is not"),
    Variant("receptive_field_ignored",
            patch={"compute_fans": [(_RECEPTIVE, "")]},
            fails=("test_compute_fans",) + _ALL_INIT_TESTS,
            why="fans of a conv weight without the kernel size: 3x3 conv weights come out 3x too large"),
    Variant("no_value_error_for_1d",
            patch={"compute_fans": [("        raise ValueError(f\"fans need a weight with at least 2 dimensions, "
                                     "got shape {shape}\")",
                                     "        return shape[0], shape[0]")]},
            fails=("test_compute_fans",),
            why="treats a bias vector as a square weight instead of raising ValueError"),
    Variant("fans_via_torch_helper",
            cells={"compute_fans": ("def compute_fans(shape):\n"
                                    "    weight = torch.empty(tuple(shape))\n"
                                    "    return torch.nn.init._calculate_fan_in_and_fan_out(weight)\n")},
            fails=("test_compute_fans",) + _ALL_INIT_TESTS,
            why="calls torch's private fan helper instead of computing the fans (the tripwire fires)"),
    # --- calculate_gain
    Variant("tanh_gain_one",
            patch={"calculate_gain": [("        return 5.0 / 3.0", "        return 1.0")]},
            fails=("test_calculate_gain", "test_kaiming_normal_"),
            why="tanh treated like a linear layer"),
    Variant("leaky_zero_slope_treated_as_none",
            patch={"calculate_gain": [("slope = 0.01 if param is None else param", "slope = param or 0.01")]},
            fails=("test_calculate_gain",),
            why="`param or 0.01` turns the slope 0 (a plain ReLU) into 0.01"),
    Variant("leaky_param_ignored",
            patch={"calculate_gain": [("slope = 0.01 if param is None else param", "slope = 0.01")]},
            fails=("test_calculate_gain", "test_kaiming_uniform_"),
            why="always the default slope 0.01: kaiming_uniform_(w, a=sqrt(5)) gets the gain of a ReLU"),
    Variant("selu_gain_one",
            patch={"calculate_gain": [("        return 0.75", "        return 1.0")]},
            fails=("test_calculate_gain",),
            why="SELU is self-normalizing, so gain 1 looks plausible; PyTorch uses 3/4 (caught by hidden tests)"),
    Variant("unknown_nonlinearity_gain_one",
            patch={"calculate_gain": [("    raise ValueError(f\"unsupported nonlinearity {nonlinearity!r}\")",
                                       "    return 1.0")]},
            fails=("test_calculate_gain", "test_kaiming_uniform_", "test_kaiming_normal_"),
            why="falls through to gain 1 for a misspelt or unsupported nonlinearity instead of raising ValueError"),
    # --- xavier_uniform_
    Variant("uniform_bound_is_std",
            patch={"xavier_uniform_": [("bound = math.sqrt(3.0) * std", "bound = std")]},
            fails=("test_xavier_uniform_",),
            why="U(-std, std) has standard deviation std / sqrt(3)"),
    Variant("xavier_gain_ignored",
            patch={"xavier_uniform_": [(_XAVIER_STD, "std = math.sqrt(2.0 / (fan_in + fan_out))")]},
            fails=("test_xavier_uniform_",),
            why="the gain argument is accepted and never used"),
    Variant("generator_ignored",
            patch={"xavier_uniform_": [("tensor.uniform_(-bound, bound, generator=generator)",
                                        "tensor.uniform_(-bound, bound)")]},
            fails=("test_xavier_uniform_",),
            why="draws from the global generator: a seeded torch.Generator does not reproduce the weights"),
    # --- xavier_normal_
    Variant("xavier_variance_as_std",
            patch={"xavier_normal_": [(_XAVIER_STD, "std = gain * 2.0 / (fan_in + fan_out)")]},
            fails=("test_xavier_normal_",),
            why="passes the variance to normal_, which takes the standard deviation"),
    Variant("xavier_lecun_fan_in_only",
            patch={"xavier_normal_": [(_XAVIER_STD, "std = gain * math.sqrt(1.0 / fan_in)")]},
            fails=("test_xavier_normal_",),
            why="LeCun's 1 / fan_in instead of Glorot's 2 / (fan_in + fan_out)"),
    Variant("xavier_normal_drawn_uniform",
            patch={"xavier_normal_": [("return tensor.normal_(0.0, std, generator=generator)",
                                       "return tensor.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, "
                                       "generator=generator)")]},
            fails=("test_xavier_normal_",),
            why="copy-pasted from the uniform version: right variance, wrong distribution"),
    # --- kaiming_uniform_
    Variant("no_grad_missing",
            patch={"kaiming_uniform_": [("    with torch.no_grad():\n"
                                         "        return tensor.uniform_(-bound, bound, generator=generator)",
                                         "    return tensor.uniform_(-bound, bound, generator=generator)")]},
            fails=("test_kaiming_uniform_",),
            why="in-place change of a Parameter that requires grad, outside torch.no_grad(): RuntimeError"),
    Variant("bad_mode_accepted",
            patch={"kaiming_uniform_": [(_MODE_CHECK, "")]},
            fails=("test_kaiming_uniform_",),
            why="any mode other than 'fan_in' silently means fan_out"),
    # --- kaiming_normal_
    Variant("not_in_place",
            patch={"kaiming_normal_": [("    with torch.no_grad():\n"
                                        "        return tensor.normal_(0.0, std, generator=generator)",
                                        "    return torch.randn(tensor.shape, generator=generator) * std")]},
            fails=("test_kaiming_normal_", "test_deep_relu_net_trains"),
            why="returns a new tensor and leaves the layer's weight as it was"),
    Variant("mode_fan_out_ignored",
            patch={"kaiming_normal_": [("fan = fan_in if mode == \"fan_in\" else fan_out", "fan = fan_in")]},
            fails=("test_kaiming_normal_",),
            why="mode is checked but always divides by fan_in"),
    Variant("kaiming_variance_as_std",
            patch={"kaiming_normal_": [("std = calculate_gain(nonlinearity, a) / math.sqrt(fan)",
                                        "std = calculate_gain(nonlinearity, a) ** 2 / fan")]},
            fails=("test_kaiming_normal_", "test_deep_relu_net_trains"),
            why="gain^2 / fan is the variance; as a std it is 8x too small for width 128 and the deep net dies"),
    # --- lsuv_init_
    Variant("lsuv_no_rescale",
            patch={"lsuv_init_": [(_LSUV_RESCALE, "")]},
            fails=("test_lsuv_init_",),
            why="orthogonal init and zero biases only, without the data-dependent rescaling"),
    Variant("lsuv_first_layer_only",
            patch={"lsuv_init_": [("        for layer in layers:\n            for _ in range(max_iter):",
                                   "        for layer in layers[:1]:\n            for _ in range(max_iter):")]},
            fails=("test_lsuv_init_",),
            why="rescales the first layer and stops"),
    Variant("lsuv_unbounded_loop",
            patch={"lsuv_init_": [("            for _ in range(max_iter):", "            while True:")]},
            fails=("test_lsuv_init_",),
            why="loops until converged with no cap (fast.ai's LSUV): never ends on a layer that cannot converge"),
    Variant("lsuv_reverse_order",
            patch={"lsuv_init_": [("        for layer in layers:\n            for _ in range(max_iter):",
                                   "        for layer in reversed(layers):\n            for _ in range(max_iter):")]},
            fails=("test_lsuv_init_",),
            why="rescales the last layer first; rescaling an earlier layer then changes every later output"),
    Variant("lsuv_bias_kept",
            patch={"lsuv_init_": [("            if layer.bias is not None:\n"
                                   "                layer.bias.zero_()\n", "")]},
            fails=("test_lsuv_init_",),
            why="keeps PyTorch's random biases"),
    Variant("lsuv_no_orthogonal",
            patch={"lsuv_init_": [("            torch.nn.init.orthogonal_(layer.weight, generator=generator)\n", "")]},
            fails=("test_lsuv_init_",),
            why="rescales PyTorch's default weights instead of an orthogonal initialization"),
    Variant("lsuv_measures_model_output",
            patch={"lsuv_init_": [("                var = output_variance(model, layer, x)",
                                   "                var = model(x).var().item()")]},
            fails=("test_lsuv_init_",),
            why="measures the variance of the network's output instead of the current layer's output"),
    Variant("lsuv_via_course_helper",
            cells={"lsuv_init_": ("def lsuv_init_(model, x, tol=0.05, max_iter=10, generator=None):\n"
                                  "    from initnorm.initialization import lsuv\n"
                                  "    lsuv(model, x, tol=tol, max_iter=max_iter, generator=generator)\n"
                                  "    return model\n")},
            fails=("test_lsuv_init_",),
            why="hands the work to the lecture's own LSUV in the course package (the tripwire fires)"),
]

CORRECT = [
    Variant("kaiming_normal_randn_copy",
            patch={"kaiming_normal_": [("    with torch.no_grad():\n"
                                        "        return tensor.normal_(0.0, std, generator=generator)",
                                        "    noise = torch.randn(tensor.shape, generator=generator)  # same shape\n"
                                        "    with torch.no_grad():\n"
                                        "        tensor.copy_(noise * std)\n"
                                        "    return tensor")]},
            why="draws a fresh standard normal tensor, scales it and copies it in"),
    Variant("xavier_uniform_rand_affine",
            patch={"xavier_uniform_": [("    with torch.no_grad():\n"
                                        "        return tensor.uniform_(-bound, bound, generator=generator)",
                                        "    u = torch.rand(tensor.shape, generator=generator)  # U[0, 1)\n"
                                        "    with torch.no_grad():\n"
                                        "        tensor.copy_((u * 2 - 1) * bound)\n"
                                        "    return tensor")]},
            why="U(-a, a) as (2 * U[0, 1) - 1) * a"),
    Variant("math_prod_and_shared_kaiming_helper",
            cells={
                "compute_fans": (
                    "def compute_fans(shape):\n"
                    "    if len(shape) < 2:\n"
                    "        raise ValueError('need at least 2 dimensions')\n"
                    "    receptive = math.prod(shape[2:])\n"
                    "    return int(shape[1]) * receptive, int(shape[0]) * receptive\n"),
                "kaiming_uniform_": (
                    "def kaiming_std(shape, a, mode, nonlinearity):\n"
                    "    fans = dict(zip(('fan_in', 'fan_out'), compute_fans(shape)))\n"
                    "    if mode not in fans:\n"
                    "        raise ValueError(f'bad mode {mode}')\n"
                    "    return calculate_gain(nonlinearity, a) / fans[mode] ** 0.5\n"
                    "\n"
                    "\n"
                    "@torch.no_grad()\n"
                    "def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
                    "    bound = 3 ** 0.5 * kaiming_std(tensor.shape, a, mode, nonlinearity)\n"
                    "    tensor.uniform_(-bound, bound, generator=generator)\n"
                    "    return tensor\n"),
                "kaiming_normal_": (
                    "@torch.no_grad()\n"
                    "def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu', generator=None):\n"
                    "    tensor.normal_(0, kaiming_std(tensor.shape, a, mode, nonlinearity), generator=generator)\n"
                    "    return tensor\n"),
            },
            why="fans via math.prod; both Kaiming functions share one std helper and use @torch.no_grad()"),
    Variant("gain_table",
            cells={"calculate_gain": (
                "GAINS = {'linear': 1.0, 'sigmoid': 1.0, 'tanh': 5 / 3, 'relu': 2 ** 0.5, 'selu': 3 / 4}\n"
                "GAINS.update({f'conv{d}d': 1.0 for d in (1, 2, 3)})\n"
                "GAINS.update({f'conv_transpose{d}d': 1.0 for d in (1, 2, 3)})\n"
                "\n"
                "\n"
                "def calculate_gain(nonlinearity, param=None):\n"
                "    if nonlinearity == 'leaky_relu':\n"
                "        slope = 0.01 if param is None else float(param)\n"
                "        return (2 / (1 + slope * slope)) ** 0.5\n"
                "    try:\n"
                "        return GAINS[nonlinearity]\n"
                "    except KeyError:\n"
                "        raise ValueError(f'no gain for {nonlinearity!r}') from None\n")},
            why="a lookup table instead of an if-chain"),
    Variant("lsuv_while_loop_own_hook",
            cells={"lsuv_init_": (
                "def lsuv_init_(model, x, tol=0.05, max_iter=10, generator=None):\n"
                "    layers = [m for m in model.modules() if isinstance(m, LSUV_TYPES)]\n"
                "    for layer in layers:\n"
                "        nn.init.orthogonal_(layer.weight, generator=generator)\n"
                "        if layer.bias is not None:\n"
                "            nn.init.zeros_(layer.bias)\n"
                "    for layer in layers:\n"
                "        captured = {}\n"
                "        hook = layer.register_forward_hook(lambda m, i, out: captured.update(std=out.std().item()))\n"
                "        try:\n"
                "            rescalings = 0\n"
                "            with torch.no_grad():\n"
                "                model(x)\n"
                "                while abs(captured['std'] ** 2 - 1) > tol and rescalings < max_iter:\n"
                "                    layer.weight.data /= captured['std']\n"
                "                    rescalings += 1\n"
                "                    model(x)\n"
                "        finally:\n"
                "            hook.remove()\n"
                "    return model\n")},
            why="a while loop with its own counter, its own hook measuring the std, and .data rescaling"),
]
