"""GWT: Adam whose state lives on the Haar wavelet approximation of the gradient
(Wen et al., 2025)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleByGwtState(NamedTuple):
  """State of `scale_by_gwt`; per-leaf tuples follow the flattened parameters."""

  count: jax.Array  # int32 steps taken
  mu: tuple  # first moment of A (transformed leaves) or of G (fallback leaves)
  nu: tuple  # second moment, same shapes


def scale_by_gwt(
  *,
  levels: int = 2,
  scale: float = 0.25,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The direction of GWT-Adam.

  A matrix gradient $G$ (matrix view as in `baselines.lowrank.projection`) is Haar-transformed
  `levels` times along its last axis (orthonormal Haar, `projection.haar_dwt`):
  $[A_t, D_t^{(1)}, …, D_t^{(L)}]$. Adam keeps its state on the approximation only,

  $$M_t = β_1 M_{t-1} + (1-β_1) A_t,\quad V_t = β_2 V_{t-1} + (1-β_2) A_t^2,$$

  $$\tilde A_t = \frac{M_t}{\sqrt{V_t}+ε},\quad
    \tilde D_t^{(l)} = \frac{D_t^{(l)}}{\mathrm{up}_{2^{L-l}}(\sqrt{V_t})+ε},\quad
    u_t = α \frac{\sqrt{1-β_2^t}}{1-β_1^t}\, \mathrm{IDWT}(\tilde A_t, \tilde D_t),$$

  where $\mathrm{up}_k$ repeats each entry $k$ times along the last axis, so that each
  detail coefficient is normalized by the second moment of the approximation coefficient
  covering the same columns (for one level, $D_t/(\sqrt{V_t}+ε)$ as in the paper). The
  bias correction is applied as a step size, as in the GaLore code GWT builds on.
  Leaves with `ndim < 2`, leaves whose last axis is not divisible by `2**levels`, and
  leaves masked out by `lowrank_mask` take Adam on the full gradient.

  Args:
    levels: $L \ge 1$, the number of Haar levels (state shrinks by $2^L$).
    scale: $α$, the scale of the update.
    b1, b2, eps: Adam's $β_1, β_2, ε$.
    lowrank_mask: which leaves are transformed (pytree of bools or callable); default:
      every leaf with `ndim >= 2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Wen et al., Breaking Memory Limits: Gradient Wavelet Transform Enhances LLMs Training,
    https://arxiv.org/abs/2501.07237
  """
  if levels < 1:
    raise ValueError(f"levels must be >= 1, got {levels}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def leaf_layouts(params):
    flags = pj.resolve_mask(lowrank_mask, params)
    return [
      pj.layout(jnp.shape(p), 1) if f and jnp.shape(p)[-1] % (2**levels) == 0 else None
      for p, f in zip(jax.tree.leaves(params), flags, strict=True)
    ]

  def init_fn(params):
    lays = leaf_layouts(params)
    leaves = jax.tree.leaves(params)

    def zeros(p, lay):
      shape = (lay.m, lay.n // 2**levels) if lay else jnp.shape(p)
      return jnp.zeros(shape, jnp.float32)

    return ScaleByGwtState(
      count=jnp.zeros([], jnp.int32),
      mu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
      nu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
    )

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    lays = leaf_layouts(updates)
    t = (state.count + 1).astype(jnp.float32)
    step = jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    out, mus, nus = [], [], []
    for i, (g, lay) in enumerate(zip(leaves, lays, strict=True)):
      g32 = g.astype(jnp.float32)
      x = g32 if lay is None else pj.haar_dwt(pj.to_matrix(g32, lay), levels)[0]
      mu = b1 * state.mu[i] + (1 - b1) * x
      nu = b2 * state.nu[i] + (1 - b2) * x**2
      denom = jnp.sqrt(nu) + eps
      if lay is None:
        u = step * mu / denom
      else:
        _, details = pj.haar_dwt(pj.to_matrix(g32, lay), levels)
        root = jnp.sqrt(nu)
        scaled = [
          d / (jnp.repeat(root, 2 ** (levels - lvl), axis=-1) + eps)
          for lvl, d in enumerate(details, start=1)
        ]
        u = pj.from_matrix(scale * step * pj.haar_idwt(mu / denom, scaled), lay)
      out.append(u.astype(g.dtype))
      mus.append(mu)
      nus.append(nu)
    new_state = ScaleByGwtState(optax.safe_increment(state.count), tuple(mus), tuple(nus))
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def gwt(
  learning_rate: optax.ScalarOrSchedule,
  *,
  levels: int = 2,
  scale: float = 0.25,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """GWT-Adam with decoupled weight decay; see `scale_by_gwt`.

  Example:
    >>> opt = gwt(learning_rate=1e-2, levels=2)
  """
  return optax.chain(
    scale_by_gwt(levels=levels, scale=scale, b1=b1, b2=b2, eps=eps, lowrank_mask=lowrank_mask),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
