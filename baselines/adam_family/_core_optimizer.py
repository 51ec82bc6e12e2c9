"""CoRe (Continual Resilient): Adam-like moments with RPROP-like per-weight step sizes."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByCoreState(NamedTuple):
  """State of `scale_by_core`: moments and the per-weight step sizes."""

  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates
  step_size: optax.Updates


def scale_by_core(
  initial_step_size: float = 1e-3,
  b1_initial: float = 0.7375,
  b1_final: float = 0.8125,
  b1_decay_steps: float = 250.0,
  b2: float = 0.99,
  eps: float = 1e-8,
  eta_minus: float = 0.7375,
  eta_plus: float = 1.2,
  min_step_size: float = 1e-6,
  max_step_size: float = 1e-2,
  weight_decay: float = 0.1,
) -> optax.GradientTransformation:
  r"""The CoRe step (already scaled by the per-weight step sizes; the alias negates it).

  At step :math:`t = 1, 2, \ldots` with gradient :math:`G_t`:

  .. math::
    \beta_{1,t} = \beta_1^b + (\beta_1^a - \beta_1^b)\,e^{-((t-1)/\beta_1^c)^2},\quad
    g_t = \beta_{1,t} g_{t-1} + (1-\beta_{1,t}) G_t,\quad
    h_t = \beta_2 h_{t-1} + (1-\beta_2) G_t^2,\\
    s_t = \mathrm{clip}\big(s_{t-1}\cdot\{\eta_+ \text{ if } g_{t-1}g_t > 0;\
      \eta_- \text{ if } < 0;\ 1 \text{ otherwise}\},\ s_{\min}, s_{\max}\big),\quad
    s_0 = \text{initial\_step\_size},\\
    u_t = s_t\,\frac{g_t/(1-\beta_{1,t}^t)}{\sqrt{h_t/(1-\beta_2^t)} + \epsilon},\quad
    d_t = u_t + \lambda\,|u_t|\,\theta_{t-1},

  and :math:`\theta_t = \theta_{t-1} - d_t`. The stability-plasticity balance of the paper
  (score history and frozen weights, for lifelong learning) is off by default there and is not
  included.

  Args:
    initial_step_size: :math:`s_0` (the "learning rate" of the reference code).
    b1_initial, b1_final, b1_decay_steps: :math:`\beta_1^a, \beta_1^b, \beta_1^c`.
    b2: decay of the second moment.
    eps: added to the RMS denominator.
    eta_minus, eta_plus: step-size factors on a sign flip and on a repeated sign.
    min_step_size, max_step_size: bounds of the step sizes.
    weight_decay: :math:`\lambda`, a decay proportional to the step's magnitude.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params` when `weight_decay > 0`.

  References:
    Eckhoff & Reiher, CoRe Optimizer: An All-in-One Solution for Machine Learning,
    https://arxiv.org/abs/2307.15663
  """
  if not (0.0 <= b1_initial < 1.0 and 0.0 <= b1_final < 1.0 and b1_decay_steps > 0):
    raise ValueError("b1_initial and b1_final must lie in [0, 1) and b1_decay_steps be > 0.")
  if not 0.0 <= b2 < 1.0:
    raise ValueError(f"b2 must lie in [0, 1); got {b2}.")
  if not 0.0 < eta_minus <= 1.0 <= eta_plus:
    raise ValueError(f"Need 0 < eta_minus <= 1 <= eta_plus; got {eta_minus}, {eta_plus}.")
  if not 0.0 < min_step_size <= max_step_size:
    raise ValueError(
      f"Need 0 < min_step_size <= max_step_size; got {min_step_size}, {max_step_size}."
    )

  def init_fn(params):
    return ScaleByCoreState(
      count=jnp.zeros([], jnp.int32),
      mu=jax.tree.map(jnp.zeros_like, params),
      nu=jax.tree.map(jnp.zeros_like, params),
      step_size=jax.tree.map(lambda p: jnp.full(p.shape, initial_step_size, jnp.float32), params),
    )

  def update_fn(updates, state, params=None):
    if params is None and weight_decay > 0:
      raise ValueError("CoRe with weight_decay > 0 needs `params` in `update`.")
    k = state.count.astype(jnp.float32)
    t = k + 1
    b1 = b1_final + (b1_initial - b1_final) * jnp.exp(-((k / b1_decay_steps) ** 2))
    c1 = 1 - b1**t
    c2 = 1 - b2**t

    def step(G, m, v, s, p):
      G32, m32 = G.astype(jnp.float32), m.astype(jnp.float32)
      v_new = b2 * v.astype(jnp.float32) + (1 - b2) * G32 * G32
      m_new = b1 * m32 + (1 - b1) * G32
      agree = m_new * m32
      factor = jnp.where(agree > 0, eta_plus, jnp.where(agree < 0, eta_minus, 1.0))
      s_new = jnp.clip(s * factor, min_step_size, max_step_size)
      u = s_new * (m_new / c1) / (jnp.sqrt(v_new / c2) + eps)
      d = u + weight_decay * jnp.abs(u) * p.astype(jnp.float32)
      return d.astype(G.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype), s_new

    ps = params if params is not None else jax.tree.map(jnp.zeros_like, updates)
    treedef = jax.tree.structure(updates)
    out = treedef.flatten_up_to(
      jax.tree.map(step, updates, state.mu, state.nu, state.step_size, ps)
    )
    direction, mu, nu, step_size = (treedef.unflatten([o[i] for o in out]) for i in range(4))
    return direction, ScaleByCoreState(count=state.count + 1, mu=mu, nu=nu, step_size=step_size)

  return optax.GradientTransformation(init_fn, update_fn)


def core_optimizer(
  learning_rate: float = 1e-3,
  b1_initial: float = 0.7375,
  b1_final: float = 0.8125,
  b1_decay_steps: float = 250.0,
  b2: float = 0.99,
  eps: float = 1e-8,
  eta_minus: float = 0.7375,
  eta_plus: float = 1.2,
  min_step_size: float = 1e-6,
  max_step_size: float = 1e-2,
  weight_decay: float = 0.1,
) -> optax.GradientTransformation:
  r"""The CoRe optimizer: :math:`\theta \leftarrow \theta - d_t` (see `scale_by_core`).

  As in RPROP (`optax.rprop`), the learning rate is the initial per-weight step size
  :math:`s_0`; the step sizes then adapt within `[min_step_size, max_step_size]`.

  Args:
    learning_rate: the initial step size :math:`s_0` (a scalar).
    b1_initial, b1_final, b1_decay_steps, b2, eps, eta_minus, eta_plus, min_step_size,
      max_step_size, weight_decay: see `scale_by_core`.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params` when `weight_decay > 0`.

  Example:
    >>> opt = core_optimizer(learning_rate=1e-3)

  References:
    Eckhoff & Reiher, CoRe Optimizer: An All-in-One Solution for Machine Learning,
    https://arxiv.org/abs/2307.15663
  """
  if callable(learning_rate) or not learning_rate > 0:
    raise ValueError(
      f"learning_rate (the initial step size) must be a positive scalar; got {learning_rate!r}."
    )
  return optax.chain(
    scale_by_core(
      initial_step_size=learning_rate,
      b1_initial=b1_initial,
      b1_final=b1_final,
      b1_decay_steps=b1_decay_steps,
      b2=b2,
      eps=eps,
      eta_minus=eta_minus,
      eta_plus=eta_plus,
      min_step_size=min_step_size,
      max_step_size=max_step_size,
      weight_decay=weight_decay,
    ),
    optax.scale(-1.0),
  )
