"""Pretraining recipe of `residual_muon_v6` (issue 15): v4's recipe from the shipped v4 with
three more families drawn from the meta-training split's architecture space.

    python -m meta_train.main --config=configs/pretrain_residual_muon_v6.py --workdir=runs/v6

Why: every v4 family is one fixed architecture, and only one of them is a ReLU MLP (a single
hidden layer on 8x8 digits). The split's meta-training space (`tasks.heldout.SPACES`) also
has 2-layer ReLU and GELU MLPs at 16x16 pixels, batches of 32 to 128, and byte-level LMs with
32-character sequences; the shipped rule has seen none of them. The hypothesis tested here:
more of the allowed variety (activation, depth, resolution, batch size, tokenization,
sequence length; widths stay <= 32 as the split requires) makes the learned residual and
step sizes transfer better to kinds no split has. Each family stays one vote
(`combine_families = "unit_norm"`); everything else is v4's recipe (PES, truncations of 50
steps, horizons log-uniform in [100, 2000], 8 antithetic pairs per family, std 0.01, the
validation-loss meta-objective, Adam at 3e-4), started from `pretrained:residual_muon_v4`.
"""

import ml_collections

from configs import pretrain_residual_muon_v4


def get_config() -> ml_collections.ConfigDict:
  config = pretrain_residual_muon_v4.get_config()
  config.init_from = "pretrained:residual_muon_v4"
  config.tasks.mlp_relu_16px = {
    "family": "image_mlp",
    "dataset": "mnist_subset",
    "resolution": 16,
    "hidden": (32, 32),
    "activation": "relu",
    "batch_size": 128,
  }
  config.tasks.mlp_gelu_16px = {
    "family": "image_mlp",
    "dataset": "digits",
    "resolution": 16,
    "hidden": (32, 32),
    "activation": "gelu",
    "batch_size": 32,
  }
  config.tasks.lm_lstm_bytes = {
    "family": "char_lm",
    "model": "lstm",
    "corpus": "shakespeare",
    "tokens": "bytes",
    "width": 32,
    "depth": 1,
    "seq_len": 32,
    "batch_size": 16,
  }
  config.eval.every = 500
  return config
