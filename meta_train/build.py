"""From a config to the objects of a run: the learned optimizer, estimators, meta-trainer.

Config files name registered things (an architecture, task families, an estimator); this
module is the one place that turns those names into objects. Bad names and options raise
`ValueError` with what was expected.

`config.estimator` holds the options of every estimator (the config file lists their
union); each estimator takes the ones it uses:

  pes, nres, truncated_es   num_pairs, std, staggered_resets
  full_es                   num_pairs, std
  tbptt                     num_members, staggered_resets
  combined                  first, second (estimator names), weight; each part reads the
                            same options
and the unroll options, shared by all: trunc_length, horizon_truncations,
horizon_schedule, growth_calls, loss_split, loss_clip, checkpoint_inner_step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections

import learned_opt
import tasks
from meta_train import estimators, sharding
from meta_train.estimators import Estimator
from meta_train.outer import MetaTrainer, meta_optimizer
from meta_train.unroll import Unroller

_UNROLL_KEYS = tuple(
  f.name for f in dataclasses.fields(Unroller) if f.name not in ("lopt", "family")
)


def _plain(cfg: Any) -> dict[str, Any]:
  return cfg.to_dict() if isinstance(cfg, ml_collections.ConfigDict) else dict(cfg)


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
  return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def build_lopt(config: ml_collections.ConfigDict) -> learned_opt.LearnedOptimizer:
  options = _plain(config.lopt)
  return learned_opt.get(options.pop("architecture"), **_tuples(options))


def build_estimator(
  lopt: learned_opt.LearnedOptimizer, family: tasks.TaskFamily, config: Any, mesh=None
) -> Estimator:
  options = _tuples(_plain(config))
  unroll = {k: options[k] for k in _UNROLL_KEYS if k in options}
  unroller = Unroller(lopt, family, **unroll)
  options["pair_sharding"] = None if mesh is None else sharding.pairs(mesh)
  return estimators.build(options["name"], unroller, options)


def build_trainer(config: ml_collections.ConfigDict) -> MetaTrainer:
  lopt = build_lopt(config)
  mesh = sharding.device_mesh() if config.get("shard_population", True) else None
  by_family = {}
  for name, family_cfg in _plain(config.tasks).items():
    family = tasks.get_family(name, **_tuples(_plain(family_cfg)))
    by_family[name] = build_estimator(lopt, family, config.estimator, mesh)
  return MetaTrainer(
    lopt,
    by_family,
    meta_optimizer(config.meta_opt.learning_rate, config.meta_opt.clip_norm),
    shard_population=config.get("shard_population", True),
  )
