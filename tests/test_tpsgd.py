"""tpSGD (T4-15): layer-local gradients towards fixed random projections of the labels.

A numpy reference of two steps on a tanh MLP; the rule's locality (a hidden layer's update
does not see the layers above it); and a zoo digits MLP trained through the extra args,
close to backprop (the paper: within 5% accuracy on shallow networks; `bench/tpsgd.py`
reports the gap at 1000 steps).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import baselines
import tasks
from baselines.zeroth_order._tpsgd import projections

_B, _IN, _HID, _C = 6, 4, 5, 3


def _problem():
  x = jax.random.normal(jax.random.PRNGKey(0), (_B, _IN))
  y = jax.nn.one_hot(jnp.arange(_B) % _C, _C)

  def dense_fn(p, taps):
    inputs = {"dense_0": x}
    z = x @ p["dense_0"]["w"] + p["dense_0"]["b"]
    h = jnp.tanh(z if taps is None else z + taps["dense_0"])
    inputs["out"] = h
    o = h @ p["out"]["w"] + p["out"]["b"]
    return (o if taps is None else o + taps["out"]), inputs

  params = {
    "dense_0": {"w": jax.random.normal(jax.random.PRNGKey(1), (_IN, _HID)), "b": jnp.zeros(_HID)},
    "out": {"w": jax.random.normal(jax.random.PRNGKey(2), (_HID, _C)), "b": jnp.zeros(_C)},
  }
  loss_of_outputs = lambda o: optax.softmax_cross_entropy(o, y).mean()
  return params, dict(dense_fn=dense_fn, loss_of_outputs=loss_of_outputs, targets=y), x, y


def test_two_steps_match_numpy():
  params, extra, x, y = _problem()
  lr, scale = 0.5, 0.7
  opt = baselines.get("tpsgd", learning_rate=lr, projection_scale=scale, seed=3)
  step = jax.jit(lambda p, s: opt.update(None, s, p, **extra))
  state, p = opt.init(params), params
  for _ in range(2):
    u, state = step(p, state)
    p = optax.apply_updates(p, u)

  proj = np.asarray(projections(jax.random.PRNGKey(3), _C, [_HID], scale)[0], np.float64)
  q = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  for _ in range(2):
    h = np.tanh(x @ q["dense_0"]["w"] + q["dense_0"]["b"])
    o = h @ q["out"]["w"] + q["out"]["b"]
    soft = np.exp(o - o.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    d_out = (soft - y) / _B  # the output layer: cross-entropy of its own outputs
    d_hid = (h - y @ proj) * (1 - h**2) / _B  # the hidden layer: towards y* P
    q = {
      "dense_0": {
        "w": q["dense_0"]["w"] - lr * x.T @ d_hid,
        "b": q["dense_0"]["b"] - lr * d_hid.sum(0),
      },
      "out": {"w": q["out"]["w"] - lr * h.T @ d_out, "b": q["out"]["b"] - lr * d_out.sum(0)},
    }
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), p, q)


def test_a_hidden_layer_never_sees_the_layers_above():
  params, extra, _, _ = _problem()
  opt = baselines.scale_by_tpsgd()
  other = dict(params, out={"w": -3.0 * params["out"]["w"], "b": params["out"]["b"] + 1.0})
  u1, _ = opt.update(None, opt.init(params), params, **extra)
  u2, _ = opt.update(None, opt.init(other), other, **extra)
  np.testing.assert_array_equal(u1["dense_0"]["w"], u2["dense_0"]["w"])
  assert not np.allclose(u1["out"]["w"], u2["out"]["w"])


def test_a_zoo_mlp_trains_close_to_backprop():
  """300 steps on a digits MLP: tpSGD's test accuracy above 0.85 (backprop SGD's, same steps:
  0.96; at 1000 steps `bench/tpsgd.py` measures the gap at 2.3 points, the paper's is 5)."""
  task = tasks.MLPClassifier(hidden=(16,), batch_size=32)
  opt = baselines.get("tpsgd", learning_rate=0.1)
  extra = tasks.training.extra_args_of(baselines.entry("tpsgd").needs)

  @jax.jit
  def accuracy(train, test):  # the data are arguments, not constants of the program
    step = tasks.training.step_fn(task, opt, train, extra)
    p = task.init(jax.random.PRNGKey(0))
    keys = jax.random.split(jax.random.PRNGKey(1), 300)
    (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), keys)
    return task.accuracy(p, test.arrays)

  assert float(accuracy(task.batches("train"), task.batches("test"))) > 0.85
