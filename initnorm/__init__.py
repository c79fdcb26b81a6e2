"""initnorm: helper code for the course "Initialization, Normalization and Generalization".

The core: data (digits, synthetic sets), models (the activation table, init schemes and gains, MLP/CNN/residual
builders), stats (per-layer statistics through hooks), train (a small training loop), plots, widgets (Panel: a
drawing function plus its controls), cache (cached results, one torch thread), gradcheck (rel_error, numeric
gradients), augment. One module per lecture (initialization, normalization, generalization) holds what only that
lecture needs; the core imports none of them (tests/test_import_rules.py).
"""
from .data import Split, digits, gaussian_blobs
from .gradcheck import numeric_gradient, rel_error
from .models import cnn, init_weights_, mlp, residual_mlp
from .stats import LayerStats, StatsRecorder, layer_stats, update_to_data
from .train import History, evaluate, train

__all__ = ["Split", "digits", "gaussian_blobs", "numeric_gradient", "rel_error", "cnn", "init_weights_", "mlp",
           "residual_mlp", "LayerStats", "StatsRecorder", "layer_stats", "update_to_data", "History", "evaluate",
           "train"]
