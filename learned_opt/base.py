"""The learned-optimizer interface: meta-parameters theta -> an optax optimizer.

Meta-training differentiates or perturbs `theta` through `opt(theta).update` inside the
unroll; users call the very same `opt(theta)`. There is no separate export path.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import optax

MetaParams = Any


class LearnedOptimizer(abc.ABC):
  """A family of update rules indexed by meta-parameters `theta`.

  Concrete learned optimizers are frozen dataclasses whose fields are their JSON-able
  configuration (the checkpoint record stores `dataclasses.asdict(lopt)` and rebuilds the
  optimizer with `cls(**config)`), and whose class attribute `architecture` is the name
  the record is keyed by.
  """

  architecture: ClassVar[str]

  @abc.abstractmethod
  def init(self, key: jax.Array) -> MetaParams:
    """Initial meta-parameters."""

  @abc.abstractmethod
  def opt(
    self, theta: MetaParams, *, num_steps: int | None = None
  ) -> optax.GradientTransformationExtraArgs:
    """The optax optimizer that `theta` defines (`num_steps`: the training horizon, if known)."""


def map_tensors(
  fn: Callable, grads: Any, params: Any, per_tensor: Any, init_tensor: Callable
) -> tuple[Any, Any]:
  """Applies `fn(g, p, s) -> (update, s')` tensor by tensor; returns both trees.

  `per_tensor` holds, below each leaf of `params`, the state `init_tensor(p)` made. Its
  containers are rebuilt from `init_tensor`'s structure first: wrappers such as
  `flax.nnx.Optimizer` hand tuples back as mappings with the same leaves in the same order.
  """
  if params is None:
    raise ValueError("This learned rule reads the parameters: call `update(grads, state, params)`.")

  def restructured(g, p, s):
    structure = jax.tree.structure(jax.eval_shape(init_tensor, p))
    return fn(g, p, jax.tree.unflatten(structure, jax.tree.leaves(s)))

  out = jax.tree.map(restructured, grads, params, per_tensor)
  first = jax.tree.map(lambda _, o: o[0], grads, out)
  second = jax.tree.map(lambda _, o: o[1], grads, out)
  return first, second
