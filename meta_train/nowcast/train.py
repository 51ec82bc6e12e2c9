"""Train a NiNo nowcaster: the program, read top to bottom (set-up, step, held-out errors, the
loop). `python -m meta_train.nowcast` is its command line (`meta_train/nowcast/__main__.py`).

1. Collects (or reuses) Adam trajectories of the configured zoo tasks, and of the held-out
   tasks, under `workdir/trajectories/` (format: `meta_train.nowcast.trajectories`).
2. Trains the nowcaster (`learned_opt.nino`) with the L1 loss on windows sampled from the
   training trajectories: `context` snapshots and the one `ahead` spacings later,
   `ahead` uniform in 1..max_ahead; one task's trajectory per step (uniformly).
3. Logs the training loss and, on windows of the held-out trajectories, the mean absolute
   error of the nowcast against no change and linear extrapolation (`metrics.jsonl`, `tb/`),
   and checkpoints like a meta-training workdir (`checkpoints/<step>/theta|lopt|train_state|
   config`), so `learned_opt.load(workdir)` gives `jump_every(adam, nowcaster, every, context)`.
   The loop is meta-training's (`meta_train.loop`: progress bar, metrics, checkpoint
   cadence, SIGTERM).

Rerunning with the same workdir resumes from its newest readable checkpoint (unreadable
steps are set aside, `meta_train.workdir`) and ends with bitwise the same theta as an
uninterrupted run. Bad input (unknown task, a task without a neural graph, an unknown config
key, a value out of range (`VALUE_RULES`), another run's workdir or one in use) prints one
message and exits with status 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from tqdm import tqdm

import cli
import learned_opt
import tasks
from learned_opt import neural_graph, nino
from learned_opt.jumps import linear_extrapolation
from meta_train import loop
from meta_train import workdir as workdir_lib
from meta_train.nowcast import trajectories as traj_lib

# ---------------------------------------------------------------------------------------
# Set-up: the nowcaster, the trajectories' spec, the neural graphs; bad input is refused
# before anything is written.
# ---------------------------------------------------------------------------------------


class NowcasterState(NamedTuple):
  """Everything the nowcaster's training needs to resume exactly."""

  step: jax.Array
  theta: Any
  opt_state: Any


@dataclasses.dataclass
class NowcasterRun:
  """A nowcaster training ready to loop: its objects, its open workdir, its first state."""

  config: ml_collections.ConfigDict
  lopt: nino.Nino
  workdir: str
  spec: dict
  graphs: dict[str, neural_graph.NeuralGraph]
  checkpoints: workdir_lib.Checkpoints
  record: dict
  state: NowcasterState


def _num_heads(task_name: str) -> int | None:
  return getattr(tasks.get(task_name), "num_heads", None)


def _graph(task_name: str) -> neural_graph.NeuralGraph:
  """The task's neural graph, which must cover every parameter tensor (the nowcaster learns
  from whole trajectories)."""
  abstract = jax.eval_shape(tasks.get(task_name).init, jax.random.PRNGKey(0))
  graph = neural_graph.infer(abstract, num_heads=_num_heads(task_name))
  if graph.left_out:
    raise ValueError(
      f"task {task_name!r} has no neural graph for all its tensors: {neural_graph.summary(graph)}"
    )
  return graph


def lopt_of(config: ml_collections.ConfigDict) -> nino.Nino:
  """The nowcaster the config describes; `every` is context x the trajectories' spacing."""
  c = config.nowcaster
  return nino.Nino(
    context=c.context,
    hidden=c.hidden,
    layers=c.layers,
    every=c.context * config.trajectories.spacing,
    ahead=float(c.ahead),
    base_learning_rate=c.base_learning_rate,
  )


def spec_of(config: ml_collections.ConfigDict) -> dict:
  t = config.trajectories
  names = tuple(t.tasks) + tuple(config.eval.tasks)
  lrs = {n: tuple(lr or tasks.adam_lr(n) for lr in t.learning_rates) for n in names}
  return traj_lib.spec(lrs, tuple(range(t.seeds)), t.num_steps, t.spacing)


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.chain(
    optax.clip_by_global_norm(config.train.grad_clip), optax.adam(config.train.learning_rate)
  )


