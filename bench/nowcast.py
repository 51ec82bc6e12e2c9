"""Benchmark: what a NiNo nowcast costs next to the Adam steps it replaces, same run.

    .venv/bin/python -m bench.nowcast [--checkpoint pretrained:nino_zoo] [--steps 500] \
        [--repeats 5] [--tasks digits_mlp_64x64,jargon_lstm]

Per task: parameters, the neural graph's nodes and edges, the time of one nowcast (the
graph network's forward pass over a 5-snapshot window) in units of one Adam update and in
milliseconds, one training step (batch, gradient, Adam) in milliseconds, the smallest
`every` (a multiple of the context) at which the nowcast costs at most 5% of the training
time (`nowcast / (every * step) <= 0.05`), and the wall time of `--steps` training steps
with `jump_every(adam, nowcaster, every, context)` relative to plain Adam at the
checkpoint's `every` and at that smallest one (one jitted `lax.scan`, compiled before
timing; the jump's `lax.cond` runs the network only every `every` steps; the wall times
include a loss-guided jump's loss evaluations, the nowcast columns do not). Without a
checkpoint a freshly initialized nowcaster of the default size is timed (the cost does not
depend on theta). On a shared machine, run it alone: the ratios are of one run.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import learned_opt
import tasks
from learned_opt import neural_graph
from tasks import training

TASKS = (  # META_TEST tasks: an MLP, a CNN, a wide MLP, a transformer, an LSTM
  "digits_mlp_64x64",
  "digits_cnn",
  "fashion_mnist_mlp_128",
  "bible_transformer_chars",
  "jargon_lstm",
)
BUDGET = 0.05  # the nowcast's share of the training time


def _time(fn, *args, repeats):
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _train_fn(task, opt, steps, extra_args=()):
  sampler = task.batches("train")

  @jax.jit
  def run(sampler, key):
    params = task.init(key)
    step = training.step_fn(task, opt, sampler, extra_args)
    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
    return params

  return lambda key: run(sampler, key)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoint", default="pretrained:nino_zoo")
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated zoo tasks")
  args = parser.parse_args()
  if os.path.exists(args.checkpoint) or args.checkpoint.startswith(learned_opt.pretrained.PREFIX):
    lopt, theta = learned_opt.load_theta(args.checkpoint)
    source = args.checkpoint
  else:
    lopt = learned_opt.Nino()
    theta = lopt.init(jax.random.PRNGKey(0))
    source = "untrained Nino()"
  print(f"device: {jax.devices()[0].platform}, nowcaster: {source}, every={lopt.every}")
  header = (
    f"{'task':24s} {'params':>7s} {'nodes':>6s} {'edges':>7s} {'nowcast/adam':>12s} "
    f"{'nowcast ms':>10s} {'step ms':>8s} {'every<=5%':>9s} "
    f"{f'wall @{lopt.every}':>9s} {'wall @5%':>9s}"
  )
  print(header)
  print("-" * len(header))
  key = jax.random.PRNGKey(0)
  for name in args.tasks.split(","):
    try:
      task = tasks.get(name)
      params = task.init(key)
    except Exception as e:  # a dataset that is not prepared on this machine
      print(f"{name:24s} skipped: {str(e).splitlines()[0]}")
      continue
    num_heads = getattr(task, "num_heads", None)
    graph = neural_graph.infer(params, num_heads=num_heads)
    window = jax.tree.map(lambda p: jnp.stack([p * (1 + 0.01 * i) for i in range(5)]), params)
    predict = jax.jit(lopt.predictor(theta, num_heads=num_heads))
    grads = jax.tree.map(jnp.ones_like, params)
    adam = optax.adam(1e-3)

    @jax.jit
    def adam_step(params, state, grads=grads, adam=adam):
      updates, state = adam.update(grads, state, params)
      return optax.apply_updates(params, updates), state

    t_predict = _time(predict, window, repeats=args.repeats * 4)
    t_update = _time(adam_step, params, adam.init(params), repeats=args.repeats * 20)
    t_adam = _time(_train_fn(task, adam, args.steps), key, repeats=args.repeats)
    t_step = t_adam / args.steps
    every = lopt.context * math.ceil(t_predict / (BUDGET * t_step * lopt.context))
    walls = []
    for e in (lopt.every, every):
      nowcast = lopt.opt(theta, num_heads=num_heads, every=e)
      train = _train_fn(task, nowcast, args.steps, lopt.update_args)
      walls.append(_time(train, key, repeats=args.repeats) / t_adam)
    size = sum(np.size(x) for x in jax.tree.leaves(params))
    print(
      f"{name:24s} {size:7d} {graph.num_nodes:6d} {graph.num_edges:7d} "
      f"{t_predict / t_update:12.0f} {1e3 * t_predict:10.2f} {1e3 * t_step:8.3f} {every:9d} "
      f"{walls[0]:9.2f} {walls[1]:9.2f}"
    )


if __name__ == "__main__":
  main()
