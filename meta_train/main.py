"""Meta-train a learned optimizer: the whole program, read top to bottom.

    python -m meta_train.main --config=configs/quickstart.py --workdir=runs/quickstart \
        [--config.num_steps=200 --config.estimator.std=0.03 ...]

1. Flags: `--config` (an ml_collections config file, overridable as `--config.a.b=v`) and
   `--workdir`.
2. Build from the config: the learned optimizer (`learned_opt.get`), one estimator per task
   family (`meta_train.estimators` over a `meta_train.unroll.Unroller`), the meta-optimizer.
3. The meta-step: a truncation on every family's population, the average of their
   meta-gradients, clipped Adam on theta; a non-finite meta-gradient skips the update.
4. Evaluation: every `eval.every` meta-steps, theta trains the held-out `eval.tasks`.
5. Set-up: everything that can reject bad input runs before anything is written; then the
   workdir's newest checkpoint is restored (exact resume) or a fresh state made.
6. The loop (`meta_train.loop`): step, log `metrics.jsonl` and TensorBoard, checkpoint,
   SIGTERM checkpoints and exits, `max_wall_minutes`.

The workdir gets `checkpoints/<step>/` (theta, the learned optimizer's record, the whole
`MetaState`, the config; `meta_train.workdir`), `metrics.jsonl`, `tb/` and, while the run
lasts, `lock`. Rerunning with the same workdir resumes from its newest readable checkpoint
and, on CPU, ends with bitwise the same theta as an uninterrupted run; an unreadable step is
set aside as `<step>.corrupt-<n>` with a warning, and the final checkpoint is read back
before the run reports success. Resuming with a changed config is allowed (e.g. more
`num_steps`, another learning rate) and stated: the resume line lists every changed value.
Bad input (a missing or broken config file or one of another program, an unknown config
key, task, architecture or estimator, a wrongly typed rule option, a value out of range
(`VALUE_RULES`), an unwritable workdir or one in use by another process, a workdir holding
another learned optimizer's checkpoints) prints one message and exits with status 2,
touching nothing in the workdir. `meta_train.demo` runs the same set-up and loop (`setup`,
`meta_train`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from absl import flags
from jax.sharding import Mesh
from ml_collections import config_flags
from tqdm import tqdm

import cli
import learned_opt
import tasks
from learned_opt import LearnedOptimizer, MetaParams
from learned_opt.checkpoint import check_theta
from meta_train import estimators as estimators_lib
from meta_train import loop, sharding
from meta_train import workdir as workdir_lib
from meta_train.estimators import Estimator, Metrics
from meta_train.unroll import Unroller, is_finite_tree
from tasks.training import training_run

# ---------------------------------------------------------------------------------------
# 1. Flags. Defined when this file runs as the program: `meta_train.demo`, which has flags
#    of its own, imports the rest.
# ---------------------------------------------------------------------------------------


def define_flags() -> tuple[flags.FlagHolder, flags.FlagHolder]:
  config = config_flags.DEFINE_config_file("config", None, "Path to a config file (configs/*.py).")
  workdir = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
  return config, workdir


# ---------------------------------------------------------------------------------------
# 2. Build from the config. Config files name registered things (an architecture, task
#    families, an estimator); this section turns the names into objects. Bad names and
#    options raise `ValueError` with what was expected.
# ---------------------------------------------------------------------------------------

# `config.estimator` holds the options of every estimator (the config lists their union;
# each estimator takes its own, see `meta_train.estimators.ESTIMATORS`) and these, of the
# unroll, shared by all.
UNROLL_OPTIONS = tuple(
  f.name for f in dataclasses.fields(Unroller) if f.name not in ("lopt", "family")
)


def plain(cfg: Any) -> dict[str, Any]:
  """A config block as a dict, with lists (from JSON or the command line) as tuples."""
  d = cfg.to_dict() if isinstance(cfg, ml_collections.ConfigDict) else dict(cfg)
  return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def build_lopt(config: ml_collections.ConfigDict) -> LearnedOptimizer:
  options = plain(config.lopt)
  return learned_opt.get(options.pop("architecture"), **options)


def build_estimator(
  lopt: LearnedOptimizer, family: tasks.TaskFamily, config: Any, mesh: Mesh | None = None
) -> Estimator:
  """`config.estimator`'s estimator over `family`; full ES splits its pairs over `mesh`."""
  options = plain(config)
  unroller = Unroller(lopt, family, **{k: options[k] for k in UNROLL_OPTIONS if k in options})
  options["pair_sharding"] = None if mesh is None else sharding.pairs(mesh)
  return estimators_lib.build(options["name"], unroller, options)