# The top-level keys of a nowcaster config, and the ranges of its values.
CONFIG_KEYS = ("trajectories", "nowcaster", "train")
VALUE_RULES = {
  "log_every": cli.COUNT,
  "checkpoint_every": cli.COUNT,
  "max_to_keep": cli.COUNT,
  "trajectories.seeds": cli.COUNT,
  "trajectories.num_steps": cli.COUNT,
  "trajectories.spacing": cli.COUNT,
  "trajectories.learning_rates": (
    "a non-empty tuple of numbers > 0, or 0 (each task's tasks.adam_lr)",
    lambda v: bool(v) and all(cli.POSITIVE[1](x) or x == 0 for x in v),
  ),
  "nowcaster.base_learning_rate": cli.POSITIVE,
  "train.num_steps": cli.COUNT,
  "train.batch_size": cli.COUNT,
  "train.learning_rate": cli.POSITIVE,
  "train.grad_clip": cli.POSITIVE,
  "train.max_ahead": cli.COUNT,
  "eval.batch_size": cli.COUNT,
}


def setup(config: ml_collections.ConfigDict, workdir: str) -> NowcasterRun:
  """Checks the config and the workdir, then opens it; raises `ValueError` on bad input."""
  cli.check_config(config, VALUE_RULES)
  lopt = lopt_of(config)
  t = config.trajectories
  if not t.tasks:
    raise ValueError("config.trajectories.tasks is empty: name zoo tasks to learn from.")
  graphs = {n: _graph(n) for n in (*t.tasks, *config.eval.tasks)}
  spec = spec_of(config)
  snapshots = t.num_steps // t.spacing + 1
  if snapshots < config.nowcaster.context + config.train.max_ahead:
    raise ValueError(
      f"trajectories of {snapshots} snapshots are too short for context "
      f"{config.nowcaster.context} + max_ahead {config.train.max_ahead}."
    )
  if config.nowcaster.ahead > config.train.max_ahead:
    raise ValueError(
      f"nowcaster.ahead ({config.nowcaster.ahead}) is beyond the horizons trained on "
      f"(train.max_ahead = {config.train.max_ahead})."
    )
  traj_lib.check_spec(os.path.join(os.path.abspath(workdir), traj_lib.DIRNAME), spec)
  workdir = workdir_lib.prepare(workdir)
  checkpoints = workdir_lib.Checkpoints(workdir, max_to_keep=config.max_to_keep)
  record = learned_opt.record(lopt)
  init = lambda: init_state(config, lopt)
  try:
    restored = checkpoints.restore(jax.eval_shape(init), record)
  except BaseException:
    checkpoints.close()
    raise
  if restored is None:
    state = init()
  else:
    state = restored.state
    tqdm.write(workdir_lib.resume_line(state.step, workdir, restored.config, config.to_dict()))
  return NowcasterRun(config, lopt, workdir, spec, graphs, checkpoints, record, state)


def init_state(config: ml_collections.ConfigDict, lopt: nino.Nino) -> NowcasterState:
  theta = lopt.init(jax.random.PRNGKey(config.seed))
  return NowcasterState(jnp.zeros([], jnp.int32), theta, optimizer(config).init(theta))


# ---------------------------------------------------------------------------------------
# The step: the L1 loss on a batch of windows of one trajectory, Adam on the nowcaster.
# ---------------------------------------------------------------------------------------


def sample_windows(
  params: Any, key: jax.Array, batch: int, context: int, ahead_range: tuple[int, int]
):
  """`batch` (window [batch, context, ...], ahead [batch], target [batch, ...]) of a
  trajectory (leaves [T, ...]): ahead uniform in `ahead_range` (both ends included), then
  the window's end uniform over the ends that leave room for it."""
  num = jax.tree.leaves(params)[0].shape[0]
  k_ahead, k_end = jax.random.split(key)
  ahead = jax.random.randint(k_ahead, (batch,), ahead_range[0], ahead_range[1] + 1)
  span = num - ahead - context + 1
  end = context - 1 + jnp.floor(jax.random.uniform(k_end, (batch,)) * span).astype(jnp.int32)

  def window(x):
    return jax.vmap(lambda e: jax.lax.dynamic_slice_in_dim(x, e - context + 1, context))(end)

  return (
    jax.tree.map(window, params),
    ahead.astype(jnp.float32),
    jax.tree.map(lambda x: x[end + ahead], params),
  )


