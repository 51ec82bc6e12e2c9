"""Benchmark: ghost clipping's peak memory and time against materialized per-example gradients.

    .venv/bin/python -m bench.ghost_clipping [--widths 128,512] [--batches 32,256] [--repeats 10]

An MLP of three dense layers `width x width` (tanh) with a squared-error loss; per batch size
and width, DP-SGD's clipped sum of per-example gradients (C = 1) two ways: materialized
(`jax.vmap(jax.grad)` per example, then optax's per-example clipping: what `dp_sgd` takes) and
by ghost clipping (`baselines.privacy.ghost_clipped_sum`: norms from activations and output
gradients, a reweighted second backward pass). Peak memory is XLA's scratch (temp) buffer
size of the compiled program (`memory_analysis`, the same on every run), next to the
parameters' own bytes; time is the median of `--repeats` calls. The ratios are what to
compare across machines.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.privacy import ghost_clipped_sum, per_example_grads

_LAYERS = 3


def _dense_fn(data):
  def dense_fn(params, taps):
    x, inputs = data, {}
    for i in range(_LAYERS):
      name = f"dense_{i}"
      inputs[name] = x
      z = x @ params[name]["w"] + params[name]["b"]
      x = jnp.tanh(z if taps is None else z + taps[name])
    return x, inputs

  return dense_fn


def _loss_of_outputs(y):
  return lambda o: 0.5 * jnp.mean(jnp.sum((o - y) ** 2, -1))


def ghost(params, x, y):
  return ghost_clipped_sum(params, _dense_fn(x), _loss_of_outputs(y), 1.0)[0]


def materialized(params, x, y):
  def example_loss(p, e):
    return _loss_of_outputs(e[1][None])(_dense_fn(e[0][None])(p, None)[0])

  grads = per_example_grads(example_loss, params, (x, y))
  leaves, treedef = jax.tree.flatten(grads)
  return jax.tree.unflatten(treedef, optax.per_example_global_norm_clip(leaves, 1.0)[0])


def _measure(fn, args, repeats: int) -> tuple[int, float]:
  compiled = jax.jit(fn).lower(*args).compile()
  temp = compiled.memory_analysis().temp_size_in_bytes
  jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - start)
  return temp, float(np.median(times))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--widths", default="128,512")
  parser.add_argument("--batches", default="32,256")
  parser.add_argument("--repeats", type=int, default=10)
  args = parser.parse_args(argv)
  print(
    f"ghost clipping vs materialized per-example gradients: {_LAYERS} dense layers (tanh), "
    f"device {jax.devices()[0].device_kind}, median of {args.repeats}"
  )
  header = (
    "| width | batch | params MB | materialized temp MB | ghost temp MB | memory ratio "
    "| time ratio (ghost / materialized) |"
  )
  print(header)
  print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
  for width in map(int, args.widths.split(",")):
    keys = jax.random.split(jax.random.PRNGKey(0), _LAYERS + 2)
    params = {
      f"dense_{i}": {
        "w": jax.random.normal(keys[i], (width, width)) / np.sqrt(width),
        "b": jnp.zeros((width,)),
      }
      for i in range(_LAYERS)
    }
    param_mb = 4 * sum(p.size for p in jax.tree.leaves(params)) / 2**20
    for batch in map(int, args.batches.split(",")):
      x = jax.random.normal(keys[-2], (batch, width))
      y = jax.random.normal(keys[-1], (batch, width))
      m_temp, m_time = _measure(materialized, (params, x, y), args.repeats)
      g_temp, g_time = _measure(ghost, (params, x, y), args.repeats)
      print(
        f"| {width} | {batch} | {param_mb:.2f} | {m_temp / 2**20:.2f} | {g_temp / 2**20:.2f} "
        f"| {g_temp / max(m_temp, 1):.3f} | {g_time / m_time:.2f} |"
      )


if __name__ == "__main__":
  main()
