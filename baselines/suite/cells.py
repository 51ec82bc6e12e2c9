"""The comparison suite's cells: what runs for each (task, optimizer), and where it is kept.

A suite config (`configs/suite_*.py`) names tasks, registered optimizers and learned-optimizer
checkpoints. `Suite.from_config` checks every name and path before anything is written and
raises `ValueError` with one message otherwise. Seeds: the *tuning seeds* are
`0..num_seeds-1`; the *reported seeds* are `rerun_seed_offset..rerun_seed_offset+num_seeds-1`
(disjoint from the tuning seeds). For each (task, optimizer) cell:

- a registered optimizer runs every point of its tuning grid (the product, over the
  hyperparameters of `config.tune.params` that are in its search space, of
  `LogRange.grid(config.tune.grid_points)` or the `Choice` values) with every tuning seed
  (role "tune"); the setting `baselines.suite.report.select` picks from those runs (the lowest
  median final validation loss, the one selection the report also makes) is rerun with the
  reported seeds (role "rerun"), next to its paper-default setting (role "defaults", the
  `<name>@defaults` column, also on the reported seeds). The rerun reuses the tuning grid's
  compiled program (`baselines.suite.sweep.Programs`): one compilation per cell, as before.
- a registered optimizer listed in `config.untuned` runs only at its paper defaults, on the
  reported seeds (the `<name>@defaults` column): the untuned peers a user would otherwise pick;
- a learned optimizer (`learned_opt.load(path)`) runs untuned, with the reported seeds
  (role "learned"); one listed in `config.learned_tuned` also gets the tuned column
  `learned:<checkpoint>@tuned`: its `learning_rate` over `LEARNED_LR_GRID` times its stored
  value, selected and rerun as a registered optimizer's grid is.

So every number the report shows comes from the same reported seeds, none of them the
seeds a setting was selected on; the tuning seeds serve only the selection and edge flags.

`config.tune.method` picks the tuner of the registered optimizers' tuned columns (learned
tuned columns keep the grid): `"grid"` (the default, above), `"cehpo"` (the cross-entropy
method over the same search space, `baselines.suite.cehpo`: every evaluated setting is a
tuning run, the best one is rerun) or `"autolrs"` (a learning-rate schedule found by
Bayesian optimization with look-ahead runs on the tuning seeds, `baselines.suite.autolrs`:
the schedule, replayed on the tuning seeds as the cell's one tuning setting with its
`tuning_steps`, is rerun); their options are `config.tune.cehpo` / `config.tune.autolrs`.
`config.tune.batch_size` (0: off) tunes at that batch size instead of the task's own and
rescales the selected setting to the task's batch size for the reported runs
(`baselines.schedules.batch_scaling`: SGD linear, Adam square root, b2's half-life in
samples kept). An output directory's protocol names the method, its options and the batch
size only when they are not the grid at the task's batch size, so the grid's outdirs and
cells written before these options stay valid.

Factories with a training-horizon argument (`num_steps`: schedules) get the suite's
`num_steps`.

A finished cell is one file `cells/<task>/<optimizer>.jsonl` (written whole, then renamed),
one JSON record per run; rerunning skips cells whose file exists. A cell that raises is
recorded as one record with `error` and reported, not retried (delete its file to retry).
An output directory that is a file, a `config.json` that is not the suite's JSON, or a cell
file that is not whole JSON records (damaged after it was written) is bad input: one
message naming the file, before anything is written.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import math
import os
import re
from collections.abc import Callable
from typing import Any

import ml_collections
import numpy as np
import optax

import baselines
import cli
import learned_opt
import tasks
from baselines.registry import LogRange, SearchDim
from baselines.schedules import batch_scaling
from baselines.suite import autolrs, cehpo, report
from baselines.suite.sweep import Programs, Protocol, sweep
from tasks import datasets, zoo
from tasks.training import eval_steps

LEARNED_PREFIX = "learned:"
DEFAULTS_SUFFIX = "@defaults"
TUNED_SUFFIX = "@tuned"
# A tuned learned rule's learning rates: multiples of its stored one, over the same four
# decades, log-spaced, as a registered optimizer's `LogRange(1e-4, 1)` grid.
LEARNED_LR_GRID = LogRange(1e-2, 1e2)
MIN_SEEDS = 3
# The tuners of registered optimizers (`config.tune.method`); options under
# `config.tune.<method>`.
TUNERS = {"grid": None, "cehpo": cehpo.Options, "autolrs": autolrs.Options}
# Config values that change what a run computes: an output directory keeps one protocol.
PROTOCOL_KEYS = ("num_steps", "num_evals", "eval_batches", "num_seeds", "rerun_seed_offset", "tune")
# The top-level keys of a suite config, and the ranges of its values.
CONFIG_KEYS = ("tasks", "optimizers", "outdir", "num_steps", "num_evals")
VALUE_RULES = {
  "num_steps": cli.COUNT,
  "num_evals": cli.COUNT,
  "eval_batches": cli.COUNT,
  "num_seeds": cli.COUNT,
  "rerun_seed_offset": cli.COUNT,
  "tune.grid_points": cli.COUNT,
  "tune.batch_size": cli.COUNT_OR_OFF,
  "r_max": cli.POSITIVE,
}


@dataclasses.dataclass(frozen=True)
class Optimizer:
  """One column source: a registered optimizer (tuned and defaults) or a learned one."""

  label: str
  settings: tuple[dict[str, Any], ...]
  roles: tuple[str, ...]  # per setting: "tune" (the grid), "defaults" or "learned"
  make_opt: Callable[[dict[str, Any]], optax.GradientTransformation]
  extra_args: tuple[str, ...]
  log_dims: tuple[str, ...] = ()
  space: dict[str, SearchDim] = dataclasses.field(default_factory=dict)  # the tuned dims
  registered: bool = False  # a registry entry called `label` (tuners, batch scaling)


@dataclasses.dataclass(frozen=True)
class Suite:
  """A validated suite: tasks, optimizers, the run protocol and the output directory."""

  name: str
  outdir: str
  task_names: tuple[str, ...]
  optimizers: tuple[Optimizer, ...]
  protocol: Protocol
  tuning_seeds: tuple[int, ...]  # the grid's runs: selection and edge flags only
  seeds: tuple[int, ...]  # the reported runs: reruns, defaults, learned optimizers
  config: ml_collections.ConfigDict
  tuner: str = "grid"
  tuner_options: Any = None
  tune_batch_size: int = 0  # 0: tune at each task's own batch size

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> Suite:
    """Checks the config, task names, optimizer names and checkpoints; writes nothing."""
    cli.check_config(config, VALUE_RULES)
    if config.num_seeds < MIN_SEEDS:
      raise ValueError(f"num_seeds={config.num_seeds}: medians and IQRs need at least 3 seeds.")
    if config.rerun_seed_offset < config.num_seeds:
      raise ValueError(
        f"rerun_seed_offset={config.rerun_seed_offset}: the reported seeds must be disjoint "
        f"from the tuning seeds 0..{config.num_seeds - 1}."
      )
    ref_name, _, ref_kind = config.reference.partition("@")
    untuned_reference = ref_kind == "defaults" and ref_name in config.get("untuned", ())
    if not untuned_reference and (
      ref_name not in config.optimizers
      or ref_kind not in ("", "defaults")
      or (ref_kind and not config.defaults_column)
    ):
      raise ValueError(
        f"The reference optimizer {config.reference!r} (targets, speedups) must be one of "
        f"config.optimizers={tuple(config.optimizers)} (its tuned column), or "
        "'<optimizer>@defaults' of config.untuned or with config.defaults_column."
      )
    protocol = Protocol(config.num_steps, config.num_evals, config.eval_batches)
    if config.num_evals < 1 or config.num_steps % config.num_evals:
      raise ValueError(
        f"num_steps={config.num_steps} must be a positive multiple of num_evals={config.num_evals}."
      )
    spaces = {d for e in baselines.entries() for d in e.search_space}
    for d in config.tune.params:
      if d != "*" and d not in spaces:
        raise ValueError(f"config.tune.params names {d!r}, in no optimizer's search space.")
    tuner, tuner_options = _tuner(config)
    tune_batch_size = int(config.tune.get("batch_size", 0) or 0)
    if tune_batch_size:
      for name in config.tasks:
        if "batch_size" not in {f.name for f in dataclasses.fields(tasks.get(name))}:
          raise ValueError(f"config.tune.batch_size: task {name!r} has no batch size.")
      for name in config.optimizers:
        batch_scaling.rule(name)  # no rule: a ValueError naming the rules
    for name in config.tasks:
      tasks.get(name)  # unknown names fail with close matches
      for d in zoo.datasets_of(name):
        reason = datasets.unavailable_reason(d)
        if reason:
          raise ValueError(f"Task {name!r}: {reason}")
    untuned = tuple(config.get("untuned", ()))
    learned_tuned = tuple(config.get("learned_tuned", ()))
    optimizers = [baseline(n, config) for n in config.optimizers]
    optimizers += [baseline(n, config, tuned=False) for n in untuned]
    optimizers += [learned(p, config.num_steps) for p in config.learned]
    optimizers += [tuned_learned(p, config) for p in learned_tuned]
    labels = [o.label for o in optimizers]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
      raise ValueError(f"Optimizers named twice (or checkpoints of the same name): {duplicates}.")
    suite = cls(
      name=config.name,
      outdir=os.path.abspath(config.outdir),
      task_names=tuple(config.tasks),
      optimizers=tuple(optimizers),
      protocol=protocol,
      tuning_seeds=tuple(range(config.num_seeds)),
      seeds=tuple(range(config.rerun_seed_offset, config.rerun_seed_offset + config.num_seeds)),
      config=config,
      tuner=tuner,
      tuner_options=tuner_options,
      tune_batch_size=tune_batch_size,
    )
    suite.check_outdir()
    return suite

  # -------------------------------------------------------------------------------------
  # The output directory.
  # -------------------------------------------------------------------------------------

  def protocol_json(self) -> dict[str, Any]:
    out = {k: _jsonable(self.config[k]) for k in PROTOCOL_KEYS}
    out["tune"] = _tune_protocol(out["tune"])
    return out

  def check_outdir(self) -> None:
    """Refuses an output directory that is a file, is not writable, was written with another
    protocol, or holds a damaged `config.json` or cell file."""
    if os.path.exists(self.outdir) and not os.path.isdir(self.outdir):
      raise ValueError(f"config.outdir {self.outdir} is a file, not a directory.")
    path = os.path.join(self.outdir, "config.json")
    if os.path.exists(path):
      stored = _read_json(path, "delete it (or the whole outdir) to start this suite afresh")
      stored = stored.get("protocol") if isinstance(stored, dict) else stored
      if stored != self.protocol_json():
        raise ValueError(
          f"{self.outdir} holds a comparison run with protocol {stored}, not "
          f"{self.protocol_json()}; choose another config.outdir or restore those values."
        )
    parent = self.outdir
    while not os.path.exists(parent):
      parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
      raise ValueError(f"Cannot write to {self.outdir} ({parent} is not a writable directory).")
    for task_name, opt in self.cells():
      cell = self.cell_path(task_name, opt.label)
      if os.path.exists(cell):
        with open(cell) as f:
          lines = f.read().splitlines()
        for i, line in enumerate(lines, 1):
          _read_json(cell, "delete it to rerun that cell", text=line, line=i)

  def cell_path(self, task_name: str, label: str) -> str:
    return os.path.join(self.outdir, "cells", task_name, re.sub(r"[^\w.@-]", "_", label) + ".jsonl")

  def write_config(self) -> None:
    os.makedirs(self.outdir, exist_ok=True)
    record = {"protocol": self.protocol_json(), "config": _jsonable(self.config.to_dict())}
    _write_atomic(os.path.join(self.outdir, "config.json"), json.dumps(record, indent=1) + "\n")

  def cells(self) -> list[tuple[str, Optimizer]]:
    return [(t, o) for t in self.task_names for o in self.optimizers]

  def run_cell(self, task_name: str, opt: Optimizer) -> list[dict[str, Any]]:
    """Runs one cell and returns its records: the tuner's runs on the tuning seeds, then
    the selected setting's rerun and the untuned settings on the reported seeds."""
    base = {"task": task_name, "optimizer": opt.label}
    try:
      task = tasks.get(task_name)
      protocol = dataclasses.replace(self.protocol, extra_args=opt.extra_args)
      programs = Programs()

      def run(task, settings, indices, roles, seeds, programs) -> list[dict]:
        result = sweep(task, opt.make_opt, settings, seeds, protocol, programs=programs)
        return [
          rec
          for i, setting, role, runs, vmapped in zip(
            indices, settings, roles, result.runs, result.vmapped, strict=True
          )
          for rec in self._records(base, opt, i, setting, role, runs, vmapped, seeds)
        ]

      records: list[dict] = []
      reported = [(i, role, opt.settings[i]) for i, role in enumerate(opt.roles) if role != "tune"]
      if "tune" in opt.roles:
        tune_task = task
        if self.tune_batch_size and opt.registered:
          tune_task = dataclasses.replace(task, batch_size=self.tune_batch_size)
        tune_programs = programs if tune_task is task else Programs()
        tuned, selected, setting = self._tune(tune_task, opt, protocol, tune_programs, run)
        records += tuned
        if tune_task is not task:
          setting = batch_scaling.scale_hparams(
            opt.label, setting, from_batch=self.tune_batch_size, to_batch=task.batch_size
          )
        reported.insert(0, (selected, "rerun", setting))
      records += run(
        task,
        [s for _, _, s in reported],
        [i for i, _, _ in reported],
        [role for _, role, _ in reported],
        self.seeds,
        programs,
      )
    except Exception as e:  # reported in report.md; the suite goes on
      return [{**base, "error": f"{type(e).__name__}: {e}"}]
    return records

  def _tune(self, task, opt: Optimizer, protocol, programs, run):
    """`(tuning records, selected index, selected setting)`: the grid, or this suite's
    tuner for a registered optimizer (its records then name it in `tuner`)."""
    tune = [i for i, role in enumerate(opt.roles) if role == "tune"]
    if self.tuner == "grid" or not opt.registered:
      records = run(
        task,
        [opt.settings[i] for i in tune],
        tune,
        ["tune"] * len(tune),
        self.tuning_seeds,
        programs,
      )
      selected = _select(records)
      return records, selected, opt.settings[selected]
    if self.tuner == "cehpo":
      records: list[dict] = []
      tried: list[dict] = []

      def evaluate(settings):
        indices = list(range(len(tried), len(tried) + len(settings)))
        tried.extend(settings)
        new = run(task, settings, indices, ["tune"] * len(settings), self.tuning_seeds, programs)
        records.extend({**r, "tuner": "cehpo"} for r in new)
        return [report.selection_score(_by_setting(new)[i]) for i in indices]

      cehpo.search(opt.space, evaluate, self.tuner_options)
      selected = _select(records)
      return records, selected, tried[selected]
    found = autolrs.search(
      task,
      opt.make_opt,
      opt.space["learning_rate"],
      self.tuning_seeds,
      num_steps=protocol.num_steps,
      extra_args=protocol.extra_args,
      options=self.tuner_options,
    )
    extra = {"tuner": "autolrs", "tuning_steps": protocol.num_steps + found.lookahead_steps}
    records = run(task, [found.setting()], [0], ["tune"], self.tuning_seeds, programs)
    return [{**r, **extra} for r in records], 0, found.setting()

  def _records(
    self,
    base: dict[str, Any],
    opt: Optimizer,
    index: int,
    setting: dict[str, Any],
    role: str,
    runs: dict[str, np.ndarray],
    vmapped: bool,
    seeds: tuple[int, ...],
  ) -> list[dict[str, Any]]:
    """One record per seed of the runs of `setting` (index `index`; values rounded as
    results.jsonl keeps them: selection reads these records, as the report does)."""
    steps = eval_steps(self.protocol.num_steps, self.protocol.num_evals).tolist()
    column = opt.label + (DEFAULTS_SUFFIX if role == "defaults" else "")
    return [
      {
        **base,
        "column": column,
        "role": role,
        "setting": index,
        "hparams": _jsonable(setting),
        "log_dims": list(opt.log_dims),
        "seed": seed,
        "vmapped": vmapped,
        "eval_steps": steps,
        **{k: _round(v[j]) for k, v in runs.items()},
      }
      for j, seed in enumerate(seeds)
    ]

  def write_cell(self, task_name: str, label: str, records: list[dict[str, Any]]) -> None:
    path = self.cell_path(task_name, label)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _write_atomic(path, "".join(json.dumps(r) + "\n" for r in records))

  def write_results(self) -> str:
    """Concatenates this suite's finished cells into `results.jsonl`; returns its path."""
    path = os.path.join(self.outdir, "results.jsonl")
    parts = []
    for task_name, opt in self.cells():
      cell = self.cell_path(task_name, opt.label)
      if os.path.exists(cell):
        with open(cell) as f:
          parts.append(f.read())
    _write_atomic(path, "".join(parts))
    return path


