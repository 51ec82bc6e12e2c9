"""Quickstart: meta-train the per-parameter MLP rule with PES on quadratics and digits MLPs.

    python -m meta_train.main --config=configs/quickstart.py --workdir=runs/quickstart

About a minute on 2 CPU cores (most of it compilation). Every value below can be
overridden on the command line, e.g. `--config.num_steps=200 --config.estimator.std=0.03`.
"""

import ml_collections

from learned_opt.mlp_lopt import DEFAULT_FEATURES


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.num_steps = 40

  # The learned optimizer: a registered architecture and its options.
  config.lopt = ml_collections.ConfigDict(
    {
      "architecture": "mlp",
      "hidden_sizes": (32, 32),
      # Inputs of the rule, by name: `learned_opt.features.names()`, or `dir:<optimizer>`
      # (e.g. add "dir:lion"); the default: gradient, parameter, three momenta, RMS and
      # the three momenta over the RMS.
      "features": DEFAULT_FEATURES,
      "exp_mult": 1e-3,
      "step_mult": 1e-3,
    }
  )

  # Task families to meta-train on: family name -> its options (one population each). Two
  # families of one kind take labels as names and `"family": <name>` among their options.
  config.tasks = ml_collections.ConfigDict(
    {
      "quadratic": {"dim": 10, "log10_condition": (0.0, 2.0), "noise": (0.0, 0.3)},
      "digits_mlp": {"hidden": (32,), "batch_size": 64, "init_scale": (0.5, 2.0)},
    }
  )

  # The meta-gradient estimator (pes, nres, truncated_es, full_es, tbptt or combined);
  # each takes the options it uses (see meta_train/estimators.py, ESTIMATORS).
  config.estimator = ml_collections.ConfigDict(
    {
      "name": "pes",
      "num_pairs": 8,  # antithetic pairs (pes, nres, truncated_es, full_es)
      "std": 0.01,  # perturbation scale of theta (ES estimators)
      "num_members": 16,  # population of tbptt
      "staggered_resets": True,
      "first": "tbptt",  # combined: weight * first + (1 - weight) * second
      "second": "pes",
      "weight": 0.5,
      # The inner unrolls.
      "trunc_length": 10,
      "horizon_truncations": (2, 10),
      "horizon_schedule": "uniform",  # uniform, log_uniform, constant, growing
      "growth_calls": 1000,  # growing: meta-steps over which the longest horizon grows
      "loss_split": "train",  # train or valid: the split of the meta-loss
      "loss_clip": 10.0,  # normalized inner losses are clipped to this bound
      "checkpoint_inner_step": False,  # jax.checkpoint each inner step (tbptt memory)
    }
  )

  # Adam on theta, after clipping the meta-gradient's global norm; the families' estimates
  # joined by their mean or by the mean of their unit-norm directions
  # (`meta_train.main.COMBINE_FAMILIES`).
  config.meta_opt = ml_collections.ConfigDict(
    {"learning_rate": 3e-3, "clip_norm": 1.0, "combine_families": "mean"}
  )

  # Periodic evaluation of theta on held-out zoo tasks (every = 0 turns it off).
  config.eval = ml_collections.ConfigDict(
    {"every": 20, "tasks": ("digits_mlp_64x64",), "num_steps": 100}
  )

  # The job.
  config.shard_population = True  # shard each population over all local devices
  config.distributed = False  # multi-host: call jax.distributed.initialize() first
  config.checkpoint_every = 20
  config.max_to_keep = 3
  config.log_every = 5
  config.max_wall_minutes = 0.0  # stop (and checkpoint) after this long; 0 means no limit
  # Start theta from a checkpoint (directory, workdir or `pretrained:<name>`) of the same
  # architecture instead of its initialization: fine-tuning; "" starts afresh.
  config.init_from = ""
  return config
