"""NiNo's protocol: steps for the nowcaster to reach the validation loss that its base Adam
reaches, on tasks held out from the nowcaster's trajectories.

    python -m meta_train.nowcast --config=configs/nino.py --workdir=runs/nino
    python -m baselines.compare --config=configs/suite_nino.py \
        [--config.learned='("runs/nino",)'] [--config.outdir=runs/suite_nino]

The reference is `adam@defaults` (Adam at 1e-3, the nowcaster's base learning rate): its
final validation loss is each task's target, and the report's steps to target and speedup
are NiNo's "steps to reach Adam's target". Tuned Adam is reported beside it.
"""

from configs import suite_smoke


def get_config():
  config = suite_smoke.get_config()
  config.name = "suite_nino"
  config.outdir = "runs/suite_nino"
  # None of these is among configs/nino.py's trajectory tasks.
  config.tasks = (
    "digits_mlp_64x64",
    "digits_mlp_128x128x128_gelu",
    "mnist_subset_mlp_32",
    "mnist_subset_cnn",
  )
  config.optimizers = ("adam",)
  config.learned = ("runs/nino",)
  config.defaults_column = True
  config.reference = "adam@defaults"
  config.num_steps = 1000
  config.num_evals = 20
  config.eval_batches = 16
  config.tune.grid_points = 4
  return config
