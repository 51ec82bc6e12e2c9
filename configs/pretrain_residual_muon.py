"""Pretraining recipe of the shipped `residual_muon` rule (issue 15): PES over MLP classifiers.

    python -m meta_train.main --config=configs/pretrain_residual_muon.py --workdir=runs/pretrain

The rule starts as Muon with its step decayed linearly to zero over the horizon
(`learned_opt.residual_muon`) and learns a per-parameter residual direction, its two step
sizes and the shape of the schedule. The recipe follows what made Celo/Celo2 generalize
(../LOPT_RECIPES in the issue, measured against each other in the pretrained model card):
PES with truncations of 50 steps over horizons drawn log-uniformly in [100, 2000] steps,
members desynchronized by a random first life, 8 antithetic pairs per family, std 0.01,
the meta-loss the mean normalized training loss, non-finite meta-gradients zeroed and
counted, Adam on theta after clipping.

Weight-reparameterization augmentation is off: the rule's step, like Muon's and Adam's, is
an absolute step in parameter units, and no input tells it a tensor's scale (its per-tensor
inputs are RMS-normalized), so a reparameterized member only adds noise to the meta-loss.

Progress on the meta-validation tasks (`tasks.META_VALID`) is logged every `eval.every`
meta-steps; recipes are ranked there, never on META_TEST.
"""

import ml_collections

from configs import quickstart
from learned_opt.residual_muon import DEFAULT_FEATURES
from tasks.heldout import META_VALID


def get_config() -> ml_collections.ConfigDict:
  config = quickstart.get_config()
  config.num_steps = 20000
  config.lopt = ml_collections.ConfigDict(
    {
      "architecture": "residual_muon",
      "hidden_sizes": (8,),
      "features": DEFAULT_FEATURES,
      "learning_rate": 0.02,
      "schedule_knots": 9,
      "learn_direction": True,
    }
  )
  config.tasks = ml_collections.ConfigDict(
    {
      # Two architectures of the meta-training split, members of random initial scale.
      "digits_mlp": {"hidden": (32,), "batch_size": 64, "init_scale": (0.5, 2.0)},
      "image_mlp": {
        "dataset": "mnist_subset",
        "resolution": 16,
        "hidden": (32, 32),
        "activation": "tanh",
        "batch_size": 128,
        "init_scale": (0.5, 2.0),
      },
    }
  )
  config.estimator.name = "pes"
  config.estimator.num_pairs = 8
  config.estimator.std = 0.01
  config.estimator.staggered_resets = True
  config.estimator.trunc_length = 50
  config.estimator.horizon_truncations = (2, 40)  # 100 to 2000 inner steps
  config.estimator.horizon_schedule = "log_uniform"
  config.estimator.loss_split = "valid"  # the meta-loss: validation batches after each step
  config.estimator.loss_clip = 10.0
  config.meta_opt.learning_rate = 1e-3
  config.meta_opt.clip_norm = 1.0
  config.eval = ml_collections.ConfigDict({"every": 500, "tasks": META_VALID, "num_steps": 500})
  config.checkpoint_every = 250
  config.max_to_keep = 3
  config.log_every = 25
  return config
