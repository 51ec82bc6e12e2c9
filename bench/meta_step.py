"""Benchmark: meta-gradient estimators against the bare inner unroll, same run.

    .venv/bin/python -m bench.meta_step [--steps 5]

For each estimator on the default population (configs/quickstart.py's digits_mlp family
and MLP rule), and for one fixed reference configuration that stays the same from release
to release, prints meta-steps/s, inner-steps/s (both antithetic branches counted), the
compiled program's temporary memory (XLA's memory analysis) and the overhead against the
bare vmapped inner unroll with the same learned rule (forward only, the same number of
inner trainings and steps): "overhead" against the unroll with one shared theta, "vs
θ/member" against the unroll with one theta per member (what any ES member pays: its own
perturbed theta), which isolates the estimator's own work.

Reference configuration: the per-parameter MLP rule with 2 hidden layers of 4, PES with
8 antithetic pairs (16 inner trainings: a population of 8 tasks, each run + and -),
truncation length 50, each task an MLP 64-32-10 (ReLU) with batch 128 on 8x8 digits.
"""

from __future__ import annotations

import argparse
import time

import jax

from configs import quickstart
from meta_train import main as program
from meta_train.estimators import AntitheticES


def _config(name, reference):
  config = quickstart.get_config()
  config.estimator.name = name
  config.tasks = {"digits_mlp": {"hidden": (32,), "batch_size": 128 if reference else 64}}
  if reference:
    config.lopt.hidden_sizes = (4, 4)
    config.estimator.num_pairs = 8
    config.estimator.trunc_length = 50
    config.estimator.horizon_truncations = (10, 10)
  return config


def _time(fn, steps):
  jax.block_until_ready(fn())  # compile
  start = time.perf_counter()
  for _ in range(steps):
    out = fn()
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / steps


def _temp_bytes(jitted, *args):
  analysis = jitted.lower(*args).compile().memory_analysis()
  return getattr(analysis, "temp_size_in_bytes", float("nan"))


def measure(name, reference, steps):
  trainer = program.build_trainer(_config(name, reference))
  est = trainer.estimators["digits_mlp"]
  state = trainer.init(jax.random.PRNGKey(0))
  theta, unroll = state.theta, state.unroll["digits_mlp"]
  key = jax.random.PRNGKey(1)
  seconds = _time(lambda: est.grad(theta, unroll, key)[0], steps)
  _, _, metrics = est.grad(theta, unroll, key)
  inner_steps = int(metrics["inner_steps"])
  temp = _temp_bytes(est._jitted_estimate, theta, unroll, key, est._samplers)

  # The bare unroll: the same members, one truncation, forward only.
  unroller = est.unroller
  inner = unroll.inner
  if isinstance(est, AntitheticES):
    inner = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), inner)
  if name == "full_es":  # keeps no population between calls: fresh trainings, as it starts them
    members = 2 * est.num_pairs
    inner = jax.vmap(lambda k: unroller.fresh(theta, k))(jax.random.split(key, members))
  members = jax.tree.leaves(inner.params)[0].shape[0]
  samplers = est._samplers

  def unroll_seconds(theta_axis, thetas):
    run = jax.jit(
      lambda th, inner, k, s: jax.vmap(unroller.truncation, in_axes=(theta_axis, 0, None, None))(
        th, inner, k, s
      )[1]
    )
    return _time(lambda: run(thetas, inner, key, samplers), steps)

  bare_seconds = unroll_seconds(None, theta)
  # The same unroll with one theta per member (as every ES member has its own perturbed
  # theta): the rule's weights are batched, the cost any ES estimator pays.
  thetas = jax.tree.map(lambda x: jax.numpy.broadcast_to(x, (members, *x.shape)), theta)
  per_member_seconds = unroll_seconds(0, thetas)
  bare_inner = members * unroller.trunc_length
  per_step = seconds / inner_steps
  return {
    "meta_steps_per_s": 1.0 / seconds,
    "inner_steps_per_s": inner_steps / seconds,
    "temp_mib": temp / 2**20,
    "bare_inner_steps_per_s": bare_inner / bare_seconds,
    "overhead": per_step / (bare_seconds / bare_inner) - 1.0,
    "overhead_per_member": per_step / (per_member_seconds / bare_inner) - 1.0,
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=5)
  args = parser.parse_args()
  rows = [(name, False) for name in ("pes", "nres", "truncated_es", "full_es", "tbptt")]
  rows.append(("pes", True))
  print(f"devices: {jax.devices()}")
  header = f"{'estimator':<22}{'meta-steps/s':>13}{'inner-steps/s':>15}{'bare inner/s':>14}"
  print(header + f"{'overhead':>10}{'vs θ/member':>12}{'temp MiB':>10}")
  for name, reference in rows:
    r = measure(name, reference, args.steps)
    label = f"{name} (reference)" if reference else name
    print(
      f"{label:<22}{r['meta_steps_per_s']:>13.2f}{r['inner_steps_per_s']:>15.0f}"
      f"{r['bare_inner_steps_per_s']:>14.0f}{100 * r['overhead']:>9.0f}%"
      f"{100 * r['overhead_per_member']:>11.0f}%{r['temp_mib']:>10.1f}"
    )


if __name__ == "__main__":
  main()
