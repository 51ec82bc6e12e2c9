"""Benchmark: peak memory and time per step of MeZO vs Adam on the same MLP, same run.

    .venv/bin/python -m bench.zeroth_order [--width 1024] [--depth 8] [--batch 512]

Builds a ReLU MLP classifier on a fixed random batch and times one jitted training step
(loss, direction, `apply_updates`) of `baselines.get("mezo")` (two forward passes, no
backward pass, no optimizer state) and of `optax.adam` (forward + backward, two moments).
Peak memory is XLA's own account of the compiled step,
`jax.jit(step).lower(...).compile().memory_analysis()`: arguments + outputs + temporaries
- aliased (donated) bytes; "temp" is the scratch memory beyond parameters and state, where
backpropagation keeps its activations. Times are medians over `--repeats` calls.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import baselines


def _mlp(key, width, depth, num_in, num_out):
  sizes = [num_in] + [width] * depth + [num_out]
  keys = jax.random.split(key, len(sizes) - 1)
  return [
    {"w": jax.random.normal(k, (a, b)) / np.sqrt(a), "b": jnp.zeros((b,))}
    for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
  ]


def _loss(params, x, y):
  h = x
  for layer in params[:-1]:
    h = jax.nn.relu(h @ layer["w"] + layer["b"])
  logits = h @ params[-1]["w"] + params[-1]["b"]
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _step_fn(name, opt):
  def step(params, state, x, y, key):
    value_fn = lambda p: _loss(p, x, y)
    if name == "mezo":
      # No gradient: the `updates` argument is ignored, zeros keep the structure.
      grads = jax.tree.map(jnp.zeros_like, params)
      loss = value_fn(params)
    else:
      loss, grads = jax.value_and_grad(value_fn)(params)
    updates, state = opt.update(grads, state, params, value_fn=value_fn, key=key)
    return optax.apply_updates(params, updates), state, loss

  return step


def _measure(name, opt, params, x, y, repeats):
  step = jax.jit(_step_fn(name, opt), donate_argnums=(0, 1))
  state = opt.init(params)
  key = jax.random.PRNGKey(0)
  compiled = step.lower(params, state, x, y, key).compile()
  mem = compiled.memory_analysis()
  peak = (
    mem.argument_size_in_bytes
    + mem.output_size_in_bytes
    + mem.temp_size_in_bytes
    - mem.alias_size_in_bytes
  )
  params = jax.tree.map(jnp.copy, params)
  params, state, _ = jax.block_until_ready(compiled(params, state, x, y, key))
  times = []
  for i in range(repeats):
    k = jax.random.fold_in(key, i)
    start = time.perf_counter()
    params, state, loss = jax.block_until_ready(compiled(params, state, x, y, k))
    times.append(time.perf_counter() - start)
  return peak, mem.temp_size_in_bytes, float(np.median(times)), float(loss)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--width", type=int, default=1024)
  parser.add_argument("--depth", type=int, default=8)
  parser.add_argument("--batch", type=int, default=512)
  parser.add_argument("--repeats", type=int, default=20)
  args = parser.parse_args()

  num_in, num_out = 784, 10
  params = _mlp(jax.random.PRNGKey(0), args.width, args.depth, num_in, num_out)
  x = jax.random.normal(jax.random.PRNGKey(1), (args.batch, num_in))
  y = jax.random.randint(jax.random.PRNGKey(2), (args.batch,), 0, num_out)
  n = sum(p.size for p in jax.tree.leaves(params))
  print(
    f"device: {jax.devices()[0].device_kind}; MLP {num_in}-{args.width}x{args.depth}-{num_out}, "
    f"{n / 1e6:.2f}M params ({4 * n / 2**20:.1f} MiB float32), batch {args.batch}"
  )
  optimizers = {
    "mezo": baselines.get("mezo", learning_rate=1e-6),
    "adam": optax.adam(1e-3),
  }
  print(f"{'optimizer':<10}{'peak MiB':>10}{'temp MiB':>10}{'ms/step':>10}")
  rows = {}
  for name, opt in optimizers.items():
    peak, temp, t, _ = _measure(name, opt, params, x, y, args.repeats)
    rows[name] = (peak, t)
    print(f"{name:<10}{peak / 2**20:>10.1f}{temp / 2**20:>10.1f}{1e3 * t:>10.3f}")
  print(
    f"adam / mezo: peak memory x{rows['adam'][0] / rows['mezo'][0]:.2f}, "
    f"time per step x{rows['adam'][1] / rows['mezo'][1]:.2f}"
  )


if __name__ == "__main__":
  main()
