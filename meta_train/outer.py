"""The outer loop: estimate the meta-gradient on every population, clip, apply meta-Adam.

A `MetaTrainer` holds one estimator per task family (populations of different parameter
shapes cannot share a `vmap`); each meta-step averages their estimates. theta never becomes
non-finite: a non-finite meta-gradient skips the update and is counted. With several
devices, `place` shards every population over them (`meta_train.sharding`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from learned_opt import LearnedOptimizer, MetaParams
from meta_train import sharding
from meta_train.estimators import Estimator, Metrics
from meta_train.unroll import is_finite_tree


class MetaState(NamedTuple):
  """Everything a meta-training run needs to resume exactly."""

  step: jax.Array
  theta: MetaParams
  opt_state: Any
  unroll: dict[str, Any]  # estimator name -> its UnrollState
  key: jax.Array


def meta_optimizer(learning_rate: float, clip_norm: float) -> optax.GradientTransformation:
  """Adam on theta after clipping the meta-gradient to global norm `clip_norm`."""
  return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))


@dataclasses.dataclass(frozen=True)
class MetaTrainer:
  """Meta-trains `lopt` with `estimators` (name -> estimator) and the optax `meta_opt`."""

  lopt: LearnedOptimizer
  estimators: dict[str, Estimator]
  meta_opt: optax.GradientTransformation
  shard_population: bool = True

  def __post_init__(self):
    if not self.estimators:
      raise ValueError("Meta-training needs at least one task family.")
    object.__setattr__(self, "_apply", jax.jit(self._apply_impl))
    mesh = sharding.device_mesh() if self.shard_population else None
    object.__setattr__(self, "mesh", mesh)

  def place(self, state: MetaState) -> MetaState:
    """`state` on the devices: populations sharded over the mesh, the rest replicated."""
    if self.mesh is None:
      return state
    sharding.check_divisible(state.unroll, self.mesh)
    return sharding.shard(state, self.mesh)

  def init(self, key: jax.Array) -> MetaState:
    k_theta, k_unroll, k_next = jax.random.split(key, 3)
    theta = self.lopt.init(k_theta)
    keys = jax.random.split(k_unroll, len(self.estimators))
    unroll = {
      name: est.init(theta, k) for (name, est), k in zip(self.estimators.items(), keys, strict=True)
    }
    return MetaState(jnp.zeros([], jnp.int32), theta, self.meta_opt.init(theta), unroll, k_next)

  def step(self, state: MetaState) -> tuple[MetaState, Metrics]:
    """One meta-step: a truncation on every population, then one meta-optimizer update."""
    key, k_step = jax.random.split(state.key)
    keys = jax.random.split(k_step, len(self.estimators))
    grads, unroll, metrics = [], {}, {}
    for (name, est), k in zip(self.estimators.items(), keys, strict=True):
      g, unroll[name], m = est.grad(state.theta, state.unroll[name], k)
      grads.append(g)
      metrics.update({f"{name}/{k_}": v for k_, v in m.items()})
    theta, opt_state, m = self._apply(state.theta, state.opt_state, grads)
    metrics.update(m)
    per_family = lambda key: jnp.stack([metrics[f"{name}/{key}"] for name in self.estimators])
    metrics["meta_loss"] = jnp.mean(per_family("meta_loss"))
    metrics["num_nonfinite"] = jnp.sum(per_family("num_nonfinite"))
    metrics["inner_steps"] = jnp.sum(per_family("inner_steps"))
    return MetaState(state.step + 1, theta, opt_state, unroll, key), metrics

  def _apply_impl(self, theta, opt_state, grads):
    grad = jax.tree.map(lambda *g: sum(g) / len(g), *grads)
    finite = is_finite_tree(grad)
    safe = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), grad)
    updates, new_opt_state = self.meta_opt.update(safe, opt_state, theta)
    new_theta = optax.apply_updates(theta, updates)
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
    metrics = {"meta_grad_norm": optax.tree.norm(safe), "meta_update_skipped": ~finite}
    return keep(new_theta, theta), keep(new_opt_state, opt_state), metrics
