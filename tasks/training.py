"""Train a task with any optax optimizer: one jitted `lax.scan` over the steps.

Used by the demo, meta-training's evaluation and the comparison suite to run baselines and
learned optimizers the same way. The optimizer receives the extra args it asks for in the
project's vocabulary (`value`: the loss at the current parameters; `value_fn`: params ->
loss on the current batch; `key`: a fresh PRNG key per step; `output_fn`: params -> the
model's outputs on the current batch, with `loss_of_outputs`: outputs -> the loss, so that
loss = loss_of_outputs(output_fn(params)), for tasks with outputs (`has_outputs`:
classifiers and autoencoders); for MLPs (`has_dense`: MLP classifiers, the MLP
autoencoder) `dense_fn`: (params, taps) -> (outputs, inputs), the outputs with `taps[name]`
(None: none) added to dense layer `name`'s pre-activation `x @ params[name]["w"] +
params[name]["b"]` and every dense layer's input `x` (per-example gradient norms, layer-local
training), and `targets`: what the loss compares the outputs with (one-hot labels, images);
for equality-constrained tasks (`has_constraints`: `tasks.constrained`) `constraint_fn`:
params -> c, the vector of constraints, 0 where the parameters are feasible;
`training_run` passes `value` unless told otherwise.

`training_run` returns the training curve and final validation and test losses;
`curve_run` (the comparison suite's run) also evaluates the validation split at
`num_evals` evenly spaced steps and, for classifiers, the accuracy of every split.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tasks.base import SPLITS, Task
from tasks.constrained import ConstrainedTask
from tasks.mlp_classifier import MLPClassifier
from tasks.reparam import Reparameterized
from tasks.vision import CNNClassifier, MLPAutoencoder

EXTRA_ARGS: tuple[str, ...] = (
  "value",
  "value_fn",
  "key",
  "output_fn",
  "loss_of_outputs",
  "dense_fn",
  "targets",
  "constraint_fn",
)


def has_accuracy(task: Task) -> bool:
  """Whether `task` is a classifier, so that `task.accuracy(params, batch)` is defined."""
  if isinstance(task, Reparameterized):
    return has_accuracy(task.task)
  return isinstance(task, MLPClassifier | CNNClassifier)


def has_outputs(task: Task) -> bool:
  """Whether `task` exposes `outputs(params, batch)` and `loss_of_outputs(outputs, batch)`
  (loss = loss_of_outputs(outputs)): the classifiers and the autoencoder."""
  if isinstance(task, Reparameterized):
    return has_outputs(task.task)
  return isinstance(task, MLPClassifier | CNNClassifier | MLPAutoencoder)


def has_dense(task: Task) -> bool:
  """Whether `task` is an MLP exposing `dense_outputs(params, batch, taps)` and
  `targets(batch)` (the MLP classifiers and the MLP autoencoder; not reparameterized members,
  whose optimizer coordinates are not the dense layers' weights)."""
  return isinstance(task, MLPClassifier | MLPAutoencoder)


def has_constraints(task: Task) -> bool:
  """Whether `task` exposes `constraint(params)` (equality constraints c = 0:
  `tasks.constrained`)."""
  return isinstance(task, ConstrainedTask)


def step_fn(task: Task, opt, sampler, extra_args: Sequence[str]):
  """One training step `((params, state), key) -> ((params, state), loss)` for `lax.scan`:
  a batch from `sampler`, the loss and its gradient, `opt.update` given the `extra_args`
  it needs (of `EXTRA_ARGS`), the update applied."""
  unknown = set(extra_args) - set(EXTRA_ARGS)
  if unknown:
    raise ValueError(f"Unknown extra args {sorted(unknown)}; expected some of {EXTRA_ARGS}.")
  wants_outputs = {"output_fn", "loss_of_outputs"} & set(extra_args)
  if wants_outputs and not has_outputs(task):
    raise ValueError(
      f"Task {task.name!r} does not expose its outputs, which the optimizer needs "
      f"({', '.join(sorted(wants_outputs))}); tasks with outputs: classifiers and autoencoders."
    )
  wants_dense = {"dense_fn", "targets"} & set(extra_args)
  if wants_dense and not has_dense(task):
    raise ValueError(
      f"Task {task.name!r} does not expose its dense layers, which the optimizer needs "
      f"({', '.join(sorted(wants_dense))}); tasks with them: the MLP classifiers and the MLP "
      "autoencoder."
    )
  if "constraint_fn" in extra_args and not has_constraints(task):
    raise ValueError(
      f"Task {task.name!r} has no constraint function, which the optimizer needs "
      "(constraint_fn); tasks with constraints: tasks.constrained."
    )

  def step(carry, k):
    p, s = carry
    k_batch, k_loss = jax.random.split(k)
    batch = sampler.sample(k_batch)
    value_fn = lambda q: task.loss(q, k_loss, batch)
    loss, grads = jax.value_and_grad(value_fn)(p)
    available = {"value": loss, "value_fn": value_fn, "key": jax.random.fold_in(k, 1)}
    if wants_outputs:
      available["output_fn"] = lambda q: task.outputs(q, batch)
      available["loss_of_outputs"] = lambda z: task.loss_of_outputs(z, batch)
    if wants_dense:
      available["dense_fn"] = lambda q, taps: task.dense_outputs(q, batch, taps)
      available["targets"] = task.targets(batch)
    if "constraint_fn" in extra_args:
      available["constraint_fn"] = task.constraint
    updates, s = opt.update(grads, s, p, **{a: available[a] for a in extra_args})
    return (optax.apply_updates(p, updates), s), loss

  return step


def _evaluate(task: Task, params, sampler, key, eval_batches: int) -> dict[str, jax.Array]:
  """Mean loss (and accuracy, for classifiers) of `params` over `eval_batches` batches."""

  def one(k):
    batch = sampler.sample(k)
    out = {"loss": task.loss(params, k, batch)}
    if has_accuracy(task):
      out["accuracy"] = task.accuracy(params, batch)
    return out

  return jax.tree.map(jnp.mean, jax.vmap(one)(jax.random.split(key, eval_batches)))


def training_run(
  task: Task,
  optimizer: optax.GradientTransformation,
  samplers: dict,
  key: jax.Array,
  *,
  num_steps: int,
  eval_batches: int = 8,
  extra_args: Sequence[str] = ("value",),
) -> dict[str, jax.Array]:
  """The pure function `train` jits: trains from `task.init(key)`, then evaluates.

  Callers that jit it themselves pass the samplers (`{split: task.batches(split)}`) as an
  argument, and may build `optimizer` from traced values (e.g. a learned optimizer's theta).
  """
  opt = optax.with_extra_args_support(optimizer)
  k_init, k_steps, k_eval = jax.random.split(key, 3)
  params = task.init(k_init)
  step = step_fn(task, opt, samplers["train"], extra_args)
  (params, _), losses = jax.lax.scan(
    step, (params, opt.init(params)), jax.random.split(k_steps, num_steps)
  )

  k_valid, k_test = jax.random.split(k_eval)
  return {
    "train_loss": losses,
    "valid_loss": _evaluate(task, params, samplers["valid"], k_valid, eval_batches)["loss"],
    "test_loss": _evaluate(task, params, samplers["test"], k_test, eval_batches)["loss"],
  }


def curve_run(
  task: Task,
  optimizer: optax.GradientTransformation,
  samplers: dict,
  key: jax.Array,
  *,
  num_steps: int,
  num_evals: int,
  eval_batches: int = 8,
  extra_args: Sequence[str] = ("value",),
) -> dict[str, jax.Array]:
  """Trains from `task.init(key)` with evaluations along the way; a pure, jittable function.

  The `num_steps` steps run as `num_evals` chunks of `num_steps // num_evals` (a nested
  `lax.scan`); after each chunk the validation split is evaluated on `eval_batches`
  batches. After the last step the train and test splits are evaluated too.

  Returns:
    `train_loss` [num_steps]: the training-batch loss before each step's update;
    `valid_loss` [num_evals] (and `valid_accuracy` for classifiers): at steps
    `eval_steps(num_steps, num_evals)`, the last being the final validation loss;
    `final_train_loss`, `final_test_loss` (and `final_*_accuracy`): scalars after training.
  """
  if num_evals < 1 or num_steps % num_evals:
    raise ValueError(f"num_steps={num_steps} must be a positive multiple of num_evals={num_evals}.")
  opt = optax.with_extra_args_support(optimizer)
  k_init, k_steps, k_eval = jax.random.split(key, 3)
  params = task.init(k_init)
  step = step_fn(task, opt, samplers["train"], extra_args)
  step_keys = jax.random.split(k_steps, num_steps).reshape(num_evals, num_steps // num_evals, -1)

  def chunk(carry, inputs):
    keys, k = inputs
    carry, losses = jax.lax.scan(step, carry, keys)
    return carry, (losses, _evaluate(task, carry[0], samplers["valid"], k, eval_batches))

  eval_keys = jax.random.split(jax.random.fold_in(k_eval, 0), num_evals)
  (params, _), (losses, valid) = jax.lax.scan(
    chunk, (params, opt.init(params)), (step_keys, eval_keys)
  )
  out = {"train_loss": losses.reshape(-1)}
  out.update({f"valid_{k}": v for k, v in valid.items()})
  for i, split in enumerate(("train", "test"), start=1):
    final = _evaluate(task, params, samplers[split], jax.random.fold_in(k_eval, i), eval_batches)
    out.update({f"final_{split}_{k}": v for k, v in final.items()})
  return out


def eval_steps(num_steps: int, num_evals: int) -> np.ndarray:
  """The steps after which `curve_run` evaluates the validation split."""
  return np.arange(1, num_evals + 1) * (num_steps // num_evals)


def train(
  task: Task,
  optimizer: optax.GradientTransformation,
  *,
  num_steps: int,
  seed: int = 0,
  eval_batches: int = 8,
  extra_args: Sequence[str] = ("value",),
) -> dict[str, np.ndarray]:
  """Trains `task` from `task.init` for `num_steps` steps of `optimizer`, which gets the
  `extra_args` it names (of `EXTRA_ARGS`; a registry entry's are
  `tasks.training.extra_args_of(entry.needs)`).

  The run compiles once per (task, optimizer, num_steps, eval_batches): further seeds reuse
  the program (the task and the optimizer are static arguments of one jitted function, so
  they must be hashable, as frozen-dataclass tasks and optax transformations are; an
  unhashable one gets a program of its own at every call).

  Returns:
    `train_loss`: the training-batch loss at each step, before that step's update, shape
    [num_steps]; `valid_loss` and `test_loss`: the final parameters' loss averaged over
    `eval_batches` sampled batches of each split (scalars). Non-finite losses are kept,
    not hidden.
  """
  samplers = {split: task.batches(split) for split in SPLITS}
  key = jax.random.PRNGKey(seed)
  static = dict(
    task=task,
    optimizer=optimizer,
    num_steps=num_steps,
    eval_batches=eval_batches,
    extra_args=tuple(extra_args),
  )
  try:
    hash((task, optimizer))
  except TypeError:
    out = jax.jit(functools.partial(_training_run, **static))(samplers, key)
  else:
    out = _jitted_training_run(samplers, key, **static)
  return {k: np.asarray(v) for k, v in out.items()}


def _training_run(samplers, key, *, task, optimizer, num_steps, eval_batches, extra_args):
  return training_run(
    task,
    optimizer,
    samplers,
    key,
    num_steps=num_steps,
    eval_batches=eval_batches,
    extra_args=extra_args,
  )


_jitted_training_run = jax.jit(
  _training_run,
  static_argnames=("task", "optimizer", "num_steps", "eval_batches", "extra_args"),
)


def extra_args_of(needs: Sequence[str]) -> tuple[str, ...]:
  """The extra args `step_fn` passes for a registry entry's `needs` (`grad`, `devices` are
  not extra args)."""
  return tuple(n for n in needs if n in EXTRA_ARGS)
