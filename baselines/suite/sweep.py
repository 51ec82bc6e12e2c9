"""Many training runs of one task as one compiled program: hyperparameter settings x seeds.

`sweep(task, make_opt, settings, seeds, ...)` trains `task` once per (setting, seed) with
`tasks.training.curve_run`. Settings whose hyperparameters differ only in float values
(learning rates, weight decays, ...) share shapes, so they run together as one `jit` of a
`vmap` over settings of a `vmap` over seeds: one compilation and one `lax.scan` for the
whole grid. Non-float values (integers, booleans, strings: `Choice` dimensions that may set
shapes) split the settings into groups, one program each.

An optimizer whose factory needs a concrete value (it raises `TypeError` when given a traced
learning rate, e.g. to build a Python-side schedule) falls back to one program per setting,
still vmapped over seeds, with the values as Python constants.

Compilation dominates a sweep's time on small tasks (about 9 s to compile a digits MLP's
9 settings x 3 seeds x 500 steps on 2 shared CPU cores, 0.2 s to run it again), so `Programs`
keeps one task's compiled programs across sweeps: a later sweep of a group with the same
group key and no more settings runs the kept program, its values padded with copies of the
group's first setting (whose extra runs are dropped), instead of compiling another. The
comparison suite's rerun of a selected setting (`baselines.suite`) reuses its tuning
program this way.

Part of the comparison suite: it imports `tasks`, unlike the rest of `baselines/`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tasks.base import SPLITS, Task
from tasks.training import curve_run

Setting = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Protocol:
  """How every run of a comparison trains and evaluates (see `tasks.training.curve_run`)."""

  num_steps: int
  num_evals: int
  eval_batches: int
  extra_args: tuple[str, ...] = ("value",)


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """Per setting (in the order given): arrays with a leading seed axis; how it was run.

  `num_programs`: the programs this sweep built (not counting kept ones it reused).
  """

  runs: list[dict[str, np.ndarray]]
  vmapped: list[bool]
  num_programs: int


class Programs:
  """The jitted programs of one (task, make_opt, protocol), kept across `sweep` calls.

  `vmapped[group key]`: (program, number of settings it was built for), or None when the
  factory needs concrete values (the group runs one program per setting); `single[setting]`:
  the program of one setting. Passing it with another task, factory or protocol raises
  `ValueError`.
  """

  def __init__(self) -> None:
    self.vmapped: dict[tuple, tuple[Callable, int] | None] = {}
    self.single: dict[str, Callable] = {}
    self._owner: tuple | None = None

  def check_owner(self, task: Task, make_opt: Callable, protocol: Protocol) -> None:
    if self._owner is None:
      self._owner = (task, make_opt, protocol)
    elif not (self._owner[0] is task and self._owner[1] is make_opt and self._owner[2] == protocol):
      raise ValueError("Programs are kept for one task, factory and protocol.")


def _batched_keys(setting: Setting) -> tuple[str, ...]:
  return tuple(sorted(k for k, v in setting.items() if isinstance(v, float)))


def _group_key(setting: Setting) -> tuple:
  """Settings with equal group keys share shapes: they differ only in float values."""
  static = tuple(sorted((k, v) for k, v in setting.items() if not isinstance(v, float)))
  return _batched_keys(setting), static


def over_seeds(
  task: Task, make_opt: Callable[[Setting], Any], protocol: Protocol, setting: Setting
) -> Callable[..., dict[str, jax.Array]]:
  """`(samplers, keys) -> runs`: `setting` trained from each key (vmapped); jit it."""

  def train(samplers, key):
    opt = make_opt(setting)
    return curve_run(
      task,
      opt,
      samplers,
      key,
      num_steps=protocol.num_steps,
      num_evals=protocol.num_evals,
      eval_batches=protocol.eval_batches,
      extra_args=protocol.extra_args,
    )

  return jax.vmap(train, in_axes=(None, 0))


def over_settings(
  task: Task, make_opt: Callable[[Setting], Any], protocol: Protocol, static: Setting
) -> Callable[..., dict[str, jax.Array]]:
  """`(values, samplers, keys) -> runs`: vmapped over float `values` (a dict of [settings]
  arrays, joined to `static`) and over keys; jit it."""

  def program(values, samplers, keys):
    run = lambda hp: over_seeds(task, make_opt, protocol, {**static, **hp})(samplers, keys)
    return jax.vmap(run)(values)

  return program


def sweep(
  task: Task,
  make_opt: Callable[[Setting], optax.GradientTransformation],
  settings: Sequence[Setting],
  seeds: Sequence[int],
  protocol: Protocol,
  *,
  vmap_settings: bool = True,
  programs: Programs | None = None,
) -> SweepResult:
  """Trains `task` with `make_opt(setting)` for every setting and seed.

  Args:
    task: the task (its samplers are passed to the compiled programs as arguments).
    make_opt: builds the optimizer of a setting; it may receive traced float values.
    settings: hyperparameter dicts.
    seeds: run seeds; the run of seed `s` starts from `jax.random.PRNGKey(s)`, the same for
      every setting (common random numbers: same initialization and batches).
    protocol: steps, evaluation points and extra args.
    vmap_settings: False runs one program per setting (the reference for tests and benches).
    programs: compiled programs of earlier sweeps of the same task, factory and protocol to
      reuse (padding a smaller group to a kept program's size); it receives the programs
      this sweep builds. None: a fresh `Programs()`.

  Returns:
    A `SweepResult`; `runs[i][name]` has shape [len(seeds), ...] for each output of
    `curve_run`.
  """
  programs = Programs() if programs is None else programs
  programs.check_owner(task, make_opt, protocol)
  samplers = {split: task.batches(split) for split in SPLITS}
  keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
  runs: list[Any] = [None] * len(settings)
  vmapped = [False] * len(settings)
  num_programs = 0

  def one_by_one(indices):
    nonlocal num_programs
    for i in indices:
      key = repr(sorted(settings[i].items()))
      if key not in programs.single:
        programs.single[key] = jax.jit(over_seeds(task, make_opt, protocol, settings[i]))
        num_programs += 1
      runs[i] = programs.single[key](samplers, keys)

  groups: dict[tuple, list[int]] = {}
  for i, setting in enumerate(settings):
    groups.setdefault(_group_key(setting), []).append(i)
  for group, indices in groups.items():
    batched = group[0]
    if not (vmap_settings and batched) or (
      group in programs.vmapped and programs.vmapped[group] is None
    ):
      one_by_one(indices)
      continue
    kept = programs.vmapped.get(group)
    if kept is not None and kept[1] >= len(indices):
      program, size = kept
    else:
      static = {k: v for k, v in settings[indices[0]].items() if k not in batched}
      program, size = jax.jit(over_settings(task, make_opt, protocol, static)), len(indices)
    padded = indices + [indices[0]] * (size - len(indices))
    values = {k: jnp.asarray([settings[i][k] for i in padded], jnp.float32) for k in batched}
    try:
      out = program(values, samplers, keys)
    except TypeError:  # a factory that needs concrete values: one program per setting
      programs.vmapped[group] = None
      one_by_one(indices)
      continue
    if kept is None or kept[0] is not program:
      programs.vmapped[group] = (program, size)
      num_programs += 1
    for j, i in enumerate(indices):
      runs[i] = jax.tree.map(lambda x, j=j: x[j], out)
      vmapped[i] = True
  runs = [{k: np.asarray(v) for k, v in r.items()} for r in runs]
  return SweepResult(runs, vmapped, num_programs)
