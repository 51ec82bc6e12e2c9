"""Saving and loading learned optimizers as orbax checkpoints.

A learned-optimizer checkpoint is a directory with two orbax items:

    theta/   the meta-parameters (orbax StandardSave)
    lopt/    a JSON record: {"format_version", "architecture", "config", "features"}

`learned_opt.load(path)` accepts such a directory, a meta-training workdir (it then
takes the newest step under `workdir/checkpoints/`), or `pretrained:<name>` (a checkpoint
shipped in the package, `learned_opt.pretrained.names()`), and rebuilds the optax optimizer
from the record alone. Nothing in a checkpoint is executed: the record is JSON, theta is arrays.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

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
  try:
    lopt = registry.get(rec["architecture"], **rec["config"])
  except (KeyError, ValueError, TypeError) as e:
    raise CheckpointError(
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


def resolve(path: str | os.PathLike) -> str:
  """The checkpoint directory `path` refers to (itself, a workdir's newest step, or the
  shipped checkpoint `pretrained:<name>`)."""
  if os.fspath(path).startswith(pretrained.PREFIX):
    try:
      return pretrained.path(os.fspath(path))
    except ValueError as e:
      raise CheckpointError(str(e)) from None
  path = os.path.abspath(os.fspath(path))
  if _is_checkpoint(path):
    return path
  steps_dir = os.path.join(path, CHECKPOINTS_DIR)
  if os.path.isdir(steps_dir):
    steps = sorted(
      (int(d) for d in os.listdir(steps_dir) if d.isdigit()),
      reverse=True,
    )
    for step in steps:
      candidate = os.path.join(steps_dir, str(step))
      if _is_checkpoint(candidate):
        return candidate
  raise CheckpointError(
    f"No learned-optimizer checkpoint at {path}: expected a directory with '{THETA_ITEM}/' "
    f"and '{RECORD_ITEM}/' items, or a meta-training workdir with '{CHECKPOINTS_DIR}/<step>/'."
  )


def _is_checkpoint(path: str) -> bool:
  return all(os.path.isdir(os.path.join(path, item)) for item in (THETA_ITEM, RECORD_ITEM))


def read_record(path: str | os.PathLike) -> dict[str, Any]:
  """The JSON record of the checkpoint at `path` (a checkpoint directory or a workdir)."""
  ckpt = resolve(path)
  with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
    rec = ckptr.restore(ckpt, ocp.args.Composite(**{RECORD_ITEM: ocp.args.JsonRestore()}))
  return dict(rec[RECORD_ITEM])


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
  """The shapes and dtypes of the arrays of an orbax StandardSave item, without reading them."""
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.ERROR)  # reading one item warns of the step's metadata
  try:
    stored = ocp.StandardCheckpointer().metadata(item_dir).item_metadata
  finally:
    absl_logging.set_verbosity(verbosity)
  return jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype), stored.tree)


def load_theta(path: str | os.PathLike) -> tuple[LearnedOptimizer, MetaParams]:
  """The learned optimizer and the meta-parameters stored at `path`."""
  ckpt = resolve(path)
  lopt = from_record(read_record(ckpt), where=ckpt)
  check_theta(lopt, stored_shapes(os.path.join(ckpt, THETA_ITEM)), where=f"theta in {ckpt}")
  abstract = jax.eval_shape(lopt.init, jax.random.PRNGKey(0))
  with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
    out = ckptr.restore(
      ckpt, ocp.args.Composite(**{THETA_ITEM: ocp.args.StandardRestore(abstract)})
    )
  return lopt, out[THETA_ITEM]


def load(
  path: str | os.PathLike, *, num_steps: int | None = None, **overrides: Any
) -> optax.GradientTransformationExtraArgs:
  """The optax optimizer stored at `path` (a checkpoint directory, a meta-training workdir,
  or `pretrained:<name>`).

  `num_steps` is the training horizon, for rules that read it. `overrides` replace fields
  of the stored configuration that do not change theta's shapes, e.g. `learning_rate=` of
  a rule that takes one; an unknown field or one that changes theta is a `CheckpointError`.

  Example:
    >>> opt = learned_opt.load("pretrained:residual_muon_v1", num_steps=1000)
    >>> state = opt.init(params)
    >>> updates, state = opt.update(grads, state, params)
  """
  lopt, theta = load_theta(path)
  if overrides:
    fields = {f.name for f in dataclasses.fields(lopt)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
      raise CheckpointError(
        f"{lopt.architecture!r} has no option {unknown}; its options are {sorted(fields)}."
      )
    lopt = dataclasses.replace(lopt, **overrides)
    check_theta(lopt, theta, where=f"theta of {os.fspath(path)} with {overrides}")
  return lopt.opt(theta, num_steps=num_steps)
