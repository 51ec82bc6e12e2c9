"""SAM with the project's `value_fn` extra arg: `optax.contrib.sam` in opaque mode.

`optax.contrib.sam(opaque_mode=True)` needs a `grad_fn(params, i)` extra arg; the project's
vocabulary passes `value_fn` (params -> loss on the current batch). This adapter builds the
gradient function from it and otherwise runs optax's own SAM.
"""

from __future__ import annotations

import jax
import optax
import optax.contrib


def sam(
  inner: optax.GradientTransformation,
  *,
  rho: float = 0.05,
  adv_steps: int = 1,
) -> optax.GradientTransformationExtraArgs:
  r"""Sharpness-aware minimization around any optimizer.

  With $g = \nabla L(\theta)$, the adversarial step and the descent gradient are

  $$\epsilon = \rho\, g / \lVert g \rVert_2, \qquad \tilde g = \nabla L(\theta + \epsilon),$$

  and `inner` updates $\theta$ with $\tilde g$ (the norm is over all parameters).
  `adv_steps` > 1 repeats the normalized ascent step.

  Args:
    inner: the outer optimizer (updates added to the parameters).
    rho: $\rho$, radius of the adversarial step.
    adv_steps: number of normalized ascent steps before the descent step (>= 1).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs the extra arg
    `value_fn` (params -> loss on the current batch).

  References:
    Foret et al., Sharpness-Aware Minimization for Efficiently Improving Generalization,
    https://arxiv.org/abs/2010.01412
  """
  if rho <= 0:
    raise ValueError(f"rho must be > 0, got {rho}.")
  if adv_steps < 1:
    raise ValueError(f"adv_steps must be an integer >= 1, got {adv_steps}.")
  adv = optax.chain(optax.contrib.normalize(), optax.sgd(rho))
  opt = optax.contrib.sam(inner, adv, sync_period=adv_steps + 1, opaque_mode=True)

  def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
    del extra_args
    if value_fn is None or params is None:
      raise ValueError("sam needs `params` and the extra arg `value_fn` in update.")
    grad_fn = lambda p, _: jax.grad(value_fn)(p)
    new_updates, state = opt.update(updates, state, params, grad_fn=grad_fn)
    new_updates = jax.tree.map(lambda u, p: u.astype(p.dtype), new_updates, params)
    return new_updates, state

  return optax.GradientTransformationExtraArgs(opt.init, update_fn)


def sam_sgd(
  learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9, rho: float = 0.05
) -> optax.GradientTransformationExtraArgs:
  """SAM around SGD with heavy-ball momentum (the paper's main setting, rho = 0.05)."""
  return sam(optax.sgd(learning_rate, momentum=momentum or None), rho=rho)


def sam_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  rho: float = 0.05,
) -> optax.GradientTransformationExtraArgs:
  """SAM around `optax.adam`."""
  return sam(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps), rho=rho)
