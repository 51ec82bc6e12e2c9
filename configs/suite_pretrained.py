"""The evaluation of the shipped learned optimizer on the held-out META_TEST tasks (issue 15).

    python -m baselines.compare --config=configs/suite_pretrained.py

Columns, every one on the same 3 fresh seeds (tuned columns: an 8-point grid on 3 tuning
seeds, the selected setting rerun):
- the shipped default rule `pretrained:residual_muon_v4` at its defaults (untuned, one
  setting for every task; it reads the horizon, as every scheduled peer gets `num_steps`), and
  tuned over the same four decades of learning rate as AdamW (`learned:<name>@tuned`);
- the target: AdamW tuned (the reference), also tuned under a cosine decay to zero; tuned
  Adam, Muon, SOAP and Lion;
- the untuned alternatives a user would otherwise pick: Adam at lr 1e-3 (`adam@defaults`),
  Muon at its defaults with (`muon_linear_decay@defaults`) and without linear decay to zero,
  D-Adaptation, DoG, Prodigy and Schedule-Free AdamW at their defaults;
- the ablations of the model card (`config.learned`: other meta-training recipes).

Hours on 2 CPU cores (the language models dominate): it resumes cell by cell, and a partial
run's report covers the finished cells. Needs `make data` (Fashion-MNIST, the Bible, the
Jargon File). Horizon generalization is `configs/suite_pretrained_long.py`.
"""

from configs import suite_smoke
from tasks.heldout import META_TEST

SHIPPED = "pretrained:residual_muon_v4"


def get_config():
  config = suite_smoke.get_config()
  config.name = "suite_pretrained"
  config.outdir = "runs/suite_pretrained"
  config.tasks = META_TEST
  config.optimizers = ("adamw", "adamw_cosine", "adam", "muon", "soap", "lion")
  config.untuned = (
    "muon_linear_decay",
    "dadapt_adamw",
    "dog",
    "prodigy",
    "schedule_free_adamw",
  )
  config.learned = (SHIPPED,)
  config.learned_tuned = (SHIPPED,)
  config.reference = "adamw"
  config.num_steps = 1000
  config.num_evals = 20
  config.eval_batches = 8
  config.num_seeds = 3
  config.tune.grid_points = 8
  return config
