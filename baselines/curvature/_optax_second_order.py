"""optax's second-order methods behind the project's extra-args vocabulary.

optax ships Sophia (`optax.contrib.sophia`), L-BFGS (`optax.lbfgs`) and Hutchinson's
diagonal estimator (`optax.contrib.hutchinson_estimator_diag_hessian`); each reads the loss
through its own keyword (`obj_fn`, or `value`/`grad`/`value_fn`). These adapters pass the
project's `value_fn` (params -> loss on the current batch), `value` and `key` through and
otherwise run optax's own code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import optax.contrib

from baselines.curvature import hessian


def _hutchinson_from_key() -> optax.GradientTransformationExtraArgs:
  """Sophia's `hessian_diagonal_fn`, drawing its Rademacher probe from the `key` extra arg."""

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del updates, extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("sophia needs `params` and the extra args `value_fn` and `key`.")
    diag = hessian.hutchinson_diag(value_fn, params, key)
    return jax.tree.map(lambda d, p: d.astype(p.dtype), diag, params), state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sophia(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.965,
  b2: float = 0.99,
  eps: float = 1e-8,
  weight_decay: float = 1e-4,
  gamma: float = 0.01,
  clip_threshold: float | None = 1.0,
  update_interval: int = 10,
) -> optax.GradientTransformationExtraArgs:
  r"""Sophia-H, `optax.contrib.sophia`, with Hutchinson probes from the `key` extra arg.

  .. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t,\qquad
    h_t = β_2 h_{t-k} + (1-β_2)\, z ⊙ ∇²f z \ \text{every } k \text{ steps},

    θ_{t+1} = θ_t - η\,\mathrm{clip}\big(m_t / \max(γ h_t, ε), 1\big) - ηλθ_t.

  The Hessian-vector product is taken through `value_fn` (`jax.jvp` of `jax.grad`); the
  refresh every `update_interval` steps is a `lax.cond` inside optax's code.

  Args:
    learning_rate, b1, b2, eps, weight_decay, gamma, clip_threshold, update_interval: see
      `optax.contrib.sophia`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra args
    `value_fn` and `key`.

  References:
    Liu et al., Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
    Pre-training, https://arxiv.org/abs/2305.14342
  """
  opt = optax.contrib.sophia(
    learning_rate,
    b1=b1,
    b2=b2,
    eps=eps,
    weight_decay=weight_decay,
    gamma=gamma,
    clip_threshold=clip_threshold,
    update_interval=update_interval,
    hessian_diagonal_fn=_hutchinson_from_key(),
  )

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    out, state = opt.update(updates, state, params, value_fn=value_fn, key=key)
    return jax.tree.map(lambda u, p: u.astype(p.dtype), out, params), state

  return optax.GradientTransformationExtraArgs(opt.init, update_fn)


def lbfgs(
  learning_rate: optax.ScalarOrSchedule | None = None,
  memory_size: int = 10,
  scale_init_precond: bool = True,
) -> optax.GradientTransformationExtraArgs:
  """L-BFGS with the zoom line search, `optax.lbfgs`, fed from `value` and `value_fn`.

  Two-loop recursion over the last `memory_size` pairs (s, y), then a zoom line search
  (strong Wolfe conditions) along the direction. `learning_rate=None` lets the line search
  pick the step (the usual L-BFGS); a number fixes a scale before the line search.

  Args:
    learning_rate: optional scale of the direction (see `optax.lbfgs`).
    memory_size: number of (s, y) pairs kept.
    scale_init_precond: scale the initial inverse Hessian by sᵀy / yᵀy.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra args
    `value` (loss at params) and `value_fn` (params -> loss on the same batch).

  References:
    Liu & Nocedal, On the limited memory BFGS method for large scale optimization (1989);
    Nocedal & Wright, Numerical Optimization, Algorithms 7.4 and 3.5-3.6.
  """
  opt = optax.lbfgs(
    learning_rate=learning_rate,
    memory_size=memory_size,
    scale_init_precond=scale_init_precond,
  )

  def update_fn(updates, state, params=None, *, value=None, value_fn=None, **extra_args):
    del extra_args
    if params is None or value_fn is None:
      raise ValueError("lbfgs needs `params` and the extra arg `value_fn` (and `value`).")
    if value is None:
      value = value_fn(params)
    # The line search runs in float32; updates are cast back to the parameters' dtype.
    p32 = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    fn32 = lambda p: jnp.asarray(
      value_fn(jax.tree.map(lambda x, q: x.astype(q.dtype), p, params)), jnp.float32
    )
    out, state = opt.update(
      g32, state, p32, value=jnp.asarray(value, jnp.float32), grad=g32, value_fn=fn32
    )
    return jax.tree.map(lambda u, p: u.astype(p.dtype), out, params), state

  def init_fn(params):
    state = opt.init(jax.tree.map(lambda p: p.astype(jnp.float32), params))
    # optax 0.2.8 initializes the line search's info fields as weakly typed scalars, and its
    # update returns strongly typed ones: a jitted step would compile twice. Strong types here.
    return jax.tree.map(lambda x: jnp.array(x, dtype=jnp.asarray(x).dtype), state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def hutchinson_newton(
  learning_rate: optax.ScalarOrSchedule = 1.0,
  eps: float = 1e-4,
  seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
  r"""A diagonal Newton step on optax's Hutchinson estimator of diag ∇²f.

  .. math::
    D_t = z_t ⊙ ∇²f(θ_t) z_t \ (z_t \text{ Rademacher}),\qquad
    θ_{t+1} = θ_t - η\, g_t / \max(|D_t|, ε).

  The estimate is `optax.contrib.hutchinson_estimator_diag_hessian` (which keeps its own
  PRNG key in its state, seeded by `seed`), fed the project's `value_fn`; the step is the
  plain stochastic diagonal Newton step that AdaHessian, OASIS, Sophia-H and PSPS refine.

  Args:
    learning_rate: η.
    eps: floor ε of |D_t|.
    seed: seed of optax's estimator key.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and `value_fn`.

  References:
    Hutchinson, A stochastic estimator of the trace of the influence matrix for Laplacian
    smoothing splines (1990); Bekas, Kokiopoulou & Saad, An estimator for the diagonal of a
    matrix (2007); Yao et al., ADAHESSIAN, https://arxiv.org/abs/2006.00719
  """
  if eps <= 0:
    raise ValueError(f"eps must be > 0, got {eps}.")
  estimator = optax.contrib.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(seed))

  def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
    del extra_args
    if params is None or value_fn is None:
      raise ValueError("hutchinson_newton needs `params` and the extra arg `value_fn`.")
    diag, state = estimator.update(updates, state, params, obj_fn=value_fn)
    out = jax.tree.map(
      lambda g, d: g.astype(jnp.float32) / jnp.maximum(jnp.abs(d.astype(jnp.float32)), eps),
      updates,
      diag,
    )
    return jax.tree.map(lambda u, p: u.astype(p.dtype), out, params), state

  return optax.chain(
    optax.GradientTransformationExtraArgs(estimator.init, update_fn),
    optax.scale_by_learning_rate(learning_rate),
  )
