"""Training trajectories: Adam runs on zoo tasks, stored as parameter snapshots.

What a nowcaster (`learned_opt.nino`) learns from. The format, under `DIR/trajectories/`:

    spec.json                 {"format_version": 2, "num_steps", "spacing", "tasks":
                              {<task>: {"learning_rates": [...], "seeds": [...]}}}: what was
                              (or is being) collected; a different spec is refused
    <task>__lr<lr>__seed<s>.npz   one run, Adam at <lr> (numpy .npz, allow_pickle=False):
      step                      [T] int: the snapshot steps 0, spacing, ..., num_steps
      train_loss                [num_steps]: the training-batch loss before each step
      learning_rate             []: Adam's learning rate
      param/<path>              [T, *shape] for each parameter leaf (`a/b/w` paths)

A file is written whole and renamed into place, so a run killed while collecting leaves
only finished trajectories, and collecting again skips them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import tasks
from learned_opt import neural_graph
from tasks import training

FORMAT_VERSION = 2  # 2: several learning rates per task
DIRNAME = "trajectories"
SPEC_FILE = "spec.json"
PARAM_PREFIX = "param/"


@dataclasses.dataclass(frozen=True)
class Trajectory:
  """One stored run: `params` has the task's structure, each leaf [T, *shape]."""

  task: str
  seed: int
  learning_rate: float
  steps: np.ndarray
  train_loss: np.ndarray
  params: Any

  @property
  def num_snapshots(self) -> int:
    return len(self.steps)


def filename(task: str, learning_rate: float, seed: int) -> str:
  return f"{task}__lr{learning_rate:g}__seed{seed}.npz"


def spec(
  task_lrs: dict[str, tuple[float, ...]], seeds: tuple[int, ...], num_steps: int, spacing: int
) -> dict:
  """The JSON description of a collection: which runs (every task at each of its learning
  rates with every seed), how long, how often a snapshot."""
  if num_steps % spacing:
    raise ValueError(f"num_steps ({num_steps}) must be a multiple of spacing ({spacing}).")
  return {
    "format_version": FORMAT_VERSION,
    "num_steps": num_steps,
    "spacing": spacing,
    "tasks": {
      t: {"learning_rates": [float(lr) for lr in lrs], "seeds": list(seeds)}
      for t, lrs in sorted(task_lrs.items())
    },
  }


def adam_trajectory(
  task_name: str, learning_rate: float, seed: int, num_steps: int, spacing: int
) -> Trajectory:
  """Adam at `learning_rate` on zoo task `task_name` from `task.init`, a snapshot every
  `spacing` steps (and at step 0)."""
  task = tasks.get(task_name)
  opt = optax.adam(learning_rate)

  @jax.jit
  def collect(sampler, key):  # the data arrays are an argument, not constants of the program
    step = training.step_fn(task, opt, sampler, ())

    def chunk(carry, keys):
      carry, losses = jax.lax.scan(step, carry, keys)
      return carry, (carry[0], losses)

    k_init, k_steps = jax.random.split(key)
    params = task.init(k_init)
    keys = jax.random.split(k_steps, num_steps).reshape(num_steps // spacing, spacing, -1)
    _, (snapshots, losses) = jax.lax.scan(chunk, (params, opt.init(params)), keys)
    snapshots = jax.tree.map(lambda p, s: jnp.concatenate([p[None], s]), params, snapshots)
    return snapshots, losses.reshape(-1)

  snapshots, losses = collect(task.batches("train"), jax.random.PRNGKey(seed))
  return Trajectory(
    task_name,
    seed,
    float(learning_rate),
    np.arange(0, num_steps + 1, spacing),
    np.asarray(losses),
    jax.tree.map(np.asarray, snapshots),
  )


def save(directory: str, traj: Trajectory) -> str:
  """Writes `traj` to `directory/<task>__lr<lr>__seed<s>.npz` (whole, then renamed)."""
  path = os.path.join(directory, filename(traj.task, traj.learning_rate, traj.seed))
  arrays = {
    "step": traj.steps,
    "train_loss": traj.train_loss,
    "learning_rate": np.asarray(traj.learning_rate),
  }
  for p, leaf in jax.tree_util.tree_flatten_with_path(traj.params)[0]:
    arrays[PARAM_PREFIX + "/".join(neural_graph.path_names(p))] = leaf
  tmp = path + ".tmp.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, path)
  return path


def load(directory: str, task_name: str, learning_rate: float, seed: int) -> Trajectory:
  """Reads a stored trajectory; its parameters take `tasks.get(task_name)`'s structure."""
  path = os.path.join(directory, filename(task_name, learning_rate, seed))
  abstract = jax.eval_shape(tasks.get(task_name).init, jax.random.PRNGKey(0))
  flat, treedef = jax.tree_util.tree_flatten_with_path(abstract)
  try:
    with np.load(path, allow_pickle=False) as f:
      leaves = []
      for p, a in flat:
        leaf = f[PARAM_PREFIX + "/".join(neural_graph.path_names(p))]
        if leaf.shape[1:] != a.shape:
          raise ValueError(f"{leaf.shape[1:]} instead of {a.shape}")
        leaves.append(leaf)
      return Trajectory(
        task_name,
        seed,
        float(f["learning_rate"]),
        f["step"],
        f["train_loss"],
        jax.tree.unflatten(treedef, leaves),
      )
  except (OSError, KeyError, ValueError) as e:
    raise ValueError(
      f"Trajectory file {path} is unreadable or not of task {task_name}: {e}"
    ) from None


def check_spec(directory: str, the_spec: dict) -> bool:
  """Whether `directory` already holds `the_spec`'s collection; another spec is a `ValueError`."""
  spec_path = os.path.join(directory, SPEC_FILE)
  if not os.path.exists(spec_path):
    return False
  try:
    with open(spec_path) as f:
      stored = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f"{spec_path} is unreadable: {e}") from None
  if stored != the_spec:
    raise ValueError(
      f"{directory} holds trajectories of another spec:\n  stored:     {stored}\n"
      f"  configured: {the_spec}\nUse a new workdir, or the config that collected them."
    )
  return True


def collect(directory: str, the_spec: dict, log=print) -> list[Trajectory]:
  """Collects (or reuses) every run `the_spec` lists into `directory`; returns them all.

  A directory holding another spec is refused (`ValueError`), and nothing is written.
  """
  spec_path = os.path.join(directory, SPEC_FILE)
  if not check_spec(directory, the_spec):
    os.makedirs(directory, exist_ok=True)
    with open(spec_path + ".tmp", "w") as f:
      json.dump(the_spec, f, indent=1)
    os.replace(spec_path + ".tmp", spec_path)
  out = []
  for task_name, entry in the_spec["tasks"].items():
    for lr in entry["learning_rates"]:
      for seed in entry["seeds"]:
        if not os.path.exists(os.path.join(directory, filename(task_name, lr, seed))):
          log(f"collecting trajectory {task_name} lr {lr:g} seed {seed} ...")
          save(
            directory,
            adam_trajectory(task_name, lr, seed, the_spec["num_steps"], the_spec["spacing"]),
          )
        out.append(load(directory, task_name, lr, seed))
  return out
