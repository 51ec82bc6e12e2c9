"""Benchmark: a full training step (batch, forward, backward, update) of the shipped learned
optimizer relative to Adam's and Muon's, same run, on a zoo task and a ~1M-parameter MLP.

    .venv/bin/python -m bench.pretrained_step [--name residual_muon_v4] [--repeats 30]

Each step is `tasks.training.step_fn` (the library's one training step) under `jax.jit`;
the optimizers are timed round-robin, one step each in turn, so that a slow spell of the
machine hits all of them. Prints the median ms per step and its ratio to Adam's. The
1M-parameter model is a Fashion-MNIST MLP 784-1024-256-10 (1.07M parameters); without
Fashion-MNIST (`make data`) the digits dataset stands in at the same widths.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import optax

import learned_opt
import tasks
from tasks.training import step_fn

NUM_STEPS = 1000


def _models() -> dict[str, tasks.Task]:
  try:
    tasks.get("fashion_mnist_mlp_128").batches("train")
    dataset = "fashion_mnist"
  except (ValueError, FileNotFoundError):
    dataset = "digits"
  return {
    f"{dataset}_mlp_128": tasks.MLPClassifier(dataset=dataset, hidden=(128,), batch_size=128),
    f"{dataset}_mlp_1024x256": tasks.MLPClassifier(
      dataset=dataset, hidden=(1024, 256), batch_size=128
    ),
  }


def _compiled_step(task, opt):
  sampler = task.batches("train")
  step = jax.jit(step_fn(task, opt, sampler, ()))
  params = task.init(jax.random.PRNGKey(0))
  carry = (params, opt.init(params))
  carry, _ = jax.block_until_ready(step(carry, jax.random.PRNGKey(1)))
  return {"fn": step, "carry": carry}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--name", default="residual_muon_v4")
  parser.add_argument("--repeats", type=int, default=30)
  args = parser.parse_args()
  optimizers = {
    "adam": optax.adam(1e-3),
    "muon": optax.contrib.muon(optax.linear_schedule(0.02, 0.0, NUM_STEPS)),
    args.name: learned_opt.load(f"pretrained:{args.name}", num_steps=NUM_STEPS),
  }
  print(f"{'model':<24}{'params':>10}  {'optimizer':<20}{'ms/step':>9}{'/ adam':>8}")
  for model, task in _models().items():
    n = sum(p.size for p in jax.tree.leaves(task.init(jax.random.PRNGKey(0))))
    runners = {name: _compiled_step(task, opt) for name, opt in optimizers.items()}
    times = {name: [] for name in runners}
    key = jax.random.PRNGKey(2)
    for i in range(args.repeats):
      for name, r in runners.items():
        start = time.perf_counter()
        r["carry"], _ = jax.block_until_ready(r["fn"](r["carry"], jax.random.fold_in(key, i)))
        times[name].append(time.perf_counter() - start)
    t_adam = float(np.median(times["adam"]))
    for name, t in times.items():
      t = float(np.median(t))
      print(f"{model:<24}{n:>10}  {name:<20}{1e3 * t:>9.3f}{t / t_adam:>8.2f}")


if __name__ == "__main__":
  main()