# ---------------------------------------------------------------------------------------
# Optimizers: grids and learned checkpoints.
# ---------------------------------------------------------------------------------------


def tuning_grid(entry: baselines.Entry, params: tuple[str, ...], points: int) -> list[dict]:
  """The grid of `entry` over `params` (`"*"`: its whole search space); [{}] when none."""
  names = [d for d in entry.search_space if "*" in params or d in params]
  values = [entry.search_space[d].grid(points) for d in names]
  return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def default_setting(entry: baselines.Entry, names: list[str]) -> dict[str, Any]:
  """The paper defaults of the tuned hyperparameters `names` (floats for `LogRange`s)."""
  out = {}
  for d in names:
    if d in entry.defaults and entry.defaults[d] is not None:
      v = entry.defaults[d]
      out[d] = float(v) if isinstance(entry.search_space[d], LogRange) else v
  return out


def baseline(name: str, config: ml_collections.ConfigDict, tuned: bool = True) -> Optimizer:
  """The registered optimizer `name`: its tuning grid and, if asked, its defaults setting
  (`tuned=False`: the defaults setting only)."""
  entry = baselines.entry(name)  # unknown names fail with close matches
  if entry.status != "implemented":
    raise ValueError(f"Optimizer {name!r} is not applicable: {entry.reason}")
  settings = tuning_grid(entry, tuple(config.tune.params), config.tune.grid_points)
  roles = ["tune"] * len(settings)
  if not tuned:
    settings, roles = [default_setting(entry, list(settings[0]))], ["defaults"]
  elif config.defaults_column:
    settings.append(default_setting(entry, list(settings[0])))
    roles.append("defaults")
  fixed = {}
  if "num_steps" in inspect.signature(entry.factory).parameters:
    fixed["num_steps"] = config.num_steps  # the horizon of a schedule
  log_dims = tuple(d for d in settings[0] if isinstance(entry.search_space[d], LogRange))
  return Optimizer(
    label=name,
    settings=tuple(settings),
    roles=tuple(roles),
    make_opt=lambda setting: baselines.get(name, **fixed, **autolrs.as_hparams(setting)),
    extra_args=tasks.training.extra_args_of(entry.needs),
    log_dims=log_dims,
    space={d: entry.search_space[d] for d in settings[0]},
    registered=True,
  )


