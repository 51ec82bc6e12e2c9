"""Meta-validation comparison: how recipes are chosen (issue 15), never on META_TEST.

    python -m baselines.compare --config=configs/suite_meta_valid.py \
        --config.learned='("runs/pretrain", "runs/pretrain_ablation")'

The meta-validation tasks (`tasks.META_VALID`: meta-training kinds at unseen widths and
activations, two vector-parameter problems), 1,000 steps, tuned AdamW as the target, and
untuned peers: Adam at 1e-3, Muon at its defaults with and without the linear decay to zero
that `residual_muon` starts from, and Prodigy. Each learned checkpoint runs
untuned on 3 fresh seeds; the report ranks them by IQM speedup and final-loss ratio.
"""

from configs import suite_smoke
from tasks.heldout import META_VALID


def get_config():
  config = suite_smoke.get_config()
  config.name = "suite_meta_valid"
  config.outdir = "runs/suite_meta_valid"
  config.tasks = META_VALID
  config.optimizers = ("adamw",)
  config.untuned = ("adam", "muon", "muon_linear_decay", "prodigy")
  config.num_steps = 1000
  config.num_evals = 20
  config.eval_batches = 8
  config.tune.grid_points = 8
  return config
