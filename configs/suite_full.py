"""The full comparison: every registered optimizer on every held-out (meta-test) task.

    python -m baselines.compare --config=configs/suite_full.py \
        --config.learned='("runs/my_lopt",)' [--config.outdir=runs/suite_full]

Hours on CPU (about 190 optimizers x 14 tasks, each a compiled program of 8 learning
rates x 3 tuning seeds, run again for the selected rate and the defaults on 3 fresh seeds;
some factories need concrete learning rates and compile once per rate). Meant for an
accelerator or a long background run: it resumes cell by cell.
The held-out tasks read Fashion-MNIST, the Bible and the Jargon File: `make data` first.
"""

import baselines
import tasks
from configs import suite_smoke


def get_config():
  config = suite_smoke.get_config()
  config.name = "suite_full"
  config.outdir = "runs/suite_full"
  config.tasks = tasks.META_TEST
  config.optimizers = tuple(baselines.names())
  config.num_steps = 1000
  config.num_evals = 20
  config.eval_batches = 8
  config.tune.grid_points = 8
  return config
