"""Benchmark: inner training steps per second of every zoo task with Adam, single and vmapped x8.

    .venv/bin/python -m bench.task_steps [--steps 200] [--repeats 3] [--tasks name,name,...]

One jitted `lax.scan` of `--steps` Adam steps (batch sampling in the graph, the dataset an
argument) is timed after compilation, median of `--repeats`; "x8" vmaps 8 members (different
initializations and batches) through the same scan and counts 8 member-steps per step.
Tasks whose data is missing are listed with the step that provides it.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import optax

import tasks
from tasks import datasets, training, zoo


def _runner(task, lr, steps, members):
  opt = optax.adam(lr)

  def run(sampler, key):
    params = task.init(key)
    step = training.step_fn(task, opt, sampler, ())
    return jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))[1]

  if members == 1:
    return jax.jit(run)
  return jax.jit(jax.vmap(run, in_axes=(None, 0)))


def _steps_per_s(task, lr, steps, members, repeats):
  fn = _runner(task, lr, steps, members)
  sampler = task.batches("train")
  keys = jax.random.PRNGKey(0) if members == 1 else jax.random.split(jax.random.PRNGKey(0), members)
  start = time.perf_counter()
  jax.block_until_ready(fn(sampler, keys))
  compile_s = time.perf_counter() - start
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(sampler, keys))
    times.append(time.perf_counter() - start)
  return steps / float(np.median(times)), compile_s


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--tasks", default="", help="comma-separated zoo names (default: all)")
  args = parser.parse_args()
  names = [n for n in args.tasks.split(",") if n] or tasks.names()

  print(f"device: {jax.devices()[0].device_kind}, {args.steps} Adam steps per call")
  header = f"{'task':<32}{'params':>9}{'steps/s':>10}{'x8 steps/s':>12}{'x8 member-steps/s':>19}"
  print(header)
  print("-" * len(header))
  for name in names:
    missing = [r for r in map(datasets.unavailable_reason, zoo.datasets_of(name)) if r]
    if missing:
      print(f"{name:<32}  skipped: {missing[0]}")
      continue
    task = tasks.get(name)
    lr = tasks.adam_lr(name)
    n_params = sum(
      x.size for x in jax.tree.leaves(jax.eval_shape(task.init, jax.random.PRNGKey(0)))
    )
    single, _ = _steps_per_s(task, lr, args.steps, 1, args.repeats)
    vmapped, _ = _steps_per_s(task, lr, args.steps, 8, args.repeats)
    print(f"{name:<32}{n_params:>9}{single:>10.0f}{vmapped:>12.0f}{8 * vmapped:>19.0f}", flush=True)


if __name__ == "__main__":
  main()
