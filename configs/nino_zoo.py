"""NiNo on the meta-train split: a nowcaster for the `pretrained:nino-<name>` slot (issue 19).

    python -m meta_train.nowcast --config=configs/nino_zoo.py --workdir=runs/nino_zoo

Learns from Adam trajectories of every zoo task of `tasks.heldout.META_TRAIN` that has a
whole neural graph: logistic regression, MLPs of widths 32 and 32x32 (relu, tanh; digits at
8 and 16 px, the MNIST subset), the 1-layer Shakespeare transformer and LSTM (the
quadratics and Rosenbrock have no layers and are left out). Held out, for the logged
nowcast error: META_VALID's unseen widths and activations (an MLP of width 48 with silu, the
width-48 transformer). META_TEST tasks are never trained on, so `configs/suite_nino.py`
judges the result on tasks it has not seen. The split has no CNN: convolutions are seen only
at test time.

Cost on 2 CPU cores (estimated from the smoke run below, not measured whole): collecting
7 x 4 trajectories of 2000 steps is ~10-20 minutes; 20000 training steps of the nowcaster
(hidden 32, 3 layers, batch 8 windows) is a few hours. Smoke run (~1-2 minutes):

    python -m meta_train.nowcast --config=configs/nino_zoo.py --workdir=/tmp/nino_smoke \
        --config.trajectories.num_steps=200 --config.trajectories.seeds=1 \
        --config.train.num_steps=20 --config.log_every=10 --config.checkpoint_every=10
"""

import ml_collections

from configs import nino


def get_config() -> ml_collections.ConfigDict:
  config = nino.get_config()
  config.trajectories.tasks = (
    "digits_logreg",
    "digits_mlp_32",
    "digits_mlp_32_tanh",
    "digits_mlp_32x32_16px",
    "mnist_subset_mlp_32",
    "shakespeare_transformer",
    "shakespeare_lstm",
  )
  config.trajectories.seeds = 4
  config.trajectories.num_steps = 2000
  config.train.num_steps = 20000
  config.train.max_ahead = 10
  config.eval.tasks = ("digits_mlp_48_silu", "shakespeare_transformer_w48")
  config.log_every = 200
  config.checkpoint_every = 1000
  return config
