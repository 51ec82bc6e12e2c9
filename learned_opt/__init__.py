"""Learned optimizers: a learned optimizer is a function from meta-parameters to optax.

>>> import learned_opt
>>> opt = learned_opt.load("runs/demo")          # an optax.GradientTransformationExtraArgs
>>> state = opt.init(params)
>>> updates, state = opt.update(grads, state, params)

Architectures (`learned_opt.names()`): `mlp` (per-parameter MLP), `velo` (per-tensor LSTM
mixing a bank of MLPs), `celo` (a learned scheduler over any rule), `celo2` (orthogonalized,
RMS-normalized, loss- and horizon-free), `learned_sgd`. Their inputs come from the feature
bank, `learned_opt.features`.
"""

from learned_opt import features
from learned_opt.base import LearnedOptimizer, MetaParams
from learned_opt.celo import Celo, scale_by_learned_schedule
from learned_opt.celo2 import Celo2, celo2
from learned_opt.checkpoint import (
  CheckpointError,
  load,
  load_theta,
  read_record,
  record,
  save,
)
from learned_opt.learned_sgd import LearnedSGD
from learned_opt.mlp_lopt import MLPLOpt, mlp_lopt
from learned_opt.mup import scale_by_mup
from learned_opt.registry import get, names
from learned_opt.velo import VeLO, velo

__all__ = [
  "Celo",
  "Celo2",
  "CheckpointError",
  "LearnedOptimizer",
  "LearnedSGD",
  "MLPLOpt",
  "MetaParams",
  "VeLO",
  "celo2",
  "features",
  "get",
  "load",
  "load_theta",
  "mlp_lopt",
  "names",
  "read_record",
  "record",
  "save",
  "scale_by_learned_schedule",
  "scale_by_mup",
  "velo",
]
