"""Saving and loading learned optimizers as orbax checkpoints.

A learned-optimizer checkpoint is a directory with two orbax items:

    theta/   the meta-parameters (orbax StandardSave)
    lopt/    a JSON record: {"format_version", "architecture", "config", "features"}

`learned_opt.load(path)` accepts such a directory, a meta-training workdir (it then
takes the newest readable step under `workdir/checkpoints/`), or `pretrained:<name>` (a
checkpoint shipped in the package, `learned_opt.pretrained.names()`), and rebuilds the optax
optimizer from the record alone. Nothing in a checkpoint is executed: the record is JSON,
theta is arrays.

Every failure is a `CheckpointError` naming the path and what is wrong. A checkpoint whose
files cannot be read or parsed (a write cut short, a damaged file, a missing folder, a record
whose fields have the wrong types) is an `UnreadableCheckpoint`; in a workdir, `load` then
warns and falls back to the newest readable step (`newest_readable`, the one recovery path,
which meta-training's restore shares: it also sets unreadable steps aside).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import optax
import orbax.checkpoint as ocp
from absl import logging as absl_logging

from learned_opt import pretrained, registry
from learned_opt.base import LearnedOptimizer, MetaParams

FORMAT_VERSION = 2  # 2: the record lists the features; "mlp" configs list features
THETA_ITEM = "theta"
RECORD_ITEM = "lopt"
CHECKPOINTS_DIR = "checkpoints"


class CheckpointError(ValueError):
  """A checkpoint that is missing, of another format, or does not match what was expected."""


class UnreadableCheckpoint(CheckpointError):
  """A checkpoint whose files cannot be read or parsed: a write cut short, or damage."""


T = TypeVar("T")


def record(lopt: LearnedOptimizer) -> dict[str, Any]:
  """The JSON record that identifies `lopt`'s architecture and configuration."""
  return {
    "format_version": FORMAT_VERSION,
    "architecture": lopt.architecture,
    "config": registry.config_of(lopt),
    "features": registry.features_of(lopt),
  }


def from_record(rec: dict[str, Any], where: str = "checkpoint") -> LearnedOptimizer:
  """Rebuilds the learned optimizer a record describes; a bad record is a `CheckpointError`."""
  version = rec.get("format_version")
  if version != FORMAT_VERSION:
    raise CheckpointError(
      f"{where} has learned-optimizer format version {version!r}; this code reads version "
      f"{FORMAT_VERSION}."
    )
  architecture, config = rec.get("architecture"), rec.get("config")
  if not isinstance(architecture, str) or not isinstance(config, dict):
    raise UnreadableCheckpoint(
      f"{where}: the record's architecture ({architecture!r}) or config ({config!r}) is "
      "damaged: expected a name and a JSON object."
    )
  if architecture not in registry.names():
    try:
      registry.get(architecture)
    except ValueError as e:
      raise CheckpointError(f"{where}: {e}") from None
  try:
    lopt = registry.get(architecture, **config)
  except (ValueError, TypeError) as e:  # option names or types: the record is damaged
    raise UnreadableCheckpoint(
      f"{where} describes a learned optimizer this code cannot build: {e}"
    ) from None
  if rec.get("features") != registry.features_of(lopt):
    raise CheckpointError(
      f"{where} lists the features {rec.get('features')}, but its config builds a rule "
      f"reading {registry.features_of(lopt)}."
    )
  return lopt


def save(path: str | os.PathLike, lopt: LearnedOptimizer, theta: MetaParams) -> str:
  """Writes `theta` and `lopt`'s record to the new directory `path`; returns its absolute path."""
  path = os.path.abspath(os.fspath(path))
  if os.path.exists(path):
    raise CheckpointError(f"{path} already exists; choose a new directory to save into.")
  check_theta(lopt, theta, where="theta to save")
  with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
    ckptr.save(
      path,
      ocp.args.Composite(
        **{THETA_ITEM: ocp.args.StandardSave(theta), RECORD_ITEM: ocp.args.JsonSave(record(lopt))}
      ),
    )
  return path


