"""The meta-training job: set-up (which rejects bad input before writing anything) and the
loop (step, log, checkpoint). `meta_train.main` and `meta_train.demo` are its front ends.

Rerunning with the same workdir resumes from its newest checkpoint and, on CPU, ends with
bitwise the same theta as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from typing import Any

import jax
import ml_collections
from absl import logging
from tqdm import tqdm

import cli
import learned_opt
from meta_train import build
from meta_train import workdir as workdir_lib
from meta_train.evaluation import Evaluator
from meta_train.metrics import MetricsWriter
from meta_train.outer import MetaState

# ---------------------------------------------------------------------------------------
# Setup: everything that can reject bad input runs before anything is written.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
  config: ml_collections.ConfigDict
  trainer: Any
  workdir: str
  checkpoints: workdir_lib.Checkpoints
  lopt_record: dict
  state: MetaState
  evaluator: Evaluator | None


def setup(config: ml_collections.ConfigDict, workdir: str) -> Run:
  """Builds the run and opens its workdir; raises `ValueError` on bad input."""
  trainer = build.build_trainer(config)
  evaluator = None
  if config.eval.every > 0 and config.eval.tasks:
    evaluator = Evaluator(trainer.lopt, tuple(config.eval.tasks), config.eval.num_steps)
  workdir = workdir_lib.prepare(workdir)
  checkpoints = workdir_lib.Checkpoints(workdir, max_to_keep=config.max_to_keep)
  lopt_record = learned_opt.record(trainer.lopt)
  key = jax.random.PRNGKey(config.seed)
  abstract = jax.eval_shape(trainer.init, key)
  state = checkpoints.restore(abstract, lopt_record)
  if state is None:
    state = trainer.init(key)
  else:
    tqdm.write(f"Resuming from step {int(state.step)} in {workdir}.")
  state = trainer.place(state)
  return Run(config, trainer, workdir, checkpoints, lopt_record, state, evaluator)


# ---------------------------------------------------------------------------------------
# The meta-training loop.
# ---------------------------------------------------------------------------------------


def train(config: ml_collections.ConfigDict, workdir: str) -> MetaState:
  """Meta-trains (or resumes) to `config.num_steps`; returns the final state."""
  return run(setup(config, workdir))


def run(r: Run) -> MetaState:
  """The meta-training loop of a set-up run: step, log, checkpoint."""
  config, trainer, checkpoints, state = r.config, r.trainer, r.checkpoints, r.state
  lopt_record = r.lopt_record
  config_json = config.to_dict()
  start = int(state.step)
  writer = MetricsWriter(r.workdir, resume_step=start)
  deadline = time.monotonic() + 60 * config.max_wall_minutes if config.max_wall_minutes else None
  bar = tqdm(
    total=config.num_steps, initial=start, desc="meta-train", unit="step", dynamic_ncols=True
  )
  last_log, last_time = start, time.monotonic()
  terminated = []
  previous_handler = signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
  try:
    while int(state.step) < config.num_steps and not terminated:
      state, metrics = trainer.step(state)
      step = int(state.step)
      bar.update(1)
      evaluate = r.evaluator is not None and step % config.eval.every == 0
      if evaluate:
        metrics.update(r.evaluator(state.theta))
      if evaluate or step % config.log_every == 0 or step == config.num_steps:
        now = time.monotonic()
        rate = float(metrics["inner_steps"]) * (step - last_log) / max(now - last_time, 1e-9)
        metrics["inner_steps_per_s"] = rate
        writer.write(step, metrics)
        bar.set_postfix(
          meta_loss=f"{float(metrics['meta_loss']):.4f}",
          nonfinite=int(metrics["num_nonfinite"]),
          inner_per_s=f"{rate:.0f}",
        )
        last_log, last_time = step, now
      if step % config.checkpoint_every == 0:
        checkpoints.save(state, lopt_record, config_json)
      if deadline is not None and time.monotonic() > deadline:
        logging.warning("Stopping at step %d: max_wall_minutes reached.", step)
        break
    if checkpoints.latest_step() != int(state.step):
      checkpoints.save(state, lopt_record, config_json)
    if terminated:
      tqdm.write(f"SIGTERM: checkpointed step {int(state.step)} in {r.workdir}; rerun to resume.")
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
    bar.close()
    writer.close()
    checkpoints.close()
  return state


# ---------------------------------------------------------------------------------------
# For the front ends: bad input exits with status 2 (`cli.usage_error`).
# ---------------------------------------------------------------------------------------


def setup_or_exit(config: ml_collections.ConfigDict, workdir: str) -> Run:
  try:
    return setup(config, workdir)
  except ValueError as e:
    cli.usage_error(str(e))
