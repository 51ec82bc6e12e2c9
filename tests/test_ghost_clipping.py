"""Ghost clipping (T6-18): per-example norms from dense layers' inputs and output gradients,
checked against numpy's materialized per-example gradients, against the registry's DP-SGD,
and for the paper's point: no per-example gradient array in the compiled program."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines
import tasks
from baselines.privacy import ghost_clipped_sum, per_example_grads
from baselines.privacy._ghost_clipping import per_example_sq_norms

_B, _IN, _HID, _OUT = 5, 4, 3, 2


def _mlp_params(key):
  k0, k1 = jax.random.split(key)
  return {
    "dense_0": {"w": jax.random.normal(k0, (_IN, _HID)), "b": jnp.full((_HID,), 0.1)},
    "out": {"w": jax.random.normal(k1, (_HID, _OUT)), "b": jnp.full((_OUT,), -0.2)},
  }


def _data():
  x = jax.random.normal(jax.random.PRNGKey(1), (_B, _IN))
  y = jax.random.normal(jax.random.PRNGKey(2), (_B, _OUT))
  return x, y


def _dense_fn(x):
  def dense_fn(params, taps):
    inputs = {"dense_0": x}
    z = x @ params["dense_0"]["w"] + params["dense_0"]["b"]
    h = jnp.tanh(z if taps is None else z + taps["dense_0"])
    inputs["out"] = h
    o = h @ params["out"]["w"] + params["out"]["b"]
    return (o if taps is None else o + taps["out"]), inputs

  return dense_fn


def _loss_of_outputs(y):
  return lambda o: 0.5 * jnp.mean(jnp.sum((o - y) ** 2, -1))


def _numpy_per_example_grads(params, x, y):
  """Per-example gradients of 0.5 |o_i - y_i|^2 for the tanh MLP, by hand."""
  p = jax.tree.map(np.asarray, params)
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  h = np.tanh(x @ p["dense_0"]["w"] + p["dense_0"]["b"])
  o = h @ p["out"]["w"] + p["out"]["b"]
  d_out = o - y  # [B, out]
  d_hid = (d_out @ p["out"]["w"].T) * (1 - h**2)
  return {
    "dense_0": {"w": x[:, :, None] * d_hid[:, None, :], "b": d_hid},
    "out": {"w": h[:, :, None] * d_out[:, None, :], "b": d_out},
  }


def test_norms_and_clipped_sum_match_numpy_per_example_gradients():
  params = _mlp_params(jax.random.PRNGKey(0))
  x, y = _data()
  per = _numpy_per_example_grads(params, x, y)
  norms = np.sqrt(sum(np.sum(g.reshape(_B, -1) ** 2, 1) for g in jax.tree.leaves(per)))
  clip = float(np.median(norms))  # about half the examples are clipped
  summed, got_norms, num_clipped = ghost_clipped_sum(
    params, _dense_fn(x), _loss_of_outputs(y), clip
  )
  np.testing.assert_allclose(got_norms, norms, rtol=1e-5)
  scale = np.minimum(1.0, clip / norms)
  want = jax.tree.map(lambda g: np.tensordot(scale, g, 1), per)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), summed, want)
  assert int(num_clipped) == int(np.sum(norms > clip)) > 0


def test_sequence_inputs_use_the_gram_matrices():
  # x: [B, T, d_in], g: [B, T, d_out]: the weight's per-example gradient is x_i^T g_i.
  rng = np.random.default_rng(0)
  x, g = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 2))
  params = {"layer": {"w": jnp.zeros((5, 2)), "b": jnp.zeros((2,))}}
  got = per_example_sq_norms({"layer": jnp.asarray(x)}, {"layer": jnp.asarray(g)}, params)
  want = np.sum(np.einsum("btd,btp->bdp", x, g) ** 2, (1, 2)) + np.sum(g.sum(1) ** 2, -1)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_three_steps_equal_the_registry_dp_sgd_on_materialized_gradients():
  """Same key, same noise: ghost clipping's update is DP-SGD's, step after step."""
  params = _mlp_params(jax.random.PRNGKey(3))
  x, y = _data()
  dense_fn, loss_of_outputs = _dense_fn(x), _loss_of_outputs(y)
  hp = dict(learning_rate=0.1, l2_norm_clip=0.5, noise_multiplier=0.7, momentum=0.9)
  ghost, dp = baselines.get("ghost_clipping", **hp), baselines.get("dp_sgd", **hp)

  def example_loss(p, example):
    xi, yi = example
    return 0.5 * jnp.sum((_dense_fn(xi[None])(p, None)[0][0] - yi) ** 2)

  @jax.jit
  def steps(p_ghost, p_dp):
    s_ghost, s_dp = ghost.init(p_ghost), dp.init(p_dp)
    for k in jax.random.split(jax.random.PRNGKey(4), 3):
      u, s_ghost = ghost.update(
        None, s_ghost, p_ghost, dense_fn=dense_fn, loss_of_outputs=loss_of_outputs, key=k
      )
      p_ghost = optax.apply_updates(p_ghost, u)
      u, s_dp = dp.update(per_example_grads(example_loss, p_dp, (x, y)), s_dp, p_dp, key=k)
      p_dp = optax.apply_updates(p_dp, u)
    return p_ghost, p_dp

  p_ghost, p_dp = steps(params, params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), p_ghost, p_dp)
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), p_ghost, params)
  assert min(jax.tree.leaves(moved)) > 1e-3


def test_no_per_example_gradient_array_is_materialized():
  """The paper's claim, read from XLA's buffer assignment: DP-SGD's vmapped per-example
  gradients need B x |params| floats of scratch; ghost clipping needs far less."""
  width, batch = 128, 64
  key = jax.random.PRNGKey(0)
  params = {
    "dense_0": {"w": jnp.zeros((width, width)), "b": jnp.zeros((width,))},
    "out": {"w": jnp.zeros((width, width)), "b": jnp.zeros((width,))},
  }
  x, y = jax.random.normal(key, (batch, width)), jax.random.normal(key, (batch, width))
  num = sum(p.size for p in jax.tree.leaves(params))

  def ghost(p, x, y):
    return ghost_clipped_sum(p, _dense_fn(x), _loss_of_outputs(y), 1.0)[0]

  def materialized(p, x, y):
    loss = lambda q, e: 0.5 * jnp.sum((_dense_fn(e[0][None])(q, None)[0][0] - e[1]) ** 2)
    grads = per_example_grads(loss, p, (x, y))
    return optax.per_example_global_norm_clip(jax.tree.leaves(grads), 1.0)[0]

  temp = {
    f.__name__: jax.jit(f).lower(params, x, y).compile().memory_analysis().temp_size_in_bytes
    for f in (ghost, materialized)
  }
  assert temp["materialized"] >= 4 * batch * num
  assert temp["ghost"] < 0.1 * temp["materialized"], temp


def test_trains_a_zoo_mlp_through_the_extra_args():
  task = tasks.MLPClassifier(hidden=(8,), batch_size=32)
  opt = baselines.get("ghost_clipping", learning_rate=2.0, noise_multiplier=0.0)
  extra = tasks.training.extra_args_of(baselines.entry("ghost_clipping").needs)

  @jax.jit
  def run(sampler, p, keys):  # the data is an argument, not a constant of the program
    step = tasks.training.step_fn(task, opt, sampler, extra)
    return jax.lax.scan(step, (p, opt.init(p)), keys)[1]

  params = task.init(jax.random.PRNGKey(0))
  losses = np.asarray(
    run(task.batches("train"), params, jax.random.split(jax.random.PRNGKey(1), 30))
  )
  assert losses[-5:].mean() < 0.8 * losses[:5].mean()


def test_tasks_without_dense_layers_and_other_parameters_are_refused():
  with pytest.raises(ValueError, match="does not expose its dense layers"):
    tasks.training.step_fn(
      tasks.get("mnist_subset_cnn"), optax.sgd(0.1), None, ("dense_fn", "targets")
    )
  params = dict(_mlp_params(jax.random.PRNGKey(0)), scale=jnp.ones(()))
  x, y = _data()
  with pytest.raises(ValueError, match="dense layers only"):
    ghost_clipped_sum(params, _dense_fn(x), _loss_of_outputs(y), 1.0)
