"""The registry of hand-designed optimizers: name -> factory, paper defaults, search space.

Every baseline, whether optax ships it or this project writes it, is one `Entry`. The
comparison suite tunes over `Entry.search_space`, learned optimizers read the directions of
registered entries as features, and `python -m baselines.list` prints the whole table
(`--markdown`: docs/optimizers.md).

Each family of `baselines/` registers its entries in its own `entries.py`; the registry keeps
which module registered each entry (`family`).

`ids` and `tier` index the project's optimizer inventory: a survey of the methods named in
the papers the project started from, numbered `T<tier>-<nn>` by `TIERS`. Methods outside it
(comparison peers) have no ids and tier None.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal

import optax

Need = Literal[
  "grad",
  "value",
  "value_fn",
  "key",
  "output_fn",
  "loss_of_outputs",
  "dense_fn",
  "targets",
  "constraint_fn",
  "devices",
]
Source = Literal["optax", "project"]
Status = Literal["implemented", "not-applicable"]
NEEDS: tuple[str, ...] = (
  "grad",
  "value",
  "value_fn",
  "key",
  "output_fn",
  "loss_of_outputs",
  "dense_fn",
  "targets",
  "constraint_fn",
  "devices",
)
TIERS: dict[int, str] = {
  1: "elementwise, gradient-only rules (including layer-wise scalar variants)",
  2: "memory-efficient state and matrix-structured rules (factored, block-shared, low-rank, "
  "quantized, block-coordinate; preconditioning, orthogonalization, gradient normalization)",
  3: "curvature and second-order methods (HVP, Fisher, Gauss-Newton, quasi-Newton, "
  "variational Newton)",
  4: "zeroth-order, forward-only, backprop-free and derivative-free methods",
  5: "wrappers and meta-methods, learning-rate schedules, learning-rate-free and step-size "
  "rules, weight averaging and model merging",
  6: "distributed, communication-compressed, decentralized, federated, robust and "
  "differentially private methods",
}


@dataclasses.dataclass(frozen=True)
class LogRange:
  """A hyperparameter tuned on a log scale between `low` and `high` (inclusive)."""

  low: float
  high: float

  def __post_init__(self):
    if not 0 < self.low <= self.high:
      raise ValueError(f"LogRange needs 0 < low <= high, got low={self.low}, high={self.high}.")

  def grid(self, num: int) -> tuple[float, ...]:
    """`num` log-spaced points from `low` to `high`."""
    if num == 1:
      return (math.sqrt(self.low * self.high),)
    ratio = (self.high / self.low) ** (1.0 / (num - 1))
    return tuple(self.low * ratio**i for i in range(num))


@dataclasses.dataclass(frozen=True)
class Choice:
  """A hyperparameter tuned over a fixed set of values."""

  values: tuple[Any, ...]

  def grid(self, num: int | None = None) -> tuple[Any, ...]:
    del num
    return self.values


SearchDim = LogRange | Choice


@dataclasses.dataclass(frozen=True)
class Entry:
  """One registered optimizer.

  Attributes:
    name: registry name, lower case (`"adamw"`).
    factory: `**hparams -> optax.GradientTransformation(ExtraArgs)`.
    defaults: the paper's default hyperparameters, passed to `factory` unless overridden.
    search_space: hyperparameter -> `LogRange` or `Choice`; always has `learning_rate`
      for an implemented method that takes one.
    needs: what `update` needs beyond the gradient, in the extra-args vocabulary
      (`value`, `value_fn`, `key`, `output_fn` with `loss_of_outputs`, `dense_fn`,
      `targets`, `constraint_fn`, `devices`); `grad` when the gradient is used.
    ids: the inventory ids this entry covers (`("T1-01",)`); empty outside the inventory.
    tier: the inventory tier (1-6, see `TIERS`), or None for a method outside the inventory.
    source: `"optax"` when the factory is optax's own, `"project"` when written here.
    paper: citation of the method (title and arXiv link).
    reference: what the rule was checked against, line by line: `"authors' code
      <owner>/<repo>@<file>"`, `"paper Alg. 1"`, ...; then the deviations kept, with the
      reason. Entries whose `source` is `"optax"` default to `"optax"` (optax's own tests).
    status: `"implemented"`, or `"not-applicable"` with `reason`.
    reason: why a method is not applicable; empty otherwise.
    procedure: for an implemented method that is not an update rule (a tuner of the
      comparison suite, a hyperparameter scaling rule): the function that implements it and
      how it is used; its `factory` is None and it is not among `names()`.
  """

  name: str
  factory: Callable[..., optax.GradientTransformation] | None
  defaults: Mapping[str, Any]
  search_space: Mapping[str, SearchDim]
  needs: tuple[str, ...] = ("grad",)
  ids: tuple[str, ...] = ()
  tier: int | None = None
  source: Source = "project"
  paper: str = ""
  reference: str = ""
  status: Status = "implemented"
  reason: str = ""
  procedure: str = ""

  def __post_init__(self):
    if self.source == "optax" and not self.reference:
      object.__setattr__(self, "reference", "optax")
    unknown = set(self.needs) - set(NEEDS)
    if unknown:
      raise ValueError(f"{self.name}: unknown needs {sorted(unknown)}; allowed: {NEEDS}.")
    if self.status == "implemented" and (self.factory is None) == (not self.procedure):
      raise ValueError(f"{self.name}: an implemented entry has a factory or a procedure.")
    if self.status == "not-applicable" and not self.reason:
      raise ValueError(f"{self.name}: a not-applicable entry needs a reason.")
    if self.factory is not None:
      accepted = _accepted_hparams(self.factory)
      bad = (set(self.defaults) | set(self.search_space)) - accepted
      if accepted and bad:
        raise ValueError(f"{self.name}: {sorted(bad)} are not arguments of its factory.")


_REGISTRY: dict[str, Entry] = {}
_REGISTERED_BY: dict[str, str] = {}


def register(entry: Entry) -> Entry:
  """Adds `entry` to the registry; a name may be registered once."""
  if entry.name in _REGISTRY:
    raise ValueError(f"Optimizer {entry.name!r} is already registered.")
  _REGISTRY[entry.name] = entry
  _REGISTERED_BY[entry.name] = sys._getframe(1).f_globals.get("__name__", "")
  return entry


def family(name: str) -> str:
  """The subpackage of `baselines` whose `entries.py` registered `name` (`"adam_family"`);
  the registering module's name for an entry registered elsewhere."""
  module = _REGISTERED_BY[entry(name).name]
  parts = module.split(".")
  return parts[1] if len(parts) == 3 and parts[0] == "baselines" else module


def names() -> list[str]:
  """Sorted names of every implemented optimizer (procedures left out)."""
  return sorted(
    n for n, e in _REGISTRY.items() if e.status == "implemented" and e.factory is not None
  )


def entries() -> list[Entry]:
  """Every registry entry, implemented or not, sorted by name."""
  return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def entry(name: str) -> Entry:
  """The registry entry called `name`; unknown names fail with the closest matches."""
  try:
    return _REGISTRY[name]
  except KeyError:
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(
      f"Unknown optimizer {name!r}.{hint} `baselines.names()` lists all "
      f"{len(names())} registered optimizers."
    ) from None


def get(name: str, **hparams: Any) -> optax.GradientTransformation:
  """Builds the optimizer `name` with its paper defaults, overridden by `hparams`.

  Example:
    >>> opt = baselines.get("adamw", learning_rate=1e-3)
  """
  e = entry(name)
  if e.status != "implemented":
    raise ValueError(f"Optimizer {name!r} is not applicable here: {e.reason}")
  if e.factory is None:
    raise ValueError(f"{name!r} is not an update rule but a procedure: {e.procedure}")
  accepted = _accepted_hparams(e.factory)
  unknown = set(hparams) - accepted
  if accepted and unknown:
    raise ValueError(
      f"Optimizer {name!r} has no hyperparameter {sorted(unknown)}; it accepts {sorted(accepted)}."
    )
  return e.factory(**{**e.defaults, **hparams})


def _accepted_hparams(factory: Callable[..., Any]) -> set[str]:
  """Keyword names `factory` accepts; empty when it takes `**kwargs` (anything goes)."""
  params = inspect.signature(factory).parameters.values()
  if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
    return set()
  return {p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}
