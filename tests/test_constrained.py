"""Equality-constrained tasks (`tasks.constrained`, the extra arg `constraint_fn`) and
AdaSketch-Newton (`exact_augmented_lagrangian_sketching`, Hong et al., ICML 2023).

The rule against a float64 numpy reference with explicit KKT matrices (same sketches), its
convergence to the closed-form KKT point of the linear-constraint task (the paper's claim:
the KKT residual tends to 0), Riemannian Adam on the sphere task, and the errors when no
constraint function is given.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines
from baselines.curvature._exact_augmented_lagrangian import sketch_matrix
from tasks import Quadratic
from tasks.constrained import LinearConstrainedLeastSquares, SphereLeastSquares
from tasks.training import extra_args_of, step_fn

_NAME = "exact_augmented_lagrangian_sketching"
_NEEDS = extra_args_of(baselines.entry(_NAME).needs)


def _reference(task, x, lam, mu, keys, *, nu, growth, q, accuracy, max_iters, beta, kappa):
  """The rule in float64 numpy on `SphereLeastSquares` (rows on spheres): explicit Hessian
  blockdiag(MᵀM/n + 2 λ_i I), Jacobian G (row i: 2 x_iᵀ in block i), one step per key."""
  m_design, y = (np.asarray(v, np.float64) for v in task.design())
  rows, dim, n_ex = task.rows, task.dim, task.num_examples
  gram = m_design.T @ m_design / n_ex

  def parts(x, lam):
    xm = x.reshape(rows, dim)
    f = 0.5 * np.sum((m_design @ xm.T - y) ** 2) / n_ex
    grad_f = ((m_design @ xm.T - y).T @ m_design / n_ex).ravel()
    c = np.sum(xm**2, axis=1) - 1.0
    g = np.zeros((rows, rows * dim))
    for i in range(rows):
      g[i, i * dim : (i + 1) * dim] = 2 * xm[i]
    h = np.kron(np.eye(rows), gram) + np.kron(np.diag(2 * lam), np.eye(dim))
    return f, grad_f + g.T @ lam, c, g, h

  def merit(x, lam, mu):
    f, gx, c, _, _ = parts(x, lam)
    return f + lam @ c + 0.5 * mu * c @ c + 0.5 * nu * gx @ gx

  size = rows * dim + rows
  for key in keys:
    _, gx, c, g, h = parts(x, lam)
    kkt = np.block([[h, g.T], [g, np.zeros((rows, rows))]])
    grad_l = np.concatenate([gx, c])
    z, j = np.zeros(size), 0
    while j < max_iters and np.linalg.norm(kkt @ z + grad_l) > accuracy * np.linalg.norm(grad_l):
      s = np.asarray(sketch_matrix(jax.random.fold_in(key, j), size, q, "gaussian"), np.float64)
      z = z - np.linalg.pinv((kkt @ s).T, rcond=1e-6) @ (s.T @ (kkt @ z + grad_l))
      j += 1
    dx, dl = z[: rows * dim], z[rows * dim :]
    a = (gx + nu * h @ gx) @ dx + (c + nu * g @ gx) @ dl
    b = c @ (g @ dx)
    needed = -0.5 * nu * grad_l @ grad_l
    for _ in range(10):  # max_penalty_increases
      if a + mu * b <= needed:
        break
      mu *= growth
    slope, alpha, at_z = a + mu * b, 1.0, merit(x, lam, mu)
    for _ in range(20):  # max_backtracks
      if merit(x + alpha * dx, lam + alpha * dl, mu) <= at_z + beta * alpha * slope:
        break
      alpha *= kappa
    accepted = slope <= needed and merit(x + alpha * dx, lam + alpha * dl, mu) <= (
      at_z + beta * alpha * slope
    )
    alpha = alpha if accepted else 0.0
    x, lam = x + alpha * dx, lam + alpha * dl
  return x, lam, mu


def test_matches_numpy_reference_on_the_sphere_task():
  task = SphereLeastSquares(dim=3, rows=2, num_examples=10)
  hp = dict(nu=0.05, q=3, accuracy=0.1, max_iters=30)
  opt = baselines.get(
    _NAME,
    num_constraints=2,
    nu=hp["nu"],
    sketch_size=hp["q"],
    accuracy=hp["accuracy"],
    max_sketch_iters=hp["max_iters"],
  )
  batch = {"noise": jnp.zeros((10, 2))}
  value_fn = lambda p: task.loss(p, None, batch)
  keys = [jax.random.fold_in(jax.random.PRNGKey(5), t) for t in range(3)]

  def step(carry, k):
    params, state = carry
    args = dict(value_fn=value_fn, constraint_fn=task.constraint, key=k)
    updates, state = opt.update(jax.grad(value_fn)(params), state, params, **args)
    return (optax.apply_updates(params, updates), state), None

  start = task.init(jax.random.PRNGKey(0))
  run = jax.jit(lambda p, ks: jax.lax.scan(step, (p, opt.init(p)), ks)[0])
  params, state = run(start, jnp.stack(keys))
  x, lam, mu = _reference(
    task,
    np.asarray(start["x"], np.float64).ravel(),
    np.zeros(2),
    1.0,
    keys,
    nu=hp["nu"],
    growth=10.0,
    q=hp["q"],
    accuracy=hp["accuracy"],
    max_iters=hp["max_iters"],
    beta=1e-4,
    kappa=0.5,
  )
  np.testing.assert_allclose(np.asarray(params["x"]).ravel(), x, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.asarray(state.multipliers), lam, rtol=1e-4, atol=1e-5)
  assert float(state.penalty) == pytest.approx(mu)


def test_converges_to_the_kkt_point_of_linear_constraints():
  """Through `tasks.training.step_fn` (constraint_fn from the task): x and λ reach the
  closed-form KKT solution, so c(x) and ∇ₓℒ = ∇f + Aᵀλ vanish (the paper's global
  convergence of the KKT residual); 4-column sketches of the 11 x 11 KKT system."""
  task = LinearConstrainedLeastSquares(dim=8, num_constraints=3)
  opt = baselines.get(_NAME, num_constraints=3, sketch_size=4, accuracy=0.05)
  opt = optax.with_extra_args_support(opt)
  step = step_fn(task, opt, task.batches("train"), _NEEDS)

  @jax.jit
  def run(params):
    carry, losses = jax.lax.scan(
      step, (params, opt.init(params)), jax.random.split(jax.random.PRNGKey(1), 25)
    )
    return carry, losses

  (params, state), losses = run(task.init(jax.random.PRNGKey(0)))
  x_star, lam_star = task.kkt_solution()
  x, lam = np.asarray(params["x"], np.float64), np.asarray(state.multipliers, np.float64)
  m_design, y = (np.asarray(v, np.float64) for v in task.design())
  a, b = (np.asarray(v, np.float64) for v in task.constraint_system())
  grad_l = m_design.T @ (m_design @ x - y[:, 0]) / task.num_examples + a.T @ lam
  # To float32's reach: the Armijo test on the merit stops resolving decreases there.
  assert np.linalg.norm(a @ x - b) < 1e-4
  assert np.linalg.norm(grad_l) < 1e-3
  np.testing.assert_allclose(x, x_star, atol=1e-3)
  np.testing.assert_allclose(lam, lam_star, atol=1e-3)
  f_star = 0.5 * np.sum((m_design @ x_star - y[:, 0]) ** 2) / task.num_examples
  assert float(losses[-1]) == pytest.approx(f_star, rel=1e-4)


def test_riemannian_adam_trains_the_sphere_task_and_stays_feasible():
  task = SphereLeastSquares()
  opt = baselines.get("riemannian_adam", learning_rate=0.05, manifold="sphere")
  opt = optax.with_extra_args_support(opt)
  step = step_fn(task, opt, task.batches("train"), ())
  start = task.init(jax.random.PRNGKey(0))
  (params, _), losses = jax.jit(
    lambda p: jax.lax.scan(step, (p, opt.init(p)), jax.random.split(jax.random.PRNGKey(1), 100))
  )(start)
  assert float(jnp.max(jnp.abs(task.constraint(params)))) < 1e-5
  assert float(losses[-1]) < 0.25 * float(losses[0])


def test_clear_errors_without_a_constraint_function():
  opt = optax.with_extra_args_support(baselines.get(_NAME))
  quadratic = Quadratic(dim=4)
  with pytest.raises(ValueError, match=r"'quadratic' has no constraint function"):
    step_fn(quadratic, opt, quadratic.batches("train"), _NEEDS)

  params = {"x": jnp.zeros(4)}
  value_fn = lambda p: jnp.sum(p["x"] ** 2)
  key = jax.random.PRNGKey(0)
  with pytest.raises(ValueError, match=r"needs constraint_fn in `update`"):
    opt.update(params, opt.init(params), params, value_fn=value_fn, key=key)
  two = lambda p: p["x"][:2]
  with pytest.raises(ValueError, match=r"returns 2 values.*num_constraints=2"):
    opt.update(params, opt.init(params), params, value_fn=value_fn, constraint_fn=two, key=key)
