"""Differentially private optimizers (DP-SGD, DiceSGD, per-layer clipping) and the privacy
accountant `baselines.privacy.accounting`.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.privacy import entries as entries
from baselines.privacy._dicesgd import ScaleByDiceSGDState, dicesgd, scale_by_dicesgd
from baselines.privacy._dp_sgd import (
  ScaleByDPState,
  dp_lamb_per_layer,
  dp_sgd,
  dp_sgd_per_layer,
  per_example_grads,
  scale_by_dp_aggregate,
)

__all__ = [
  "ScaleByDPState",
  "ScaleByDiceSGDState",
  "dicesgd",
  "dp_lamb_per_layer",
  "dp_sgd",
  "dp_sgd_per_layer",
  "per_example_grads",
  "scale_by_dicesgd",
  "scale_by_dp_aggregate",
]
