"""APOLLO and APOLLO-Mini: AdamW's scaling coarsened to channels (or the tensor), estimated
from Adam run on a random projection of the gradient (Zhu et al., 2024)."""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleByApolloState(NamedTuple):
  """State of `scale_by_apollo`; per-leaf tuples follow the flattened parameters."""

  count: jax.Array  # int32 steps taken
  key: jax.Array  # PRNG key the random projections are folded from
  proj: tuple  # (d, r) random projector per projected leaf, None for fallback leaves
  mu: tuple  # first moment of R (projected leaves) or of G (fallback leaves)
  nu: tuple  # second moment, same shapes
  prev_norm: tuple  # norm-growth limiter's last norm per projected leaf


def scale_by_apollo(
  *,
  rank: int = 256,
  update_interval: int = 200,
  scale: float = 1.0,
  scale_type: Literal["channel", "tensor"] = "channel",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  norm_growth_gamma: float | None = 1.01,
  seed: int = 0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The direction of APOLLO (APOLLO-Mini with `rank=1, scale_type="tensor"`).

  For a matrix gradient $G$ (see `baselines.lowrank.projection` for the matrix view and the
  reduced side), with a random projector $P$ (entries $N(0, 1/r)$) redrawn every
  `update_interval` steps and $R_t = $ `project(P, G_t)`:

  $$M_t = β_1 M_{t-1} + (1-β_1) R_t,\quad V_t = β_2 V_{t-1} + (1-β_2) R_t^2,\quad
    \tilde R_t = M_t / (\sqrt{V_t} + ε),$$

  $$s_j = \lVert \tilde R_{t,j} \rVert / (\lVert R_{t,j} \rVert + 10^{-8})$$

  over the channels $j$ of the unreduced side (`"channel"`), or one ratio of whole-tensor
  norms (`"tensor"`); then $S_t = G_t\,\mathrm{diag}(s)$ passes Fira's norm-growth limiter
  ($\lVert S_t\rVert \le γ \lVert S_{t-1}\rVert$, skipped when `norm_growth_gamma` is None),
  and the direction is

  $$u_t = α\, \frac{\sqrt{1-β_2^t}}{1-β_1^t}\, S_t$$

  ($α$ = `scale`; the bias correction is applied as a step size, as in the authors' code).
  Vectors and scalars (and leaves masked out by `lowrank_mask`) take Adam:
  $\frac{\sqrt{1-β_2^t}}{1-β_1^t} M_t / (\sqrt{V_t} + ε)$ on the full gradient.

  Args:
    rank: rank $r$ of the auxiliary projection (capped at the reduced dimension).
    update_interval: steps between redraws of $P$ (the first draw is at the first step).
    scale: $α$; the paper uses $\sqrt{128}$ for APOLLO-Mini.
    scale_type: `"channel"` (APOLLO) or `"tensor"` (APOLLO-Mini).
    b1, b2, eps: Adam's $β_1, β_2, ε$ on the projected gradient.
    norm_growth_gamma: $γ$ of the norm-growth limiter, or None to turn it off.
    seed: seed of the random projections.
    lowrank_mask: which leaves are projected (pytree of bools or callable); default:
      every leaf with `ndim >= 2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Zhu et al., APOLLO: SGD-like Memory, AdamW-level Performance,
    https://arxiv.org/abs/2412.05270
  """
  if scale_type not in ("channel", "tensor"):
    raise ValueError(f"scale_type must be 'channel' or 'tensor', got {scale_type!r}.")
  if update_interval < 1:
    raise ValueError(f"update_interval must be >= 1, got {update_interval}.")
  if norm_growth_gamma is not None and norm_growth_gamma <= 1.0:
    raise ValueError(f"norm_growth_gamma must be > 1 or None, got {norm_growth_gamma}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    lays = pj.layouts(params, rank, lowrank_mask)
    leaves = jax.tree.leaves(params)
    zeros = lambda p, lay: jnp.zeros(lay.projected_shape if lay else jnp.shape(p), jnp.float32)
    return ScaleByApolloState(
      count=jnp.zeros([], jnp.int32),
      key=jax.random.PRNGKey(seed),
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
      key = pj.refresh_key(state.key, i, state.count, update_interval)
      proj = pj.refresh(
        state.count,
        update_interval,
        state.proj[i],
        lambda k=key, lay=lay: pj.random_projector(k, lay),
      )
      r = pj.project(proj, gm, lay.side)
      mu = b1 * state.mu[i] + (1 - b1) * r
      nu = b2 * state.nu[i] + (1 - b2) * r**2
      r_tilde = mu / (jnp.sqrt(nu) + eps)
      s = pj.channel_norms(r_tilde, lay.side, scale_type) / (
        pj.channel_norms(r, lay.side, scale_type) + 1e-8
      )
      scaled = gm * s
      norm = state.prev_norm[i]
      if norm_growth_gamma is not None:
        scaled, norm = pj.limit_norm_growth(scaled, norm, first, norm_growth_gamma)
      out.append(pj.from_matrix(scale * step * scaled, lay).astype(g.dtype))
      new.append((proj, mu, nu, norm))
    projs, mus, nus, norms = pj.unzip(new, 4)
    new_state = ScaleByApolloState(
      optax.safe_increment(state.count), state.key, projs, mus, nus, norms
    )
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def apollo(
  learning_rate: optax.ScalarOrSchedule,
  *,
  rank: int = 256,
  update_interval: int = 200,
  scale: float = 1.0,
  scale_type: Literal["channel", "tensor"] = "channel",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  norm_growth_gamma: float | None = 1.01,
  seed: int = 0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """APOLLO with decoupled weight decay; see `scale_by_apollo`.

  The weights decay before the step (AdamW's order, optax's `add_decayed_weights`). The
  authors' code (zhuhanqing/APOLLO `apollo_torch/apollo.py`) decays the stepped weights,
  θ ← (θ − η d)(1 − ηλ): a difference of η²λ d, second order (relative ηλ), kept.

  Example:
    >>> opt = apollo(learning_rate=1e-2, rank=256)
  """
  return optax.chain(
    scale_by_apollo(
      rank=rank,
      update_interval=update_interval,
      scale=scale,
      scale_type=scale_type,
      b1=b1,
      b2=b2,
      eps=eps,
      norm_growth_gamma=norm_growth_gamma,
      seed=seed,
      lowrank_mask=lowrank_mask,
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )


def apollo_mini(
  learning_rate: optax.ScalarOrSchedule,
  *,
  update_interval: int = 200,
  scale: float = math.sqrt(128.0),
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  norm_growth_gamma: float | None = 1.01,
  seed: int = 0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """APOLLO-Mini: rank-1 projection and one tensor-wise scale, `α = √128`; see
  `scale_by_apollo`.

  Example:
    >>> opt = apollo_mini(learning_rate=1e-2)
  """
  return apollo(
    learning_rate,
    rank=1,
    update_interval=update_interval,
    scale=scale,
    scale_type="tensor",
    b1=b1,
    b2=b2,
    eps=eps,
    weight_decay=weight_decay,
    norm_growth_gamma=norm_growth_gamma,
    seed=seed,
    lowrank_mask=lowrank_mask,
  )