def _read(path: str | os.PathLike, read: Callable[[str], T]) -> T:
  """`read(checkpoint)` of what `path` names: a checkpoint directory, the shipped checkpoint
  `pretrained:<name>`, or a meta-training workdir (its newest readable step)."""
  if os.fspath(path).startswith(pretrained.PREFIX):
    try:
      shipped = pretrained.path(os.fspath(path))
    except ValueError as e:
      raise CheckpointError(str(e)) from None
    return read(shipped)
  path = os.path.abspath(os.fspath(path))
  if _is_checkpoint(path):
    return read(path)
  if step_dirs(path):
    return _newest(path, read)
  raise CheckpointError(
    f"No learned-optimizer checkpoint at {path}: expected a directory with '{THETA_ITEM}/' "
    f"and '{RECORD_ITEM}/' items, or a meta-training workdir with '{CHECKPOINTS_DIR}/<step>/'."
  )


def _is_checkpoint(path: str) -> bool:
  return all(os.path.isdir(os.path.join(path, item)) for item in (THETA_ITEM, RECORD_ITEM))


def read_record(path: str | os.PathLike) -> dict[str, Any]:
  """The JSON record of the checkpoint at `path` (a checkpoint directory, a workdir's
  newest readable step, or `pretrained:<name>`)."""
  return _read(path, _read_record)


def _read_record(ckpt: str) -> dict[str, Any]:
  where = os.path.join(ckpt, RECORD_ITEM)
  try:
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
      rec = ckptr.restore(ckpt, ocp.args.Composite(**{RECORD_ITEM: ocp.args.JsonRestore()}))
    rec = rec[RECORD_ITEM]
  except Exception as e:  # orbax, JSON, the file system: the record cannot be read
    raise UnreadableCheckpoint(f"{where}: the record cannot be read ({_reason(e)}).") from None
  if not isinstance(rec, dict):
    raise UnreadableCheckpoint(f"{where}: the record is {rec!r}, not a JSON object.")
  return dict(rec)


def step_dirs(workdir: str | os.PathLike) -> list[str]:
  """The step directories `workdir/checkpoints/<step>/` (integer names), newest first."""
  steps_dir = os.path.join(os.path.abspath(os.fspath(workdir)), CHECKPOINTS_DIR)
  if not os.path.isdir(steps_dir):
    return []
  steps = sorted((int(d) for d in os.listdir(steps_dir) if d.isdigit()), reverse=True)
  return [os.path.join(steps_dir, str(step)) for step in steps]


def newest_readable(
  steps: list[str], read: Callable[[str], T]
) -> tuple[T | None, list[tuple[str, UnreadableCheckpoint]]]:
  """`read(step)` of the first of `steps` (newest first) that reads, or None; and the steps
  before it that raised `UnreadableCheckpoint`, with their errors. Any other error of
  `read` (a checkpoint that reads but does not fit) propagates."""
  skipped = []
  for step in steps:
    try:
      return read(step), skipped
    except UnreadableCheckpoint as e:
      skipped.append((step, e))
  return None, skipped


def _newest(workdir: str | os.PathLike, read: Callable[[str], T]) -> T:
  """`read` of `workdir`'s newest readable step; warns of the newer ones it skipped."""
  result, skipped = newest_readable(step_dirs(workdir), read)
  if result is None:
    raise CheckpointError(
      f"No readable learned-optimizer checkpoint in {os.fspath(workdir)}: "
      + " ".join(str(e) for _, e in skipped)
    )
  for step, e in skipped:
    absl_logging.warning("Skipping the unreadable checkpoint %s: %s", step, e)
  return result


def _reason(e: BaseException) -> str:
  """One line: the exception's type and the first line of its message (TensorStore's
  pointer to more details and anything past 200 characters cut)."""
  text = str(e).strip().splitlines()
  first = text[0].split(" See full TensorStore details")[0] if text else ""
  first = first if len(first) <= 200 else first[:200] + "..."
  return f"{type(e).__name__}: {first}" if first else type(e).__name__


def check_theta(lopt: LearnedOptimizer, theta: MetaParams, where: str) -> None:
  """Raises `CheckpointError` unless `theta` has the structure and shapes `lopt.init` makes."""
  diff = tree_mismatch(jax.eval_shape(lopt.init, jax.random.PRNGKey(0)), theta)
  if diff:
    raise CheckpointError(
      f"{where} does not fit architecture {lopt.architecture!r} with config "
      f"{registry.config_of(lopt)}: " + "; ".join(diff[:5])
    )


