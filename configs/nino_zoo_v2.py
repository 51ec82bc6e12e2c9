"""NiNo on the meta-train split, more trajectories: the recipe of `pretrained:nino_zoo_v2`
(issue 19), `configs/nino_zoo.py`'s nowcaster trained on from its step 8,000.

    python -m meta_train.nowcast --config=configs/nino_zoo_v2.py --workdir=runs/nino_zoo_v2

What changed from `configs/nino_zoo.py`, and why: the shipped nowcaster (`nino_zoo_8k`)
never reaches its base Adam's target on META_TEST's 3-layer GELU MLP, and its trajectories
held no GELU network at all (ReLU and tanh MLPs, the logistic regression, the two LMs).
Two META_TRAIN tasks of the split's kinds were added (2-layer GELU MLPs: 32x32 on 8x8
digits, 16x16 on the 16x16 MNIST subset; `tasks.heldout.META_TRAIN`), each at Adam 1e-3
and 3e-3 with 3 seeds like the others, and training goes on to step 12,000. To start from
step 8,000, copy `long_runs/nino_zoo_long/checkpoints/8000` into the workdir's
`checkpoints/` (the job resumes from it and reports the changed config keys); trajectories
already collected by `configs/nino_zoo.py` can be copied into `trajectories/` (the
`.npz` files, not `spec.json`) and are then not collected again.
"""

import ml_collections

from configs import nino_zoo


def get_config() -> ml_collections.ConfigDict:
  config = nino_zoo.get_config()
  config.trajectories.tasks = (
    *config.trajectories.tasks,
    "digits_mlp_32x32_gelu",
    "mnist_subset_mlp_16x16_gelu",
  )
  config.train.num_steps = 12000
  config.checkpoint_every = 250
  return config
