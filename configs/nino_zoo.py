"""NiNo on the meta-train split: the recipe of the shipped `pretrained:nino_zoo` (issue 19).

    python -m meta_train.nowcast --config=configs/nino_zoo.py --workdir=runs/nino_zoo

Learns from Adam trajectories of every zoo task of `tasks.heldout.META_TRAIN` that has a
whole neural graph: logistic regression, MLPs of widths 32 and 32x32 (relu, tanh; digits at
8 and 16 px, the MNIST subset), the 1-layer Shakespeare transformer and LSTM (the
quadratics and Rosenbrock have no layers and are left out), each at Adam 1e-3 (the rate the
nowcaster is used with) and 3e-3. Held out, for the logged nowcast error (`heldout/`) and
the choice of `every` / `ahead`: META_VALID's unseen widths and activations (an MLP of width
48 with silu, the width-48 transformer). META_TEST tasks are never trained on, so
`configs/suite_nino.py` judges the result on tasks it has not seen. The split has no CNN
(convolutions are meta-test only, `tests/test_tasks.py` checks it): convolutions are seen
only at test time.

The nowcaster is small (hidden 16, 2 message-passing layers) so that a nowcast every 100
steps costs about 5% of the training time of the zoo's small tasks (`python -m
bench.nowcast`): a snapshot every 20 steps, 5 in a window, jumps up to 10 spacings (200
steps) ahead in training.

Cost on 2 CPU cores shared with a meta-training job (measured: the model card of
`learned_opt/pretrained/nino_zoo/`): 9 tasks x 2 rates x 3 seeds of 1000 Adam steps, then
the nowcaster's training steps. Smoke run (~1-2 minutes):

    python -m meta_train.nowcast --config=configs/nino_zoo.py --workdir=/tmp/nino_smoke \
        --config.trajectories.num_steps=300 --config.trajectories.seeds=1 \
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
  config.trajectories.learning_rates = (1e-3, 3e-3)
  config.trajectories.seeds = 3
  config.trajectories.num_steps = 1000
  config.trajectories.spacing = 20
  config.nowcaster.hidden = 16
  config.nowcaster.layers = 2
  config.nowcaster.ahead = 10  # chosen on META_VALID: configs/suite_nino_valid.py
  config.train.num_steps = 1000
  config.train.max_ahead = 10
  config.eval.tasks = ("digits_mlp_48_silu", "shakespeare_transformer_w48")
  config.eval.batch_size = 16
  config.log_every = 250
  config.checkpoint_every = 500
  config.max_to_keep = 20
  return config
