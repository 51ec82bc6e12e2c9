"""Inner training of one population member: reset, and one truncation as a `lax.scan`.

A member is an `InnerState`: the task's parameters, the learned optimizer's state, the
inner step, the member's horizon (a multiple of the truncation length) and its task
configuration. All functions here act on one member; estimators `vmap` them.

Horizons are drawn at each reset from a schedule, in units of truncations within
`horizon_truncations = (lo, hi)`:
  - `uniform`: an integer uniform in [lo, hi];
  - `log_uniform`: exp of a uniform in [log lo, log hi + 1), rounded down, so that short
    and long lives are equally likely per octave;
  - `constant`: always hi;
  - `growing`: uniform in [lo, h(c)] where h grows linearly from lo to hi over the first
    `growth_calls` estimator calls c (a curriculum over meta-training).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from learned_opt import LearnedOptimizer, MetaParams
from tasks import BatchSampler, TaskFamily
from tasks.training import step_fn

HORIZON_SCHEDULES = ("uniform", "log_uniform", "constant", "growing")


class InnerState(NamedTuple):
  params: Any
  opt_state: Any
  step: jax.Array
  horizon: jax.Array
  cfg: Any


@dataclasses.dataclass(frozen=True)
class Unroller:
  """Inner training of one `family` member with the optimizer `lopt.opt(theta)`.

  Attributes:
    lopt: the learned optimizer being meta-trained.
    family: the task family members are drawn from.
    trunc_length: K, the inner steps of one truncation.
    horizon_truncations: (lo, hi) bounds of a member's life in truncations; the horizon is
      that number times K.
    horizon_schedule: how lives are drawn in those bounds (see the module docstring).
    growth_calls: for `growing`, the estimator calls over which the upper bound grows.
    loss_split: `"train"` (the loss of each training batch, before the update) or `"valid"`
      (the loss of a validation batch after the update) makes the meta-loss.
    loss_clip: normalized inner losses above this bound are clipped to it (None: no clip),
      so one diverging member cannot dominate a meta-gradient. Non-finite losses are not
      clipped: estimators mask them.
    checkpoint_inner_step: rematerialize each inner step (`jax.checkpoint`) so that
      backpropagation through an unroll stores only the carry between steps.
  """

  lopt: LearnedOptimizer
  family: TaskFamily
  trunc_length: int
  horizon_truncations: tuple[int, int]
  horizon_schedule: str = "uniform"
  growth_calls: int = 1000
  loss_split: str = "train"
  loss_clip: float | None = None
  checkpoint_inner_step: bool = False

  def __post_init__(self):
    lo, hi = self.horizon_truncations
    if not 1 <= lo <= hi:
      raise ValueError(f"horizon_truncations must satisfy 1 <= min <= max, got {(lo, hi)}.")
    if self.trunc_length < 1:
      raise ValueError(f"trunc_length must be positive, got {self.trunc_length}.")
    if self.horizon_schedule not in HORIZON_SCHEDULES:
      raise ValueError(
        f"Unknown horizon_schedule {self.horizon_schedule!r}; expected one of {HORIZON_SCHEDULES}."
      )
    if self.loss_split not in ("train", "valid"):
      raise ValueError(f"loss_split must be 'train' or 'valid', got {self.loss_split!r}.")

  def samplers(self) -> dict[str, BatchSampler]:
    """The batch samplers an unroll reads; pass them to jitted code as an argument."""
    return {split: self.family.batches(split) for split in ("train", self.loss_split)}

  def sample_horizon(self, key: jax.Array, calls: jax.Array | int = 0) -> jax.Array:
    """A horizon in inner steps, from the schedule; `calls` is the estimator's call count."""
    lo, hi = self.horizon_truncations
    if self.horizon_schedule == "constant":
      n = jnp.asarray(hi)
    elif self.horizon_schedule == "log_uniform":
      u = jax.random.uniform(key, (), minval=jnp.log(lo), maxval=jnp.log(hi + 1))
      n = jnp.clip(jnp.floor(jnp.exp(u)).astype(jnp.int32), lo, hi)
    else:
      top = hi
      if self.horizon_schedule == "growing":
        frac = jnp.minimum(jnp.asarray(calls, jnp.float32) / max(self.growth_calls, 1), 1.0)
        top = jnp.round(lo + frac * (hi - lo)).astype(jnp.int32)
      n = jax.random.randint(key, (), lo, top + 1)
    return self.trunc_length * n

  def fresh(
    self,
    theta: MetaParams,
    key: jax.Array,
    *,
    staggered: bool = False,
    calls: jax.Array | int = 0,
  ) -> InnerState:
    """A new member: new task configuration, initial parameters, optimizer state, horizon.

    With `staggered`, the first life is cut to a uniform number of truncations in
    [1, horizon / K], so that members of a population reset at different meta-steps.
    """
    k_cfg, k_init, k_horizon, k_stagger = jax.random.split(key, 4)
    cfg = self.family.sample(k_cfg)
    params = self.family.task(cfg).init(k_init)
    horizon = self.sample_horizon(k_horizon, calls)
    if staggered:
      horizon = self.trunc_length * jax.random.randint(
        k_stagger, (), 1, horizon // self.trunc_length + 1
      )
    opt_state = self.lopt.opt(theta).init(params)
    return InnerState(params, opt_state, jnp.zeros([], jnp.int32), horizon, cfg)

  def reset_where_done(
    self, theta: MetaParams, state: InnerState, key: jax.Array, calls: jax.Array | int = 0
  ) -> tuple[InnerState, jax.Array]:
    """`state`, or a fresh member where it reached its horizon; and whether it was reset."""
    done = state.step >= state.horizon
    return where_tree(done, self.fresh(theta, key, calls=calls), state), done

  def truncation(
    self,
    theta: MetaParams,
    state: InnerState,
    key: jax.Array,
    samplers: dict[str, BatchSampler],
  ) -> tuple[InnerState, jax.Array]:
    """K inner steps with `lopt.opt(theta)` as one `lax.scan`; returns the mean meta-loss.

    Each inner step is `tasks.training.step_fn`'s, the step every training run of the
    library takes (batch from the step key's first split, loss key its second, `value`
    passed to the rule); the meta-loss of the step is the normalized training loss before
    the update, or with `loss_split="valid"` the loss after it on a validation batch (drawn
    from the key's third split).
    """
    task = self.family.task(state.cfg)
    opt = self.lopt.opt(theta, num_steps=state.horizon)
    train_step = step_fn(task, opt, samplers["train"], ("value",))

    def inner_step(carry, k):
      carry, loss = train_step(carry, k)
      if self.loss_split == "valid":
        _, k_loss, k_valid = jax.random.split(k, 3)
        loss = task.loss(carry[0], k_loss, samplers["valid"].sample(k_valid))
      meta_loss = task.normalize(loss)
      if self.loss_clip is not None:
        meta_loss = jnp.where(
          jnp.isfinite(meta_loss), jnp.minimum(meta_loss, self.loss_clip), meta_loss
        )
      return carry, meta_loss

    if self.checkpoint_inner_step:
      inner_step = jax.checkpoint(inner_step)
    keys = jax.random.split(key, self.trunc_length)
    (params, opt_state), losses = jax.lax.scan(inner_step, (state.params, state.opt_state), keys)
    new_state = state._replace(
      params=params, opt_state=opt_state, step=state.step + self.trunc_length
    )
    return new_state, jnp.mean(losses)


def where_tree(cond: jax.Array, a: Any, b: Any) -> Any:
  """`a` where `cond` (a scalar) else `b`, leaf by leaf."""
  return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def is_finite_tree(tree: Any) -> jax.Array:
  """True when every floating leaf of `tree` is finite everywhere."""
  leaves = [
    jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)
  ]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)
