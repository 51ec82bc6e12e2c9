"""A meta-training workdir: its checks, its lock, and its orbax checkpoints.

workdir/
  lock                    JSON {pid, host} of the process that has the workdir open (`Lock`)
  checkpoints/<step>/     orbax CheckpointManager steps, each with the items
    theta/                  the meta-parameters (what `learned_opt.load(workdir)` reads)
    lopt/                   JSON record: format version, architecture, config
    train_state/            the whole training state (meta-training: `MetaState`: theta,
                            meta-optimizer state, populations, RNG key, step)
    config/                 JSON: the run's full config
  checkpoints/<step>.corrupt-<n>/   an unreadable step, set aside (renamed, never deleted)
  metrics.jsonl, tb/       see `meta_train.loop`

Recovery, one path for every way a step can be unreadable (a write cut short, a damaged
record, config, metadata or array file, a missing folder): `Checkpoints.restore` reads the
newest step whole (record, config, theta and the state, arrays included); a step that
cannot be read is set aside as `<step>.corrupt-<n>` with a warning naming it, and the next
older one is tried (`learned_opt.checkpoint.newest_readable`, which `learned_opt.load`
shares). The run then goes on past the set-aside step, whose number is free again. When no
step reads, the run starts afresh. `Checkpoints.ensure_readable` reads the final checkpoint
back before the job reports success, and writes it again if it cannot be read. A step that
reads but belongs to another learned optimizer or config is a `CheckpointError`, not set
aside.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
from typing import Any, NamedTuple

import jax
import orbax.checkpoint as ocp

from learned_opt.checkpoint import (
  CHECKPOINTS_DIR,
  RECORD_ITEM,
  THETA_ITEM,
  CheckpointError,
  UnreadableCheckpoint,
  newest_readable,
  restore_items,
  step_dirs,
  stored_shapes,
  tree_mismatch,
)

STATE_ITEM = "train_state"
CONFIG_ITEM = "config"
LOCK_FILE = "lock"
CORRUPT = ".corrupt-"


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


# ---------------------------------------------------------------------------------------
# The lock: one process per workdir.
# ---------------------------------------------------------------------------------------


class WorkdirLocked(ValueError):
  """The workdir is open in another process."""


class Lock:
  """`workdir/lock`: created whole (written aside, then hard-linked into place), holding the
  pid and host of the process that has the workdir open.

  A second process finds it and raises `WorkdirLocked` naming the holder. A lock whose
  process is gone (same host, no such pid: a run killed with SIGKILL) is stale: it is taken
  over with a warning. A lock of another host cannot be checked: remove it by hand once
  that process is gone. In a multi-process job only process 0 takes the lock.
  """

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, LOCK_FILE)
    self._held = False

  def acquire(self) -> None:
    if jax.process_index() != 0:
      return
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(3):
      fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=LOCK_FILE + ".")
      with os.fdopen(fd, "w") as f:
        json.dump(me, f)
      try:
        os.link(tmp, self.path)
        self._held = True
        return
      except FileExistsError:
        holder = self._holder()
      finally:
        os.remove(tmp)
      if holder is not None and _alive(holder):
        where = f"pid {holder['pid']} on host {holder['host']}"
        raise WorkdirLocked(
          f"The workdir {os.path.dirname(self.path)} is in use by {where} (lock file "
          f"{self.path}). Wait for that run to end, or use another --workdir; if that "
          "process is gone, delete the lock file."
        )
      logging.warning(
        "Taking over the stale lock %s (%s: no such process).",
        self.path,
        "unreadable" if holder is None else f"pid {holder['pid']} on {holder['host']}",
      )
      try:
        os.remove(self.path)
      except FileNotFoundError:
        pass
    raise WorkdirLocked(f"Could not take the lock {self.path}: another process keeps taking it.")

  def _holder(self) -> dict[str, Any] | None:
    """The lock file's {pid, host}, or None when it cannot be read (then it is stale)."""
    try:
      with open(self.path) as f:
        holder = json.load(f)
      return holder if isinstance(holder.get("pid"), int) else None
    except (OSError, ValueError, AttributeError):
      return None

  def release(self) -> None:
    if self._held and self._holder() == {"pid": os.getpid(), "host": socket.gethostname()}:
      os.remove(self.path)
    self._held = False


