"""Benchmark: tpSGD's accuracy gap to backprop SGD on digits MLPs.

    .venv/bin/python -m bench.tpsgd [--steps 1000] [--seeds 3] [--tasks digits_mlp_32,...]

Per zoo MLP task, tpSGD (layer-local gradients towards fixed random projections of the
labels) and plain SGD (backprop) each run at every learning rate of {0.03, 0.1, 0.3, 1.0} for
`--steps` steps on `--seeds` seeds; the table gives the best rate's mean test accuracy of each
and their gap (backprop minus tpSGD, in accuracy points). Lomnitz et al. report tpSGD within
5% accuracy of backprop on shallow fully connected networks.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
import optax

import baselines
import tasks

_RATES = (0.03, 0.1, 0.3, 1.0)


def accuracies(task, make_opt, extra_args, steps: int, seeds: int) -> np.ndarray:
  """Test accuracy [rates, seeds] of `make_opt(lr)` trained `steps` steps from `task.init`:
  every (rate, seed) in one vmapped program, the data as arguments."""

  def one(lr, seed, train, test):
    opt = make_opt(lr)
    step = tasks.training.step_fn(task, opt, train, extra_args)
    k_init, k_steps = jax.random.split(jax.random.PRNGKey(seed))
    params = task.init(k_init)
    (params, _), _ = jax.lax.scan(
      step, (params, opt.init(params)), jax.random.split(k_steps, steps)
    )
    return task.accuracy(params, test.arrays)

  lrs, ss = np.meshgrid(np.asarray(_RATES, np.float32), np.arange(seeds), indexing="ij")
  run = jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))
  out = run(lrs.ravel(), ss.ravel(), task.batches("train"), task.batches("test"))
  return np.asarray(out).reshape(len(_RATES), seeds)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--tasks", default="digits_mlp_32,digits_mlp_32_tanh,digits_mlp_64x64")
  args = parser.parse_args(argv)
  extra = tasks.training.extra_args_of(baselines.entry("tpsgd").needs)
  print(f"tpSGD vs backprop SGD, {args.steps} steps, best of rates {_RATES}, {args.seeds} seeds")
  header = "| task | backprop SGD test acc (lr) | tpSGD test acc (lr) | gap (points) |"
  print(header)
  print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
  for name in args.tasks.split(","):
    task = tasks.get(name)
    bp = accuracies(task, optax.sgd, (), args.steps, args.seeds).mean(1)
    tp = accuracies(
      task, lambda lr: baselines.get("tpsgd", learning_rate=lr), extra, args.steps, args.seeds
    ).mean(1)
    bp_i, tp_i = int(np.argmax(bp)), int(np.argmax(tp))
    print(
      f"| {name} | {bp[bp_i]:.3f} ({_RATES[bp_i]}) | {tp[tp_i]:.3f} ({_RATES[tp_i]}) "
      f"| {100 * (bp[bp_i] - tp[tp_i]):.1f} |"
    )


if __name__ == "__main__":
  main()
