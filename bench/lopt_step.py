"""Benchmark: one optimizer step of each learned-rule family relative to optax.adam, same run.

    .venv/bin/python -m bench.lopt_step [--sizes 100000,1000000] [--repeats 50]

Prints, per parameter count and optimizer: the median time of one jitted `update` +
`apply_updates` (gradients passed as an argument; the optimizers timed round-robin, one
step each in turn, so a slow spell of the machine hits all of them) and its ratio to
Adam's, the compiled step's peak memory (XLA's buffer assignment: arguments + outputs +
temporaries) and its ratio to Adam's, XLA's FLOP count per parameter, and the optimizer
state in bytes per parameter. Parameters are a matrix of 256 columns and a bias. Ratios
are what to compare across machines.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import learned_opt
from learned_opt.mlp_lopt import ADAFAC_FEATURES

NUM_STEPS = 1000


def _optimizers() -> dict[str, optax.GradientTransformationExtraArgs]:
  rules = {
    "mlp (32x32)": learned_opt.MLPLOpt(),
    "mlp (4)": learned_opt.MLPLOpt(hidden_sizes=(4,)),
    "mlp adafac (4)": learned_opt.MLPLOpt(hidden_sizes=(4,), features=ADAFAC_FEATURES),
    "velo (4)": learned_opt.VeLO(),
    "celo (adam)": learned_opt.Celo(),
    "celo2 (8)": learned_opt.Celo2(),
  }
  key = jax.random.PRNGKey(0)
  return {
    "adam": optax.with_extra_args_support(optax.adam(1e-3)),
    **{name: r.opt(r.init(key), num_steps=NUM_STEPS) for name, r in rules.items()},
  }


def _compile(opt, params):
  """The jitted step (gradients are an argument, as in training), its peak memory and FLOPs."""

  def step(params, state, grads):
    updates, state = opt.update(grads, state, params, value=jnp.float32(1.0))
    return optax.apply_updates(params, updates), state

  state = opt.init(params)
  grads = jax.tree.map(lambda p: jnp.full_like(p, 1e-3), params)
  compiled = jax.jit(step).lower(params, state, grads).compile()
  memory = compiled.memory_analysis()
  peak = (
    memory.argument_size_in_bytes
    + memory.output_size_in_bytes
    + memory.temp_size_in_bytes
    - memory.alias_size_in_bytes
  )
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  state_bytes = sum(x.nbytes for x in jax.tree.leaves(state))
  runner = {
    "fn": compiled,
    "args": jax.block_until_ready(compiled(params, state, grads)),
    "grads": grads,
  }
  return runner, peak, float(cost.get("flops", float("nan"))), state_bytes


def _interleaved_times(runners: dict, repeats: int) -> dict[str, float]:
  """Median seconds per step of each runner, timed round-robin (one step of each in turn),
  so that a slow spell of the machine, or the allocator warming up, hits every optimizer."""
  times = {name: [] for name in runners}
  for _ in range(repeats):
    for name, r in runners.items():
      start = time.perf_counter()
      r["args"] = jax.block_until_ready(r["fn"](*r["args"], r["grads"]))
      times[name].append(time.perf_counter() - start)
  return {name: float(np.median(t)) for name, t in times.items()}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", default="100000,1000000")
  parser.add_argument("--repeats", type=int, default=50)
  args = parser.parse_args()

  optimizers = _optimizers()
  print(
    f"{'params':>9}  {'optimizer':<16}{'ms/step':>9}{'/ adam':>8}{'peak MB':>9}{'/ adam':>8}"
    f"{'flops/p':>9}{'state B/p':>10}"
  )
  for size in (int(s) for s in args.sizes.split(",")):
    cols = 256
    params = {"w": jnp.zeros((size // cols, cols)), "b": jnp.zeros((cols,))}
    n = sum(p.size for p in jax.tree.leaves(params))
    compiled = {name: _compile(opt, params) for name, opt in optimizers.items()}
    times = _interleaved_times({name: c[0] for name, c in compiled.items()}, args.repeats)
    t_adam, m_adam = times["adam"], compiled["adam"][1]
    for name, (_, peak, flops, state_bytes) in compiled.items():
      t = times[name]
      print(
        f"{size:>9}  {name:<16}{1e3 * t:>9.3f}{t / t_adam:>8.2f}{peak / 2**20:>9.1f}"
        f"{peak / m_adam:>8.2f}{flops / n:>9.1f}{state_bytes / n:>10.2f}"
      )


if __name__ == "__main__":
  main()