def _alive(holder: dict[str, Any]) -> bool:
  """Whether the lock holder may still run: another host's always may."""
  if holder.get("host") != socket.gethostname():
    return True
  try:
    os.kill(holder["pid"], 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's process
    return True
  return True


# ---------------------------------------------------------------------------------------
# Checkpoints.
# ---------------------------------------------------------------------------------------

State = Any  # a NamedTuple with `step` and `theta` (`meta_train.main.MetaState`, ...)


class Restored(NamedTuple):
  """A restored checkpoint: the state, and the config of the run that wrote it."""

  state: State
  config: dict[str, Any]


class Checkpoints:
  """Orbax checkpoints of a run's state, with the learned optimizer's record.

  Opening takes the workdir's `Lock`; `close` releases it.
  """

  def __init__(self, workdir: str, max_to_keep: int):
    self.directory = os.path.join(workdir, CHECKPOINTS_DIR)
    self._lock = Lock(workdir)
    self._lock.acquire()
    try:
      self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
          max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
        ),
      )
    except BaseException:
      self._lock.release()
      raise

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

  def restore(self, abstract: State, lopt_record: dict) -> Restored | None:
    """The newest readable checkpoint, or None when there is none.

    Unreadable steps newer than it are set aside (`<step>.corrupt-<n>`) with a warning. A
    checkpoint made by another architecture or config, or whose state does not match
    `abstract`, is a `CheckpointError`.
    """
    read = lambda where: self._read(where, abstract, lopt_record)
    restored, skipped = newest_readable(step_dirs(os.path.dirname(self.directory)), read)
    for where, error in skipped:
      self._set_aside(where, error)
    return restored

  def ensure_readable(self, state: State, lopt_record: dict, config: dict) -> None:
    """Reads `state`'s checkpoint back; one that cannot be read is set aside and written
    again (once; a second failure is a `CheckpointError`)."""
    where = os.path.join(self.directory, str(int(state.step)))
    abstract = jax.eval_shape(lambda: state)
    for attempt in range(2):
      try:
        self._read(where, abstract, lopt_record)
        return
      except UnreadableCheckpoint as e:
        if attempt:
          raise CheckpointError(f"The final checkpoint cannot be read back: {e}") from None
        self._set_aside(where, e)
        self.save(state, lopt_record, config)

  def _read(self, where: str, abstract: State, lopt_record: dict) -> Restored:
    """The checkpoint at `where`, read whole; `UnreadableCheckpoint` when it cannot be."""
    if not os.path.isdir(where):
      raise UnreadableCheckpoint(f"{where} is not a directory.")
    items = restore_items(
      where, {RECORD_ITEM: ocp.args.JsonRestore(), CONFIG_ITEM: ocp.args.JsonRestore()}
    )
    stored_record, config = items[RECORD_ITEM], items[CONFIG_ITEM]
    if not isinstance(stored_record, dict) or not isinstance(config, dict):
      raise UnreadableCheckpoint(f"{where}: its record or config is not a JSON object.")
    self._check(where, dict(stored_record), lopt_record, abstract)
    restored = restore_items(
      where,
      {
        STATE_ITEM: ocp.args.StandardRestore(abstract),
        THETA_ITEM: ocp.args.StandardRestore(abstract.theta),
      },
    )
    return Restored(restored[STATE_ITEM], dict(config))

  def _set_aside(self, where: str, error: Exception) -> None:
    """Renames the unreadable step `where` to `<step>.corrupt-<n>` (nothing is deleted)."""
    n = 1
    while os.path.exists(f"{where}{CORRUPT}{n}"):
      n += 1
    if os.path.exists(where):
      os.rename(where, f"{where}{CORRUPT}{n}")
      logging.warning(
        "Set aside the unreadable checkpoint %s as %s: %s", where, f"{where}{CORRUPT}{n}", error
      )
    self._manager.reload()

  @staticmethod
  def _check(where: str, stored: dict, current: dict, abstract: Any) -> None:
    if stored != current:
      raise CheckpointError(
        f"The workdir holds a checkpoint of another learned optimizer ({where}):\n"
        f"  stored:     {stored}\n  configured: {current}\n"
        "Use a new --workdir, or the config that made this checkpoint."
      )
    diff = tree_mismatch(
      jax.eval_shape(lambda: abstract), stored_shapes(os.path.join(where, STATE_ITEM))
    )
    if diff:
      raise CheckpointError(
        f"The checkpoint {where} does not match this config's meta-training state (task "
        "families, estimator or population size changed?): " + "; ".join(diff[:5])
      )

  def close(self) -> None:
    self._manager.close()
    self._lock.release()


def resume_line(step: Any, workdir: str, stored: dict[str, Any], current: dict[str, Any]) -> str:
  """`Resuming from step N in W.` and, when the config changed since that checkpoint (the
  run goes on with the new values), every changed value."""
  changes = config_changes(stored, current)
  line = f"Resuming from step {int(step)} in {workdir}."
  return line + (f" Config changed since that checkpoint: {'; '.join(changes)}." if changes else "")


def config_changes(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
  """`key: old -> new` for every config value (dotted keys) that differs between the
  checkpoint's config and this run's (compared as JSON: tuples as lists)."""

  def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
      if isinstance(v, dict) and v:
        out.update(flat(v, f"{prefix}{k}."))
      else:
        out[f"{prefix}{k}"] = v
    return out

  old, new = flat(stored), flat(json.loads(json.dumps(current)))
  show = lambda d, k: repr(d[k]) if k in d else "unset"
  return [
    f"{k}: {show(old, k)} -> {show(new, k)}"
    for k in sorted(old.keys() | new.keys())
    if k not in old or k not in new or old[k] != new[k]
  ]
