"""XGrad: gradients at weights predicted with the optimizer's own last step."""

from __future__ import annotations

from typing import NamedTuple

import jax
import optax


class XGradState(NamedTuple):
  """State of `xgrad`: step count, the inner state and the inner optimizer's last update."""

  count: jax.Array
  inner: optax.OptState
  last_update: optax.Updates


def xgrad(
  inner: optax.GradientTransformation, *, prediction_steps: int = 1
) -> optax.GradientTransformationExtraArgs:
  r"""Weight prediction around any optimizer.

  With $\Delta_{t-1}$ the inner optimizer's last update (the step its rule prescribes from
  its current state; zero before the first step), each step computes

  $$\hat\theta_t = \theta_t + s\,\Delta_{t-1}, \qquad \hat g_t = \nabla L(\hat\theta_t),
    \qquad \Delta_t = \mathrm{inner}(\hat g_t;\ \theta_t),
    \qquad \theta_{t+1} = \theta_t + \Delta_t.$$

  For Adam, $\Delta_{t-1} = -\eta\,\hat m_{t-1}/(\sqrt{\hat v_{t-1}}+\epsilon)$, the paper's
  prediction $\hat\theta_{t+s} = \theta_t - s\,\eta\,\hat m/(\sqrt{\hat v}+\epsilon)$. The
  incoming gradient is not used (the gradient at $\hat\theta$ replaces it), so transforms
  chained before this one do not reach the inner optimizer.

  Args:
    inner: the optimizer whose rule predicts the weights (updates added to the parameters).
    prediction_steps: $s \ge 1$, how many steps ahead to predict.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra arg
    `value_fn` (params -> loss on the current batch).

  References:
    Guan et al., XGrad: Boosting Gradient-Based Optimizers With Weight Prediction,
    https://arxiv.org/abs/2305.18240
  """
  if prediction_steps < 1:
    raise ValueError(f"prediction_steps must be an integer >= 1, got {prediction_steps}.")
  inner = optax.with_extra_args_support(inner)

  def init_fn(params):
    zeros = jax.tree.map(lambda p: jax.numpy.zeros_like(p), params)
    return XGradState(jax.numpy.zeros([], jax.numpy.int32), inner.init(params), zeros)

  def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
    del updates
    if value_fn is None or params is None:
      raise ValueError("xgrad needs `params` and the extra arg `value_fn` in update.")
    predicted = jax.tree.map(
      lambda p, d: (p + prediction_steps * d).astype(p.dtype), params, state.last_update
    )
    grads = jax.grad(value_fn)(predicted)
    new_updates, inner_state = inner.update(grads, state.inner, params, **extra_args)
    new_updates = jax.tree.map(lambda u, p: u.astype(p.dtype), new_updates, params)
    return new_updates, XGradState(optax.safe_increment(state.count), inner_state, new_updates)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def xgrad_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  prediction_steps: int = 1,
) -> optax.GradientTransformationExtraArgs:
  """XGrad around `optax.adam`."""
  return xgrad(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps), prediction_steps=prediction_steps)


def xgrad_momentum(
  learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9, prediction_steps: int = 1
) -> optax.GradientTransformationExtraArgs:
  """XGrad around SGD with heavy-ball momentum."""
  return xgrad(
    optax.sgd(learning_rate, momentum=momentum or None), prediction_steps=prediction_steps
  )
