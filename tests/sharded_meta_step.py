"""Run as a script with several host devices: meta-gradients, sharded vs unsharded.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/sharded_meta_step.py

Prints one JSON line: the devices, how the population was laid out, the compiled estimate's
floating-point operations per device against the single-device program's (XLA's cost
analysis: about 1 / devices when the population's work is split), and the relative
difference between the sharded and the single-device meta-gradients of two successive
estimator calls on each task family, for PES, TBPTT and full ES (whose pairs are drawn
inside each call, so it keeps no population to lay out).
"""

import json

import jax
import numpy as np

from configs import quickstart
from meta_train import main as program


def main():
  config = quickstart.get_config()
  config.estimator.num_pairs = 4
  config.estimator.trunc_length = 3
  config.estimator.horizon_truncations = (1, 3)
  config.lopt.hidden_sizes = (8,)
  config.tasks.digits_mlp.hidden = (8,)
  config.tasks.digits_mlp.batch_size = 16
  config.estimator.num_members = 4
  results = {"devices": len(jax.devices())}
  for estimator in ("pes", "tbptt", "full_es"):
    config.estimator.name = estimator
    grads, flops = {}, {}
    for shard in (True, False):
      config.shard_population = shard
      trainer = program.build_trainer(config)
      state = trainer.place(trainer.init(jax.random.PRNGKey(0)))
      if estimator != "full_es":
        leaf = jax.tree.leaves(state.unroll["digits_mlp"].inner.params)[0]
        results[f"{estimator}_devices_holding_population_{shard}"] = len(
          {s.device for s in leaf.addressable_shards}
        )
      flat, flops[shard] = [], 0.0
      for name, est in trainer.estimators.items():
        unroll = state.unroll[name]
        args = (state.theta, unroll, jax.random.PRNGKey(1), est._samplers)
        cost = est._jitted_estimate.lower(*args).compile().cost_analysis()
        flops[shard] += (cost[0] if isinstance(cost, list) else cost)["flops"]
        for call in range(2):
          g, unroll, _ = est.grad(state.theta, unroll, jax.random.PRNGKey(call + 1))
          flat.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)]))
      grads[shard] = np.concatenate(flat)
    diff = np.linalg.norm(grads[True] - grads[False]) / np.linalg.norm(grads[False])
    results[f"{estimator}_relative_grad_diff"] = float(diff)
    results[f"{estimator}_flops_per_device_ratio"] = flops[True] / flops[False]
  print(json.dumps(results))


if __name__ == "__main__":
  main()