def build_family(name: str, options: Any) -> tasks.TaskFamily:
  """The task family of `config.tasks.<name>`: `name` is the family, or a label and the
  family is `options["family"]` (two families of one kind, e.g. a transformer and an LSTM
  `char_lm`)."""
  options = plain(options)
  return tasks.get_family(options.pop("family", name), **options)


def build_trainer(config: ml_collections.ConfigDict) -> MetaTrainer:
  lopt = build_lopt(config)
  mesh = sharding.device_mesh() if config.get("shard_population", True) else None
  by_family = {
    name: build_estimator(lopt, build_family(name, options), config.estimator, mesh)
    for name, options in config.tasks.items()
  }
  meta_opt = meta_optimizer(config.meta_opt.learning_rate, config.meta_opt.clip_norm)
  return MetaTrainer(lopt, by_family, meta_opt, mesh, config.meta_opt.combine_families)


# ---------------------------------------------------------------------------------------
# 3. The meta-step. One estimator per task family (populations of different parameter
#    shapes cannot share a `vmap`); each meta-step averages their estimates. theta never
#    becomes non-finite: a non-finite meta-gradient skips the update and is counted.
# ---------------------------------------------------------------------------------------


class MetaState(NamedTuple):
  """Everything a meta-training run needs to resume exactly."""

  step: jax.Array
  theta: MetaParams
  opt_state: Any
  unroll: dict[str, Any]  # task family name -> its estimator's population state
  key: jax.Array


# How a meta-step joins the families' meta-gradient estimates (`meta_opt.combine_families`):
# - `mean`: their mean, so a family whose meta-loss moves more with theta (e.g. a quadratic's
#   log-scale loss) weighs more;
# - `unit_norm`: the mean of each estimate divided by its norm, every family one vote on the
#   direction (the scale is the meta-optimizer's: Adam after clipping).
COMBINE_FAMILIES = ("mean", "unit_norm")


def meta_optimizer(learning_rate: float, clip_norm: float) -> optax.GradientTransformation:
  """Adam on theta after clipping the meta-gradient to global norm `clip_norm`."""
  return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(learning_rate))


