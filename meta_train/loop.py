"""The training loop of a workdir program, shared by meta-training and the nowcaster.

`run(state, step, ...)` calls `step(state) -> (state, metrics)` until `state.step` reaches
`num_steps`, and around it does what every resumable job of this repository does:

- a progress bar (tqdm) from the resumed step;
- every `log_every` steps (and at the last, and where `log_also(step)`), one line of
  `summarize(step, state, history, seconds)` in `workdir/metrics.jsonl` and the same scalars
  in TensorBoard (`workdir/tb/`, tensorboardX: no TensorFlow); `history` is the list of
  the metrics of every step since the previous line, `seconds` the time they took;
- a checkpoint every `checkpoint_every` steps and at the end (`workdir.Checkpoints`); the
  final one is read back before `run` returns, and written again if it cannot be read;
- SIGTERM: the step under way finishes, the state is checkpointed, and the run returns;
- `max_wall_minutes`: the same, once that much time has passed.

On resume, metrics lines of steps after the restored one (written by a run killed between
two checkpoints, about to be recomputed) are dropped, so each step appears once. A line that
is not JSON (a run killed while writing it: a torn last line) is dropped with a warning,
so it never blocks a resume. Non-finite values are written as JSON's NaN / Infinity (a task
family whose every member diverged logs `meta_loss` NaN, not a number that reads as solved).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
from absl import logging
from tensorboardX import SummaryWriter
from tqdm import tqdm

from meta_train.workdir import Checkpoints

METRICS_FILE = "metrics.jsonl"
TB_DIR = "tb"


class MetricsWriter:
  """Appends scalar metrics to `workdir/metrics.jsonl` and to TensorBoard.

  On resume from `resume_step`, lines of later steps are dropped first. In a multi-process
  job only process 0 writes (every process computes the same replicated metrics); the
  others' writers write nothing.
  """

  def __init__(self, workdir: str, resume_step: int = 0):
    self.path = os.path.join(workdir, METRICS_FILE)
    self._file = self._tb = None
    if jax.process_index() != 0:
      return
    if os.path.exists(self.path):
      with open(self.path) as f:
        kept = [line for i, line in enumerate(f, 1) if self._step(line, i) <= resume_step]
      with open(self.path, "w") as f:
        f.writelines(kept)
    self._file = open(self.path, "a")
    self._tb = SummaryWriter(logdir=os.path.join(workdir, TB_DIR))

  def _step(self, line: str, number: int) -> float:
    """The step of one line of an existing file; inf (dropped) for a line that is not a
    metrics record, with a warning unless it is blank."""
    try:
      return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
      if line.strip():
        logging.warning(
          "Dropping line %d of %s, not a metrics record: %.80r", number, self.path, line
        )
      return float("inf")

  def write(self, step: int, metrics: Mapping[str, float]) -> None:
    if self._file is None:
      return
    values = {k: float(np.asarray(v)) for k, v in metrics.items()}
    self._file.write(json.dumps({"step": step, **values}) + "\n")
    self._file.flush()
    for name, value in values.items():
      self._tb.add_scalar(name, value, step)

  def close(self) -> None:
    if self._file is not None:
      self._file.close()
      self._tb.close()


def run(
  state: Any,
  step: Callable[[Any], tuple[Any, dict[str, Any]]],
  *,
  workdir: str,
  checkpoints: Checkpoints,
  record: dict,
  config: dict,
  num_steps: int,
  log_every: int,
  checkpoint_every: int,
  summarize: Callable[[int, Any, list[dict[str, Any]], float], dict[str, Any]],
  postfix: Callable[[dict[str, Any]], dict[str, str]],
  log_also: Callable[[int], bool] = lambda step: False,
  max_wall_minutes: float | None = None,
  desc: str = "train",
  echo: Callable[[str], None] = tqdm.write,
) -> Any:
  """Steps `state` (a NamedTuple with a `step` field) to `num_steps`; returns the last state.

  Args:
    state: the restored or initial state.
    step: one training step, `state -> (state, metrics)`.
    workdir, checkpoints: where the metrics and checkpoints go; the loop closes
      `checkpoints` when it ends.
    record, config: what every checkpoint stores beside the state (`Checkpoints.save`).
    num_steps, log_every, checkpoint_every: the cadences, in steps.
    summarize: `(step, state, history, seconds) -> metrics` of one logged line.
    postfix: the progress bar's fields, from a logged line's metrics.
    log_also: steps logged besides every `log_every`-th (e.g. evaluation steps).
    max_wall_minutes: stop (and checkpoint) after this long; None or 0: no limit.
    desc: the progress bar's label.
    echo: where the SIGTERM notice goes.
  """
  start = int(state.step)
  writer = MetricsWriter(workdir, resume_step=start)
  deadline = time.monotonic() + 60 * max_wall_minutes if max_wall_minutes else None
  bar = tqdm(
    total=num_steps,
    initial=start,
    desc=desc,
    unit="step",
    dynamic_ncols=True,
    disable=jax.process_index() != 0,
  )
  history, last_time = [], time.monotonic()
  terminated = []
  previous_handler = signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
  try:
    while int(state.step) < num_steps and not terminated:
      state, metrics = step(state)
      history.append(metrics)
      now = int(state.step)
      bar.update(1)
      if now % log_every == 0 or now == num_steps or log_also(now):
        seconds = max(time.monotonic() - last_time, 1e-9)
        line = summarize(now, state, history, seconds)
        writer.write(now, line)
        bar.set_postfix(postfix(line))
        history, last_time = [], time.monotonic()
      if now % checkpoint_every == 0:
        checkpoints.save(state, record, config)
      if deadline is not None and time.monotonic() > deadline:
        logging.warning("Stopping at step %d: max_wall_minutes reached.", now)
        break
    if checkpoints.latest_step() != int(state.step):
      checkpoints.save(state, record, config)
    checkpoints.ensure_readable(state, record, config)
    if terminated:
      echo(f"SIGTERM: checkpointed step {int(state.step)} in {workdir}; rerun to resume.")
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
    bar.close()
    writer.close()
    checkpoints.close()
  return state
