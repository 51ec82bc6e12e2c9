"""Learned-optimizer architectures by name: what a checkpoint record and a config refer to.

`ARCHITECTURES` lists every architecture of the package (add a new one there); `get` and
`names` look them up (`learned_opt.base`, where each class registers itself, so that a rule
composing others by name, `celo`, needs no import of this module).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from learned_opt.base import LearnedOptimizer, get, names
from learned_opt.celo import Celo
from learned_opt.celo2 import Celo2
from learned_opt.learned_sgd import LearnedSGD
from learned_opt.mlp_lopt import MLPLOpt
from learned_opt.nino import Nino
from learned_opt.residual_muon import ResidualMuon
from learned_opt.velo import VeLO

__all__ = ["ARCHITECTURES", "config_of", "features_of", "get", "names"]

# Every architecture of the package, one per line: importing a class registers it by its
# `architecture` name (`learned_opt.base`).
ARCHITECTURES: tuple[type[LearnedOptimizer], ...] = (
  MLPLOpt,
  VeLO,
  Celo,
  Celo2,
  LearnedSGD,
  Nino,
  ResidualMuon,
)


def features_of(lopt: LearnedOptimizer) -> list[str]:
  """The feature names `lopt`'s config lists (`features`, then `tensor_features`)."""
  config = config_of(lopt)
  return [*config.get("features", ()), *config.get("tensor_features", ())]


def config_of(lopt: LearnedOptimizer) -> dict[str, Any]:
  """The JSON-able configuration that `get(lopt.architecture, **config)` rebuilds."""
  return {
    f.name: list(v) if isinstance(v := getattr(lopt, f.name), tuple) else v
    for f in dataclasses.fields(lopt)
  }
