"""Normalized LR+GD: gradient descent with the step divided by the current loss."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByLossNormalizationState(NamedTuple):
  """State of `scale_by_loss_normalization` (a step counter only)."""

  count: jax.Array


def scale_by_loss_normalization(eps: float = 0.0) -> optax.GradientTransformationExtraArgs:
  r"""Divides the gradient by the loss value.

  .. math:: d_t = \nabla f(\theta_t) / (f(\theta_t) + \epsilon)

  For a logistic loss on separable data :math:`\|\nabla f\| \lesssim f`, so this step stays
  large as the loss vanishes and the iteration behaves like the batch perceptron.

  Args:
    eps: added to the loss (0 in the paper, whose loss is positive).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `value=` (the loss at `params`).

  References:
    Tyurin, From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent
    with Large Step Sizes, https://arxiv.org/abs/2412.08424
  """
  if eps < 0:
    raise ValueError(f"eps must be >= 0; got {eps}.")

  def init_fn(params):
    del params
    return ScaleByLossNormalizationState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None, *, value=None, **extra_args):
    del params, extra_args
    if value is None:
      raise ValueError("Normalized LR+GD needs `value=` (the loss at params) in `update`.")
    scale = 1.0 / (jnp.asarray(value, jnp.float32) + eps)
    updates = jax.tree.map(lambda g: (scale * g.astype(jnp.float32)).astype(g.dtype), updates)
    return updates, ScaleByLossNormalizationState(count=state.count + 1)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def normalized_lr_gd(
  learning_rate: optax.ScalarOrSchedule, eps: float = 0.0
) -> optax.GradientTransformationExtraArgs:
  r"""Normalized LR+GD.

  .. math:: \theta_{t+1} = \theta_t - \frac{\gamma}{f(\theta_t)}\nabla f(\theta_t)

  Args:
    learning_rate: :math:`\gamma`, a scalar or a schedule.
    eps: see `scale_by_loss_normalization`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `value=`.

  Example:
    >>> opt = normalized_lr_gd(learning_rate=1.0)
    >>> # updates, state = opt.update(grads, state, params, value=loss)

  References:
    Tyurin, From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent
    with Large Step Sizes, https://arxiv.org/abs/2412.08424
  """
  return optax.chain(
    scale_by_loss_normalization(eps=eps), optax.scale_by_learning_rate(learning_rate)
  )
