"""TernGrad: unbiased stochastic ternary gradients {-s, 0, s} (T6-08)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.distributed import communication as dist


class ScaleByTernGradState(NamedTuple):
  count: jnp.ndarray
  bits: jnp.ndarray


def terngrad_uniforms(key: jax.Array, grads_with_axis, n: int):
  """The uniforms u ~ U[0, 1) TernGrad draws: worker i, leaf j uses fold_in(split(key, n)[i], j)."""
  leaves, treedef = jax.tree.flatten(grads_with_axis)
  wkeys = jax.random.split(key, n)
  us = [
    jax.vmap(lambda k, j=j, x=x: jax.random.uniform(jax.random.fold_in(k, j), x.shape[1:]))(wkeys)
    for j, x in enumerate(leaves)
  ]
  return jax.tree.unflatten(treedef, us)


def scale_by_terngrad(
  clip_sigma: float | None = 2.5, num_workers: int | None = None
) -> optax.GradientTransformationExtraArgs:
  r"""TernGrad's direction: the average of the workers' stochastic ternary gradients.

  Per worker and tensor: optional clipping to $[-c\sigma, c\sigma]$ ($\sigma$ the standard
  deviation of the tensor's entries; none when $\sigma = 0$), $s = \max|g|$, and with
  $u \sim U[0,1)$

  $$\tilde g = s\,\mathrm{sign}(g) \odot \mathbb 1[u < |g|/s],\qquad
    \mathbb E\,\tilde g = g,\qquad d = \frac1n\sum_i \tilde g_i .$$

  Args:
    clip_sigma: $c$ of the layer-wise clipping (2.5 in the paper); None: no clipping.
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs the extra arg `key` (see
    `terngrad_uniforms` for how it is used). Its state's `bits` is what one worker sent
    last step (2 bits per coordinate plus a 32-bit scale per tensor).

  References:
    Wen et al., TernGrad: Ternary Gradients to Reduce Communication in Distributed Deep
    Learning, https://arxiv.org/abs/1705.07878
  """
  dist.check_num_workers(num_workers)
  if clip_sigma is not None and clip_sigma <= 0:
    raise ValueError(f"clip_sigma must be None or > 0, got {clip_sigma}.")
  n = dist.size(num_workers)

  def init_fn(params):
    del params
    return ScaleByTernGradState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.float32))

  def ternarize(x, u):
    x = x.astype(jnp.float32)
    if clip_sigma is not None:
      c = clip_sigma * jnp.std(x)
      x = jnp.where(c > 0, jnp.clip(x, -c, c), x)  # sigma = 0: all entries equal, no clipping
    s = jnp.max(jnp.abs(x))
    keep = u * s < jnp.abs(x)
    return jnp.where(keep, s * jnp.sign(x), 0.0)

  def update_fn(updates, state, params=None, *, key=None, **extra_args):
    del params, extra_args
    if key is None:
      raise ValueError("terngrad needs the extra arg `key` in update.")
    g = dist.with_worker_axis(updates, num_workers)
    u = terngrad_uniforms(key, g, n)
    t = jax.tree.map(lambda x, v: jax.vmap(ternarize)(x, v), g, u)
    d = jax.tree.map(lambda x, y: jnp.mean(x, 0).astype(y.dtype), t, updates)
    bits = float(sum(2 * int(np.prod(x.shape[1:])) + 32 for x in jax.tree.leaves(g)))
    return d, ScaleByTernGradState(
      optax.safe_increment(state.count), jnp.asarray(bits, jnp.float32)
    )

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def terngrad(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  clip_sigma: float | None = 2.5,
  num_workers: int | None = None,
) -> optax.GradientTransformationExtraArgs:
  """SGD with momentum (as in the paper's experiments) on TernGrad's averaged ternary gradients."""
  return optax.chain(
    scale_by_terngrad(clip_sigma, num_workers),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )
