"""Cautious optimizers: mask the coordinates where the update disagrees with the gradient."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import optax

_MIN_MEAN = 1e-3  # floor on mean(phi), as in the authors' code: guards an all-zero mask.


def cautious(
  inner: optax.GradientTransformation,
  *,
  convention: Literal["direction", "update"] = "direction",
) -> optax.GradientTransformationExtraArgs:
  r"""Cautious masking of any optimizer's output.

  With $g$ the incoming gradient and $u$ the inner optimizer's direction (subtracted from
  the parameters), per tensor:

  $$\phi = \mathbb{1}[u \odot g > 0], \qquad
    u \leftarrow u \odot \phi / \max(\mathrm{mean}(\phi), 10^{-3}).$$

  Args:
    inner: the optimizer to mask; extra args are forwarded to it.
    convention: `"direction"` when `inner` returns a direction that is subtracted from the
      parameters, like `optax.scale_by_adam` (put weight decay and the learning rate after
      the wrapper, as the paper does); `"update"` when it returns updates that are added to
      the parameters, like `optax.adam(...)` (then the mask keeps $u \odot g < 0$).

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  References:
    Liang et al., Cautious Optimizers: Improving Training with One Line of Code,
    https://arxiv.org/abs/2411.16085
  """
  if convention not in ("direction", "update"):
    raise ValueError(f"convention must be 'direction' or 'update', got {convention!r}.")
  inner = optax.with_extra_args_support(inner)
  sign = 1.0 if convention == "direction" else -1.0

  def mask(u, g):
    phi = (sign * u.astype(jnp.float32) * g.astype(jnp.float32) > 0).astype(jnp.float32)
    scale = phi / jnp.maximum(jnp.mean(phi), _MIN_MEAN)
    return (u.astype(jnp.float32) * scale).astype(u.dtype)

  def update_fn(updates, state, params=None, **extra_args):
    new_updates, state = inner.update(updates, state, params, **extra_args)
    return jax.tree.map(mask, new_updates, updates), state

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def cautious_adamw(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """C-AdamW: the Adam direction masked, then decoupled weight decay and the learning rate."""
  return optax.chain(
    cautious(optax.scale_by_adam(b1=b1, b2=b2, eps=eps)),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )


def cautious_lion(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.99,
  weight_decay: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """C-Lion: the Lion direction masked, then decoupled weight decay and the learning rate."""
  return optax.chain(
    cautious(optax.scale_by_lion(b1=b1, b2=b2)),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
