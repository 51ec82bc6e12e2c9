"""Online Subspace Descent: GaLore-style projected Adam whose projector follows the gradients
by online PCA instead of periodic SVDs (Liang et al., 2024)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleByOnlineSubspaceDescentState(NamedTuple):
  """State of `scale_by_online_subspace_descent`; per-leaf tuples follow the flat params."""

  count: jax.Array  # int32 steps taken
  proj: tuple  # (d, r) projector per projected leaf, None for fallback leaves
  mu: tuple  # first moment of R (projected leaves) or of G (fallback leaves)
  nu: tuple  # second moment, same shapes


def scale_by_online_subspace_descent(
  *,
  rank: int = 128,
  proj_lr: float = 0.1,
  scale: float = 0.25,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The direction of Online Subspace Descent (with Adam in the subspace).

  For a matrix gradient $G$ (matrix view and reduced side as in `baselines.lowrank.projection`):
  $P_1$ = the top-$r$ singular vectors of $G_1$; afterwards, each step first moves $P$ by
  one gradient step of online PCA on the current gradient,

  $$P_t = P_{t-1} - η_P\, \nabla_P \lVert \hat G_t - P P^\top \hat G_t \rVert_F^2
    \big|_{P_{t-1}}, \qquad \hat G_t = G_t / \lVert G_t \rVert_F,$$

  (written on the reduced side; normalizing $G$ keeps the tracked subspace and makes
  $η_P$ scale-free), then with $R_t = $ `project(P_t, G_t)`:

  $$M_t = β_1 M_{t-1} + (1-β_1) R_t,\ V_t = β_2 V_{t-1} + (1-β_2) R_t^2,\
    u_t = α \frac{\sqrt{1-β_2^t}}{1-β_1^t}\, \mathrm{back}\big(M_t / (\sqrt{V_t}+ε)\big).$$

  $P$ is not re-orthonormalized (the PCA loss pulls it towards orthonormal columns).
  Vectors and scalars (and leaves masked out by `lowrank_mask`) take Adam on the full
  gradient, $\frac{\sqrt{1-β_2^t}}{1-β_1^t} M_t/(\sqrt{V_t}+ε)$.

  Args:
    rank: rank $r$ of the projection (capped at the reduced dimension).
    proj_lr: $η_P$, step size of the online PCA update.
    scale: $α$, the scale of the projected-back update (GaLore's).
    b1, b2, eps: Adam's $β_1, β_2, ε$.
    lowrank_mask: which leaves are projected (pytree of bools or callable); default:
      every leaf with `ndim >= 2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Liang et al., Memory-Efficient LLM Training with Online Subspace Descent,
    https://arxiv.org/abs/2408.12857
  """
  if proj_lr <= 0:
    raise ValueError(f"proj_lr must be > 0, got {proj_lr}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    lays = pj.layouts(params, rank, lowrank_mask)
    leaves = jax.tree.leaves(params)
    zeros = lambda p, lay: jnp.zeros(lay.projected_shape if lay else jnp.shape(p), jnp.float32)
    return ScaleByOnlineSubspaceDescentState(
      count=jnp.zeros([], jnp.int32),
      proj=tuple(pj.init_projector(lay) if lay else None for lay in lays),
      mu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
      nu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
    )

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    lays = pj.layouts(updates, rank, lowrank_mask)
    t = (state.count + 1).astype(jnp.float32)
    step = jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    out, new = [], []
    for i, (g, lay) in enumerate(zip(leaves, lays, strict=True)):
      g32 = g.astype(jnp.float32)
      if lay is None:
        mu = b1 * state.mu[i] + (1 - b1) * g32
        nu = b2 * state.nu[i] + (1 - b2) * g32**2
        out.append((step * mu / (jnp.sqrt(nu) + eps)).astype(g.dtype))
        new.append((None, mu, nu))
        continue
      gm = pj.to_matrix(g32, lay)
      proj = jax.lax.cond(
        state.count == 0,
        lambda gm=gm, lay=lay: pj.svd_projector(gm, lay),
        lambda gm=gm, lay=lay, p=state.proj[i]: pj.online_pca_step(p, gm, lay.side, proj_lr),
      )
      r = pj.project(proj, gm, lay.side)
      mu = b1 * state.mu[i] + (1 - b1) * r
      nu = b2 * state.nu[i] + (1 - b2) * r**2
      u = scale * step * pj.project_back(proj, mu / (jnp.sqrt(nu) + eps), lay.side)
      out.append(pj.from_matrix(u, lay).astype(g.dtype))
      new.append((proj, mu, nu))
    projs, mus, nus = pj.unzip(new, 3)
    new_state = ScaleByOnlineSubspaceDescentState(
      optax.safe_increment(state.count), projs, mus, nus
    )
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def online_subspace_descent(
  learning_rate: optax.ScalarOrSchedule,
  *,
  rank: int = 128,
  proj_lr: float = 0.1,
  scale: float = 0.25,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """Online Subspace Descent (Adam) with decoupled weight decay; see
  `scale_by_online_subspace_descent`.

  Example:
    >>> opt = online_subspace_descent(learning_rate=1e-2, rank=128)
  """
  return optax.chain(
    scale_by_online_subspace_descent(
      rank=rank,
      proj_lr=proj_lr,
      scale=scale,
      b1=b1,
      b2=b2,
      eps=eps,
      lowrank_mask=lowrank_mask,
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
