"""NiNo: train a parameter nowcaster on Adam trajectories of small zoo tasks.

    python -m meta_train.nowcast --config=configs/nino.py --workdir=runs/nino \
        [--config.train.num_steps=3000 --config.nowcaster.hidden=64 ...]

The result loads as an optax optimizer, `learned_opt.load("runs/nino")`: Adam at
`nowcaster.base_learning_rate` that, every `context * trajectories.spacing` steps, jumps
`nowcaster.ahead` snapshot spacings ahead. Compare it with tuned Adam by steps to target:
`python -m baselines.compare --config=configs/suite_nino.py`.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Adam runs to learn from (stored under workdir/trajectories/): tasks.META_TRAIN zoo tasks
  # with a neural graph, `seeds` runs each, a snapshot every `spacing` steps. META_TEST tasks
  # (configs/suite_nino.py's) are never trained on.
  config.trajectories = ml_collections.ConfigDict(
    {
      "tasks": ("digits_logreg", "digits_mlp_32", "digits_mlp_32_tanh", "digits_mlp_32x32_16px"),
      "seeds": 2,
      "num_steps": 1000,
      "spacing": 10,
      # Adam's learning rates, each task runs at every one (0: the task's `tasks.adam_lr`).
      # 1e-3 is the rate the nowcaster is used with (`base_learning_rate`).
      "learning_rates": (1e-3,),
    }
  )

  # The nowcaster (learned_opt.nino.Nino): `context` snapshots in, a jump `ahead` spacings.
  config.nowcaster = ml_collections.ConfigDict(
    {"context": 5, "hidden": 32, "layers": 3, "ahead": 5, "base_learning_rate": 1e-3}
  )

  # Supervised training: L1 on the normalized change, windows `ahead` in 1..max_ahead.
  config.train = ml_collections.ConfigDict(
    {"num_steps": 2000, "batch_size": 8, "learning_rate": 3e-3, "grad_clip": 1.0, "max_ahead": 10}
  )

  # Held-out trajectories (collected like the others, never trained on; tasks.META_VALID):
  # the nowcast's error against no change and linear extrapolation, every `log_every` steps.
  config.eval = ml_collections.ConfigDict({"tasks": ("digits_mlp_48_silu",), "batch_size": 32})

  config.log_every = 100
  config.checkpoint_every = 500
  config.max_to_keep = 2
  return config
