"""Learned optimizers: a learned optimizer is a function from meta-parameters to optax.

>>> import learned_opt
>>> opt = learned_opt.load("pretrained:residual_muon_v2", num_steps=1000)  # shipped, offline
>>> opt = learned_opt.load("runs/demo_metatrain")  # a workdir: an optax optimizer too
>>> state = opt.init(params)
>>> updates, state = opt.update(grads, state, params)

Architectures (`learned_opt.names()`): `mlp` (per-parameter MLP), `velo` (per-tensor LSTM
mixing a bank of MLPs), `celo` (a learned scheduler over any rule), `celo2` (orthogonalized,
RMS-normalized, loss- and horizon-free), `learned_sgd`, `residual_muon` (Muon plus a
learned residual direction and a learned horizon-aware schedule: the shipped `pretrained:`
rule); their inputs come from the feature bank, `learned_opt.features`. And `nino`: a
graph network over the neural graph (`learned_opt.neural_graph`) that nowcasts parameters,
used through the optax wrapper `jump_every(base, predict, every=, context=, scales=)`.
"""

from learned_opt import features, neural_graph, pretrained
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
from learned_opt.jumps import jump_every, linear_extrapolation
from learned_opt.learned_sgd import LearnedSGD
from learned_opt.mlp_lopt import MLPLOpt, mlp_lopt
from learned_opt.mup import scale_by_mup
from learned_opt.nino import Nino
from learned_opt.registry import get, names
from learned_opt.residual_muon import ResidualMuon, residual_muon
from learned_opt.velo import VeLO, velo

__all__ = [
  "Celo",
  "Celo2",
  "CheckpointError",
  "LearnedOptimizer",
  "LearnedSGD",
  "MLPLOpt",
  "MetaParams",
  "Nino",
  "ResidualMuon",
  "VeLO",
  "celo2",
  "features",
  "get",
  "jump_every",
  "linear_extrapolation",
  "load",
  "load_theta",
  "mlp_lopt",
  "names",
  "neural_graph",
  "pretrained",
  "read_record",
  "record",
  "residual_muon",
  "save",
  "scale_by_learned_schedule",
  "scale_by_mup",
  "velo",
]
