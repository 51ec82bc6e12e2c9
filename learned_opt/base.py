"""The learned-optimizer interface: meta-parameters theta -> an optax optimizer.

Meta-training differentiates or perturbs `theta` through `opt(theta).update` inside the
unroll; users call the very same `opt(theta)`. There is no separate export path.

A concrete learned optimizer registers itself under its `architecture` name when its class
is defined; `get(name, **config)` and `names()` look it up (what a checkpoint record and a
config refer to). `learned_opt.registry` imports every architecture of the package, so that
all of them are known once `learned_opt` is imported.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import optax

MetaParams = Any
_ARCHITECTURES: dict[str, type[LearnedOptimizer]] = {}


class LearnedOptimizer(abc.ABC):
  """A family of update rules indexed by meta-parameters `theta`.

  Concrete learned optimizers are frozen dataclasses whose fields are their JSON-able
  configuration (the checkpoint record stores `dataclasses.asdict(lopt)` and rebuilds the
  optimizer with `cls(**config)`), and whose class attribute `architecture` is the name
  the record is keyed by.
  """

  architecture: ClassVar[str]

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    name = cls.__dict__.get("architecture")
    if name is not None:
      known = _ARCHITECTURES.get(name)
      if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"Architecture {name!r} is already {known.__qualname__}'s.")
      _ARCHITECTURES[name] = cls

  @abc.abstractmethod
  def init(self, key: jax.Array) -> MetaParams:
    """Initial meta-parameters."""

  @abc.abstractmethod
  def opt(
    self, theta: MetaParams, *, num_steps: int | None = None
  ) -> optax.GradientTransformationExtraArgs:
    """The optax optimizer that `theta` defines (`num_steps`: the training horizon, if known)."""


def names() -> list[str]:
  """Names of the registered architectures."""
  return sorted(_ARCHITECTURES)


def get(architecture: str, **config: Any) -> LearnedOptimizer:
  """The learned optimizer `architecture` built from its configuration fields."""
  if architecture not in _ARCHITECTURES:
    close = difflib.get_close_matches(architecture, names(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(
      f"Unknown learned-optimizer architecture {architecture!r}.{hint} Known: {names()}."
    )
  cls = _ARCHITECTURES[architecture]
  fields = {f.name for f in dataclasses.fields(cls)}
  unknown = set(config) - fields
  if unknown:
    raise ValueError(
      f"Architecture {architecture!r} has no option {sorted(unknown)}; it takes {sorted(fields)}."
    )
  return cls(**config)


def rule_options(lopt: LearnedOptimizer, rule: Callable) -> dict[str, Any]:
  """The fields of `lopt` that its functional form `rule` takes as keyword arguments.

  A rule's options are stated once, as the fields (and defaults) of its dataclass; `opt`
  forwards them with `rule(theta, **rule_options(self, rule), ...)`, and the functional form
  declares them without defaults.
  """
  takes = inspect.signature(rule).parameters
  return {f.name: getattr(lopt, f.name) for f in dataclasses.fields(lopt) if f.name in takes}


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
