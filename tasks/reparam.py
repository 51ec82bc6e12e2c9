"""Reparameterization augmentation: a random, fixed scale per parameter tensor.

As in VeLO and Celo, a member task is trained in coordinates `p' = p / s` where `s` is one
positive scalar per tensor drawn log-uniformly from `10**log10_range`: the model computes with
`p = s * p'`, so the optimizer sees parameters divided by `s` and gradients multiplied by
`s`. The function being optimized is unchanged; only its parameterization (and so the scale
of what the optimizer sees, tensor by tensor) differs. A learned optimizer meta-trained on
such members cannot rely on a tensor's raw scale.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from tasks.base import Task


def sample_param_scales(key: jax.Array, params_like: Any, log10_range: tuple[float, float]) -> Any:
  """One scalar scale per leaf of `params_like` (arrays or shape structs), log-uniform."""
  leaves, treedef = jax.tree.flatten(params_like)
  lo, hi = log10_range
  logs = jax.random.uniform(key, (len(leaves),), minval=lo, maxval=hi)
  return jax.tree.unflatten(treedef, list(10.0**logs))


def enabled(log10_range: tuple[float, float] | None) -> bool:
  return log10_range is not None and tuple(log10_range) != (0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Reparameterized(Task):
  """`task` optimized in coordinates `params / scales` (`scales`: one scalar per tensor)."""

  task: Task
  scales: Any

  @property
  def name(self) -> str:  # type: ignore[override]
    return self.task.name

  def to_model(self, params):
    return jax.tree.map(lambda p, s: p * s, params, self.scales)

  def init(self, key):
    return jax.tree.map(lambda p, s: p / s, self.task.init(key), self.scales)

  def loss(self, params, key, batch):
    return self.task.loss(self.to_model(params), key, batch)

  def outputs(self, params, batch):
    """The wrapped task's outputs (tasks with outputs only), in model coordinates."""
    return self.task.outputs(self.to_model(params), batch)

  def loss_of_outputs(self, outputs, batch):
    return self.task.loss_of_outputs(outputs, batch)

  def batches(self, split):
    return self.task.batches(split)

  def normalize(self, loss):
    return self.task.normalize(loss)

  def accuracy(self, params, batch):
    """The wrapped task's accuracy (classifiers only), in model coordinates."""
    return self.task.accuracy(self.to_model(params), batch)


def wrap(task: Task, cfg: dict[str, Any]) -> Task:
  """`task`, reparameterized when `cfg` carries `param_scales`."""
  scales = cfg.get("param_scales")
  return task if scales is None else Reparameterized(task, scales)


def add_scales(
  cfg: dict[str, Any], key: jax.Array, task: Task, log10_range: tuple[float, float] | None
) -> dict[str, Any]:
  """`cfg` plus `param_scales` for `task`'s parameter tree when augmentation is enabled."""
  if not enabled(log10_range):
    return cfg
  shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))
  return {**cfg, "param_scales": sample_param_scales(key, shapes, log10_range)}
