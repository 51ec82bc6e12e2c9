"""Subspace-Momentum: momentum kept only in a low-rank subspace of the gradient, plain SGD in
its orthogonal complement (Nguyen & Nguyen, 2024)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleBySubspaceMomentumState(NamedTuple):
  """State of `scale_by_subspace_momentum`; per-leaf tuples follow the flattened params."""

  count: jax.Array  # int32 steps taken
  proj: tuple  # (d, r) SVD projector per projected leaf, None for fallback leaves
  mu: tuple  # momentum of R (projected leaves) or of G (fallback leaves)


def scale_by_subspace_momentum(
  *,
  rank: int = 128,
  update_interval: int = 200,
  b1: float = 0.9,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The direction of Subspace-Momentum (with SGD as the outer step).

  For a matrix gradient $G$ (matrix view and reduced side as in `baselines.lowrank.projection`),
  $P$ = the top-$r$ singular vectors of $G$ recomputed every `update_interval` steps,
  $R_t = $ `project(P, G_t)` and `back` = `project_back(P, ·)`:

  $$M_t = β M_{t-1} + (1-β) R_t, \qquad
    u_t = \mathrm{back}(M_t) + \big(G_t - \mathrm{back}(R_t)\big):$$

  momentum in the subspace, the current gradient in its orthogonal complement. Vectors and
  scalars (and leaves masked out by `lowrank_mask`) take momentum on the full gradient,
  $M_t = β M_{t-1} + (1-β) G_t$, $u_t = M_t$.

  Args:
    rank: rank $r$ of the subspace (capped at the reduced dimension).
    update_interval: steps between SVD refreshes of $P$ (the first is at the first step).
    b1: momentum decay $β \in [0, 1)$.
    lowrank_mask: which leaves are projected (pytree of bools or callable); default:
      every leaf with `ndim >= 2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Nguyen & Nguyen, Efficient Adaptive Optimization via Subset-Norm and Subspace-Momentum:
    Fast, Memory-Reduced Training with Convergence Guarantees,
    https://arxiv.org/abs/2411.07120
  """
  if update_interval < 1:
    raise ValueError(f"update_interval must be >= 1, got {update_interval}.")
  if not 0.0 <= b1 < 1.0:
    raise ValueError(f"b1 must be in [0, 1), got {b1}.")

  def init_fn(params):
    lays = pj.layouts(params, rank, lowrank_mask)
    leaves = jax.tree.leaves(params)
    return ScaleBySubspaceMomentumState(
      count=jnp.zeros([], jnp.int32),
      proj=tuple(pj.init_projector(lay) if lay else None for lay in lays),
      mu=tuple(
        jnp.zeros(lay.projected_shape if lay else jnp.shape(p), jnp.float32)
        for p, lay in zip(leaves, lays, strict=True)
      ),
    )

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    lays = pj.layouts(updates, rank, lowrank_mask)
    out, projs, mus = [], [], []
    for i, (g, lay) in enumerate(zip(leaves, lays, strict=True)):
      g32 = g.astype(jnp.float32)
      if lay is None:
        mu = b1 * state.mu[i] + (1 - b1) * g32
        out.append(mu.astype(g.dtype))
        projs.append(None)
        mus.append(mu)
        continue
      gm = pj.to_matrix(g32, lay)
      proj = pj.refresh(
        state.count,
        update_interval,
        state.proj[i],
        lambda gm=gm, lay=lay: pj.svd_projector(gm, lay),
      )
      r = pj.project(proj, gm, lay.side)
      mu = b1 * state.mu[i] + (1 - b1) * r
      u = pj.project_back(proj, mu, lay.side) + gm - pj.project_back(proj, r, lay.side)
      out.append(pj.from_matrix(u, lay).astype(g.dtype))
      projs.append(proj)
      mus.append(mu)
    new_state = ScaleBySubspaceMomentumState(
      optax.safe_increment(state.count), tuple(projs), tuple(mus)
    )
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def subspace_momentum(
  learning_rate: optax.ScalarOrSchedule,
  *,
  rank: int = 128,
  update_interval: int = 200,
  b1: float = 0.9,
  weight_decay: float = 0.0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """Subspace-Momentum SGD with decoupled weight decay; see `scale_by_subspace_momentum`.

  Example:
    >>> opt = subspace_momentum(learning_rate=0.1, rank=128)
  """
  return optax.chain(
    scale_by_subspace_momentum(
      rank=rank, update_interval=update_interval, b1=b1, lowrank_mask=lowrank_mask
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