def learned(path: str, num_steps: int) -> Optimizer:
  """A learned-optimizer checkpoint, run untuned; a bad path raises `ValueError`."""
  try:
    lopt, theta = learned_opt.load_theta(path)
  except (learned_opt.CheckpointError, OSError) as e:
    raise ValueError(f"config.learned: {path!r} is not a learned optimizer: {e}") from None
  opt = lopt.opt(theta, num_steps=num_steps)
  extra_args = tuple(dict.fromkeys(("value", *lopt.update_args)))
  return Optimizer(learned_label(path), ({},), ("learned",), lambda setting: opt, extra_args)


def learned_label(path: str) -> str:
  """`learned:<name>`: a checkpoint's directory name, or a `pretrained:` name."""
  return LEARNED_PREFIX + os.path.basename(os.path.normpath(path.removeprefix("pretrained:")))


def tuned_learned(path: str, config: ml_collections.ConfigDict) -> Optimizer:
  """A learned checkpoint whose `learning_rate` (a field of its config) is tuned over
  `LEARNED_LR_GRID` times the stored value; a bad path or a rule without one is a
  `ValueError`."""
  try:
    lopt, theta = learned_opt.load_theta(path)
  except (learned_opt.CheckpointError, OSError) as e:
    raise ValueError(f"config.learned_tuned: {path!r} is not a learned optimizer: {e}") from None
  if not isinstance(getattr(lopt, "learning_rate", None), float):
    raise ValueError(
      f"config.learned_tuned: {path!r} ({lopt.architecture}) has no `learning_rate` to tune."
    )
  base = lopt.learning_rate
  grid = [{"learning_rate": base * m} for m in LEARNED_LR_GRID.grid(config.tune.grid_points)]

  def make_opt(setting):
    rule = dataclasses.replace(lopt, learning_rate=setting["learning_rate"])
    return rule.opt(theta, num_steps=config.num_steps)

  return Optimizer(
    label=learned_label(path) + TUNED_SUFFIX,
    settings=tuple(grid),
    roles=("tune",) * len(grid),
    make_opt=make_opt,
    extra_args=("value",),
    log_dims=("learning_rate",),
  )


