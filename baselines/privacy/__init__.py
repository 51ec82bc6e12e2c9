"""Differentially private optimizers (DP-SGD, DiceSGD, ghost clipping, per-layer clipping)
and the privacy accountant `baselines.privacy.accounting`.

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
from baselines.privacy._ghost_clipping import (
  ScaleByGhostClippingState,
  ghost_clipped_sum,
  ghost_clipping,
  scale_by_ghost_clipping,
)

__all__ = [
  "ScaleByDPState",
  "ScaleByDiceSGDState",
  "ScaleByGhostClippingState",
  "dicesgd",
  "dp_lamb_per_layer",
  "dp_sgd",
  "dp_sgd_per_layer",
  "ghost_clipped_sum",
  "ghost_clipping",
  "per_example_grads",
  "scale_by_dicesgd",
  "scale_by_dp_aggregate",
  "scale_by_ghost_clipping",
]
