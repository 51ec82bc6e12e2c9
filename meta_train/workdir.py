"""A meta-training workdir: its checks, and its orbax checkpoints.

workdir/
  checkpoints/<step>/     orbax CheckpointManager steps, each with the items
    theta/                  the meta-parameters (what `learned_opt.load(workdir)` reads)
    lopt/                   JSON record: format version, architecture, config
    train_state/            the whole training state (meta-training: `MetaState`: theta,
                            meta-optimizer state, populations, RNG key, step)
    config/                 JSON: the run's full config
  metrics.jsonl, tb/       see `meta_train.loop`
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import jax
import orbax.checkpoint as ocp

import learned_opt
from learned_opt.checkpoint import (
  CHECKPOINTS_DIR,
  RECORD_ITEM,
  THETA_ITEM,
  CheckpointError,
  stored_shapes,
  tree_mismatch,
)

STATE_ITEM = "train_state"
CONFIG_ITEM = "config"


def prepare(workdir: str) -> str:
  """Creates `workdir` if needed and checks that it is writable; returns its absolute path."""
  workdir = os.path.abspath(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass
  except OSError as e:
    raise ValueError(f"Cannot write to workdir {workdir}: {e.strerror or e}.") from None
  return workdir


State = Any  # a NamedTuple with `step` and `theta` (`meta_train.main.MetaState`, ...)


class Checkpoints:
  """Orbax checkpoints of a run's state, with the learned optimizer's record."""

  def __init__(self, workdir: str, max_to_keep: int):
    self.directory = os.path.join(workdir, CHECKPOINTS_DIR)
    self._manager = ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
      ),
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, state: State, lopt_record: dict, config: dict) -> None:
    step = int(state.step)
    self._manager.save(
      step,
      args=ocp.args.Composite(
        **{
          THETA_ITEM: ocp.args.StandardSave(state.theta),
          STATE_ITEM: ocp.args.StandardSave(state),
          RECORD_ITEM: ocp.args.JsonSave(lopt_record),
          CONFIG_ITEM: ocp.args.JsonSave(config),
        }
      ),
      force=True,
    )

  def restore(self, abstract: State, lopt_record: dict) -> State | None:
    """The newest readable checkpoint's state, or None when there is none.

    A checkpoint made by another architecture or config, or whose population does not
    match `abstract`, is a `CheckpointError`. An unreadable newest checkpoint (a write cut
    short) falls back to the previous one with a warning.
    """
    steps = sorted(self._manager.all_steps(), reverse=True)
    for i, step in enumerate(steps):
      where = os.path.join(self.directory, str(step))
      try:
        stored_record = learned_opt.read_record(where)
        shapes = stored_shapes(os.path.join(where, STATE_ITEM))
      except Exception as e:  # any read failure: fall back to an older step
        if i + 1 < len(steps):
          logging.warning("Checkpoint %s is unreadable (%s); trying the previous one.", where, e)
          continue
        raise CheckpointError(f"Checkpoint {where} is unreadable: {e}") from None
      self._check(where, stored_record, lopt_record, abstract, shapes)
      restored = self._manager.restore(
        step, args=ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardRestore(abstract)})
      )
      return restored[STATE_ITEM]
    return None

  @staticmethod
  def _check(where: str, stored: dict, current: dict, abstract: Any, shapes: Any) -> None:
    if stored != current:
      raise CheckpointError(
        f"The workdir holds a checkpoint of another learned optimizer ({where}):\n"
        f"  stored:     {stored}\n  configured: {current}\n"
        "Use a new --workdir, or the config that made this checkpoint."
      )
    diff = tree_mismatch(jax.eval_shape(lambda: abstract), shapes)
    if diff:
      raise CheckpointError(
        f"The checkpoint {where} does not match this config's meta-training state (task "
        "families, estimator or population size changed?): " + "; ".join(diff[:5])
      )

  def close(self) -> None:
    self._manager.close()