# ---------------------------------------------------------------------------------------
# Small helpers.
# ---------------------------------------------------------------------------------------


def _tuner(config: ml_collections.ConfigDict) -> tuple[str, Any]:
  """`config.tune.method` (default "grid") and its options from `config.tune.<method>`; a
  `ValueError` for an unknown method, option or value."""
  method = config.tune.get("method", "grid")
  if method not in TUNERS:
    raise ValueError(f"config.tune.method={method!r}; choose one of {sorted(TUNERS)}.")
  if method == "grid":
    return method, None
  given = dict(config.tune.get(method, None) or {})
  fields = {f.name for f in dataclasses.fields(TUNERS[method])}
  unknown = sorted(set(given) - fields)
  if unknown:
    raise ValueError(f"config.tune.{method} has no option {unknown}; options: {sorted(fields)}.")
  options = TUNERS[method](**given)
  if method == "autolrs":
    options.chunk(config.num_steps)
    if tuple(config.tune.params) != ("learning_rate",):
      raise ValueError(
        "tune.method='autolrs' tunes the learning rate alone (a schedule); set "
        f"tune.params=('learning_rate',), not {tuple(config.tune.params)}."
      )
  else:
    options.num_elite()
  return method, options


def _tune_protocol(tune: dict[str, Any]) -> dict[str, Any]:
  """The protocol's `tune`: the grid's keys, plus the method and its options when it is
  not the grid and the batch size when one is set (so outdirs of the grid at each task's
  batch size keep the protocol they were written with)."""
  out = {k: v for k, v in tune.items() if k not in ("method", "batch_size", *TUNERS)}
  method = tune.get("method", "grid")
  if method != "grid":
    out["method"] = method
    out[method] = tune.get(method) or {}
  if tune.get("batch_size"):
    out["batch_size"] = tune["batch_size"]
  return out


