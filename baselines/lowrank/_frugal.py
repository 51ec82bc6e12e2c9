"""FRUGAL: split the gradient; Adam (state-full) in a subspace, signSGD or SGD (state-free)
on the rest, so the update is full-rank (Zmushko et al., 2024)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import axes
from baselines.lowrank import projection as pj


class ScaleByFrugalState(NamedTuple):
  """State of `scale_by_frugal`; per-leaf tuples follow the flattened parameters."""

  count: jax.Array  # int32 steps taken
  key: jax.Array  # PRNG key of random projections / block selection
  proj: tuple  # (d, r) projector per projected leaf (svd/random), else None
  mu: tuple  # Adam first moment: of R (svd/random), of G (block mode, fallback leaves)
  nu: tuple  # second moment, same shapes


def _frugal_rank(shape, density: float) -> int:
  return max(1, int(density * min(axes.matrix_shape(shape))))


def scale_by_frugal(
  *,
  density: float = 0.25,
  update_interval: int = 200,
  projection: Literal["block", "svd", "random"] = "block",
  state_free: Literal["signsgd", "sgd"] = "signsgd",
  state_free_scale: float = 1.0,
  reset_state: bool = True,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  seed: int = 0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The direction of FRUGAL (Adam state-full, signSGD or SGD state-free).

  Every `update_interval` steps the state-full subspace is chosen again; with
  `reset_state` the Adam moments of the split leaves restart from zero then (the bias
  correction counts from the last refresh, $τ = (t-1 \bmod T) + 1$). With $A(X) =
  \frac{\sqrt{1-β_2^τ}}{1-β_1^τ}\, M/(\sqrt{V}+ε)$ after the moment updates on $X$ and
  $F(X) = \mathrm{sign}(X)$ (`"signsgd"`) or $X$ (`"sgd"`):

  - `"svd"` / `"random"`: per matrix, $P$ = top-$r$ singular vectors of $G$ or a random
    matrix with orthonormal columns, $r = \max(1, \lfloor ρ\, d \rfloor)$ on the reduced
    side ($d = \min(m, n)$, as in `baselines.lowrank.projection`); with $R = $ `project(P, G)`,
    $u = \mathrm{back}(A(R)) + κ\, F(G - \mathrm{back}(R))$.
  - `"block"`: whole matrices are the blocks; $\max(1, \lfloor ρ B \rceil)$ of the $B$
    matrices, drawn at random each period, get $u = A(G)$, the others $u = κ F(G)$. (The
    moments of every matrix stay allocated, shapes being static under `jit`; only the
    active blocks' are used.)

  Vectors and scalars (and leaves masked out by `lowrank_mask`) always take Adam (their
  bias correction counts every step).

  Args:
    density: $ρ \in (0, 1]$, the state-full fraction (of the reduced dimension, or of the
      matrices in block mode).
    update_interval: $T$, steps between subspace choices (the first is at the first step).
    projection: `"block"` (the authors' main setting), `"svd"` or `"random"`.
    state_free: the state-free rule, `"signsgd"` or `"sgd"`.
    state_free_scale: $κ$, learning-rate multiplier of the state-free part (1 for
      pre-training, 0.1 for fine-tuning in the paper).
    reset_state: restart the state-full moments at every new subspace.
    b1, b2, eps: Adam's $β_1, β_2, ε$.
    seed: seed of random projections and block draws.
    lowrank_mask: which leaves are split (pytree of bools or callable); default: every
      leaf with `ndim >= 2`.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Zmushko et al., FRUGAL: Memory-Efficient Optimization by Reducing State Overhead for
    Scalable Training, https://arxiv.org/abs/2411.07837
  """
  if projection not in ("block", "svd", "random"):
    raise ValueError(f"projection must be 'block', 'svd' or 'random', got {projection!r}.")
  if state_free not in ("signsgd", "sgd"):
    raise ValueError(f"state_free must be 'signsgd' or 'sgd', got {state_free!r}.")
  if not 0.0 < density <= 1.0:
    raise ValueError(f"density must be in (0, 1], got {density}.")
  if update_interval < 1:
    raise ValueError(f"update_interval must be >= 1, got {update_interval}.")
  for name, value in (("b1", b1), ("b2", b2)):
    if not 0.0 <= value < 1.0:
      raise ValueError(f"{name} must be in [0, 1), got {value}.")
  free = jnp.sign if state_free == "signsgd" else (lambda x: x)

  def leaf_layouts(params):
    flags = pj.resolve_mask(lowrank_mask, params)
    return [
      pj.layout(jnp.shape(p), _frugal_rank(jnp.shape(p), density)) if f else None
      for p, f in zip(jax.tree.leaves(params), flags, strict=True)
    ]

  def init_fn(params):
    lays = leaf_layouts(params)
    leaves = jax.tree.leaves(params)
    low = projection != "block"

    def zeros(p, lay):
      return jnp.zeros(lay.projected_shape if lay and low else jnp.shape(p), jnp.float32)

    return ScaleByFrugalState(
      count=jnp.zeros([], jnp.int32),
      key=jax.random.PRNGKey(seed),
      proj=tuple(pj.init_projector(lay) if lay and low else None for lay in lays),
      mu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
      nu=tuple(zeros(p, lay) for p, lay in zip(leaves, lays, strict=True)),
    )

  def update_fn(updates, state, params=None):
    del params
    leaves, treedef = jax.tree.flatten(updates)
    lays = leaf_layouts(updates)
    count = state.count
    due = pj.refresh_due(count, update_interval)
    t_all = (count + 1).astype(jnp.float32)
    t_split = ((count % update_interval) + 1).astype(jnp.float32) if reset_state else t_all
    keep = jnp.logical_not(due) if reset_state else jnp.asarray(True)

    def adam(mu, nu, x, t, keep):
      mu = jnp.where(keep, mu, 0.0) * b1 + (1 - b1) * x
      nu = jnp.where(keep, nu, 0.0) * b2 + (1 - b2) * x**2
      step = jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t)
      return step * mu / (jnp.sqrt(nu) + eps), mu, nu

    blocks = [i for i, lay in enumerate(lays) if lay is not None]
    if projection == "block" and blocks:
      num_active = max(1, round(density * len(blocks)))
      active = pj.sampled_groups(count, update_interval, len(blocks), num_active, state.key)
      block_active = dict(zip(blocks, [active[j] for j in range(len(blocks))], strict=True))

    out, new = [], []
    for i, (g, lay) in enumerate(zip(leaves, lays, strict=True)):
      g32 = g.astype(jnp.float32)
      if lay is None:
        u, mu, nu = adam(state.mu[i], state.nu[i], g32, t_all, True)
        out.append(u.astype(g.dtype))
        new.append((None, mu, nu))
        continue
      if projection == "block":
        on = block_active[i]
        a, mu, nu = adam(state.mu[i], state.nu[i], g32, t_split, keep)
        u = jnp.where(on, a, state_free_scale * free(g32))
        mu = jnp.where(on, mu, state.mu[i])
        nu = jnp.where(on, nu, state.nu[i])
        out.append(u.astype(g.dtype))
        new.append((None, mu, nu))
        continue
      gm = pj.to_matrix(g32, lay)
      if projection == "svd":
        make = lambda gm=gm, lay=lay: pj.svd_projector(gm, lay)
      else:
        key = pj.refresh_key(state.key, i, count, update_interval)
        make = lambda k=key, lay=lay: pj.random_projector(k, lay, "orthonormal")
      proj = pj.refresh(count, update_interval, state.proj[i], make)
      r = pj.project(proj, gm, lay.side)
      a, mu, nu = adam(state.mu[i], state.nu[i], r, t_split, keep)
      rest = gm - pj.project_back(proj, r, lay.side)
      u = pj.project_back(proj, a, lay.side) + state_free_scale * free(rest)
      out.append(pj.from_matrix(u, lay).astype(g.dtype))
      new.append((proj, mu, nu))
    projs, mus, nus = pj.unzip(new, 3)
    new_state = ScaleByFrugalState(optax.safe_increment(count), state.key, projs, mus, nus)
    return jax.tree.unflatten(treedef, out), new_state

  return optax.GradientTransformation(init_fn, update_fn)


def frugal(
  learning_rate: optax.ScalarOrSchedule,
  *,
  density: float = 0.25,
  update_interval: int = 200,
  projection: Literal["block", "svd", "random"] = "block",
  state_free: Literal["signsgd", "sgd"] = "signsgd",
  state_free_scale: float = 1.0,
  reset_state: bool = True,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
  seed: int = 0,
  lowrank_mask: pj.MaskOrFn = None,
) -> optax.GradientTransformation:
  """FRUGAL with decoupled weight decay; see `scale_by_frugal`.

  Example:
    >>> opt = frugal(learning_rate=1e-3, density=0.25, projection="svd")
  """
  return optax.chain(
    scale_by_frugal(
      density=density,
      update_interval=update_interval,
      projection=projection,
      state_free=state_free,
      state_free_scale=state_free_scale,
      reset_state=reset_state,
      b1=b1,
      b2=b2,
      eps=eps,
      seed=seed,
      lowrank_mask=lowrank_mask,
    ),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
