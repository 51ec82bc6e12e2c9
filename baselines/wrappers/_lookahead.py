"""Lookahead over plain parameters: `optax.lookahead` with the slow weights kept in the state.

`optax.lookahead` expects `optax.LookaheadParams(fast, slow)` as the parameters, which the
registry's plain-parameter interface cannot supply. This adapter keeps the slow weights in the
optimizer state and hands optax's own lookahead update the pair, so the algorithm is optax's.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import optax


class LookaheadWrapperState(NamedTuple):
  """State of `lookahead`: optax's lookahead state and the slow weights."""

  inner: optax.LookaheadState
  slow: optax.Params


def lookahead(
  inner: optax.GradientTransformation,
  *,
  sync_period: int = 5,
  slow_step_size: float = 0.5,
  reset_state: bool = False,
) -> optax.GradientTransformation:
  r"""Lookahead around any optimizer, on plain parameters.

  The inner optimizer moves the fast weights $\theta$; every `sync_period` steps the slow
  weights move towards them and the fast weights restart from there:

  $$\phi \leftarrow \phi + \alpha(\theta_k - \phi), \qquad \theta \leftarrow \phi.$$

  Args:
    inner: the fast optimizer (a full optimizer: its updates are added to the parameters).
    sync_period: $k$, fast steps between synchronizations (>= 1).
    slow_step_size: $\alpha$, in (0, 1].
    reset_state: re-initialize the inner state after each synchronization.

  Returns:
    An `optax.GradientTransformation` whose updates move the (fast) parameters; on a
    synchronization step the parameters land on the new slow weights.

  References:
    Zhang et al., Lookahead Optimizer: k steps forward, 1 step back,
    https://arxiv.org/abs/1907.08610
  """
  if sync_period < 1:
    raise ValueError(f"sync_period must be an integer >= 1, got {sync_period}.")
  if not 0.0 < slow_step_size <= 1.0:
    raise ValueError(f"slow_step_size must be in (0, 1], got {slow_step_size}.")
  la = optax.lookahead(inner, sync_period, slow_step_size, reset_state=reset_state)

  def init_fn(params):
    return LookaheadWrapperState(la.init(optax.LookaheadParams(params, params)), params)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("lookahead needs `params` in update.")
    pair, inner_state = la.update(updates, state.inner, optax.LookaheadParams(params, state.slow))
    slow = jax.tree.map(lambda s, u: (s + u).astype(s.dtype), state.slow, pair.slow)
    fast = jax.tree.map(lambda u, p: u.astype(p.dtype), pair.fast, params)
    return fast, LookaheadWrapperState(inner_state, slow)

  return optax.GradientTransformation(init_fn, update_fn)


def lookahead_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  sync_period: int = 5,
  slow_step_size: float = 0.5,
) -> optax.GradientTransformation:
  """Lookahead around `optax.adam` (the paper's Adam experiments: k=5, alpha=0.5)."""
  return lookahead(
    optax.adam(learning_rate, b1=b1, b2=b2, eps=eps),
    sync_period=sync_period,
    slow_step_size=slow_step_size,
  )


def lookahead_sgd(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  sync_period: int = 5,
  slow_step_size: float = 0.5,
) -> optax.GradientTransformation:
  """Lookahead around SGD with heavy-ball momentum (`optax.sgd(momentum=...)`)."""
  return lookahead(
    optax.sgd(learning_rate, momentum=momentum or None),
    sync_period=sync_period,
    slow_step_size=slow_step_size,
  )
