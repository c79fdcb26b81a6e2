"""initnorm: helper code for the course "Initialization, Normalization and Generalization".

Modules: data (digits, synthetic sets), models (MLP/CNN/residual builders, init schemes),
stats (per-layer statistics through hooks), train (a small training loop), plots,
widgets (Panel: a drawing function plus its controls), gradcheck (rel_error, numeric gradients).
"""
from .data import Split, digits, gaussian_blobs
from .gradcheck import numeric_gradient, rel_error
from .models import cnn, init_weights_, mlp, residual_mlp
from .stats import LayerStats, StatsRecorder, layer_stats, update_to_data
from .train import History, evaluate, train

__all__ = ["Split", "digits", "gaussian_blobs", "numeric_gradient", "rel_error", "cnn", "init_weights_", "mlp",
           "residual_mlp", "LayerStats", "StatsRecorder", "layer_stats", "update_to_data", "History", "evaluate",
           "train"]
