"""SGD, momentum and sign descent: SGD, heavy-ball and Nesterov momentum, SGDW, triple and
complex momentum, Gravity, normalized LR+GD, Lion, signSGD, Signum, Rprop.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.sgd_family import entries as entries
from baselines.sgd_family._complex_momentum import (
  ScaleByComplexMomentumState,
  complex_momentum,
  scale_by_complex_momentum,
)
from baselines.sgd_family._gravity import ScaleByGravityState, gravity, scale_by_gravity
from baselines.sgd_family._normalized_lr_gd import (
  ScaleByLossNormalizationState,
  normalized_lr_gd,
  scale_by_loss_normalization,
)
from baselines.sgd_family._triple_momentum import (
  ScaleByTripleMomentumState,
  scale_by_triple_momentum,
  triple_momentum,
)
from baselines.sgd_family.entries import momentum, nesterov, sgdw

__all__ = [
  "ScaleByComplexMomentumState",
  "ScaleByGravityState",
  "ScaleByLossNormalizationState",
  "ScaleByTripleMomentumState",
  "complex_momentum",
  "gravity",
  "momentum",
  "nesterov",
  "normalized_lr_gd",
  "scale_by_complex_momentum",
  "scale_by_gravity",
  "scale_by_loss_normalization",
  "scale_by_triple_momentum",
  "sgdw",
  "triple_momentum",
]