@dataclasses.dataclass(frozen=True)
class MetaTrainer:
  """Meta-trains `lopt` with `estimators` (task family name -> estimator) and `meta_opt`.

  With a `mesh` (several devices), `place` splits every population over it
  (`meta_train.sharding`): one `jit` per estimator, XLA inserts the reductions.
  """

  lopt: LearnedOptimizer
  estimators: dict[str, Estimator]
  meta_opt: optax.GradientTransformation
  mesh: Mesh | None = None
  combine_families: str = "mean"

  def __post_init__(self):
    if not self.estimators:
      raise ValueError("Meta-training needs at least one task family.")
    if self.combine_families not in COMBINE_FAMILIES:
      raise ValueError(
        f"meta_opt.combine_families must be one of {COMBINE_FAMILIES}, "
        f"got {self.combine_families!r}."
      )

  def init(self, key: jax.Array) -> MetaState:
    k_theta, k_unroll, k_next = jax.random.split(key, 3)
    theta = self.lopt.init(k_theta)
    keys = jax.random.split(k_unroll, len(self.estimators))
    unroll = {
      name: est.init(theta, k) for (name, est), k in zip(self.estimators.items(), keys, strict=True)
    }
    return MetaState(jnp.zeros([], jnp.int32), theta, self.meta_opt.init(theta), unroll, k_next)

  def place(self, state: MetaState) -> MetaState:
    """`state` on the devices: populations split over the mesh, the rest replicated."""
    if self.mesh is None:
      return state
    sharding.check_divisible(state.unroll, self.mesh)
    return sharding.shard(state, self.mesh)

  def step(self, state: MetaState) -> tuple[MetaState, Metrics]:
    """One meta-step: a truncation on every population, then one meta-optimizer update."""
    key, k_step = jax.random.split(state.key)
    keys = jax.random.split(k_step, len(self.estimators))
    grads, unroll, metrics = [], {}, {}
    for (name, est), k in zip(self.estimators.items(), keys, strict=True):
      g, unroll[name], m = est.grad(state.theta, state.unroll[name], k)
      grads.append(g)
      metrics.update({f"{name}/{k_}": v for k_, v in m.items()})
    theta, opt_state, m = self._apply(state.theta, state.opt_state, grads)
    for name, norm in zip(self.estimators, m.pop("family_grad_norms"), strict=True):
      metrics[f"{name}/meta_grad_norm"] = norm
    metrics.update(m)
    per_family = lambda key: jnp.stack([metrics[f"{name}/{key}"] for name in self.estimators])
    metrics["meta_loss"] = jnp.mean(per_family("meta_loss"))
    metrics["num_nonfinite"] = jnp.sum(per_family("num_nonfinite"))
    metrics["inner_steps"] = jnp.sum(per_family("inner_steps"))
    return MetaState(state.step + 1, theta, opt_state, unroll, key), metrics

  @functools.cached_property
  def _apply(self) -> Callable:
    """The meta-update (jitted): the families' gradients joined as `combine_families` says,
    skipped if non-finite."""

    def apply(theta, opt_state, grads):
      norms = [optax.tree.norm(g) for g in grads]
      if self.combine_families == "unit_norm":
        grads = [
          jax.tree.map(lambda x, n=n: x / jnp.maximum(n, 1e-12), g)
          for g, n in zip(grads, norms, strict=True)
        ]
      grad = jax.tree.map(lambda *g: sum(g) / len(g), *grads)
      finite = is_finite_tree(grad)
      safe = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), grad)
      updates, new_opt_state = self.meta_opt.update(safe, opt_state, theta)
      new_theta = optax.apply_updates(theta, updates)
      keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
      metrics = {
        "meta_grad_norm": optax.tree.norm(safe),
        "meta_update_skipped": ~finite,
        "family_grad_norms": jnp.stack(norms),
      }
      return keep(new_theta, theta), keep(new_opt_state, opt_state), metrics

    return jax.jit(apply)


# ---------------------------------------------------------------------------------------
# 4. Evaluation: short inner runs on held-out tasks. Every `eval.every` meta-steps theta
#    trains each task of `eval.tasks` from scratch for `eval.num_steps` steps
#    (`tasks.training`); logged per task as `eval/<task>/final_train_loss` (mean over the
#    last 10% of steps), `valid_loss` and `test_loss`. Each task compiles once: theta is an
#    argument of the compiled run, not a constant.
# ---------------------------------------------------------------------------------------

Evaluator = Callable[[MetaParams], dict[str, float]]


