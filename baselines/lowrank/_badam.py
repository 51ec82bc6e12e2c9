"""BAdam: block-coordinate descent with Adam as the inner solver (Luo et al., 2024)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.lowrank import projection as pj


class ScaleByBadamState(NamedTuple):
  """State of `scale_by_badam`."""

  count: jax.Array  # int32 steps taken
  key: jax.Array  # PRNG key of the random block orders
  mu: optax.Updates  # Adam first moment (used for the active block only)
  nu: optax.Updates  # Adam second moment


def scale_by_badam(
  *,
  switch_every: int = 100,
  order: Literal["random", "ascending", "descending"] = "random",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  block_fn: Callable[[Any], Any] | None = None,
  seed: int = 0,
) -> optax.GradientTransformation:
  r"""The direction of BAdam.

  The parameters are split into $D$ blocks (`block_fn(params)` gives a block id
  $0 … D-1$ per leaf, e.g. the transformer layer; default: one block per leaf in flattening
  order). Steps are grouped in rounds of $K$ = `switch_every`; round $k$ trains block
  $π_e(k \bmod D)$ of block-epoch $e = \lfloor k / D \rfloor$, where $π_e$ is ascending,
  descending, or a random permutation redrawn each block-epoch. At the start of every
  round the Adam state restarts from zero (BAdam drops the optimizer state on a switch);
  with $τ = (t-1 \bmod K) + 1$ the active block takes

  $$M = β_1 M + (1-β_1) G,\quad V = β_2 V + (1-β_2) G^2,\quad
    u = \frac{M/(1-β_1^τ)}{\sqrt{V/(1-β_2^τ)} + ε} + λ θ,$$

  and every other block $u = 0$ (frozen: no update, no weight decay). The moments of all
  blocks stay allocated (static shapes under `jit`); only the active block's are used.

  Args:
    switch_every: $K$, Adam steps per block.
    order: `"random"` (random reshuffling), `"ascending"` or `"descending"`.
    b1, b2, eps: Adam's $β_1, β_2, ε$.
    weight_decay: $λ$, decoupled weight decay of the active block (AdamW).
    block_fn: `params -> pytree of int` block ids; default: each leaf its own block.
    seed: seed of the random orders.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params` when `weight_decay > 0`.

  References:
    Luo et al., BAdam: A Memory Efficient Full Parameter Optimization Method for Large
    Language Models, https://arxiv.org/abs/2404.02827
  """
  if switch_every < 1:
    raise ValueError(f"switch_every must be >= 1, got {switch_every}.")
  if order not in ("random", "ascending", "descending"):
    raise ValueError(f"order must be 'random', 'ascending' or 'descending', got {order!r}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")

  def init_fn(params):
    zeros = lambda: jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.float32), params)
    return ScaleByBadamState(jnp.zeros([], jnp.int32), jax.random.PRNGKey(seed), zeros(), zeros())

  def update_fn(updates, state, params=None):
    ids = pj.group_ids(updates, block_fn)
    if not ids:
      return updates, state._replace(count=optax.safe_increment(state.count))
    if min(ids) < 0:
      raise ValueError("block_fn must give block ids >= 0.")
    if weight_decay and params is None:
      raise ValueError("scale_by_badam with weight_decay > 0 needs params.")
    count = state.count
    block = pj.cyclic_block(count, switch_every, max(ids) + 1, order, state.key)
    keep = count % switch_every != 0
    tau = ((count % switch_every) + 1).astype(jnp.float32)
    leaves, treedef = jax.tree.flatten(updates)
    mus, nus = jax.tree.leaves(state.mu), jax.tree.leaves(state.nu)
    ps = jax.tree.leaves(params) if params is not None else [None] * len(leaves)
    out, new_mu, new_nu = [], [], []
    for g, mu, nu, p, bid in zip(leaves, mus, nus, ps, ids, strict=True):
      on = block == bid
      g32 = g.astype(jnp.float32)
      mu = jnp.where(keep, mu, 0.0)
      nu = jnp.where(keep, nu, 0.0)
      mu_t = b1 * mu + (1 - b1) * g32
      nu_t = b2 * nu + (1 - b2) * g32**2
      u = (mu_t / (1 - b1**tau)) / (jnp.sqrt(nu_t / (1 - b2**tau)) + eps)
      if weight_decay:
        u = u + weight_decay * p.astype(jnp.float32)
      out.append(jnp.where(on, u, 0.0).astype(g.dtype))
      new_mu.append(jnp.where(on, mu_t, mu))
      new_nu.append(jnp.where(on, nu_t, nu))
    new_state = ScaleByBadamState(
      optax.safe_increment(count),
      state.key,
      jax.tree.unflatten(treedef, new_mu),
      jax.tree.unflatten(treedef, new_nu),
    )
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def badam(
  learning_rate: optax.ScalarOrSchedule,
  *,
  switch_every: int = 100,
  order: Literal["random", "ascending", "descending"] = "random",
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  block_fn: Callable[[Any], Any] | None = None,
  seed: int = 0,
) -> optax.GradientTransformation:
  """BAdam; see `scale_by_badam` (weight decay is applied to the active block only).

  Example:
    >>> opt = badam(learning_rate=1e-5, switch_every=100)
  """
  return optax.chain(
    scale_by_badam(
      switch_every=switch_every,
      order=order,
      b1=b1,
      b2=b2,
      eps=eps,
      weight_decay=weight_decay,
      block_fn=block_fn,
      seed=seed,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )
