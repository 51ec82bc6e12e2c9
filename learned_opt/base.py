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
import math
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
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

  @property
  def update_args(self) -> tuple[str, ...]:
    """The keyword arguments `opt(theta).update` needs besides `params` (names of
    `tasks.training.EXTRA_ARGS`, e.g. `value_fn`); none unless a rule says so."""
    return ()


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
  hints = typing.get_type_hints(cls)
  for name, value in config.items():
    if not _is_a(value, hints[name]):
      raise ValueError(
        f"Option {name}={value!r} of architecture {architecture!r} is not {_describe(hints[name])}."
      )
  return cls(**config)


def _is_a(value: Any, hint: Any) -> bool:
  """Whether `value` (from a config or a JSON record) fits the type annotation `hint`.

  Lists stand for tuples (JSON has no tuples), an int for a float; floats must be finite;
  a bool is not a number.
  """
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if hint is Any:
    return True
  if origin in (typing.Union, types.UnionType):
    return any(_is_a(value, a) for a in args)
  if hint is type(None):
    return value is None
  if hint is bool:
    return isinstance(value, bool)
  if hint is int:
    return isinstance(value, int) and not isinstance(value, bool)
  if hint is float:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
  if hint is str:
    return isinstance(value, str)
  if origin is tuple:
    if not isinstance(value, tuple | list):
      return False
    if len(args) == 2 and args[1] is Ellipsis:
      return all(_is_a(v, args[0]) for v in value)
    return len(value) == len(args) and all(_is_a(v, a) for v, a in zip(value, args, strict=True))
  if origin is typing.Literal:
    return value in args
  return isinstance(value, origin or hint)


def _describe(hint: Any) -> str:
  """`hint` in words, e.g. "a tuple of int" for `tuple[int, ...]`."""
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if origin in (typing.Union, types.UnionType):
    return " or ".join(_describe(a) for a in args)
  if hint is type(None):
    return "None"
  if hint is float:
    return "a finite number"
  if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
    return f"a tuple of {args[0].__name__}, e.g. {(8, 8) if args[0] is int else ('grad',)}"
  if origin is typing.Literal:
    return f"one of {list(args)}"
  return f"{'an' if hint.__name__[0] in 'aeiou' else 'a'} {hint.__name__}"


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

  Non-finite gradients: `fn` sees `safe_gradient(g)`. A NaN or infinite gradient element
  is taken as 0 for that element alone (its moments decay, as at a zero gradient), so it
  cannot spread through a tensor's shared statistics (per-tensor normalization, factored
  moments, norms) into every other element's update and state. Gradients up to 1e15 in
  magnitude pass unchanged, bit for bit.
  """
  if params is None:
    raise ValueError("This learned rule reads the parameters: call `update(grads, state, params)`.")

  def restructured(g, p, s):
    structure = jax.tree.structure(jax.eval_shape(init_tensor, p))
    return fn(safe_gradient(g), p, jax.tree.unflatten(structure, jax.tree.leaves(s)))

  out = jax.tree.map(restructured, grads, params, per_tensor)
  first = jax.tree.map(lambda _, o: o[0], grads, out)
  second = jax.tree.map(lambda _, o: o[1], grads, out)
  return first, second


# Larger gradient elements are clipped to this: their squares (1e30) and the sums of squares
# of tensors up to 3e8 elements stay below float32's 3.4e38, so every statistic of the
# feature bank stays finite (1e30 squared is inf, and inf normalized is NaN).
MAX_ABS_GRAD = 1e15


def safe_gradient(g: jax.Array) -> jax.Array:
  """The learned rules' gradient policy: NaN and infinite elements of `g` replaced by 0,
  the others clipped to +-`MAX_ABS_GRAD` (both elementwise)."""
  return jnp.where(jnp.isfinite(g), jnp.clip(g, -MAX_ABS_GRAD, MAX_ABS_GRAD), jnp.zeros_like(g))
