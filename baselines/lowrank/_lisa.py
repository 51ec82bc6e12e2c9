"""LISA: layer-wise importance sampling; AdamW on the always-trained layers plus a few
middle layers sampled every period (Pan et al., 2024)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleByLisaState(NamedTuple):
  """State of `scale_by_lisa`."""

  count: jax.Array  # int32 steps taken
  key: jax.Array  # PRNG key of the layer draws
  leaf_count: optax.Updates  # int32 per leaf: the steps that leaf was trained
  mu: optax.Updates  # AdamW first moment
  nu: optax.Updates  # AdamW second moment


def scale_by_lisa(
  *,
  num_active: int = 2,
  period: int = 20,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  layer_fn: Callable[[Any], Any] | None = None,
  seed: int = 0,
) -> optax.GradientTransformation:
  r"""The direction of LISA.

  `layer_fn(params)` gives one int per leaf: a layer id $0 … L-1$, or $-1$ for leaves that
  are always trained (LISA keeps the embeddings and the head trainable); default: each leaf
  its own layer. Every `period` steps, $γ$ = `num_active` of the $L$ layers are drawn
  uniformly without replacement (from the state's key and the period index); the others
  are frozen. A trained leaf takes an AdamW step with its own step count $τ$ (the number of
  steps it has been trained, as PyTorch's AdamW skips frozen parameters),

  $$M = β_1 M + (1-β_1) G,\quad V = β_2 V + (1-β_2) G^2,\quad
    u = \frac{M/(1-β_1^τ)}{\sqrt{V/(1-β_2^τ)} + ε} + λ θ,$$

  and a frozen leaf $u = 0$ with its moments kept for its next activation.

  Args:
    num_active: $γ$, the number of sampled layers per period.
    period: $K$, steps between draws.
    b1, b2, eps: AdamW's $β_1, β_2, ε$.
    weight_decay: $λ$, decoupled weight decay of the trained leaves.
    layer_fn: `params -> pytree of int` layer ids ($-1$: always trained); default: each
      leaf its own layer.
    seed: seed of the draws.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params` when `weight_decay > 0`.

  References:
    Pan et al., LISA: Layerwise Importance Sampling for Memory-Efficient Large Language
    Model Fine-Tuning, https://arxiv.org/abs/2403.17919
  """
  if num_active < 1 or period < 1:
    raise ValueError(f"num_active and period must be >= 1, got {num_active}, {period}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.float32), params)
    return ScaleByLisaState(
      count=jnp.zeros([], jnp.int32),
      key=jax.random.PRNGKey(seed),
      leaf_count=jax.tree.map(lambda p: jnp.zeros([], jnp.int32), params),
      mu=zeros(),
      nu=zeros(),
    )

  def update_fn(updates, state, params=None):
    ids = pj.group_ids(updates, layer_fn)
    if weight_decay and params is None:
      raise ValueError("scale_by_lisa with weight_decay > 0 needs params.")
    num_layers = max([*ids, -1]) + 1
    if num_layers:
      layers = pj.sampled_groups(state.count, period, num_layers, num_active, state.key)
    leaves, treedef = jax.tree.flatten(updates)
    ps = jax.tree.leaves(params) if params is not None else [None] * len(leaves)
    flat = zip(
      leaves,
      jax.tree.leaves(state.leaf_count),
      jax.tree.leaves(state.mu),
      jax.tree.leaves(state.nu),
      ps,
      ids,
      strict=True,
    )
    out, counts, mus, nus = [], [], [], []
    for g, c, mu, nu, p, lid in flat:
      on = jnp.asarray(True) if lid < 0 else layers[lid]
      g32 = g.astype(jnp.float32)
      c_t = c + on.astype(jnp.int32)
      tau = jnp.maximum(c_t, 1).astype(jnp.float32)
      mu_t = b1 * mu + (1 - b1) * g32
      nu_t = b2 * nu + (1 - b2) * g32**2
      u = (mu_t / (1 - b1**tau)) / (jnp.sqrt(nu_t / (1 - b2**tau)) + eps)
      if weight_decay:
        u = u + weight_decay * p.astype(jnp.float32)
      out.append(jnp.where(on, u, 0.0).astype(g.dtype))
      counts.append(c_t)
      mus.append(jnp.where(on, mu_t, mu))
      nus.append(jnp.where(on, nu_t, nu))
    unflat = lambda xs: jax.tree.unflatten(treedef, xs)
    new_state = ScaleByLisaState(
      optax.safe_increment(state.count), state.key, unflat(counts), unflat(mus), unflat(nus)
    )
    return unflat(out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def lisa(
  learning_rate: optax.ScalarOrSchedule,
  *,
  num_active: int = 2,
  period: int = 20,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  layer_fn: Callable[[Any], Any] | None = None,
  seed: int = 0,
) -> optax.GradientTransformation:
  """LISA (AdamW inside); see `scale_by_lisa`.

  Example:
    >>> opt = lisa(learning_rate=1e-5, num_active=2, period=20)
  """
  return optax.chain(
    scale_by_lisa(
      num_active=num_active,
      period=period,
      b1=b1,
      b2=b2,
      eps=eps,
      weight_decay=weight_decay,
      layer_fn=layer_fn,
      seed=seed,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )
