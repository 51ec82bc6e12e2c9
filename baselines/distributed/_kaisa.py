"""KAISA: K-FAC whose work is placed on workers by a grad-worker fraction (T3-05).

Data-parallel K-FAC over N workers (Pauloski et al.). Every step each worker computes its
Kronecker factors from its own data and the factors are all-reduced, as is the gradient. For
each layer one worker, chosen greedily by cost (the `assignment`), computes the damped
inverses; with G = max(1, N * fraction) gradient workers, the N workers form a G x (N/G) grid:
the layer's gradient workers are the column of its inverse worker, which receives the
inverses and preconditions the gradient; each of them broadcasts the preconditioned gradient
to its row (its receivers). Fraction 1/N (MEM-OPT): one copy of every inverse, one
preconditioning, a broadcast of every preconditioned gradient. Fraction 1 (COMM-OPT): every
worker holds every inverse and preconditions, no gradient broadcast. The update is the same
for every fraction; memory (inverse copies) and communication trade against each other.

The factors are those of the registry's `kfac` (`baselines.curvature._kfac`: from each
worker's weight gradient, exact for one example; the extra args expose no activations), so
with one worker (`num_workers=None`) KAISA is `kfac`. The family's conventions
(`baselines.distributed.communication`): gradients `(num_workers, *p.shape)`, one update; the
state's inverse copies carry a leading axis of G (split over the mesh when G = N); `bits`: the
mean over workers of the bits each sent in the last step (32 per float; all-reduces counted as
one message per worker, a broadcast once per sender), `assignment` says who sends what.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.axes import matrix_shape
from baselines.curvature._kfac import damped_inverse, gradient_factors
from baselines.distributed import communication as dist


class ScaleByKaisaState(NamedTuple):
  """State of `scale_by_kaisa` (per leaf as `ScaleByKfacState`; inverses per gradient worker)."""

  count: jax.Array  # int32 step count
  left: optax.Updates  # float32 (m, m) all-reduced EMA of A (vectors: EMA of g²)
  right: optax.Updates  # float32 (n, n) EMA of G (vectors: unused, shape ())
  left_inv: optax.Updates  # float32 (G, m, m): the inverse on each of G gradient workers
  right_inv: optax.Updates  # float32 (G, n, n)
  bits: jax.Array  # float32 mean bits sent per worker in the last step


class Assignment(NamedTuple):
  """Who does what (static, per parameter leaf in `jax.tree.leaves` order)."""

  grad_workers: int  # G
  inverse_worker: tuple[int, ...]  # the worker computing each leaf's inverses
  grad_worker_group: tuple[tuple[int, ...], ...]  # each leaf's G gradient workers


def grad_workers(num_workers: int, fraction: float) -> int:
  """G = max(1, N * fraction), which must be an integer dividing N."""
  g = max(1.0, num_workers * fraction)
  if g != int(g) or num_workers % int(g):
    raise ValueError(
      f"num_workers * grad_worker_fraction must be an integer dividing num_workers; got "
      f"{num_workers} * {fraction} = {num_workers * fraction}."
    )
  return int(g)


def leaf_sizes(p) -> tuple[int, int]:
  """(factor floats, cost of the inverses) of one leaf: m² + n², m³ + n³ (vectors: d, d)."""
  ms = matrix_shape(p.shape)
  if ms is None:
    return int(np.prod(p.shape)), int(np.prod(p.shape))
  return ms[0] ** 2 + ms[1] ** 2, ms[0] ** 3 + ms[1] ** 3


def assignment(params: Any, num_workers: int, fraction: float) -> Assignment:
  """The authors' greedy placement: leaves by decreasing inverse cost, each to the gradient-
  worker group (grid column) with the least load, then to that group's least-loaded worker."""
  g = grad_workers(num_workers, fraction)
  cols = num_workers // g
  groups = [tuple(range(c, num_workers, cols)) for c in range(cols)]
  costs = [leaf_sizes(p)[1] for p in jax.tree.leaves(params)]
  load = [0.0] * num_workers
  inverse, group_of = [0] * len(costs), [()] * len(costs)
  for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
    group = min(groups, key=lambda grp: sum(load[w] for w in grp))
    worker = min(group, key=lambda w: load[w])
    load[worker] += costs[i]
    inverse[i], group_of[i] = worker, group
  return Assignment(g, tuple(inverse), tuple(group_of))


def step_bits(params: Any, num_workers: int, fraction: float) -> tuple[float, float]:
  """(mean bits per worker of a step that refreshes the inverses, of one that does not)."""
  g = grad_workers(num_workers, fraction)
  leaves = jax.tree.leaves(params)
  grads = sum(int(np.prod(p.shape)) for p in leaves)
  factors = sum(leaf_sizes(p)[0] for p in leaves)
  base = num_workers * (grads + factors)  # the two all-reduces
  if g < num_workers:  # each gradient worker broadcasts the preconditioned gradient to its row
    base += g * grads
  inverses = factors if g > 1 else 0  # the inverse worker broadcasts to its column
  return 32.0 * (base + inverses) / num_workers, 32.0 * base / num_workers


