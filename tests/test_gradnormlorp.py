"""GradNormLoRP (T2-19): the reparameterized task (tasks.GradNormLoRP) and its optimizer entry.

W = m (W0 + I J) / ||W0 + I J||_c: the wrapped model equals the original at init, the columns
of W have norm m, a numpy reference of three GaLore-Adam steps on (m, I, J), and a digits MLP
trained through the reparameterization.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines
import tasks
from tasks.base import ArraySampler, Task


class _Regression(Task):
  """½ mean ‖X W + b − Y‖² with one dense kernel `w` (6, 4) and a bias `b` (4,)."""

  name = "tiny_regression"

  def __init__(self):
    rng = np.random.default_rng(0)
    self.x = jnp.asarray(rng.normal(size=(16, 6)), jnp.float32)
    self.y = jnp.asarray(rng.normal(size=(16, 4)), jnp.float32)

  def init(self, key):
    return {"w": jax.random.normal(key, (6, 4)), "b": jnp.full((4,), 0.1)}

  def loss(self, params, key, batch):
    del key
    r = batch["x"] @ params["w"] + params["b"] - batch["y"]
    return 0.5 * jnp.mean(jnp.sum(r * r, axis=1))

  def batches(self, split):
    return ArraySampler({"x": self.x, "y": self.y}, 16)

  def normalize(self, loss):
    return loss


_TASK = _Regression()
_BATCH = {"x": _TASK.x, "y": _TASK.y}


def test_init_computes_the_original_function():
  wrapped = tasks.GradNormLoRP(_TASK, rank=2)
  params = wrapped.init(jax.random.PRNGKey(5))
  assert set(params["w"]) == {"m", "i", "j"} and params["w"]["i"].shape == (6, 2)
  np.testing.assert_allclose(wrapped.to_model(params)["w"], wrapped.frozen()["w"], rtol=1e-6)
  key = jax.random.PRNGKey(0)
  np.testing.assert_allclose(
    wrapped.loss(params, key, _BATCH), _TASK.loss(wrapped.frozen(), key, _BATCH), rtol=1e-6
  )


def test_columns_have_norm_m():
  wrapped = tasks.GradNormLoRP(_TASK, rank=3)
  params = wrapped.init(jax.random.PRNGKey(1))
  k1, k2 = jax.random.split(jax.random.PRNGKey(2))
  params["w"] = {
    "m": jnp.array([0.5, 1.0, 2.0, 3.0]),
    "i": jax.random.normal(k1, (6, 3)),
    "j": jax.random.normal(k2, (3, 4)),
  }
  w = wrapped.to_model(params)["w"]
  np.testing.assert_allclose(np.linalg.norm(w, axis=0), [0.5, 1.0, 2.0, 3.0], rtol=1e-5)


def test_rejects_a_task_without_kernels_and_a_bad_rank():
  with pytest.raises(ValueError, match="nothing to reparameterize"):
    tasks.GradNormLoRP(_TASK, kernels=("kernel",)).init(jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match="rank"):
    tasks.GradNormLoRP(_TASK, rank=0)


def _np_grads(w0, b, m, i, j, x, y):
  """Hand-derived gradients of the regression loss through W = m V / ||V||_c, V = W0 + I J."""
  v = w0 + i @ j
  n = np.linalg.norm(v, axis=0)
  w = m * v / n
  g_w = x.T @ (x @ w + b - y) / len(x)
  s = np.sum(g_w * v, axis=0)
  g_m = s / n
  g_v = (m / n) * g_w - v * (m * s / n**3)
  return {"b": (x @ w + b - y).mean(0), "m": g_m, "i": g_v @ j.T, "j": i.T @ g_v}


def _np_galore_adam(g, state, t, lr, rank, b1=0.9, b2=0.999, eps=1e-8):
  """One GaLore-Adam step (projector from the first gradient, kept after) or plain Adam."""
  if g.ndim == 2:
    if "p" not in state:
      u, _, vh = np.linalg.svd(g, full_matrices=False)
      state["left"] = g.shape[0] >= g.shape[1]
      r = min(rank, *g.shape)
      state["p"] = u[:, :r] if state["left"] else vh[:r].T
    low = state["p"].T @ g if state["left"] else g @ state["p"]
  else:
    low = g
  state["mu"] = b1 * state.get("mu", 0.0) + (1 - b1) * low
  state["nu"] = b2 * state.get("nu", 0.0) + (1 - b2) * low * low
  upd = (state["mu"] / (1 - b1**t)) / (np.sqrt(state["nu"] / (1 - b2**t)) + eps)
  if g.ndim == 2:
    upd = state["p"] @ upd if state["left"] else upd @ state["p"].T
  return -lr * upd


def test_three_steps_match_a_numpy_reference():
  wrapped = tasks.GradNormLoRP(_TASK, rank=3)
  params = wrapped.init(jax.random.PRNGKey(3))
  params["w"]["j"] = 0.3 * jax.random.normal(jax.random.PRNGKey(4), (3, 4))  # I J != 0
  lr, rank = 1e-2, 2
  opt = baselines.get("gradnormlorp", learning_rate=lr, rank=rank, update_proj_gap=100)
  state = opt.init(params)
  x, y = np.asarray(_TASK.x, np.float64), np.asarray(_TASK.y, np.float64)
  w0 = np.asarray(wrapped.frozen()["w"], np.float64)
  ref = {k: np.asarray(v, np.float64) for k, v in params["w"].items()}
  ref["b"] = np.asarray(params["b"], np.float64)
  ref_states = {k: {} for k in ref}
  grad_fn = jax.jit(jax.grad(lambda p: wrapped.loss(p, None, _BATCH)))
  for t in (1, 2, 3):
    updates, state = opt.update(grad_fn(params), state, params)
    params = optax.apply_updates(params, updates)
    g = _np_grads(w0, ref["b"], ref["m"], ref["i"], ref["j"], x, y)
    for k in ref:
      ref[k] = ref[k] + _np_galore_adam(g[k], ref_states[k], t, lr, rank)
  for k in ("m", "i", "j"):
    np.testing.assert_allclose(params["w"][k], ref[k], rtol=2e-4, atol=2e-6)
  np.testing.assert_allclose(params["b"], ref["b"], rtol=2e-4, atol=2e-6)
  # I (6, 3) and J (3, 4) are projected to rank 2: their state lives on (2, 3) and (3, 2).
  assert ref_states["i"]["mu"].shape == (2, 3) and ref_states["j"]["mu"].shape == (3, 2)


def test_trains_a_digits_mlp():
  task = tasks.GradNormLoRP(tasks.MLPClassifier(hidden=(32,), name="digits_mlp_32"), rank=4)
  opt = baselines.get("gradnormlorp", learning_rate=5e-2, rank=2)
  sampler = task.batches("train")

  @jax.jit
  def run(params, key):
    def step(carry, k):
      params, state = carry
      loss, grads = jax.value_and_grad(task.loss)(params, k, sampler.sample(k))
      updates, state = opt.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), loss

    return jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, 150))[1]

  losses = np.asarray(run(task.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1)))
  start, end = losses[:5].mean(), losses[-10:].mean()
  assert np.isfinite(losses).all() and end < 0.6 * start, (start, end)
