"""DP-SGD: per-example clipping and Gaussian noise; per-layer variants (T6-16, T6-19, T6-20).

Per-example gradients: every DP method here takes gradients with a leading *example* axis,
`(B, *p.shape)` per parameter `p` (compute them with `per_example_grads`, a `jax.vmap` of
`jax.grad`). A gradient whose leaves have exactly the parameters' shapes is one example
(B = 1); telling the two apart needs `params` in `update`. Noise comes from the `key` extra
arg. Privacy accounting: `baselines/privacy/accounting.py` (Google's `dp-accounting`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByDPState(NamedTuple):
  count: jnp.ndarray
  num_clipped: jnp.ndarray  # examples clipped in the last step (per-layer: summed over layers)


def per_example_grads(loss_fn: Callable[..., jnp.ndarray], params: Any, batch: Any) -> Any:
  """Per-example gradients `(B, *p.shape)` of `loss_fn(params, example)` by `jax.vmap`."""
  return jax.vmap(jax.grad(loss_fn), in_axes=(None, 0))(params, batch)


def with_example_axis(grads: Any, params: Any, name: str) -> tuple[Any, int]:
  """(grads with a leading example axis, B); a plain gradient becomes a batch of one."""
  if params is None:
    raise ValueError(f"{name} needs `params` in update to recognize per-example gradients.")
  gl, pl = jax.tree.leaves(grads), jax.tree.leaves(params)
  if all(g.shape == p.shape for g, p in zip(gl, pl, strict=True)):
    return jax.tree.map(lambda g: g[None], grads), 1
  sizes = {g.shape[0] for g in gl if g.ndim >= 1}
  if any(g.shape[1:] != p.shape for g, p in zip(gl, pl, strict=True)) or len(sizes) != 1:
    raise ValueError(
      f"{name} takes per-example gradients of shape (B, *param.shape) for every parameter, or a "
      f"plain gradient (one example); got {[g.shape for g in gl]} for {[p.shape for p in pl]}."
    )
  return grads, sizes.pop()


def gaussian_noise(key: jax.Array, tree: Any, std: jnp.ndarray) -> Any:
  """N(0, std^2 I) shaped like `tree`; leaf j uses `fold_in(key, j)`."""
  leaves, treedef = jax.tree.flatten(tree)
  noise = [
    std * jax.random.normal(jax.random.fold_in(key, j), x.shape, jnp.float32)
    for j, x in enumerate(leaves)
  ]
  return jax.tree.unflatten(treedef, noise)


def scale_by_dp_aggregate(
  l2_norm_clip: float = 1.0,
  noise_multiplier: float = 1.1,
  per_layer: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""The privatized mean of per-example gradients (DP-SGD's gradient).

  $$\bar g = \frac1B\Big(\sum_{i=1}^B g_i \min\big(1, C/\lVert g_i\rVert_2\big)
    + \mathcal N(0, \sigma^2 C^2 I)\Big).$$

  `per_layer=True` clips each of the L parameter tensors separately to $C/\sqrt L$ (so the
  whole example still has norm at most C and the same noise calibrates it), with
  `optax.per_example_layer_norm_clip`; otherwise `optax.per_example_global_norm_clip`.

  Args:
    l2_norm_clip: C.
    noise_multiplier: $\sigma$ (0 disables the noise).
    per_layer: per-layer instead of global per-example clipping.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` takes per-example gradients (see the
    module docstring), needs `params` and the extra arg `key`.

  References:
    Abadi et al., Deep Learning with Differential Privacy, https://arxiv.org/abs/1607.00133;
    McMahan et al., Learning Differentially Private Recurrent Language Models (per-layer
    clipping), https://arxiv.org/abs/1710.06963
  """
  if l2_norm_clip <= 0:
    raise ValueError(f"l2_norm_clip must be > 0, got {l2_norm_clip}.")
  if noise_multiplier < 0:
    raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}.")

  def init_fn(params):
    del params
    return ScaleByDPState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None, *, key=None, **extra_args):
    del extra_args
    if key is None:
      raise ValueError("DP-SGD needs the extra arg `key` in update.")
    g, batch = with_example_axis(updates, params, "DP-SGD")
    leaves, treedef = jax.tree.flatten(jax.tree.map(lambda x: x.astype(jnp.float32), g))
    if per_layer:
      summed, clipped = optax.per_example_layer_norm_clip(leaves, l2_norm_clip, uniform=True)
      num_clipped = sum(clipped)
    else:
      summed, num_clipped = optax.per_example_global_norm_clip(leaves, l2_norm_clip)
    summed = jax.tree.unflatten(treedef, summed)
    noise = gaussian_noise(key, summed, noise_multiplier * l2_norm_clip)
    out = jax.tree.map(lambda s, z, p: ((s + z) / batch).astype(p.dtype), summed, noise, params)
    return out, ScaleByDPState(
      optax.safe_increment(state.count), jnp.asarray(num_clipped, jnp.int32)
    )

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def dp_sgd(
  learning_rate: optax.ScalarOrSchedule,
  l2_norm_clip: float = 1.0,
  noise_multiplier: float = 1.1,
  momentum: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """DP-SGD: the privatized per-example mean, optional momentum, the learning rate.

  `optax.contrib.dpsgd` computes the same update but draws its noise from a seed kept in its
  state; this one takes the project's `key` extra arg and also accepts a plain gradient as a
  batch of one. The paper's MNIST runs use C = 4, sigma in {2, 4, 8}, lots of 600.
  """
  return optax.chain(
    scale_by_dp_aggregate(l2_norm_clip, noise_multiplier),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )


def dp_sgd_per_layer(
  learning_rate: optax.ScalarOrSchedule,
  l2_norm_clip: float = 1.0,
  noise_multiplier: float = 1.0,
  momentum: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """Per-layer-clipped DP-SGD: FlashDP's algorithm (its fused kernel is a systems matter).

  References:
    FlashDP: Private Training Large Language Models with Efficient DP-SGD (per-layer
    clipping computed once per layer; arXiv link not verified here)
  """
  return optax.chain(
    scale_by_dp_aggregate(l2_norm_clip, noise_multiplier, per_layer=True),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )


def dp_lamb_per_layer(
  learning_rate: optax.ScalarOrSchedule,
  l2_norm_clip: float = 1.0,
  noise_multiplier: float = 1.0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-6,
  weight_decay: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """Per-layer clipping + noise, then LAMB's layer-wise normalization (`optax.lamb`'s pieces).

  References:
    Pelikan et al., Enabling Differentially Private Federated Learning for Speech Recognition:
    Benchmarks, Adaptive Optimizers and Gradient Clipping, https://arxiv.org/abs/2310.00098
  """
  return optax.chain(
    scale_by_dp_aggregate(l2_norm_clip, noise_multiplier, per_layer=True),
    optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_trust_ratio(),
    optax.scale_by_learning_rate(learning_rate),
  )