def build_evaluator(lopt: LearnedOptimizer, config: ml_collections.ConfigDict) -> Evaluator | None:
  """The evaluation `config.eval` describes, or None when it is off (`every` 0, no tasks)."""
  num_steps = config.eval.num_steps
  if config.eval.every <= 0 or not config.eval.tasks:
    return None
  if num_steps < 1:
    raise ValueError(f"eval.num_steps must be positive, got {num_steps}.")
  runs = {}
  for name in config.eval.tasks:
    task = tasks.get(name)  # unknown names fail here, at set-up

    def run(theta, samplers, key, task=task):
      opt = lopt.opt(theta, num_steps=num_steps)
      return training_run(task, opt, samplers, key, num_steps=num_steps)

    runs[name] = (jax.jit(run), {split: task.batches(split) for split in tasks.SPLITS})

  def evaluate(theta: MetaParams) -> dict[str, float]:
    metrics = {}
    for name, (run, samplers) in runs.items():
      out = jax.device_get(run(theta, samplers, jax.random.PRNGKey(0)))
      tail = max(1, len(out["train_loss"]) // 10)
      metrics[f"eval/{name}/final_train_loss"] = float(out["train_loss"][-tail:].mean())
      metrics[f"eval/{name}/valid_loss"] = float(out["valid_loss"])
      metrics[f"eval/{name}/test_loss"] = float(out["test_loss"])
    return metrics

  return evaluate


# ---------------------------------------------------------------------------------------
# 5. Set-up: everything that can reject bad input runs before anything is written.
# ---------------------------------------------------------------------------------------

# The top-level keys of a meta-training config, and the ranges of its values (keys a config
# does not have are not checked). `eval.every` 0 turns evaluation off; `max_wall_minutes`
# 0 or None means no limit.
CONFIG_KEYS = ("lopt", "tasks", "estimator", "meta_opt", "num_steps")
VALUE_RULES = {
  "num_steps": cli.COUNT,
  "log_every": cli.COUNT,
  "checkpoint_every": cli.COUNT,
  "max_to_keep": cli.COUNT,
  "max_wall_minutes": cli.LIMIT_OR_OFF,
  "meta_opt.learning_rate": cli.POSITIVE,
  "meta_opt.clip_norm": cli.POSITIVE,
  "estimator.std": cli.POSITIVE,
  "estimator.num_pairs": cli.COUNT,
  "estimator.num_members": cli.COUNT,
  "estimator.trunc_length": cli.COUNT,
  "estimator.growth_calls": cli.COUNT,
  "estimator.loss_clip": cli.POSITIVE,
  "eval.every": cli.COUNT_OR_OFF,
  "eval.num_steps": cli.COUNT,
}


@dataclasses.dataclass
class MetaTrainingRun:
  """A meta-training run ready to loop: its objects, its open workdir, its first state."""

  config: ml_collections.ConfigDict
  trainer: MetaTrainer
  evaluator: Evaluator | None
  workdir: str
  checkpoints: workdir_lib.Checkpoints
  lopt_record: dict
  state: MetaState


def initial_theta(source: str, lopt: LearnedOptimizer) -> MetaParams:
  """theta of the checkpoint `source` (a directory, a workdir or `pretrained:<name>`) to
  start from instead of `lopt.init` (`config.init_from`): fine-tuning a learned optimizer,
  or a recipe's next stage. Its architecture and theta's shapes must be `lopt`'s; the
  meta-optimizer starts afresh. `CheckpointError` (a `ValueError`) otherwise."""
  stored, theta = learned_opt.load_theta(source)
  if stored.architecture != lopt.architecture:
    raise learned_opt.CheckpointError(
      f"init_from={source!r} holds a {stored.architecture!r} rule; this config meta-trains "
      f"{lopt.architecture!r}."
    )
  check_theta(lopt, theta, where=f"init_from={source!r}")
  return theta


def setup(config: ml_collections.ConfigDict, workdir: str) -> MetaTrainingRun:
  """Builds the run and opens its workdir; raises `ValueError` on bad input."""
  cli.check_config(config, VALUE_RULES)
  trainer = build_trainer(config)
  evaluator = build_evaluator(trainer.lopt, config)
  init_from = config.get("init_from") or None
  theta0 = initial_theta(init_from, trainer.lopt) if init_from else None
  workdir = workdir_lib.prepare(workdir)
  checkpoints = workdir_lib.Checkpoints(workdir, max_to_keep=config.max_to_keep)
  lopt_record = learned_opt.record(trainer.lopt)
  key = jax.random.PRNGKey(config.seed)
  try:
    restored = checkpoints.restore(jax.eval_shape(trainer.init, key), lopt_record)
  except BaseException:
    checkpoints.close()
    raise
  if restored is None:
    state = trainer.init(key)
    if theta0 is not None:
      state = state._replace(theta=theta0, opt_state=trainer.meta_opt.init(theta0))
  else:
    state = restored.state
    tqdm.write(workdir_lib.resume_line(state.step, workdir, restored.config, config.to_dict()))
  state = trainer.place(state)
  return MetaTrainingRun(config, trainer, evaluator, workdir, checkpoints, lopt_record, state)


# ---------------------------------------------------------------------------------------
# 6. The loop.
# ---------------------------------------------------------------------------------------


def meta_train(run: MetaTrainingRun) -> MetaState:
  """Meta-trains a set-up run to `config.num_steps`: step, log, evaluate, checkpoint."""
  config, evaluate = run.config, run.evaluator
  evaluating = lambda step: evaluate is not None and step % config.eval.every == 0

  def summarize(step, state, history, seconds):
    metrics = dict(history[-1])
    if evaluating(step):
      metrics.update(evaluate(state.theta))
    metrics["inner_steps_per_s"] = float(metrics["inner_steps"]) * len(history) / seconds
    return metrics

  def postfix(metrics):
    return {
      "meta_loss": f"{float(metrics['meta_loss']):.4f}",
      "nonfinite": int(metrics["num_nonfinite"]),
      "inner_per_s": f"{metrics['inner_steps_per_s']:.0f}",
    }

  return loop.run(
    run.state,
    run.trainer.step,
    workdir=run.workdir,
    checkpoints=run.checkpoints,
    record=run.lopt_record,
    config=config.to_dict(),
    num_steps=config.num_steps,
    log_every=config.log_every,
    checkpoint_every=config.checkpoint_every,
    summarize=summarize,
    postfix=postfix,
    log_also=evaluating,
    max_wall_minutes=config.max_wall_minutes,
    desc="meta-train",
  )


def train(config: ml_collections.ConfigDict, workdir: str) -> MetaState:
  """Meta-trains (or resumes) to `config.num_steps`; returns the final state."""
  return meta_train(setup(config, workdir))


def initialize_distributed(**kwargs: Any) -> None:
  """Joins this process to a multi-process job (`config.distributed`; every process runs
  the same command): `jax.distributed.initialize(**kwargs)`, whose coordinator address,
  process count and id come from the cluster's environment (SLURM, Cloud TPU, ...) unless
  given, after choosing gloo for CPU collectives (CPU devices of several processes can
  then reduce a sharded population; GPUs and TPUs use their own). A process that stops
  (killed, crashed) stops the others: the coordination service misses its heartbeats
  (`heartbeat_timeout_seconds`, jax's default 100) and ends every process with an error
  naming the lost task, instead of leaving them waiting in a collective forever.
  """
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(**kwargs)


def main(argv: list[str], config_flag: flags.FlagHolder, workdir_flag: flags.FlagHolder) -> None:
  cli.start(argv, config_flag, workdir_flag)
  config = config_flag.value
  cli.check_kind(config, config_flag, CONFIG_KEYS, example="configs/quickstart.py")
  if config.get("distributed", False):
    initialize_distributed()
  try:
    run = setup(config, workdir_flag.value)
  except ValueError as e:
    cli.usage_error(str(e))
  state = meta_train(run)
  print(
    f"Meta-trained to step {int(state.step)}; the learned optimizer loads with "
    f"learned_opt.load({run.workdir!r})."
  )


if __name__ == "__main__":
  _flags = define_flags()
  cli.run(lambda argv: main(argv, *_flags))
