"""Benchmark: an 8-point learning-rate sweep of AdamW, vmapped vs one run at a time.

    .venv/bin/python -m bench.sweep [--task digits_mlp_32] [--steps 500] [--points 8] [--seeds 1]

The same runs (`tasks.training.curve_run`, as the comparison suite runs them) three ways,
in one process, with the persistent compilation cache off:

- `vmapped`: every learning rate (x seeds) in one jitted, vmapped program
  (`baselines.suite.sweep.over_settings`, what `baselines.suite.sweep.sweep` compiles for a
  cell);
- `sequential`: one program per learning rate, compiled with the learning rate as a
  constant (`over_seeds`, what `sweep` falls back to): running the points one by one;
- `sequential, lr as argument`: one compiled program called once per learning rate (the
  best a one-at-a-time loop can do without vmapping).

`first` is the wall time of the whole sweep including tracing and compilation; `again`
reruns the already compiled programs (median of `--repeats`). `x` is the speedup over
`sequential` in the same column.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import baselines
import tasks
from baselines.suite.sweep import Protocol, over_seeds, over_settings


def _timed(fn, repeats: int) -> tuple[float, float, object]:
  """Seconds of the first call, median seconds of `repeats` more calls, the last result."""
  start = time.perf_counter()
  out = jax.block_until_ready(fn())
  first = time.perf_counter() - start
  again = []
  for _ in range(repeats):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    again.append(time.perf_counter() - start)
  return first, float(np.median(again)), out


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--task", default="digits_mlp_32")
  parser.add_argument("--optimizer", default="adamw")
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--points", type=int, default=8)
  parser.add_argument("--seeds", type=int, default=1)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  jax.config.update("jax_enable_compilation_cache", False)

  task = tasks.get(args.task)
  entry = baselines.entry(args.optimizer)
  lrs = entry.search_space["learning_rate"].grid(args.points)
  settings = [{"learning_rate": lr} for lr in lrs]
  seeds = range(args.seeds)
  protocol = Protocol(args.steps, 10, 8)
  make_opt = lambda s: baselines.get(args.optimizer, **s)

  samplers = {split: task.batches(split) for split in tasks.SPLITS}
  keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
  values = {"learning_rate": jnp.asarray(lrs, jnp.float32)}

  batched = jax.jit(over_settings(task, make_opt, protocol, {}))
  vmapped = _timed(lambda: batched(values, samplers, keys), args.repeats)
  singles = [jax.jit(over_seeds(task, make_opt, protocol, s)) for s in settings]
  sequential = _timed(lambda: [f(samplers, keys) for f in singles], args.repeats)
  one = jax.jit(
    lambda lr, samplers, keys: over_seeds(task, make_opt, protocol, {"learning_rate": lr})(
      samplers, keys
    )
  )
  argument = _timed(lambda: [one(lr, samplers, keys) for lr in lrs], args.repeats)

  # The vmapped sweep computes the same runs as the sequential one (up to float32
  # reduction order, which a chaotic run at a too-large learning rate amplifies).
  diffs = []
  for i, b in enumerate(sequential[2]):
    a = vmapped[2]["train_loss"][i]
    scale = np.max(np.abs(b["train_loss"]))
    diffs.append(float(np.max(np.abs(a - b["train_loss"]))) / scale)
  print(
    f"{args.points}-point learning-rate sweep of {args.optimizer} on {args.task}, "
    f"{args.steps} steps, {args.seeds} seed(s); jax {jax.__version__}, "
    f"{jax.devices()[0].platform} x{len(jax.devices())}, {os.cpu_count()} CPUs"
  )
  print(f"{'mode':<28}{'programs':>9}{'first s':>14}{'x':>7}{'again s':>10}{'x':>7}")
  rows = [
    ("vmapped", 1, vmapped),
    ("sequential", len(settings), sequential),
    ("sequential, lr as argument", 1, argument),
  ]
  for name, programs, (first, again, _) in rows:
    print(
      f"{name:<28}{programs:>9}{first:>14.2f}{sequential[0] / first:>7.1f}"
      f"{again:>10.3f}{sequential[1] / again:>7.1f}"
    )
  print("max |vmapped - sequential| of the training curve / its largest loss, per learning rate:")
  print("  " + ", ".join(f"{lr:.1e}: {d:.0e}" for lr, d in zip(lrs, diffs, strict=True)))


if __name__ == "__main__":
  main()
