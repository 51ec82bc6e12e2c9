"""DiceSGD: DP-SGD with clipped error feedback, removing the clipping bias (T6-17)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.privacy._dp_sgd import gaussian_noise, with_example_axis


class ScaleByDiceSGDState(NamedTuple):
  count: jnp.ndarray
  error: Any  # e_t, float32, the parameters' shapes


def _clip(tree: Any, c: float) -> Any:
  norm = optax.tree.norm(tree)
  scale = jnp.minimum(1.0, c / jnp.maximum(norm, 1e-30))
  return jax.tree.map(lambda x: x * scale, tree)


def scale_by_dicesgd(
  l2_norm_clip: float = 1.0,
  error_clip: float = 1.0,
  noise_multiplier: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
  r"""DiceSGD's direction.

  With per-example gradients $g_i$ (leading example axis, see `baselines/privacy/_dp_sgd.py`),
  $\mathrm{clip}(v, C) = v\min(1, C/\lVert v\rVert_2)$ and the error $e_0 = 0$:

  $$v_t = \frac1B\sum_i \mathrm{clip}(g_i, C_1) + \mathrm{clip}(e_t, C_2),\qquad
    d = v_t + w_t,\ \ w_t \sim \mathcal N\big(0, (\sigma C_1/B)^2 I\big),$$
  $$e_{t+1} = e_t + \frac1B\sum_i g_i - v_t .$$

  $\sigma$ is the noise multiplier on DP-SGD's sensitivity $C_1/B$; the paper's Rényi-DP
  analysis asks for a somewhat larger $\sigma$ than DP-SGD at the same budget (its Theorem).

  Args:
    l2_norm_clip: $C_1$, per-example clipping threshold.
    error_clip: $C_2 \ge C_1$, clipping threshold of the fed-back error.
    noise_multiplier: $\sigma$.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` takes per-example gradients, needs
    `params` and the extra arg `key`.

  References:
    Zhang et al., Differentially Private SGD Without Clipping Bias: An Error-Feedback Approach,
    https://arxiv.org/abs/2311.14632
  """
  if l2_norm_clip <= 0 or error_clip <= 0:
    raise ValueError(f"l2_norm_clip and error_clip must be > 0, got {l2_norm_clip}, {error_clip}.")
  if noise_multiplier < 0:
    raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}.")

  def init_fn(params):
    return ScaleByDiceSGDState(
      jnp.zeros([], jnp.int32), jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
    )

  def update_fn(updates, state, params=None, *, key=None, **extra_args):
    del extra_args
    if key is None:
      raise ValueError("dicesgd needs the extra arg `key` in update.")
    g, batch = with_example_axis(updates, params, "dicesgd")
    leaves, treedef = jax.tree.flatten(jax.tree.map(lambda x: x.astype(jnp.float32), g))
    summed, _ = optax.per_example_global_norm_clip(leaves, l2_norm_clip)
    summed = jax.tree.unflatten(treedef, summed)
    mean_g = jax.tree.unflatten(treedef, [jnp.mean(x, 0) for x in leaves])
    v = jax.tree.map(lambda s, e: s / batch + e, summed, _clip(state.error, error_clip))
    noise = gaussian_noise(key, v, noise_multiplier * l2_norm_clip / batch)
    error = jax.tree.map(lambda e, m, a: e + m - a, state.error, mean_g, v)
    out = jax.tree.map(lambda a, z, p: (a + z).astype(p.dtype), v, noise, params)
    return out, ScaleByDiceSGDState(optax.safe_increment(state.count), error)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def dicesgd(
  learning_rate: optax.ScalarOrSchedule,
  l2_norm_clip: float = 1.0,
  error_clip: float = 1.0,
  noise_multiplier: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
  """DiceSGD: `scale_by_dicesgd` and the learning rate."""
  return optax.chain(
    scale_by_dicesgd(l2_norm_clip, error_clip, noise_multiplier),
    optax.scale_by_learning_rate(learning_rate),
  )
