"""Learned-optimizer architectures by name: what a checkpoint record and a config refer to."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from learned_opt.base import LearnedOptimizer
from learned_opt.celo import Celo
from learned_opt.celo2 import Celo2
from learned_opt.learned_sgd import LearnedSGD
from learned_opt.mlp_lopt import MLPLOpt
from learned_opt.nino import Nino
from learned_opt.residual_muon import ResidualMuon
from learned_opt.velo import VeLO

_ARCHITECTURES: dict[str, type[LearnedOptimizer]] = {
  cls.architecture: cls for cls in (MLPLOpt, VeLO, Celo, Celo2, LearnedSGD, Nino, ResidualMuon)
}


def names() -> list[str]:
  """Names of the registered architectures."""
  return sorted(_ARCHITECTURES)


def get(architecture: str, **config: Any) -> LearnedOptimizer:
  """The learned optimizer `architecture` built from its configuration fields."""
  if architecture not in _ARCHITECTURES:
    close = difflib.get_close_matches(architecture, names(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(
      f"Unknown learned-optimizer architecture {architecture!r}.{hint} Known: {names()}."
    )
  cls = _ARCHITECTURES[architecture]
  fields = {f.name for f in dataclasses.fields(cls)}
  unknown = set(config) - fields
  if unknown:
    raise ValueError(
      f"Architecture {architecture!r} has no option {sorted(unknown)}; it takes {sorted(fields)}."
    )
  return cls(**config)


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