def _train_step(config, lopt, graph):
  opt = optimizer(config)

  def batch_loss(theta, params, key):
    windows, ahead, targets = sample_windows(
      params, key, config.train.batch_size, lopt.context, (1, config.train.max_ahead)
    )
    losses = jax.vmap(lambda w, a, t: nino.loss(theta, graph, w, a, t))(windows, ahead, targets)
    return jnp.mean(losses)

  @jax.jit
  def step(state: NowcasterState, params, key):
    value, grads = jax.value_and_grad(batch_loss)(state.theta, params, key)
    updates, opt_state = opt.update(grads, state.opt_state, state.theta)
    theta = optax.apply_updates(state.theta, updates)
    return NowcasterState(state.step + 1, theta, opt_state), value

  return step


# ---------------------------------------------------------------------------------------
# Held-out errors: the nowcast against the two trivial predictors.
# ---------------------------------------------------------------------------------------


def heldout_errors(lopt, theta, graph, params, key, batch, ahead) -> dict[str, jax.Array]:
  """Mean absolute error, in parameter space, of the nowcast and of the two trivial
  predictors on `batch` windows of a trajectory, all `ahead` spacings ahead."""
  windows, _, targets = sample_windows(params, key, batch, lopt.context, (ahead, ahead))

  def mae(pred_fn):
    def one(w, t):
      diff = graph.edge_values(pred_fn(w)) - graph.edge_values(t)
      return jnp.mean(jnp.abs(diff))

    return jnp.mean(jax.vmap(one)(windows, targets))

  return {
    "nino_mae": mae(lambda w: nino.predict(theta, graph, w, ahead)),
    "no_change_mae": mae(lambda w: jax.tree.map(lambda x: x[-1], w)),
    "linear_mae": mae(linear_extrapolation(ahead)),
  }


# ---------------------------------------------------------------------------------------
# The loop.
# ---------------------------------------------------------------------------------------


def train_nowcaster(run: NowcasterRun, log=tqdm.write) -> NowcasterState:
  """Collects the trajectories, then trains to `config.train.num_steps`; checkpoints.

  Each step trains on one training trajectory, picked uniformly from the step number;
  each logged line holds the mean L1 loss since the previous one (`train_l1`) and every
  held-out trajectory's errors (`heldout/<task>/lr<lr>/seed<s>/<predictor>_mae`) and their
  summary `heldout/nino_ratio`: the mean over them of the nowcast's error over the better
  trivial predictor's (below 1: the nowcast is better).
  """
  config, lopt = run.config, run.lopt
  trajs = traj_lib.collect(os.path.join(run.workdir, traj_lib.DIRNAME), run.spec, log=log)
  train = [t for t in trajs if t.task in tuple(config.trajectories.tasks)]
  heldout = [t for t in trajs if t.task in tuple(config.eval.tasks)]
  device = {id(t): jax.tree.map(jnp.asarray, t.params) for t in trajs}
  steps = {n: _train_step(config, lopt, run.graphs[n]) for n in config.trajectories.tasks}
  evaluate = {
    n: jax.jit(
      lambda theta, params, key, g=run.graphs[n]: heldout_errors(
        lopt, theta, g, params, key, config.eval.batch_size, lopt.ahead
      )
    )
    for n in config.eval.tasks
  }
  base_key = jax.random.PRNGKey(config.seed)

  def step(state):
    number = int(state.step)
    t = train[np.random.default_rng([config.seed, number]).integers(len(train))]
    state, loss = steps[t.task](state, device[id(t)], jax.random.fold_in(base_key, number))
    return state, {"train_l1": float(loss)}

  def summarize(step, state, history, seconds):
    del step, seconds
    metrics = {"train_l1": float(np.mean([m["train_l1"] for m in history]))}
    eval_key = jax.random.PRNGKey(config.seed + 1)
    ratios = []
    for h in heldout:
      errs = evaluate[h.task](state.theta, device[id(h)], jax.random.fold_in(eval_key, h.seed))
      errs = {k: float(v) for k, v in errs.items()}
      for k, v in errs.items():
        metrics[f"heldout/{h.task}/lr{h.learning_rate:g}/seed{h.seed}/{k}"] = v
      ratios.append(errs["nino_mae"] / min(errs["no_change_mae"], errs["linear_mae"]))
    if ratios:
      metrics["heldout/nino_ratio"] = float(np.mean(ratios))
    return metrics

  return loop.run(
    run.state,
    step,
    workdir=run.workdir,
    checkpoints=run.checkpoints,
    record=run.record,
    config=config.to_dict(),
    num_steps=config.train.num_steps,
    log_every=config.log_every,
    checkpoint_every=config.checkpoint_every,
    summarize=summarize,
    postfix=lambda metrics: {"train_l1": f"{metrics['train_l1']:.4f}"},
    desc="nowcaster",
    echo=log,
  )
