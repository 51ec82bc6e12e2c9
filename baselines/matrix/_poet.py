"""POET: training a weight as R·W0·P with learned orthogonal R, P and a fixed W0."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import linalg
from baselines.matrix.common import fallback_adamw, matrix_optimizer, require_matrix


class ScaleByPoetState(NamedTuple):
  """State of `scale_by_poet` (per 2-D leaf of shape (m, n))."""

  count: jax.Array  # int32 step count
  w0: optax.Updates  # float32 (m, n) fixed weight W0 (replaced by R W0 P at each merge)
  theta_r: optax.Updates  # float32 (m, m) generator of R (strictly upper triangle used)
  theta_p: optax.Updates  # float32 (n, n) generator of P
  mu: optax.Updates  # float32 Adam first moments of (theta_r, theta_p)
  nu: optax.Updates  # float32 Adam second moments of (theta_r, theta_p)


def cayley(theta: jax.Array, neumann_terms: int | None = None) -> jax.Array:
  r"""The orthogonal matrix of a generator: :math:`(I + Q)(I - Q)^{-1}`, :math:`Q = U - U^\top`.

  U is the strictly upper triangle of `theta` (the rest is ignored), so Q is skew-symmetric
  and the Cayley transform is exactly orthogonal. With `neumann_terms` = k, the inverse is
  the truncated Neumann series :math:`\sum_{j=0}^{k} Q^j` (the paper's Cayley–Neumann
  parameterization: no solve, orthogonal up to :math:`O(\|Q\|^{k+1})`).
  """
  d = theta.shape[0]
  upper = jnp.triu(theta, k=1)
  q = upper - upper.T
  eye = jnp.eye(d, dtype=theta.dtype)
  if neumann_terms is None:
    return linalg.solve(eye - q, eye + q)
  inv, power = eye, eye
  for _ in range(neumann_terms):
    power = power @ q
    inv = inv + power
  return (eye + q) @ inv


def scale_by_poet(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  merge_every: int = 200,
  neumann_terms: int | None = None,
) -> optax.GradientTransformation:
  r"""POET on 2-D leaves: the update moves W to :math:`R\,W_0\,P` (learning rate included).

  Each matrix W (m × n) is reparameterized as :math:`W = R\,W_0\,P` with the fixed
  :math:`W_0` (the parameters given to `init`) and orthogonal :math:`R = C(\theta_R)`
  (m × m), :math:`P = C(\theta_P)` (n × n), C the Cayley transform of `cayley`. With
  :math:`G = \partial L / \partial W`:

  .. math::
    \partial_R = G (W_0 P)^\top,\quad \partial_P = (R W_0)^\top G,\quad
    g_\theta = \text{vjp of } C \text{ at } \theta \text{ applied to } \partial_{R|P},

    \theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)\quad
    \text{(Adam on } \theta_R, \theta_P\text{)},

    \text{every } T \text{ steps: } W_0 \leftarrow R\,W_0\,P,\ \theta_R, \theta_P \leftarrow 0
    \ (R, P \leftarrow I),

  and the returned update is :math:`R\,W_0\,P - W` (W: the current `params`), so the
  parameters always equal :math:`R\,W_0\,P`. Orthogonal R and P keep the singular values of
  W those of the initial parameters for the whole run (merging preserves them too): the
  point of the method. Adam's moments and step count carry across merges.

  Simplifications: W0 is the parameters at `init` (use the paper's normalized Gaussian
  initialization for the model to follow it); R and P are full Cayley transforms (exact by
  default; `neumann_terms` for the paper's Cayley–Neumann approximation) rather than the
  stochastic block primitives of the paper's memory-efficient variant, so the state holds
  m² + n² generator entries (with Adam moments) per matrix.

  Args:
    learning_rate: Adam step size on the generators (a scalar or a schedule).
    b1, b2, eps: Adam's hyperparameters.
    merge_every: T, steps between merges (≥ 1).
    neumann_terms: None for the exact Cayley transform, k ≥ 1 for the k-term Neumann series.

  Returns:
    An `optax.GradientTransformation` for trees of 2-D leaves; `update` needs `params`.

  References:
    Qiu et al., Reparameterized LLM Training via Orthogonal Equivalence Transformation,
    https://arxiv.org/abs/2506.08001
  """
  if merge_every < 1:
    raise ValueError(f"merge_every must be an integer >= 1; got {merge_every}.")
  if neumann_terms is not None and neumann_terms < 1:
    raise ValueError(f"neumann_terms must be None (exact Cayley) or >= 1; got {neumann_terms}.")
  if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
    raise ValueError(f"b1 and b2 must lie in [0, 1); got {b1}, {b2}.")

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_poet")
    f32 = lambda p: p.astype(jnp.float32)
    sq = lambda d: jnp.zeros((d, d), jnp.float32)
    gens = (
      jax.tree.map(lambda p: sq(p.shape[0]), params),
      jax.tree.map(lambda p: sq(p.shape[1]), params),
    )
    return ScaleByPoetState(
      count=jnp.zeros((), jnp.int32),
      w0=jax.tree.map(f32, params),
      theta_r=gens[0],
      theta_p=gens[1],
      mu=gens,
      nu=gens,
    )

  def weight(tr, w0, tp):
    return cayley(tr, neumann_terms) @ w0 @ cayley(tp, neumann_terms)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("scale_by_poet needs `params` (the update is R W0 P - W).")
    count = optax.safe_increment(state.count)
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** count.astype(jnp.float32)
    merge = count % merge_every == 0

    def one(g, w0, tr, tp, mr, mp, vr, vp, p):
      _, vjp = jax.vjp(lambda a, b: weight(a, w0, b), tr, tp)
      gr, gp = vjp(g.astype(jnp.float32))
      new = []
      for t, m, v, gt in ((tr, mr, vr, gr), (tp, mp, vp, gp)):
        m = b1 * m + (1 - b1) * gt
        v = b2 * v + (1 - b2) * gt * gt
        t = t - lr * (m / c1) / (jnp.sqrt(v / c2) + eps)
        new.append((t, m, v))
      (tr, mr, vr), (tp, mp, vp) = new
      w = weight(tr, w0, tp)
      w0 = jnp.where(merge, w, w0)
      tr = jnp.where(merge, 0.0, tr)
      tp = jnp.where(merge, 0.0, tp)
      u = (w - p.astype(jnp.float32)).astype(p.dtype)
      return u, w0, tr, tp, mr, mp, vr, vp

    out = jax.tree.map(
      one,
      updates,
      state.w0,
      state.theta_r,
      state.theta_p,
      state.mu[0],
      state.mu[1],
      state.nu[0],
      state.nu[1],
      params,
    )
    treedef = jax.tree.structure(updates)
    u, w0, tr, tp, mr, mp, vr, vp = (
      treedef.unflatten(list(col)) for col in zip(*treedef.flatten_up_to(out), strict=True)
    )
    return u, ScaleByPoetState(count, w0, tr, tp, (mr, mp), (vr, vp))

  return optax.GradientTransformation(init_fn, update_fn)


def poet(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  merge_every: int = 200,
  neumann_terms: int | None = None,
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""POET on matrices (:math:`W = R\,W_0\,P`, see `scale_by_poet`), AdamW on the rest.

  The learning rate acts inside `scale_by_poet` (on the orthogonal generators), so the
  matrix branch is not chained with `optax.scale_by_learning_rate`.

  Args:
    learning_rate: Adam step size of the generators.
    b1, b2, eps, merge_every, neumann_terms: see `scale_by_poet`.
    weight_decay: decoupled weight decay of the AdamW fallback (vectors, scalars); the
      matrices have none (it would change their fixed spectrum).
    fallback_learning_rate: learning rate of the fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = poet(learning_rate=1e-3)

  References:
    Qiu et al., Reparameterized LLM Training via Orthogonal Equivalence Transformation,
    https://arxiv.org/abs/2506.08001
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    scale_by_poet(learning_rate, b1, b2, eps, merge_every, neumann_terms),
    fallback_adamw(fallback_lr, weight_decay),
    label_fn,
  )
