"""Run as a script with several host devices: meta-gradients, sharded vs unsharded.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/sharded_meta_step.py

Prints one JSON line: the devices, how the population was laid out, the compiled
estimate's floating-point operations per device against the single-device program's
(XLA's cost analysis: about 1 / devices when the population's work is split), the norm of
the single-device meta-gradient and the relative difference of the sharded one, over two
successive estimator calls, and the members or pairs whose estimate was not finite, for
PES, TBPTT and full ES (whose pairs are drawn inside each call, so it keeps no population
to lay out). The population: tiny digits MLPs (four parameter leaves, always-blank pixels:
exactly zero gradients) under a small per-parameter MLP rule.
"""

import json

import jax
import numpy as np

from configs import quickstart
from meta_train import main as program


def main():
  config = quickstart.get_config()
  config.estimator.num_pairs = 4
  config.estimator.num_members = 4
  config.estimator.trunc_length = 2
  config.estimator.horizon_truncations = (1, 2)
  config.lopt.hidden_sizes = (4,)
  config.lopt.features = ("grad", "param", "momentum_0.9", "rms_0.999", "norm_momentum_0.9")
  config.tasks = {"digits_mlp": dict(config.tasks.digits_mlp, hidden=(4,), batch_size=8)}
  results = {"devices": len(jax.devices())}
  for estimator in ("pes", "tbptt", "full_es"):
    config.estimator.name = estimator
    grads, flops, nonfinite = {}, {}, 0
    for shard in (True, False):
      config.shard_population = shard
      trainer = program.build_trainer(config)
      state = trainer.place(trainer.init(jax.random.PRNGKey(0)))
      (est,) = trainer.estimators.values()
      unroll = state.unroll["digits_mlp"]
      if estimator != "full_es":
        leaf = jax.tree.leaves(unroll.inner.params)[0]
        results[f"{estimator}_devices_holding_population_{shard}"] = len(
          {s.device for s in leaf.addressable_shards}
        )
      # The program compiled once, for its cost analysis and for both calls.
      estimate = est._jitted_estimate.lower(
        state.theta, unroll, jax.random.PRNGKey(1), est._samplers
      ).compile()
      cost = estimate.cost_analysis()
      flops[shard] = (cost[0] if isinstance(cost, list) else cost)["flops"]
      flat = []
      for call in range(2):
        g, unroll, metrics = estimate(
          state.theta, unroll, jax.random.PRNGKey(call + 1), est._samplers
        )
        flat.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)]))
        nonfinite += int(metrics["num_nonfinite"])
      grads[shard] = np.concatenate(flat)
    norm = np.linalg.norm(grads[False])
    results[f"{estimator}_grad_norm"] = float(norm)
    results[f"{estimator}_relative_grad_diff"] = float(
      np.linalg.norm(grads[True] - grads[False]) / norm
    )
    results[f"{estimator}_flops_per_device_ratio"] = flops[True] / flops[False]
    results[f"{estimator}_num_nonfinite"] = nonfinite
  print(json.dumps(results))


if __name__ == "__main__":
  main()
