"""Benchmark: update time and optimizer-state bytes of registered baselines against Adam.

    .venv/bin/python -m bench.baseline_updates [--tiers 1] [--layers 4] [--width 512] [--repeats 30]
    .venv/bin/python -m bench.baseline_updates --tiers 2,3        # = bench.baselines_structured

The model is `--layers` matrices of `width x width` plus their biases (4 x 512 x 512: about
1.05M parameters). Every implemented entry with an id of the chosen tiers runs with its paper
defaults, next to `optax.adam`, in the same run. Per method the script prints the state bytes
per parameter (`baselines.state_bytes`, real dtypes: int8 / fp8 count 1 byte) and the median
time of one jitted `update` + `apply_updates` relative to Adam's (ratios are what to compare
across machines). Extra args come from a fixed quadratic loss: `value` is a constant, a
`value_fn` method pays for its extra loss/gradient evaluations (marked `+f` in the table),
`key` is a fixed key; an `output_fn` method (Gauss-Newton family, marked `+o`) gets the
layers applied (tanh) to 16 fixed random inputs, the first 4 units of the last layer as its
outputs (m = 64), and half their squared norm as `loss_of_outputs`; a `dense_fn` method
(ghost clipping, tpSGD, marked `+d`) the same layers as dense layers, the whole last layer
as outputs, half the mean squared norm per input as the loss and one-hot `targets` of 10
classes; a `constraint_fn` method (AdaSketch-Newton, marked `+c`) the one linear constraint
sum of the last bias = 1 (its default sketches: up to 50 x 9 products with the KKT matrix
per step). `--extra` adds named entries outside the tiers (`baselines_structured`: the
issue-20 methods of other tiers or needing workers, KAISA as one worker). Rows above `--flag`
(default 1.5x, the target for elementwise rules) are named at the end.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import baselines


def _model(layers: int, width: int, key: jax.Array):
  keys = jax.random.split(key, 2 * layers)
  params = {
    f"layer{i}": {
      "w": jax.random.normal(keys[2 * i], (width, width)) / np.sqrt(width),
      "b": jnp.zeros((width,)),
    }
    for i in range(layers)
  }
  grads = {
    f"layer{i}": {
      "w": 1e-3 * jax.random.normal(keys[2 * i + 1], (width, width)),
      "b": jnp.full((width,), 1e-3),
    }
    for i in range(layers)
  }
  return params, grads


def _loss(params) -> jax.Array:
  return 0.5 * sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(params))


_INPUTS = jax.random.normal(jax.random.PRNGKey(2), (16, 1))


def _outputs(params) -> jax.Array:
  x = jnp.broadcast_to(_INPUTS, (16, params["layer0"]["w"].shape[0]))
  for i in range(len(params)):
    x = jnp.tanh(x @ params[f"layer{i}"]["w"] + params[f"layer{i}"]["b"])
  return x[:, :4]


def _dense_fn(params, taps):
  """The layers as dense layers (tanh) on the 16 fixed inputs: (outputs, each layer's input)."""
  x, inputs = jnp.broadcast_to(_INPUTS, (16, params["layer0"]["w"].shape[0])), {}
  for i in range(len(params)):
    name = f"layer{i}"
    inputs[name] = x
    z = x @ params[name]["w"] + params[name]["b"]
    x = jnp.tanh(z if taps is None else z + taps[name])
  return x, inputs


def _extra_args(needs, params, key) -> dict:
  args = {}
  if "dense_fn" in needs or "targets" in needs:
    args["dense_fn"] = _dense_fn
    args["loss_of_outputs"] = lambda z: 0.5 * jnp.mean(jnp.sum(jnp.square(z), -1))
    args["targets"] = jax.nn.one_hot(jnp.arange(16) % 10, 10)
  if "output_fn" in needs:
    args["output_fn"] = _outputs
    args["loss_of_outputs"] = lambda z: 0.5 * jnp.sum(jnp.square(z))
  if "constraint_fn" in needs:
    args["constraint_fn"] = lambda p: jnp.sum(p[f"layer{len(p) - 1}"]["b"], keepdims=True) - 1.0
  if "value" in needs:
    args["value"] = jnp.float32(1.0)
  if "value_fn" in needs:
    args["value_fn"] = _loss
  if "key" in needs:
    args["key"] = key
  return args


def _time_step(opt, needs, params, grads, repeats: int) -> float:
  opt = optax.with_extra_args_support(opt)
  key = jax.random.PRNGKey(1)

  @jax.jit  # the gradients are an argument: as a closed-over constant XLA would fold them
  def step(params, state, grads):
    updates, state = opt.update(grads, state, params, **_extra_args(needs, params, key))
    return optax.apply_updates(params, updates), state

  state = opt.init(params)
  for _ in range(2):  # compile, then one warm call
    params, state = jax.block_until_ready(step(params, state, grads))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    params, state = jax.block_until_ready(step(params, state, grads))
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def selected(tiers: set[int], extra: tuple[str, ...] = ()) -> list[baselines.Entry]:
  """Implemented single-device update rules (no procedures) with an id in `tiers`, then the
  entries named in `extra` (a `devices` entry runs as one worker: its `num_workers=None`)."""
  prefixes = tuple(f"T{t}-" for t in tiers)
  return [
    e
    for e in baselines.entries()
    if e.status == "implemented"
    and e.factory is not None
    and any(i.startswith(prefixes) for i in e.ids)
    and "devices" not in e.needs
  ] + [baselines.entry(n) for n in extra]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tiers", default="1", help="comma-separated tiers of OPTIMIZERS.md")
  parser.add_argument("--layers", type=int, default=4)
  parser.add_argument("--width", type=int, default=512)
  parser.add_argument("--repeats", type=int, default=30)
  parser.add_argument("--flag", type=float, default=1.5, help="name the rows above this ratio")
  parser.add_argument("--names", default="", help="comma-separated subset of entry names")
  parser.add_argument(
    "--extra", default="", help="comma-separated entries to time beyond the tiers' rows"
  )
  args = parser.parse_args(argv)

  params, grads = _model(args.layers, args.width, jax.random.PRNGKey(0))
  num_params = sum(x.size for x in jax.tree.leaves(params))
  wanted = set(filter(None, args.names.split(",")))
  tiers = {int(t) for t in args.tiers.split(",")}
  extra = tuple(filter(None, args.extra.split(",")))
  entries = [e for e in selected(tiers, extra) if not wanted or e.name in wanted]

  _time_step(optax.adam(1e-3), (), params, grads, args.repeats)  # warms the machine up
  adam_time = _time_step(optax.adam(1e-3), (), params, grads, args.repeats)
  print(
    f"tiers {sorted(tiers)}: {num_params:,} parameters ({args.layers} x "
    f"{args.width}x{args.width} + biases), device {jax.devices()[0].device_kind}, median of "
    f"{args.repeats}; optax.adam step {adam_time * 1e3:.3f} ms"
  )
  header = f"| {'method':<26} | {'ids':<13} | {'source':<7} | state B/param | time / adam |"
  print(header)
  print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
  adam_bytes = baselines.state_bytes(optax.adam(1e-3), params) / num_params
  print(f"| {'optax.adam':<26} | {'reference':<13} | {'optax':<7} | {adam_bytes:>13.3f} | 1.00 |")
  slow = []
  for e in entries:
    ids = ",".join(e.ids)
    name = (
      e.name
      + (" +f" if "value_fn" in e.needs else "")
      + (" +o" if "output_fn" in e.needs else "")
      + (" +d" if "dense_fn" in e.needs else "")
      + (" +c" if "constraint_fn" in e.needs else "")
    )
    try:
      opt = baselines.get(e.name)
      per_param = baselines.state_bytes(opt, params) / num_params
      rel = _time_step(opt, e.needs, params, grads, args.repeats) / adam_time
      print(f"| {name:<26} | {ids:<13} | {e.source:<7} | {per_param:>13.3f} | {rel:>11.2f} |")
      if rel > args.flag:
        slow.append(f"{e.name} ({rel:.2f}x)")
    except Exception as err:  # a method that fails here is reported, not hidden
      print(f"| {name:<26} | {ids:<13} | {e.source:<7} | failed: {type(err).__name__}: {err}")
  print(f"above {args.flag}x Adam: " + (", ".join(slow) if slow else "none"))


if __name__ == "__main__":
  main()
