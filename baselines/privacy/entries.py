"""Registry entries of the differentially private methods (inventory T6-16 to T6-20).

DP entries take per-example gradients (a leading example axis, e.g. from
`_dp_sgd.per_example_grads`); a plain gradient is a batch of one. They need `params` and the
`key` extra arg. Ghost clipping instead computes the clipped sum itself from the extra args
`dense_fn` / `loss_of_outputs` (no per-example gradients).
`baselines.privacy.accounting.dp_sgd_epsilon` is the accountant (Google's dp-accounting).
The entry format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import dataclasses

from baselines.privacy._dicesgd import dicesgd
from baselines.privacy._dp_sgd import dp_lamb_per_layer, dp_sgd, dp_sgd_per_layer
from baselines.privacy._ghost_clipping import ghost_clipping
from baselines.registry import Entry, LogRange, register

_SGD_LR = LogRange(1e-3, 1.0)
_ADAPTIVE_LR = LogRange(1e-4, 1e-1)
_DP = ("grad", "key")

for _entry in (
  Entry(
    name="dp_sgd",
    factory=dp_sgd,
    # Abadi et al.'s MNIST runs use C = 4 and sigma in {2, 4, 8} with lots of 600; at the
    # generic checks' batch of one example that noise (std sigma*C) swamps a 300-step
    # quadratic, so the defaults are the common C = 1, sigma = 1.1 (TF Privacy's MNIST).
    defaults={"learning_rate": 0.05, "l2_norm_clip": 1.0, "noise_multiplier": 1.1},
    search_space={
      "learning_rate": _SGD_LR,
      "l2_norm_clip": LogRange(0.1, 10.0),
      "noise_multiplier": LogRange(0.5, 8.0),
    },
    needs=_DP,
    ids=("T6-16",),
    paper="Abadi et al., Deep Learning with Differential Privacy, arXiv:1607.00133",
    reference="paper Alg. 1 (Abadi et al.: per-example clip to C, sum, Gaussian noise of std "
    "sigma C, divide by B); optax's per_example_global_norm_clip. Kept: the lot is the batch "
    "given (no Poisson sampling; accounting in baselines.privacy.accounting).",
  ),
  Entry(
    name="dicesgd",
    factory=dicesgd,
    defaults={
      "learning_rate": 0.05,
      "l2_norm_clip": 1.0,
      "error_clip": 1.0,
      "noise_multiplier": 1.0,
    },
    search_space={"learning_rate": _SGD_LR, "l2_norm_clip": LogRange(0.1, 10.0)},
    needs=_DP,
    ids=("T6-17",),
    paper="Zhang et al., Differentially Private SGD Without Clipping Bias: An Error-Feedback "
    "Approach, arXiv:2311.14632",
    reference="paper Alg. 1 (Zhang et al., DiceSGD: clipped mean plus the clipped fed-back error "
    "C2, Gaussian noise on C1/B, e <- e + mean g - v).",
  ),
  Entry(
    name="ghost_clipping",
    factory=ghost_clipping,
    defaults={"learning_rate": 0.05, "l2_norm_clip": 1.0, "noise_multiplier": 1.1},
    search_space={
      "learning_rate": _SGD_LR,
      "l2_norm_clip": LogRange(0.1, 10.0),
      "noise_multiplier": LogRange(0.5, 8.0),
    },
    needs=("dense_fn", "loss_of_outputs", "key"),
    ids=("T6-18",),
    paper="Li et al., Large Language Models Can Be Strong Differentially Private Learners, "
    "arXiv:2110.05679",
    reference="authors' code lxuechen/private-transformers@private_transformers/"
    "supported_layers_grad_samplers.py and privacy_engine.py (per-example norms of linear "
    "layers from the Gram matrices of activations and output gradients, summed over layers; "
    "then the backward pass of the loss reweighted by the clipping factors); equal to dp_sgd on "
    "materialized per-example gradients (tests/test_ghost_clipping.py). Kept: dense layers only "
    "(every parameter must be a dense w or b of dense_fn); the Gram form for every sequence "
    "input, as that file (the paper's mixed ghost norm is a TODO there); optax's factor "
    "min(1, C/norm), without the authors' stability constant in the denominator, so that the "
    "update is dp_sgd's; DP-SGD's defaults.",
  ),
  Entry(
    name="dp_sgd_per_layer",
    factory=dp_sgd_per_layer,
    defaults={"learning_rate": 0.05, "l2_norm_clip": 1.0, "noise_multiplier": 1.0},
    search_space={"learning_rate": _SGD_LR, "l2_norm_clip": LogRange(0.1, 10.0)},
    needs=_DP,
    ids=("T6-19",),
    paper="Wang et al., FlashDP: Private Training Large Language Models with Efficient DP-SGD "
    "(per-layer clipping, its algorithmic part)",
    reference="paper (FlashDP's per-layer clipping, McMahan et al.'s uniform rule: each of the "
    "L tensors clipped to C/sqrt(L), so the example's norm stays <= C and DP-SGD's noise "
    "calibrates it).",
  ),
  Entry(
    name="dp_lamb_per_layer",
    factory=dp_lamb_per_layer,
    defaults={"learning_rate": 1e-3, "l2_norm_clip": 1.0, "noise_multiplier": 1.0},
    search_space={"learning_rate": _ADAPTIVE_LR, "l2_norm_clip": LogRange(0.1, 10.0)},
    needs=_DP,
    ids=("T6-20",),
    paper="Pelikan et al., Enabling Differentially Private Federated Learning for Speech "
    "Recognition: Benchmarks, Adaptive Optimizers and Gradient Clipping, arXiv:2310.00098",
    reference="paper (Pelikan et al.: per-layer clipping and noise, then LAMB's layer-wise "
    "normalization, from optax's pieces).",
  ),
):
  register(dataclasses.replace(_entry, tier=6, source="project"))
