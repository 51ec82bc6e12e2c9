"""The Gauss-Newton family (EGN, SGN, Levenberg-Marquardt) and SSO against numpy references
written from the papers, their papers' checkable claims, and the `output_fn` /
`loss_of_outputs` extra args through `tasks.train`.

Problems: softmax regression (6 examples, 4 features, 3 classes: d = 15 parameters, m = 18
outputs), whose Jacobian and output Hessian are written out by hand, and a 3-parameter
nonlinear least-squares fit r(θ) = tanh(Xθ) − y.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sklearn.datasets

import baselines
import tasks

_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(6, 4)).astype(np.float32)
_Y = np.array([0, 1, 2, 0, 1, 2])
_PARAMS = {
  "b": jnp.asarray(_RNG.normal(size=3) * 0.1, jnp.float32),
  "w": jnp.asarray(_RNG.normal(size=(4, 3)) * 0.3, jnp.float32),
}
_LSQ_X = _RNG.normal(size=(10, 3)).astype(np.float32)
_LSQ_Y = np.tanh(_LSQ_X @ np.array([0.5, -1.0, 0.8])).astype(np.float32) + 0.05


def _logits(params, x=_X):
  return x @ params["w"] + params["b"]


def _cross_entropy(z, y=_Y):
  return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()


def _flat(params):  # ravel_pytree's order: b, then w row-major
  return np.concatenate([np.asarray(params["b"]).ravel(), np.asarray(params["w"]).ravel()])


def _np_softmax_parts(theta, x=_X, y=_Y):
  """J (m x d), H (m x m), e (m) and g of mean softmax cross-entropy, in numpy float64."""
  n, k = x.shape
  c = 3
  b, w = theta[:c], theta[c:].reshape(k, c)
  z = x.astype(np.float64) @ w + b
  p = np.exp(z - z.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  jac = np.zeros((n * c, c + k * c))
  hess = np.zeros((n * c, n * c))
  for i in range(n):
    for cc in range(c):
      jac[i * c + cc, cc] = 1.0
      jac[i * c + cc, c + np.arange(k) * c + cc] = x[i]
    hess[i * c : (i + 1) * c, i * c : (i + 1) * c] = (np.diag(p[i]) - np.outer(p[i], p[i])) / n
  e = (p - np.eye(c)[y]).ravel() / n
  return jac, hess, e, jac.T @ e


def _first_update(opt, params, output_fn, loss_of_outputs):
  """One jitted `update` of `opt` from its initial state (jitted: one dispatch, not hundreds)."""

  @jax.jit
  def update(params):
    grads = jax.grad(lambda p: loss_of_outputs(output_fn(p)))(params)
    state = opt.init(params)
    return opt.update(grads, state, params, output_fn=output_fn, loss_of_outputs=loss_of_outputs)

  return update(params)


def _update(name, params=_PARAMS, output_fn=_logits, loss_of_outputs=_cross_entropy, **hp):
  u, state = _first_update(baselines.get(name, **hp), params, output_fn, loss_of_outputs)
  return _flat(u), state


def _np_cg(a, b, iters):
  x, r = np.zeros_like(b), b.copy()
  p, rr = r.copy(), r @ r
  for _ in range(iters):
    ap = a @ p
    alpha = rr / (p @ ap)
    x, r = x + alpha * p, r - alpha * ap
    rr, rr_old = r @ r, rr
    p = r + (rr / rr_old) * p
  return x


# --------------------------------------------------------------------------------------------
# EGN
# --------------------------------------------------------------------------------------------


def test_egn_is_the_parameter_space_gauss_newton_step():
  # Duncan-Guttman: J^T (H J J^T + lambda I)^-1 e = (J^T H J + lambda I)^-1 J^T e.
  jac, hess, _, g = _np_softmax_parts(_flat(_PARAMS))
  lam = 0.3
  expected = -np.linalg.solve(jac.T @ hess @ jac + lam * np.eye(g.size), g)
  u, _ = _update("egn", learning_rate=1.0, damping=lam)
  np.testing.assert_allclose(u, expected, rtol=2e-4, atol=1e-6)


def test_egn_momentum_is_the_bias_corrected_average_of_directions():
  lam, mu = 0.5, 0.9
  x2 = _X[::-1].copy()
  directions = []
  for x in (_X, x2):
    jac, hess, _, g = _np_softmax_parts(_flat(_PARAMS), x=x)
    directions.append(np.linalg.solve(jac.T @ hess @ jac + lam * np.eye(g.size), g))
  opt = baselines.get("egn", learning_rate=1.0, damping=lam, momentum=mu)
  state = opt.init(_PARAMS)
  for x in (_X, x2):
    u, state = opt.update(
      _PARAMS,
      state,
      _PARAMS,
      output_fn=lambda p, x=x: _logits(p, x),
      loss_of_outputs=_cross_entropy,
    )
  v = mu * (1 - mu) * directions[0] + (1 - mu) * directions[1]
  np.testing.assert_allclose(_flat(u), -v / (1 - mu**2), rtol=2e-4, atol=1e-6)


# --------------------------------------------------------------------------------------------
# SGN
# --------------------------------------------------------------------------------------------


def test_sgn_matches_numpy_cg_and_reaches_the_damped_gauss_newton_step():
  jac, hess, _, g = _np_softmax_parts(_flat(_PARAMS))
  lam = 1e-2
  system = jac.T @ hess @ jac + lam * np.eye(g.size)
  u, _ = _update("sgn", learning_rate=1.0, damping=lam, cg_iters=3)
  np.testing.assert_allclose(u, -_np_cg(system, g, 3), rtol=1e-3, atol=1e-6)
  u, _ = _update("sgn", learning_rate=1.0, damping=lam, cg_iters=g.size)
  np.testing.assert_allclose(u, -np.linalg.solve(system, g), rtol=1e-2, atol=1e-4)


# --------------------------------------------------------------------------------------------
# Levenberg-Marquardt
# --------------------------------------------------------------------------------------------


def _lsq_residuals(theta):
  return jnp.tanh(_LSQ_X @ theta["t"]) - _LSQ_Y


def _half_sum_squares(r):
  return 0.5 * jnp.sum(r**2)


def _np_lsq(theta):
  z = np.tanh(_LSQ_X.astype(np.float64) @ theta)
  r = z - _LSQ_Y
  jac = (1 - z**2)[:, None] * _LSQ_X
  return r, jac, 0.5 * r @ r


_LSQ_START = np.array([0.1, 0.2, -0.1])


def _lm_update(theta0=_LSQ_START, **hp):
  params = {"t": jnp.asarray(theta0, jnp.float32)}
  opt = baselines.get("levenberg_marquardt", cg_iters=3, **hp)
  u, state = _first_update(opt, params, _lsq_residuals, _half_sum_squares)
  return np.asarray(u["t"]), state


def test_levenberg_marquardt_matches_numpy():
  # Marquardt's damping and Nielsen's update of lambda after an accepted step.
  lam = 0.5
  r, jac, loss = _np_lsq(_LSQ_START)
  gn, g = jac.T @ jac, jac.T @ r
  delta = np.linalg.solve(gn + lam * np.diag(np.diag(gn)), g)
  rho = (loss - _np_lsq(_LSQ_START - delta)[2]) / (g @ delta - 0.5 * delta @ gn @ delta)
  u, state = _lm_update(damping=lam, damping_kind="marquardt")
  np.testing.assert_allclose(u, -delta, rtol=1e-4, atol=1e-6)
  assert rho > 0
  np.testing.assert_allclose(state.damping, lam * max(1 / 3, 1 - (2 * rho - 1) ** 3), rtol=1e-4)


def test_levenberg_marquardt_limits():
  # lambda -> 0: the Gauss-Newton step; lambda -> inf: the scaled gradient step D^-1 g / lambda.
  r, jac, _ = _np_lsq(_LSQ_START)
  gn, g = jac.T @ jac, jac.T @ r
  u, _ = _lm_update(damping=1e-10)
  np.testing.assert_allclose(u, -np.linalg.solve(gn, g), rtol=1e-3)
  u, _ = _lm_update(damping=1e6)
  np.testing.assert_allclose(u * 1e6, -g / np.diag(gn), rtol=1e-3)
  u, _ = _lm_update(damping=1e6, damping_kind="levenberg")
  np.testing.assert_allclose(u * 1e6, -g, rtol=1e-3)


def test_levenberg_marquardt_rejects_a_step_that_raises_the_loss():
  # f(t) = sin(5 t) - 0.9 at t = 0.3: the Gauss-Newton step overshoots (the loss goes up).
  params = {"t": jnp.array([0.3])}
  out = lambda p: jnp.sin(5.0 * p["t"]) - 0.9
  opt = baselines.get("levenberg_marquardt", damping=1e-6, cg_iters=1)
  u, state = _first_update(opt, params, out, _half_sum_squares)
  assert float(u["t"][0]) == 0.0
  np.testing.assert_allclose(state.damping, 2e-6, rtol=1e-5)
  np.testing.assert_allclose(state.nu, 4.0)


# --------------------------------------------------------------------------------------------
# SSO
# --------------------------------------------------------------------------------------------


def test_sso_matches_numpy_inner_steps():
  lr, eta, m = 0.2, 2.0, 3
  theta0 = _flat(_PARAMS).astype(np.float64)
  jac, _, e, _ = _np_softmax_parts(theta0)
  theta = theta0.copy()
  for _ in range(m):  # the logits are linear in theta: f(theta) - z_0 = J (theta - theta_0)
    theta -= lr * jac.T @ (e + jac @ (theta - theta0) / (eta * _X.shape[0]))
  u, _ = _update("sso", learning_rate=lr, target_step=eta, inner_steps=m)
  np.testing.assert_allclose(u, theta - theta0, rtol=1e-4, atol=1e-6)


def test_sso_one_inner_step_is_sgd_and_many_reach_the_target_projection():
  theta0 = _flat(_PARAMS).astype(np.float64)
  jac, _, e, g = _np_softmax_parts(theta0)
  u, _ = _update("sso", learning_rate=0.1, inner_steps=1)
  np.testing.assert_allclose(u, -0.1 * g, rtol=1e-4, atol=1e-7)
  # Minimizing ||f(theta) - y_t||^2 over a linear model from theta_0: the least-squares
  # (minimum-norm) step towards the target y_t = z_t - eta B grad l(z_t).
  eta = 1.0
  u, _ = _update("sso", learning_rate=1.0, target_step=eta, inner_steps=400)
  step = np.linalg.lstsq(jac, -eta * _X.shape[0] * e, rcond=None)[0]
  np.testing.assert_allclose(u, step, rtol=1e-2, atol=1e-3)


# --------------------------------------------------------------------------------------------
# Convergence on real digits where the registry's full-batch smoke task is too costly, and the
# extra args through tasks.train.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["egn", "levenberg_marquardt"])
def test_jacobian_methods_train_softmax_regression_on_digits(name):
  # The registry's smoke task (softmax regression on 8x8 digits) at 12 examples (m = 120):
  # a quarter of the starting loss, as the registry asks, within 10 steps of the defaults.
  digits = sklearn.datasets.load_digits()
  x = jnp.asarray(digits.data[:12] / 16.0, jnp.float32)
  y = jnp.asarray(digits.target[:12])
  start = {"w": jax.random.normal(jax.random.PRNGKey(3), (64, 10)) / 8.0, "b": jnp.zeros(10)}
  out = lambda p: x @ p["w"] + p["b"]
  loss = lambda z: _cross_entropy(z, y)
  opt = baselines.get(name)

  def step(carry, _):
    p, s = carry
    u, s = opt.update(
      jax.grad(lambda q: loss(out(q)))(p), s, p, output_fn=out, loss_of_outputs=loss
    )
    return (optax.apply_updates(p, u), s), None

  (params, _), _ = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), None, 10))(start)
  assert float(loss(out(params))) < 0.25 * float(loss(out(start)))


def test_tasks_train_passes_the_outputs_extra_args():
  task = tasks.get("digits_logreg")
  needs = tasks.training.extra_args_of(baselines.entry("sgn").needs)
  assert needs == ("output_fn", "loss_of_outputs")
  assert tasks.training.has_outputs(task)
  out = tasks.train(task, baselines.get("sgn", learning_rate=0.5), num_steps=8, extra_args=needs)
  assert out["train_loss"][-1] < 0.5 * out["train_loss"][0]
  with pytest.raises(ValueError, match="does not expose its outputs"):
    tasks.train(tasks.get("quadratic_10d"), baselines.get("sgn"), num_steps=2, extra_args=needs)