def _by_setting(records: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
  out: dict[int, list[dict[str, Any]]] = {}
  for r in records:
    out.setdefault(r["setting"], []).append(r)
  return out


def _select(records: list[dict[str, Any]]) -> int:
  """The index `report.select` picks from tuning records."""
  return report.select(_by_setting(records))


def _round(x: np.ndarray) -> Any:
  """A JSON value of `x` with 6 significant digits (NaN and infinities kept)."""
  if np.ndim(x) == 0:
    v = float(x)
    return v if not math.isfinite(v) else float(f"{v:.6g}")
  return [_round(v) for v in np.asarray(x)]


def _jsonable(x: Any) -> Any:
  if isinstance(x, dict | ml_collections.ConfigDict):
    return {k: _jsonable(v) for k, v in dict(x).items()}
  if isinstance(x, list | tuple):
    return [_jsonable(v) for v in x]
  return x


def _read_json(path: str, remedy: str, text: str | None = None, line: int | None = None) -> Any:
  """The JSON value in the file `path` (or its `line`-th line, `text`); a `ValueError` naming
  the file, what is wrong and `remedy` when it is not JSON."""
  try:
    if text is None:
      with open(path) as f:
        text = f.read()
    return json.loads(text)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    where = f"{path}, line {line}" if line else path
    raise ValueError(f"{where} is damaged ({e}); {remedy}.") from None


def _write_atomic(path: str, text: str) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)
