"""Any registered hand-designed optimizer's direction as a feature: `dir:<registry name>`.

The feature runs `baselines.get(name, learning_rate=1.0)` (the paper's other defaults) on
the tensor alone and negates its update, so `dir:adam` is Adam's direction m̂ / (sqrt(v̂) +
eps). Its state is that optimizer's state for the tensor. Optimizers that need a key, a
`value_fn` or devices cannot be features; those that read the loss get `value`.
"""

from __future__ import annotations

import functools

import optax

import baselines
from learned_opt.features.base import Feature, Inputs, Stat

PREFIX = "dir:"


def direction(name: str) -> Feature:
  """The feature `dir:<name>`: the direction of the registered optimizer `name`."""
  entry = baselines.entry(name)
  unsupported = set(entry.needs) - {"grad", "value"}
  if unsupported:
    raise ValueError(
      f"Optimizer {name!r} needs {sorted(unsupported)}, which a feature cannot provide; "
      "choose an optimizer that needs only the gradient (and the loss)."
    )
  reads_value = "value" in entry.needs
  tx = _transform(name)

  def extra(glob):
    return {"value": glob["value"]} if reads_value else {}

  stat_name = PREFIX + name
  stat = Stat(
    stat_name,
    init=tx.init,
    update=lambda s, g, p, count, glob: tx.update(g, s, p, **extra(glob))[1],
  )

  def fn(x: Inputs):
    updates, _ = tx.update(x.g, x.old[stat_name], x.p, **extra(x.glob))
    return -updates

  needs = ("value",) if reads_value else ()
  return Feature(stat_name, fn, (stat,), needs=needs, doc=f"direction of baselines {name!r}")


@functools.cache
def _transform(name: str) -> optax.GradientTransformationExtraArgs:
  try:
    tx = baselines.get(name, learning_rate=1.0)
  except ValueError:
    tx = baselines.get(name)
  return optax.with_extra_args_support(tx)
