"""The feature bank: every named feature, and `FeatureBank`, a list of them computed per tensor.

A learned rule's config lists its features by name; `FeatureBank(names)` gathers the
statistics they read (each once), and computes, tensor by tensor, the list of feature
values the rule's network reads. Per-parameter features come back normalized to unit RMS
over the tensor; per-tensor and global features are scalars. Nothing is stacked into a
`[num_params, num_features]` array here: rules consume the list (see `learned_opt.mlp`).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import jax
import jax.numpy as jnp

from learned_opt.features import baseline, factored, moments, schedule, tensor
from learned_opt.features.base import Feature, Inputs, Stat, inverse_rms

_NATIVE: dict[str, Feature] = {
  f.name: f for f in (*moments.FEATURES, *factored.FEATURES, *tensor.FEATURES, *schedule.FEATURES)
}


def names() -> list[str]:
  """The names of the bank's own features (add `dir:<name>` for any registered optimizer)."""
  return sorted(_NATIVE)


def get(name: str) -> Feature:
  """The feature `name`: one of `names()`, or `dir:<baselines registry name>`."""
  if name.startswith(baseline.PREFIX):
    return baseline.direction(name[len(baseline.PREFIX) :])
  if name not in _NATIVE:
    close = difflib.get_close_matches(name, names(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(
      f"Unknown feature {name!r}.{hint} `learned_opt.features.names()` lists the bank's "
      f"{len(_NATIVE)} features; `dir:<optimizer>` is any registered optimizer's direction."
    )
  return _NATIVE[name]


@dataclasses.dataclass(frozen=True)
class FeatureBank:
  """The features `names`, in that order, with their statistics shared by name."""

  names: tuple[str, ...]

  def __post_init__(self):
    object.__setattr__(self, "names", tuple(self.names))
    if not self.names:
      raise ValueError("A feature list needs at least one feature.")
    repeated = sorted({n for n in self.names if self.names.count(n) > 1})
    if repeated:
      raise ValueError(f"Features listed more than once: {repeated}.")
    features = tuple(get(n) for n in self.names)
    stats = {s.name: s for f in features for s in f.stats}
    object.__setattr__(self, "features", features)
    object.__setattr__(self, "stats", tuple(stats.values()))

  features: tuple[Feature, ...] = dataclasses.field(init=False, repr=False, compare=False)
  stats: tuple[Stat, ...] = dataclasses.field(init=False, repr=False, compare=False)

  @property
  def width(self) -> int:
    return len(self.names)

  def reading(self, need: str) -> list[str]:
    """The listed features that need `need` (`"value"` or `"num_steps"`)."""
    return [f.name for f in self.features if need in f.needs]

  def init_leaf(self, p: jax.Array) -> tuple[Any, ...]:
    """The statistics of one tensor, in float32."""
    p = p.astype(jnp.float32)
    return tuple(s.init(p) for s in self.stats)

  def global_inputs(
    self,
    loss_stats: schedule.LossStats,
    count: jax.Array,
    value: jax.Array | None,
    num_steps: jax.Array | int | None,
    who: str,
  ) -> tuple[dict[str, jax.Array], schedule.LossStats]:
    """The global scalars of this step; fails clearly when the loss or horizon is missing."""
    glob = {}
    if self.reading("num_steps"):
      if num_steps is None:
        raise ValueError(
          f"{who} reads the training horizon (features {self.reading('num_steps')}): build it "
          "with `opt(theta, num_steps=N)` or `learned_opt.load(path, num_steps=N)`."
        )
      glob["num_steps"] = jnp.asarray(num_steps, jnp.float32)
    if value is None:
      if self.reading("value"):
        raise ValueError(
          f"{who} reads the loss (features {self.reading('value')}): call "
          "`update(grads, state, params, value=loss)`."
        )
      return glob, loss_stats
    loss_glob, loss_stats = schedule.loss_inputs(loss_stats, value, count)
    return {**glob, **loss_glob, "value": value}, loss_stats

  def leaf(
    self,
    g: jax.Array,
    p: jax.Array,
    stats: tuple[Any, ...],
    count: jax.Array,
    glob: dict[str, jax.Array],
  ) -> tuple[list[jax.Array], tuple[Any, ...]]:
    """One tensor's feature values (per-parameter ones normalized) and its new statistics.

    Two passes over the tensor. The first updates the statistics and sums the squares of
    the per-parameter features; the second computes those features again from the new
    statistics, seen through an optimization barrier, and scales them. Without the barrier
    XLA shares each feature between the sums and the rule's network, so it writes every
    feature to memory and reads it back; with it, the features are recomputed inside the
    network's one elementwise pass, and only the statistics (outputs anyway) are stored.

    Every feature is finite for gradients as rules hand them over
    (`learned_opt.base.safe_gradient`: finite, |g| <= 1e15), zeros and 1e-30s included.
    """
    g, p = g.astype(jnp.float32), p.astype(jnp.float32)
    new = tuple(s.update(x, g, p, count, glob) for s, x in zip(self.stats, stats, strict=True))
    inputs = Inputs(
      g=g,
      p=p,
      old={s.name: x for s, x in zip(self.stats, stats, strict=True)},
      new={s.name: x for s, x in zip(self.stats, new, strict=True)},
      count=count,
      glob=glob,
    )
    values = [f.fn(inputs) for f in self.features]
    per_param = [i for i, f in enumerate(self.features) if f.scope == "param"]
    scales = inverse_rms([values[i] for i in per_param])
    again = inputs._replace(new=jax.lax.optimization_barrier(inputs.new))
    for i, s in zip(per_param, scales, strict=True):
      values[i] = self.features[i].fn(again) * s
    return values, new
