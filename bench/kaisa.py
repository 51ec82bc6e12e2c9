"""Benchmark: KAISA's communication and inverse memory per grad-worker fraction.

    .venv/bin/python -m bench.kaisa [--workers 8] [--layers 4] [--width 512]

The model of `bench.baseline_updates` (`--layers` matrices `width x width` plus biases). For
each fraction 1/N, 2/N, ..., 1 of N = `--workers` workers: the gradient workers G, the mean
megabytes each worker sends in a step that refreshes the inverses and in one that does not
(`baselines.distributed._kaisa.step_bits`: gradient and factor all-reduces, inverse
broadcasts when G > 1, preconditioned-gradient broadcasts when G < N), the most any one worker
computes of the inverses (the greedy `assignment`, in m³ + n³ units relative to the total),
and the inverse copies' megabytes per worker (G copies over N workers). A step of 1/N ... 1
runs once on the simulated worker axis to check that the updates agree.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import baselines
from baselines.distributed._kaisa import assignment, leaf_sizes, step_bits
from bench.baseline_updates import _model


def _inverse_bytes(params) -> int:
  return 4 * sum(leaf_sizes(p)[0] for p in jax.tree.leaves(params))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workers", type=int, default=8)
  parser.add_argument("--layers", type=int, default=4)
  parser.add_argument("--width", type=int, default=512)
  args = parser.parse_args(argv)
  n = args.workers
  params, grads = _model(args.layers, args.width, jax.random.PRNGKey(0))
  num = sum(p.size for p in jax.tree.leaves(params))
  costs = [leaf_sizes(p)[1] for p in jax.tree.leaves(params)]
  rng = np.random.default_rng(0)
  worker_grads = jax.tree.map(
    lambda g: jnp.asarray(g[None] * (1 + 0.1 * rng.normal(size=(n, *g.shape))), jnp.float32),
    grads,
  )
  print(
    f"KAISA on {n} simulated workers, {num:,} parameters ({args.layers} x "
    f"{args.width}x{args.width} + biases); MB = 2^20 bytes, 32 bits per float"
  )
  header = (
    "| fraction | grad workers | MB sent / worker (refresh step) | MB sent / worker (other) "
    "| max inverse work of one worker | inverse copies MB / worker |"
  )
  print(header)
  print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
  first = None
  for g in [d for d in range(1, n + 1) if n % d == 0]:
    fraction = g / n
    refresh, other = step_bits(params, n, fraction)
    plan = assignment(params, n, fraction)
    load = np.zeros(n)
    for w, c in zip(plan.inverse_worker, costs, strict=True):
      load[w] += c
    opt = baselines.get("kaisa", num_workers=n, grad_worker_fraction=fraction)
    update, _ = jax.jit(opt.update)(worker_grads, opt.init(params), params)
    first = update if first is None else first
    agree = max(
      float(jnp.max(jnp.abs(a - b)))
      for a, b in zip(jax.tree.leaves(update), jax.tree.leaves(first), strict=True)
    )
    assert agree < 1e-5, (fraction, agree)
    print(
      f"| {fraction:.3f} | {g} | {refresh / 8 / 2**20:.2f} | {other / 8 / 2**20:.2f} "
      f"| {load.max() / sum(costs):.2f} | {g / n * _inverse_bytes(params) / 2**20:.2f} |"
    )
  print("the updates of every fraction agree (max abs difference < 1e-5)")


if __name__ == "__main__":
  main()