def tree_mismatch(expected: Any, got: Any) -> list[str]:
  """Where two pytrees of arrays (or shape structs) differ in paths, shapes or dtypes.

  Paths are compared by their key names only (`a/0/w`), since a checkpoint's metadata
  gives back named tuples and lists as dicts.
  """

  def describe(tree):
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_path_str(k): (tuple(v.shape), str(v.dtype)) for k, v in flat}

  exp, found = describe(expected), describe(got)
  return sorted(
    f"{k}: expected {exp.get(k, 'nothing')}, found {found.get(k, 'nothing')}"
    for k in exp.keys() | found.keys()
    if exp.get(k) != found.get(k)
  )


def _path_str(path) -> str:
  return "/".join(str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k)))) for k in path)


def stored_shapes(item_dir: str) -> Any:
  """The shapes and dtypes of the arrays of an orbax StandardSave item, without reading them;
  `UnreadableCheckpoint` when its metadata cannot be read."""
  for needed in (item_dir, os.path.join(item_dir, "_METADATA")):
    if not os.path.exists(needed):
      raise UnreadableCheckpoint(f"{needed} is missing.")
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.ERROR)  # reading one item warns of the step's metadata
  try:
    stored = ocp.StandardCheckpointer().metadata(item_dir).item_metadata
    return jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype), stored.tree)
  except Exception as e:  # orbax, JSON, the file system
    raise UnreadableCheckpoint(f"{item_dir}: the metadata cannot be read ({_reason(e)}).") from None
  finally:
    absl_logging.set_verbosity(verbosity)


def restore_items(ckpt: str, args: dict[str, Any]) -> dict[str, Any]:
  """orbax's restore of the items `args` (name -> restore args) of the checkpoint `ckpt`;
  `UnreadableCheckpoint` when their files cannot be read (array data cut short or damaged,
  a missing folder)."""
  try:
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
      return dict(ckptr.restore(ckpt, ocp.args.Composite(**args)))
  except Exception as e:  # orbax, TensorStore, the file system
    raise UnreadableCheckpoint(
      f"{ckpt}: {', '.join(args)} cannot be read ({_reason(e)})."
    ) from None


def load_theta(path: str | os.PathLike) -> tuple[LearnedOptimizer, MetaParams]:
  """The learned optimizer and the meta-parameters stored at `path` (in a workdir, its
  newest readable step, with a warning for each newer unreadable one)."""
  return _read(path, _read_theta)


def _read_theta(ckpt: str) -> tuple[LearnedOptimizer, MetaParams]:
  lopt = from_record(_read_record(ckpt), where=ckpt)
  check_theta(lopt, stored_shapes(os.path.join(ckpt, THETA_ITEM)), where=f"theta in {ckpt}")
  # Onto this process's first device, whatever devices and processes wrote it (a theta
  # meta-trained by a multi-process job loads on one machine).
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  abstract = jax.tree.map(
    lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device),
    jax.eval_shape(lopt.init, jax.random.PRNGKey(0)),
  )
  return lopt, restore_items(ckpt, {THETA_ITEM: ocp.args.StandardRestore(abstract)})[THETA_ITEM]


def load(
  path: str | os.PathLike, *, num_steps: int | None = None, **overrides: Any
) -> optax.GradientTransformationExtraArgs:
  """The optax optimizer stored at `path` (a checkpoint directory, a meta-training workdir,
  or `pretrained:<name>`).

  `num_steps` is the training horizon, for rules that read it. `overrides` replace fields
  of the stored configuration that do not change theta's shapes, e.g. `learning_rate=` of
  a rule that takes one; an unknown field or one that changes theta is a `CheckpointError`.

  Example:
    >>> opt = learned_opt.load("pretrained:residual_muon_v2", num_steps=1000)
    >>> state = opt.init(params)
    >>> updates, state = opt.update(grads, state, params)
  """
  lopt, theta = load_theta(path)
  if overrides:
    try:
      lopt = registry.get(lopt.architecture, **{**registry.config_of(lopt), **overrides})
    except (ValueError, TypeError) as e:
      raise CheckpointError(f"Overriding {overrides} of {os.fspath(path)}: {e}") from None
    check_theta(lopt, theta, where=f"theta of {os.fspath(path)} with {overrides}")
  return lopt.opt(theta, num_steps=num_steps)