def scale_by_kaisa(
  num_workers: int | None = None,
  grad_worker_fraction: float = 1.0,
  decay: float = 0.95,
  damping: float = 1e-3,
  inverse_update_interval: jax.typing.ArrayLike = 10,
) -> optax.GradientTransformation:
  r"""K-FAC's direction over N workers, its work placed by the grad-worker fraction.

  .. math::
    A_t = ρ A_{t-1} + (1-ρ) \frac1N \sum_w A^{(w)},\quad
    G_t = ρ G_{t-1} + (1-ρ) \frac1N \sum_w G^{(w)},\quad
    u = (A_t + \sqrt{λ} I)^{-1} \bar g (G_t + \sqrt{λ} I)^{-1},

  with $A^{(w)}, G^{(w)}$ worker w's gradient factors (`kfac`'s), $\bar g$ the all-reduced
  gradient, the inverses refreshed every `inverse_update_interval` steps (first at step 0)
  on their inverse worker and copied to the G gradient workers, each of which preconditions
  (a vmap over the copies). Vectors: the diagonal Fisher, as `kfac`.

  Args:
    num_workers: N (static), or None for gradients without a worker axis (one worker).
    grad_worker_fraction: G / N in [1/N, 1]: 1/N MEM-OPT, 1 COMM-OPT (the default in the
      authors' code), between: HYBRID-OPT.
    decay, damping, inverse_update_interval: as `scale_by_kfac`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Pauloski et al., KAISA: An Adaptive Second-Order Optimizer Framework for Deep Neural
    Networks, https://arxiv.org/abs/2107.01739 (SC 2021)
  """
  dist.check_num_workers(num_workers)
  n = dist.size(num_workers)
  if not 0 < grad_worker_fraction <= 1:
    raise ValueError(f"grad_worker_fraction must be in (0, 1], got {grad_worker_fraction}.")
  g = grad_workers(n, grad_worker_fraction)
  if not 0 <= decay < 1:
    raise ValueError(f"decay must be in [0, 1), got {decay}.")
  if damping <= 0:
    raise ValueError(f"damping must be > 0, got {damping}.")
  if isinstance(inverse_update_interval, int) and inverse_update_interval < 1:
    raise ValueError(f"inverse_update_interval must be >= 1, got {inverse_update_interval}.")
  root = damping**0.5

  def init_fn(params):
    def factor(p, side):
      ms = matrix_shape(p.shape)
      if ms is None:
        return jnp.zeros(p.shape if side == 0 else (), jnp.float32)
      return jnp.zeros((ms[side],) * 2, jnp.float32)

    left = jax.tree.map(lambda p: factor(p, 0), params)
    right = jax.tree.map(lambda p: factor(p, 1), params)
    copies = lambda t: jax.tree.map(lambda x: jnp.zeros((g, *x.shape), jnp.float32), t)
    return ScaleByKaisaState(
      jnp.zeros((), jnp.int32), left, right, copies(left), copies(right), jnp.zeros(())
    )

  def update_fn(updates, state, params=None):
    del params
    grads = dist.with_worker_axis(updates, num_workers)
    refresh = state.count % inverse_update_interval == 0

    def one(gw, a, s, a_inv, s_inv):
      gw = gw.astype(jnp.float32)
      mean = jnp.mean(gw, 0)  # the gradient all-reduce
      ms = matrix_shape(mean.shape)
      if ms is None:
        a = decay * a + (1 - decay) * jnp.mean(gw * gw, 0)
        a_inv = jnp.where(refresh, jnp.broadcast_to(1.0 / (a + damping), a_inv.shape), a_inv)
        return jax.vmap(lambda inv: mean * inv)(a_inv), a, s, a_inv, s_inv
      fa, fs = jax.vmap(lambda x: gradient_factors(x.reshape(ms)))(gw)
      a = decay * a + (1 - decay) * jnp.mean(fa, 0)  # the factor all-reduce
      s = decay * s + (1 - decay) * jnp.mean(fs, 0)
      a_inv, s_inv = jax.lax.cond(  # once, on the inverse worker; copies to the G workers
        refresh,
        lambda: tuple(jnp.broadcast_to(damped_inverse(f, root), (g, *f.shape)) for f in (a, s)),
        lambda: (a_inv, s_inv),
      )
      mat = mean.reshape(ms)
      pre = jax.vmap(lambda ai, si: (ai @ mat @ si).reshape(mean.shape))(a_inv, s_inv)
      return pre, a, s, a_inv, s_inv

    flat, treedef = jax.tree.flatten(grads)
    parts = [
      one(*args)
      for args in zip(
        flat,
        treedef.flatten_up_to(state.left),
        treedef.flatten_up_to(state.right),
        treedef.flatten_up_to(state.left_inv),
        treedef.flatten_up_to(state.right_inv),
        strict=True,
      )
    ]
    pre, left, right, left_inv, right_inv = (
      treedef.unflatten([p[i] for p in parts]) for i in range(5)
    )
    # Every receiver takes its row's gradient worker's copy; all copies are equal.
    out = jax.tree.map(lambda u, x: u[0].astype(x.dtype), pre, updates)
    one_worker = jax.tree.map(lambda x: x[0], grads)
    with_refresh, without = step_bits(one_worker, n, grad_worker_fraction)
    bits = jnp.where(refresh, with_refresh, without).astype(jnp.float32)
    return out, ScaleByKaisaState(
      optax.safe_increment(state.count), left, right, left_inv, right_inv, bits
    )

  return optax.GradientTransformation(init_fn, update_fn)


def kaisa(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  num_workers: int | None = None,
  grad_worker_fraction: float = 1.0,
  decay: float = 0.95,
  damping: float = 1e-3,
  inverse_update_interval: jax.typing.ArrayLike = 10,
  momentum: float = 0.9,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """KAISA: `kfac`'s chain with `scale_by_kaisa` (the weight decay λ θ broadcasts over the
  worker axis: it is added to every worker's gradient, so to the mean, as in `kfac`)."""
  return optax.chain(
    optax.add_decayed_weights(weight_decay),
    scale_by_kaisa(num_workers, grad_worker_fraction, decay, damping, inverse_update_interval),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )
