"""MKOR / MKOR-H from gradients alone: rank-1 Sherman–Morrison updates of Kronecker factors.

MKOR keeps the inverses of the two Kronecker factors of each weight matrix and changes them
by a rank-1 term per step (Sherman–Morrison), so the second-order step is as cheap as a
matrix product and can run at every iteration. The paper's rank-1 vectors are the batch
means of the layer inputs and of the output gradients; the project's extra args carry no
activations, so here they come from the weight gradient itself: its leading singular pair
(σ, u, v) by warm-started power iteration, with a = √σ u and δ = √σ v (a δᵀ is the best
rank-1 approximation of the gradient, exactly the gradient for a single example).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.matrix.common import matrix_optimizer, require_matrix


class ScaleByMkorState(NamedTuple):
  """State of `scale_by_mkor` (per 2-D leaf of shape (m, n), plus MKOR-H's scalars)."""

  count: jax.Array  # int32 step count
  left_inv: optax.Updates  # float32 (m, m) inverse of the input-side factor L
  right_inv: optax.Updates  # float32 (n, n) inverse of the output-side factor R
  v: optax.Updates  # float32 (n,) right singular vector estimate (power-iteration warm start)
  prev_value: jax.Array  # float32 loss of the previous step (MKOR-H)
  rate: jax.Array  # float32 EMA of the relative loss decrease per step (MKOR-H)
  switched: jax.Array  # bool, MKOR-H has switched to first-order steps


def sherman_morrison(inv: jax.Array, x: jax.Array, gamma: float) -> jax.Array:
  r"""The inverse of :math:`\gamma F + (1 - \gamma) x x^\top` from :math:`F^{-1}` = `inv`.

  .. math::
    J = F^{-1} / \gamma,\qquad
    (\gamma F + (1-\gamma) x x^\top)^{-1} = J - \frac{(1-\gamma)\, J x x^\top J}
    {1 + (1-\gamma)\, x^\top J x}.
  """
  jx = inv @ x / gamma
  return inv / gamma - (1 - gamma) * jnp.outer(jx, jx) / (1 + (1 - gamma) * (x @ jx))


def _leading_pair(g: jax.Array, v: jax.Array, iters: int, tiny: float = 1e-30):
  u = v[:0]  # replaced in the first iteration (iters >= 1)
  for _ in range(iters):
    u = g @ v
    u = u / jnp.maximum(jnp.linalg.norm(u), tiny)
    v = g.T @ u
    v = v / jnp.maximum(jnp.linalg.norm(v), tiny)
  return u, u @ g @ v, v


def scale_by_mkor(
  gamma: float = 0.9,
  power_iters: int = 2,
  max_inverse: float = 1e6,
  hybrid: bool = False,
  switch_threshold: float = 1e-3,
  switch_decay: float = 0.9,
  min_second_order_steps: int = 100,
  eps: float = 1e-12,
) -> optax.GradientTransformationExtraArgs:
  r"""The MKOR direction of each 2-D leaf (positive sign; negate to descend).

  For the gradient G (m × n, inputs × outputs) with leading singular pair (σ, u, v) from
  `power_iters` power iterations warm-started at the previous v:

  .. math::
    a = \sqrt{\sigma} u,\quad \delta = \sqrt{\sigma} v,

    L_t^{-1} = \mathrm{SM}_\gamma(L_{t-1}^{-1}, a),\quad
    R_t^{-1} = \mathrm{SM}_\gamma(R_{t-1}^{-1}, \delta)
    \quad (L_t = \gamma L_{t-1} + (1-\gamma) a a^\top, \text{ see `sherman_morrison`}),

    \Delta = L_t^{-1} G R_t^{-1},\qquad
    d = \Delta\, \|G\|_F / \|\Delta\|_F\ \text{(MKOR's norm rescaling)},

  with :math:`L_0 = I, R_0 = I`. Stabilizer: an inverse factor with a non-finite entry or
  an entry above `max_inverse` in absolute value is reset to the identity. The paper takes
  a and δ as batch means of the layer inputs and output gradients; here they come from the
  gradient (see the module docstring).

  MKOR-H (`hybrid=True`; `update` then needs `value`, the loss at params): with
  :math:`r_t = (f_{t-1} - f_t) / |f_{t-1}|` and the EMA
  :math:`\rho_t = \beta \rho_{t-1} + (1-\beta) r_t` (:math:`\rho_1 = r_1`), once
  :math:`t \ge` `min_second_order_steps` and :math:`\rho_t <` `switch_threshold`, the
  second-order updates have stopped paying off: from then on (for good) the direction is the
  raw gradient G, i.e. the chained first-order optimizer alone, and the factors are frozen.
  The paper's switch rule compares loss-decrease rates; this EMA threshold is our concrete
  form of it.

  Args:
    gamma: momentum γ of the factors (0 < γ < 1).
    power_iters: power iterations per step for the leading singular pair (≥ 1).
    max_inverse: stabilizer threshold on the entries of the inverse factors.
    hybrid: MKOR-H's switch to first-order steps.
    switch_threshold: threshold of the loss-decrease rate (MKOR-H).
    switch_decay: β of the rate's EMA (MKOR-H).
    min_second_order_steps: steps before a switch may happen (MKOR-H).
    eps: guards the norm rescaling and the rate's denominator.

  Returns:
    An `optax.GradientTransformationExtraArgs` for trees of 2-D leaves.

  References:
    Mozaffari, Li, Zhang & Mehri Dehnavi, MKOR: Momentum-Enabled Kronecker-Factor-Based
    Optimizer Using Rank-1 Updates, https://arxiv.org/abs/2306.01685
  """
  if not 0.0 < gamma < 1.0:
    raise ValueError(f"gamma must lie in (0, 1); got {gamma}.")
  if power_iters < 1:
    raise ValueError(f"power_iters must be an integer >= 1; got {power_iters}.")
  if not max_inverse > 0:
    raise ValueError(f"max_inverse must be > 0; got {max_inverse}.")
  if not 0.0 <= switch_decay < 1.0:
    raise ValueError(f"switch_decay must lie in [0, 1); got {switch_decay}.")

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_mkor")
    eye = lambda d: jnp.eye(d, dtype=jnp.float32)
    return ScaleByMkorState(
      count=jnp.zeros((), jnp.int32),
      left_inv=jax.tree.map(lambda p: eye(p.shape[0]), params),
      right_inv=jax.tree.map(lambda p: eye(p.shape[1]), params),
      v=jax.tree.map(lambda p: jnp.full((p.shape[1],), p.shape[1] ** -0.5, jnp.float32), params),
      prev_value=jnp.zeros((), jnp.float32),
      rate=jnp.zeros((), jnp.float32),
      switched=jnp.zeros((), bool),
    )

  def stabilize(inv):
    bad = ~jnp.all(jnp.isfinite(inv)) | (jnp.max(jnp.abs(inv)) > max_inverse)
    return jnp.where(bad, jnp.eye(inv.shape[0], dtype=inv.dtype), inv)

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del params, extra_args
    switched, rate, prev_value = state.switched, state.rate, state.prev_value
    if hybrid:
      if value is None:
        raise ValueError("MKOR-H (hybrid=True) needs the `value` extra arg (the loss).")
      value = jnp.asarray(value, jnp.float32)
      r = (prev_value - value) / jnp.maximum(jnp.abs(prev_value), eps)
      rate = jnp.where(state.count == 1, r, switch_decay * rate + (1 - switch_decay) * r)
      rate = jnp.where(state.count == 0, 0.0, rate)
      switched = switched | ((state.count >= min_second_order_steps) & (rate < switch_threshold))
      prev_value = value

    def one(g, left, right, v):
      g32 = g.astype(jnp.float32)
      u, sigma, v_new = _leading_pair(g32, v, power_iters)
      scale = jnp.sqrt(jnp.maximum(sigma, 0.0))
      left_new = stabilize(sherman_morrison(left, scale * u, gamma))
      right_new = stabilize(sherman_morrison(right, scale * v_new, gamma))
      delta = left_new @ g32 @ right_new
      delta = delta * jnp.linalg.norm(g32) / jnp.maximum(jnp.linalg.norm(delta), eps)
      keep = lambda old, new: jnp.where(switched, old, new)
      out = jnp.where(switched, g32, delta).astype(g.dtype)
      return out, keep(left, left_new), keep(right, right_new), keep(v, v_new)

    out = jax.tree.map(one, updates, state.left_inv, state.right_inv, state.v)
    treedef = jax.tree.structure(updates)
    d, left, right, v = (
      treedef.unflatten(list(col)) for col in zip(*treedef.flatten_up_to(out), strict=True)
    )
    count = optax.safe_increment(state.count)
    return d, ScaleByMkorState(count, left, right, v, prev_value, rate, switched)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _first_order(momentum: float, weight_decay: float, learning_rate) -> list:
  return [
    optax.add_decayed_weights(weight_decay),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  ]


def mkor(
  learning_rate: optax.ScalarOrSchedule = 1e-2,
  gamma: float = 0.9,
  power_iters: int = 2,
  max_inverse: float = 1e6,
  momentum: float = 0.9,
  weight_decay: float = 0.0,
  hybrid: bool = False,
  switch_threshold: float = 1e-3,
  switch_decay: float = 0.9,
  min_second_order_steps: int = 100,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  """MKOR (MKOR-H with `hybrid=True`): SGD with momentum on the MKOR direction.

  Matrices: θ ← θ − η · trace_μ(d + λ θ) with d from `scale_by_mkor`; vectors and scalars
  (the documented fallback of `baselines.matrix`) take the same first-order step on the raw
  gradient, as MKOR leaves them unpreconditioned.

  Args:
    learning_rate: η.
    gamma, power_iters, max_inverse, hybrid, switch_threshold, switch_decay,
      min_second_order_steps: see `scale_by_mkor`.
    momentum: heavy-ball μ of the first-order optimizer MKOR feeds (0: none).
    weight_decay: decoupled weight decay λ.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs` (MKOR-H reads the `value` extra arg).

  References:
    Mozaffari, Li, Zhang & Mehri Dehnavi, MKOR: Momentum-Enabled Kronecker-Factor-Based
    Optimizer Using Rank-1 Updates, https://arxiv.org/abs/2306.01685
  """
  direction = scale_by_mkor(
    gamma=gamma,
    power_iters=power_iters,
    max_inverse=max_inverse,
    hybrid=hybrid,
    switch_threshold=switch_threshold,
    switch_decay=switch_decay,
    min_second_order_steps=min_second_order_steps,
  )
  return matrix_optimizer(
    optax.chain(direction, *_first_order(momentum, weight_decay, learning_rate)),
    optax.chain(*_first_order(momentum, weight_decay, learning_rate)),
    label_fn,
  )


def mkor_h(
  learning_rate: optax.ScalarOrSchedule = 1e-2,
  gamma: float = 0.9,
  power_iters: int = 2,
  max_inverse: float = 1e6,
  momentum: float = 0.9,
  weight_decay: float = 0.0,
  switch_threshold: float = 1e-3,
  switch_decay: float = 0.9,
  min_second_order_steps: int = 100,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  """MKOR-H: `mkor` with the switch to first-order steps (needs the `value` extra arg)."""
  return mkor(
    learning_rate,
    gamma=gamma,
    power_iters=power_iters,
    max_inverse=max_inverse,
    momentum=momentum,
    weight_decay=weight_decay,
    hybrid=True,
    switch_threshold=switch_threshold,
    switch_decay=switch_decay,
    min_second_order_steps=min_second_order_steps,
    label_fn=label_fn,
  )
