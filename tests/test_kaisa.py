"""KAISA (T3-05): K-FAC over a worker axis, its work placed by the grad-worker fraction.

The update is K-FAC's for every fraction (against `kfac` and a numpy reference of
data-parallel K-FAC); the fraction moves only memory (inverse copies) and communication
(bits per step), the trade the paper states. The sharded run over 4 host devices is
`tests/test_baselines_distributed.py::test_sharded_over_devices_matches_vmapped_single_device`,
which takes every entry that needs `devices`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import baselines
from baselines.distributed import communication as dist
from baselines.distributed._kaisa import assignment, step_bits

N = 4
SHAPES = {"b": (2,), "w": (3, 2)}
HP = dict(decay=0.9, damping=0.05, inverse_update_interval=2)


def _grads(steps=3, seed=0):
  rng = np.random.default_rng(seed)
  return [
    {k: rng.normal(size=(N, *s)).astype(np.float32) for k, s in SHAPES.items()}
    for _ in range(steps)
  ]


def _params():
  return {k: jnp.full(s, 0.3) for k, s in SHAPES.items()}


def _updates(opt, grads):
  p = _params()
  state = opt.init(p)
  step = jax.jit(opt.update)
  out = []
  for g in grads:
    u, state = step(jax.tree.map(jnp.asarray, g), state, p)
    out.append(jax.tree.map(np.asarray, u))
  return out, state


def _numpy_kfac(grads, decay, damping, inverse_update_interval):
  """Data-parallel K-FAC: per-worker gradient factors averaged, the mean gradient."""
  root = np.sqrt(damping)
  a = np.zeros((3, 3))
  s = np.zeros((2, 2))
  f = np.zeros(2)
  out = []
  for t, g in enumerate(grads):
    w, b = g["w"].astype(np.float64), g["b"].astype(np.float64)
    fa = np.mean([x @ x.T / np.linalg.norm(x) for x in w], 0)
    fs = np.mean([x.T @ x / np.linalg.norm(x) for x in w], 0)
    a, s = decay * a + (1 - decay) * fa, decay * s + (1 - decay) * fs
    f = decay * f + (1 - decay) * np.mean(b * b, 0)
    if t % inverse_update_interval == 0:
      inv = lambda m: np.linalg.inv(m + root * np.eye(len(m)))
      a_inv, s_inv, f_inv = inv(a), inv(s), 1 / (f + damping)
    out.append({"b": b.mean(0) * f_inv, "w": a_inv @ w.mean(0) @ s_inv})
  return out


@pytest.mark.parametrize("fraction", [1 / N, 0.5, 1.0])
def test_every_fraction_gives_data_parallel_kfac(fraction):
  grads = _grads()
  opt = baselines.scale_by_kaisa(num_workers=N, grad_worker_fraction=fraction, **HP)
  got, state = _updates(opt, grads)
  for u, want in zip(got, _numpy_kfac(grads, **HP), strict=True):
    for k in SHAPES:
      np.testing.assert_allclose(u[k], want[k], rtol=2e-4, atol=1e-6)
  g = N * fraction  # the inverse copies: one per gradient worker
  assert state.left_inv["w"].shape == (g, 3, 3) and state.right_inv["w"].shape == (g, 2, 2)


def test_one_worker_and_equal_workers_are_the_registry_kfac():
  hp = dict(HP, learning_rate=0.1, momentum=0.9, weight_decay=0.01)
  grads = _grads()
  kfac, _ = _updates(baselines.get("kfac", **hp), [jax.tree.map(lambda x: x[0], g) for g in grads])
  single, _ = _updates(
    baselines.get("kaisa", **hp), [jax.tree.map(lambda x: x[0], g) for g in grads]
  )
  same = [jax.tree.map(lambda x: np.broadcast_to(x[:1], x.shape), g) for g in grads]
  workers, _ = _updates(baselines.get("kaisa", num_workers=N, grad_worker_fraction=1.0, **hp), same)
  for a, b, c in zip(kfac, single, workers, strict=True):
    for k in SHAPES:
      np.testing.assert_allclose(b[k], a[k], rtol=1e-6, atol=1e-8)
      np.testing.assert_allclose(c[k], a[k], rtol=1e-5, atol=1e-7)


def test_the_authors_grid_and_greedy_placement():
  params = {"a": jnp.zeros((8, 8)), "b": jnp.zeros((4, 4)), "c": jnp.zeros((2, 2))}
  plan = assignment(params, 8, 0.5)
  assert plan.grad_workers == 4
  # Columns of the 4 x 2 grid are the gradient-worker groups: {0, 2, 4, 6} and {1, 3, 5, 7}.
  assert set(plan.grad_worker_group) == {(0, 2, 4, 6), (1, 3, 5, 7)}
  # The costliest layer goes first to worker 0, the next to the other group's worker 1.
  assert plan.inverse_worker[:2] == (0, 1)
  assert all(w in grp for w, grp in zip(plan.inverse_worker, plan.grad_worker_group, strict=True))
  with pytest.raises(ValueError, match="integer dividing"):
    assignment(params, 8, 0.3)


def test_the_fraction_trades_memory_for_communication():
  """MEM-OPT (1/N) keeps one copy of the inverses and broadcasts preconditioned gradients;
  COMM-OPT (1) keeps N copies and sends no gradient broadcast, only the inverses when they
  are refreshed (Pauloski et al., Table 1)."""
  params = _params()
  p, f = 2 + 6, 2 + (9 + 4)  # gradient floats, factor floats (the vector's diagonal: 2)
  assert step_bits(params, N, 1 / N) == (32 * (N * (p + f) + p) / N,) * 2
  assert step_bits(params, N, 1.0) == (32 * (N * (p + f) + f) / N, 32 * (p + f))
  mem, comm = (baselines.get("kaisa", num_workers=N, grad_worker_fraction=x) for x in (1 / N, 1.0))
  assert baselines.state_bytes(comm, params) > 2 * baselines.state_bytes(mem, params)
  _, state = _updates(mem, _grads(steps=2))
  assert float(dist.communicated_bits(state)) == step_bits(params, N, 1 / N)[1]
