"""Shampoo (blocked, with AdaGrad grafting): L^{-1/4} G R^{-1/4} per block of a matrix."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import linalg
from baselines.matrix.common import fallback_adamw, matrix_optimizer, require_matrix

_GRAFTS = ("adagrad", "sgd")


class ScaleByShampooState(NamedTuple):
  """State of `scale_by_shampoo` (float32).

  `stats_l`/`stats_r` hold the statistics of every block, shaped ``(R, C, b_r, b_r)`` and
  ``(R, C, b_c, b_c)`` for ``R x C`` blocks of ``b_r x b_c``; `root_l`/`root_r` their
  inverse fourth roots; `graft` the grafting accumulator; `mu` the momentum.
  """

  count: jax.Array
  stats_l: optax.Updates
  stats_r: optax.Updates
  root_l: optax.Updates
  root_r: optax.Updates
  graft: optax.Updates
  mu: optax.Updates


def _block_dims(n: int, block_size: int) -> tuple[int, int]:
  """(number of blocks, block length) along an axis of length `n`."""
  if n <= block_size:
    return 1, n
  return -(-n // block_size), block_size


def to_blocks(x: jax.Array, block_size: int) -> jax.Array:
  """A ``(m, n)`` matrix as ``(R, C, b_r, b_c)`` blocks, zero-padded to whole blocks."""
  (R, br), (C, bc) = _block_dims(x.shape[0], block_size), _block_dims(x.shape[1], block_size)
  x = jnp.pad(x, ((0, R * br - x.shape[0]), (0, C * bc - x.shape[1])))
  return x.reshape(R, br, C, bc).transpose(0, 2, 1, 3)


def from_blocks(b: jax.Array, shape: tuple[int, int]) -> jax.Array:
  """Inverse of `to_blocks` (drops the padding)."""
  R, C, br, bc = b.shape
  return b.transpose(0, 2, 1, 3).reshape(R * br, C * bc)[: shape[0], : shape[1]]


def inverse_pth_root(s: jax.Array, p: int, eps: float) -> jax.Array:
  """``(S + eps I)^{-1/p}`` of symmetric PSD matrices (batched), by eigendecomposition."""
  w, v = linalg.eigh(s)
  w = jnp.maximum(w, 0.0) + eps
  return (v * w[..., None, :] ** (-1.0 / p)) @ jnp.swapaxes(v, -1, -2)


def scale_by_shampoo(
  b1: float = 0.9,
  b2: float = 1.0,
  block_size: int = 128,
  precondition_every: int = 10,
  matrix_eps: float = 1e-6,
  graft: Literal["adagrad", "sgd"] = "adagrad",
  graft_eps: float = 1e-8,
) -> optax.GradientTransformation:
  r"""The Shampoo direction of 2-D matrices, per block, grafted to AdaGrad's norm.

  Every matrix is cut into blocks of at most ``block_size`` per side (zero-padded; the
  padding leaves the real entries unchanged). Per block :math:`G`:

  .. math::
    L_t = w_1 L_{t-1} + w_2 G G^\top,\quad R_t = w_1 R_{t-1} + w_2 G^\top G,\quad
    (w_1, w_2) = (\beta_2, 1) \text{ if } \beta_2 = 1 \text{ else } (\beta_2, 1-\beta_2),\\
    P = \hat L^{-1/4} G \hat R^{-1/4},\quad \hat L^{-1/4} = (L_s + \epsilon I)^{-1/4}
      \text{ recomputed when } (t-1) \equiv 0\ (\mathrm{mod}\ k),

  then, per matrix, grafting to the step of AdaGrad
  (:math:`A_t = A_{t-1} + G^2`, :math:`D = G / (\sqrt{A_t} + \epsilon_g)`) or of SGD
  (:math:`D = G`), and momentum:

  .. math::
    U_t = P\,\frac{\|D\|_F}{\|P\|_F},\qquad M_t = \beta_1 M_{t-1} + (1-\beta_1) U_t.

  Inverse roots are exact (eigendecomposition) rather than the paper's coupled Newton
  iteration, and run inside the step every ``precondition_every`` steps instead of
  asynchronously on the host.

  Args:
    b1: momentum decay :math:`\beta_1`.
    b2: statistics decay :math:`\beta_2` (1.0: running sums, the AdaGrad-like original).
    block_size: largest block side.
    precondition_every: :math:`k`, steps between inverse-root computations.
    matrix_eps: :math:`\epsilon`, ridge added before the inverse roots.
    graft: `"adagrad"` or `"sgd"`, whose per-matrix step norm the direction takes.
    graft_eps: :math:`\epsilon_g` of the AdaGrad graft.

  Returns:
    An `optax.GradientTransformation` for trees of 2-D leaves.

  References:
    Anil et al., Scalable Second Order Optimization for Deep Learning,
    https://arxiv.org/abs/2002.09018;
    Gupta et al., Shampoo: Preconditioned Stochastic Tensor Optimization,
    https://arxiv.org/abs/1802.09568
  """
  if graft not in _GRAFTS:
    raise ValueError(f"graft must be one of {_GRAFTS}; got {graft!r}.")
  if not (0.0 <= b1 < 1.0 and 0.0 < b2 <= 1.0):
    raise ValueError(f"Need 0 <= b1 < 1 and 0 < b2 <= 1; got b1={b1}, b2={b2}.")
  if block_size < 1 or precondition_every < 1:
    raise ValueError(
      f"block_size and precondition_every must be >= 1; got {block_size}, {precondition_every}."
    )
  w1, w2 = (b2, 1.0) if b2 == 1.0 else (b2, 1.0 - b2)

  def init_fn(params):
    for p in jax.tree.leaves(params):
      require_matrix(p, "scale_by_shampoo")

    def stat_shape(p, side):
      (R, br), (C, bc) = (_block_dims(n, block_size) for n in p.shape)
      n = br if side == 0 else bc
      return (R, C, n, n)

    zeros_stat = lambda side: jax.tree.map(
      lambda p: jnp.zeros(stat_shape(p, side), jnp.float32), params
    )
    eye_stat = lambda side: jax.tree.map(
      lambda p: jnp.broadcast_to(jnp.eye(stat_shape(p, side)[-1]), stat_shape(p, side)),
      params,
    )
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    return ScaleByShampooState(
      count=jnp.zeros([], jnp.int32),
      stats_l=zeros_stat(0),
      stats_r=zeros_stat(1),
      root_l=eye_stat(0),
      root_r=eye_stat(1),
      graft=zeros(),
      mu=zeros(),
    )

  def update_fn(updates, state, params=None):
    del params
    g32 = jax.tree.map(lambda g: g.astype(jnp.float32), updates)
    gb = jax.tree.map(lambda g: to_blocks(g, block_size), g32)
    stats_l = jax.tree.map(
      lambda s, b: w1 * s + w2 * b @ jnp.swapaxes(b, -1, -2), state.stats_l, gb
    )
    stats_r = jax.tree.map(
      lambda s, b: w1 * s + w2 * jnp.swapaxes(b, -1, -2) @ b, state.stats_r, gb
    )
    refresh = state.count % precondition_every == 0
    root = lambda s, old: jax.lax.cond(
      refresh, lambda x: inverse_pth_root(x, 4, matrix_eps), lambda _: old, s
    )
    root_l = jax.tree.map(root, stats_l, state.root_l)
    root_r = jax.tree.map(root, stats_r, state.root_r)
    if graft == "adagrad":
      acc = jax.tree.map(lambda a, g: a + g * g, state.graft, g32)
      gd = jax.tree.map(lambda a, g: g / (jnp.sqrt(a) + graft_eps), acc, g32)
    else:
      acc, gd = state.graft, g32

    def direction(g, b, rl, rr, d):
      p = from_blocks(rl @ b @ rr, g.shape)
      return p * (jnp.linalg.norm(d) / (jnp.linalg.norm(p) + 1e-16))

    u = jax.tree.map(direction, g32, gb, root_l, root_r, gd)
    mu = jax.tree.map(lambda m, x: b1 * m + (1 - b1) * x, state.mu, u)
    out = jax.tree.map(lambda m, g: m.astype(g.dtype), mu, updates)
    new_state = ScaleByShampooState(
      count=optax.safe_increment(state.count),
      stats_l=stats_l,
      stats_r=stats_r,
      root_l=root_l,
      root_r=root_r,
      graft=acc,
      mu=mu,
    )
    return out, new_state

  return optax.GradientTransformation(init_fn, update_fn)


def shampoo(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 1.0,
  block_size: int = 128,
  precondition_every: int = 10,
  matrix_eps: float = 1e-6,
  graft: Literal["adagrad", "sgd"] = "adagrad",
  weight_decay: float = 0.0,
  fallback_learning_rate: optax.ScalarOrSchedule | None = None,
  label_fn=None,
) -> optax.GradientTransformationExtraArgs:
  r"""Shampoo on matrices, AdamW on the rest.

  Matrices: :math:`\theta \leftarrow \theta - \eta(M_t + \lambda\theta)`.

  Args:
    learning_rate: a scalar or a schedule.
    b1, b2, block_size, precondition_every, matrix_eps, graft: see `scale_by_shampoo`.
    weight_decay: decoupled weight decay :math:`\lambda` of the matrices.
    fallback_learning_rate: learning rate of the AdamW fallback; `learning_rate` when None.
    label_fn: which leaves are matrices; `baselines.matrix.common.matrix_labels` when None.

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  Example:
    >>> opt = shampoo(learning_rate=1e-2)

  References:
    Anil et al., Scalable Second Order Optimization for Deep Learning,
    https://arxiv.org/abs/2002.09018
  """
  fallback_lr = learning_rate if fallback_learning_rate is None else fallback_learning_rate
  return matrix_optimizer(
    optax.chain(
      scale_by_shampoo(
        b1=b1,
        b2=b2,
        block_size=block_size,
        precondition_every=precondition_every,
        matrix_eps=matrix_eps,
        graft=graft,
      ),
      optax.add_decayed_weights(weight_decay),
      optax.scale_by_learning_rate(learning_rate),
    ),
    fallback_adamw(fallback_lr),
    label_fn,
  )
