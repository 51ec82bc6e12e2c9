"""The demo: the shipped pretrained learned optimizer on held-out tasks, next to Adam.

    make demo        # = python -m meta_train.demo --workdir=runs/demo

Loads `pretrained:residual_muon_v4` (offline, from the package) and trains three tasks it
never saw in meta-training (a 2-hidden-layer MLP 2x wider than any meta-training task, a
3-layer GELU MLP, a CNN; pip-only data) with it, untuned, and with Adam at three learning
rates, over three seeds. About 2-3 minutes on 2 CPU cores. Meta-training a rule from
scratch is `make demo-metatrain` (`configs/demo_metatrain.py`).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.demo = ml_collections.ConfigDict(
    {
      "learned": "pretrained:residual_muon_v4",
      "heldout_tasks": ("digits_mlp_64x64", "digits_mlp_128x128x128_gelu", "mnist_subset_cnn"),
      "num_steps": 1000,
      "seeds": (0, 1, 2),
      "adam_learning_rates": (1e-3, 3e-3, 1e-2),
    }
  )
  return config
