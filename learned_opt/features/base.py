"""What a feature is: a named, small stateful transform of one tensor's gradient.

A `Feature` reads an `Inputs` record (the tensor's gradient and parameter, the statistics
it depends on before and after this step, the step count and the global scalars) and
returns one value per parameter (`scope="param"`), one value per tensor (`"tensor"`) or one
value for the whole optimizer (`"global"`). The statistics a feature keeps are `Stat`s,
shared by name: `momentum_0.9`, Adam's direction and Lion's direction all read one
`momentum_0.9` accumulator, so a feature list costs only the state its distinct
statistics need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

Scope = Literal["param", "tensor", "global"]
Need = Literal["value", "num_steps"]


class Inputs(NamedTuple):
  """What a feature of one tensor sees at one step.

  g, p: the tensor's gradient and parameter (float32).
  old, new: stat name -> that statistic's state before / after this step.
  count: the number of updates before this one (0 at the first).
  glob: global scalars: `value` (the loss), `num_steps` (the horizon) and loss statistics,
    present when the rule's features need them.
  """

  g: jax.Array
  p: jax.Array
  old: dict[str, Any]
  new: dict[str, Any]
  count: jax.Array
  glob: dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Stat:
  """A per-tensor accumulator: `init(p) -> state`; `update(state, g, p, count, glob) -> state`."""

  name: str
  init: Callable[[jax.Array], Any]
  update: Callable[[Any, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]], Any]


@dataclasses.dataclass(frozen=True)
class Feature:
  """A named input of learned rules.

  Attributes:
    name: the name a config lists it by.
    fn: `Inputs -> value`: an array of the parameter's shape (`scope="param"`) or a scalar.
    stats: the accumulators it reads (`Inputs.old` / `Inputs.new` hold their states).
    scope: `"param"` (normalized per tensor by rules), `"tensor"` or `"global"` (scalars,
      already O(1), broadcast over the tensor).
    needs: `"value"` when it reads the loss, `"num_steps"` when it reads the horizon.
    doc: one line saying what it is.
  """

  name: str
  fn: Callable[[Inputs], jax.Array]
  stats: tuple[Stat, ...] = ()
  scope: Scope = "param"
  needs: tuple[Need, ...] = ()
  doc: str = ""


def ema(avg: jax.Array, x: jax.Array, decay: jax.Array | float) -> jax.Array:
  """Exponential moving average: decay * avg + (1 - decay) * x."""
  return decay * avg + (1.0 - decay) * x


def ema_stat(name: str, decay: float, of: Callable[[jax.Array, jax.Array], jax.Array]) -> Stat:
  """The statistic `name`: an EMA at `decay` of `of(g, p)`, started at zero."""
  return Stat(
    name,
    init=jnp.zeros_like,
    update=lambda s, g, p, count, glob: ema(s, of(g, p), decay),
  )


def safe_sqrt(x: jax.Array) -> jax.Array:
  """sqrt(x) of a statistic x >= 0: jnp.sqrt's values, with derivative 0 (not inf) at x = 0.

  A statistic that is exactly 0 (the second moment of an always-zero gradient element: a
  blank pixel's weights on digits) has derivative 0 with respect to everything before it,
  and jnp.sqrt's inf * 0 = NaN made every derivative through such a feature NaN: TBPTT's
  meta-gradient on digits MLPs was NaN, hence dropped, for every member. With derivative 0
  the chain rule's product is the 0 it should be.
  """
  positive = x > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def inverse_rms(xs: list[jax.Array], eps: float = 1e-8) -> list[jax.Array]:
  """1 / sqrt(mean(x^2) + eps) over the whole tensor, for each of `xs` (scalars).

  One single-output sum per array: XLA:CPU lowers each to a vectorized reduction kernel,
  while one variadic reduction over all of `xs` compiles to a scalar loop (3-4x slower at
  1M parameters, however few passes over memory it makes).
  """
  return [jax.lax.rsqrt(jnp.sum(jnp.square(x)) / max(x.size, 1) + eps) for x in xs]


def normalize_per_tensor(xs: list[jax.Array], eps: float = 1e-8) -> list[jax.Array]:
  """Each of `xs` (arrays of one tensor's shape) divided by its RMS over the tensor (zero stays
  zero)."""
  return [x * s for x, s in zip(xs, inverse_rms(xs, eps), strict=True)]


def bias_correction(decay: float, count: jax.Array) -> jax.Array:
  """1 - decay^(t) at the t-th update (t = count + 1), as in Adam."""
  return 1.0 - decay ** (count + 1).astype(jnp.float32)
