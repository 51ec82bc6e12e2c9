"""Batch-size scaling rules (inventory T5-41): a registry entry's hyperparameters, tuned at
one batch size, carried over to another.

With kappa = to_batch / from_batch:

- **SGD, heavy ball, Nesterov, SGDW: linear**, learning_rate * kappa. The largest stable
  learning rate of SGD grows linearly with the batch size (Granziol et al., Learning Rates
  as a Function of Batch Size: A Random Matrix Theory Approach, JMLR 2022).
- **Adam and RMSprop-style rules** (`adam_family` entries with a second-moment decay `b2`,
  or RMSprop's `decay`): **square root**, learning_rate * sqrt(kappa) (the same paper; the
  square-root rule of Malladi et al., On the SDEs and Scaling Rules for Adaptive Gradient
  Algorithms, NeurIPS 2022), and the second-moment decay keeps its **half-life in
  samples**: b2 -> b2 ** kappa (Marek et al., Small Batch Size Training for Language
  Models, 2025: a half-life of h steps at batch B is h * B samples; b2' = b2 ** kappa keeps
  it). To first order b2 ** kappa is the SDE rule 1 - b2' = kappa (1 - b2).

Kept as they are: b1 (the small-batch paper keeps it; the SDE rule would scale 1 - b1 by
kappa too), eps (the SDE rule divides it by sqrt(kappa)) and weight decay. Other rules get
no rescaling: `scale_hparams` raises `ValueError` naming the two rule sets (for sign-like
rules such as Lion the best learning rate first rises, then falls with the batch size: Li et
al., Surge Phenomenon in Optimal Learning Rate and Batch Size Scaling, 2024; no monotone
rule holds).

The comparison suite uses it when `config.tune.batch_size` tunes at another batch size than
the task's own (`baselines.suite`): the selected setting is rescaled to the task's batch size
for the reported runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from baselines import registry

LINEAR: tuple[str, ...] = ("sgd", "momentum", "nesterov", "sgdw")
SECOND_MOMENT_DECAYS: tuple[str, ...] = ("b2", "decay")


def rule(name: str) -> Literal["linear", "square_root"]:
  """The scaling rule of registry entry `name`; `ValueError` when none is stated for it."""
  e = registry.entry(name)
  if name in LINEAR:
    return "linear"
  if registry.family(name) == "adam_family" and set(SECOND_MOMENT_DECAYS) & set(e.defaults):
    return "square_root"
  raise ValueError(
    f"No batch-size scaling rule for {name!r}: the linear rule covers {list(LINEAR)}, the "
    "square-root rule the adam_family entries with a second-moment decay (b2, or "
    "RMSprop's decay)."
  )


def scale_hparams(
  name: str, hparams: Mapping[str, Any], *, from_batch: int, to_batch: int
) -> dict[str, Any]:
  """`hparams` of registry entry `name`, tuned at batch size `from_batch`, rescaled for
  `to_batch` (see the module docstring); a hyperparameter the rule changes but `hparams`
  omits is taken from the entry's defaults.

  Example:
    >>> scale_hparams("adamw", {"learning_rate": 1e-3}, from_batch=32, to_batch=128)
    {'learning_rate': 0.002, 'b2': 0.996...}
  """
  if from_batch < 1 or to_batch < 1:
    raise ValueError(f"Batch sizes must be positive, got {from_batch} and {to_batch}.")
  e = registry.entry(name)
  kappa = to_batch / from_batch
  kind = rule(name)
  out = dict(hparams)
  lr = out.get("learning_rate", e.defaults.get("learning_rate"))
  if not isinstance(lr, int | float):
    raise ValueError(f"{name}: a numeric learning_rate is needed, got {lr!r}.")
  out["learning_rate"] = float(lr) * (kappa if kind == "linear" else math.sqrt(kappa))
  if kind == "square_root":
    for d in SECOND_MOMENT_DECAYS:
      if d in e.defaults:
        out[d] = float(out.get(d, e.defaults[d])) ** kappa
  return out
