"""Fira: low-rank Adam state, full-rank update, via norm-based scaling of the residual
gradient and a norm-growth limiter (Chen et al., 2024)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleByFiraState(NamedTuple):
  """State of `scale_by_fira`; per-leaf tuples follow the flattened parameters."""

  count: jax.Array  # int32 steps taken
  proj: tuple  # (d, r) SVD projector per projected leaf, None for fallback leaves
  mu: tuple  # first moment of R (projected leaves) or of G (fallback leaves)
  nu: tuple  # second moment, same shapes
  prev_norm: tuple  # norm-growth limiter's last norm per projected leaf


def scale_by_fira(
  *,
  rank: int = 128,
  update_interval: int = 200,
  scale: float = 0.25,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  norm_growth_gamma: float = 1.01,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The direction of Fira.

  For a matrix gradient $G$ (matrix view and reduced side as in `baselines.lowrank.projection`),
  $P$ = the top-$r$ singular vectors of $G$ recomputed every `update_interval` steps, and
  $R_t = $ `project(P, G_t)`:

  $$M_t = β_1 M_{t-1} + (1-β_1) R_t,\quad V_t = β_2 V_{t-1} + (1-β_2) R_t^2,\quad
    ψ(R_t) = M_t / (\sqrt{V_t} + ε),$$

  $$φ_j = \lVert ψ(R_t)_j \rVert / (\lVert R_{t,j} \rVert + 10^{-8})$$

  over the channels $j$ of the unreduced side; the residual $S_t = (G_t - P R_t)\,
  \mathrm{diag}(φ)$ (back-projection as in `project_back`) passes the norm-growth limiter
  ($S_t \leftarrow S_t / (\max(\lVert S_t\rVert / \lVert S_{t-1}\rVert, γ)/γ)$ from the
  second step on), and

  $$u_t = \frac{\sqrt{1-β_2^t}}{1-β_1^t}\,\big(α\, P ψ(R_t) + S_t\big).$$

  The residual is the paper's $G_t - P R_t$ (the authors' code subtracts $α P R_t$).
  Vectors and scalars (and leaves masked out by `lowrank_mask`) take Adam on the full
  gradient, $\frac{\sqrt{1-β_2^t}}{1-β_1^t} M_t/(\sqrt{V_t}+ε)$.

  Args:
    rank: rank $r$ of the projection (capped at the reduced dimension).
    update_interval: steps between SVD refreshes of $P$ (the first is at the first step).
    scale: $α$, the scale of the low-rank part (GaLore's).
    b1, b2, eps: Adam's $β_1, β_2, ε$.
    norm_growth_gamma: $γ > 1$ of the limiter.
    lowrank_mask: which leaves are projected (pytree of bools or callable); default:
      every leaf with `ndim >= 2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Chen et al., Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank Constraint?,
    https://arxiv.org/abs/2410.01623
  """
  if update_interval < 1:
    raise ValueError(f"update_interval must be >= 1, got {update_interval}.")
  if norm_growth_gamma <= 1.0:
    raise ValueError(f"norm_growth_gamma must be > 1, got {norm_growth_gamma}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    lays = pj.layouts(params, rank, lowrank_mask)
    leaves = jax.tree.leaves(params)
    zeros = lambda p, lay: jnp.zeros(lay.projected_shape if lay else jnp.shape(p), jnp.float32)
    return ScaleByFiraState(
      count=jnp.zeros([], jnp.int32),
      proj=tuple(pj.init_projector(lay) if lay else None for lay in lays),
      mu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
      nu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
      prev_norm=tuple(jnp.zeros([], jnp.float32) if lay else None for lay in lays),
    )

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    lays = pj.layouts(updates, rank, lowrank_mask)
    t = (state.count + 1).astype(jnp.float32)
    step = jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    first = state.count == 0
    out, new = [], []
    for i, (g, lay) in enumerate(zip(leaves, lays, strict=True)):
      g32 = g.astype(jnp.float32)
      if lay is None:
        mu = b1 * state.mu[i] + (1 - b1) * g32
        nu = b2 * state.nu[i] + (1 - b2) * g32**2
        out.append((step * mu / (jnp.sqrt(nu) + eps)).astype(g.dtype))
        new.append((None, mu, nu, None))
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
      nu = b2 * state.nu[i] + (1 - b2) * r**2
      psi = mu / (jnp.sqrt(nu) + eps)
      phi = pj.channel_norms(psi, lay.side, "channel") / (
        pj.channel_norms(r, lay.side, "channel") + 1e-8
      )
      resid = (gm - pj.project_back(proj, r, lay.side)) * phi
      resid, norm = pj.limit_norm_growth(resid, state.prev_norm[i], first, norm_growth_gamma)
      u = step * (scale * pj.project_back(proj, psi, lay.side) + resid)
      out.append(pj.from_matrix(u, lay).astype(g.dtype))
      new.append((proj, mu, nu, norm))
    projs, mus, nus, norms = pj.unzip(new, 4)
    new_state = ScaleByFiraState(optax.safe_increment(state.count), projs, mus, nus, norms)
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def fira(
  learning_rate: optax.ScalarOrSchedule,
  *,
  rank: int = 128,
  update_interval: int = 200,
  scale: float = 0.25,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  norm_growth_gamma: float = 1.01,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """Fira-Adam with decoupled weight decay; see `scale_by_fira`.

  Example:
    >>> opt = fira(learning_rate=1e-2, rank=128)
  """
  return optax.chain(
    scale_by_fira(
      rank=rank,
      update_interval=update_interval,
      scale=scale,
      b1=b1,
      b2=b2,
      eps=eps,
      norm_growth_gamma=norm_growth_gamma,
      lowrank_mask=lowrank_mask,
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
