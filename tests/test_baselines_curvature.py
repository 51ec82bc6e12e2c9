"""Second-order and curvature methods (T3-01..T3-20) and the shared `baselines.curvature.hessian`.

Each project-written method is checked against an independent numpy transcription of the
paper's equations for several steps, with random gradients, nonzero parameters and a
non-quadratic loss f(x) = ½ xᵀAx + ¼ Σ x⁴ whose Hessian A + diag(3x²) numpy computes in
closed form; Hutchinson probes and Gaussian noise are regenerated from the same keys with
`baselines.perturbation.sample`. optax-registered entries are checked against optax itself.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines
from baselines import perturbation
from baselines.curvature import hessian
from baselines.curvature._adahessian import spatial_average

_STEPS = 6
_D = 16  # 4 (b) + 12 (w); flat order is ("b", "w"), as jax.flatten_util.ravel_pytree


def _problem(seed=0, steps=_STEPS):
  rng = np.random.default_rng(seed)
  params = {
    "w": rng.normal(size=(3, 4)).astype(np.float32),
    "b": rng.normal(size=4).astype(np.float32),
  }
  grads = [
    {k: rng.normal(size=v.shape).astype(np.float32) for k, v in params.items()}
    for _ in range(steps)
  ]
  m = rng.normal(size=(_D, _D))
  a = (m @ m.T / _D + 0.5 * np.eye(_D)).astype(np.float32)
  return params, grads, a


def _flat(tree):
  return np.concatenate([np.ravel(tree[k]) for k in ("b", "w")]).astype(np.float64)


def _unflat(x, like):
  return {"b": x[:4].reshape(like["b"].shape), "w": x[4:].reshape(like["w"].shape)}


def _loss_fn(a):
  a = jnp.asarray(a)

  def f(p):
    x = jnp.concatenate([p["b"].ravel(), p["w"].ravel()]).astype(jnp.float32)
    return 0.5 * x @ a @ x + 0.25 * jnp.sum(x**4)

  return f


def _np_grad(a, x):
  return a @ x + x**3


def _np_hess(a, x):
  return a + np.diag(3 * x**2)


def _key(t):
  return jax.random.PRNGKey(100 + t)


def _run(opt, params, grads, extra=None):
  """Updates of `opt` for the fixed gradient sequence; params follow the updates.

  `extra(key, params)` gives the extra args; the step is jitted once (keys are traced).
  """
  opt = optax.with_extra_args_support(opt)
  extra = extra or (lambda k, p: {})

  @jax.jit
  def step(g, state, p, k):
    u, state = opt.update(g, state, p, **extra(k, p))
    return u, state, optax.apply_updates(p, u)

  p = jax.tree.map(jnp.asarray, params)
  state = opt.init(p)
  out = []
  for t, g in enumerate(grads):
    u, state, p = step(jax.tree.map(jnp.asarray, g), state, p, _key(t))
    out.append(_flat(jax.tree.map(np.asarray, u)))
  return out


def _curv_extra(a):
  f = _loss_fn(a)
  return lambda k, p: {"value_fn": f, "key": k, "value": f(p)}


def _close(got, want, rtol=1e-5, atol=1e-6):
  for t, (g, w) in enumerate(zip(got, want, strict=True)):
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"step {t}")


# --------------------------------------------------------------------------------------------
# baselines.curvature
# --------------------------------------------------------------------------------------------


def test_hvp_and_hutchinson_sample_match_closed_form():
  params, _, a = _problem()
  f = _loss_fn(a)
  x = _flat(params)
  v = np.random.default_rng(3).normal(size=_D).astype(np.float32)
  hv = hessian.hvp(f, jax.tree.map(jnp.asarray, params), _unflat(jnp.asarray(v), params))
  np.testing.assert_allclose(_flat(hv), _np_hess(a, x) @ v, rtol=1e-5, atol=1e-5)
  d = hessian.hutchinson_diag(f, jax.tree.map(jnp.asarray, params), _key(0))
  # One probe per sample key: regenerate it the same way.
  z = _flat(perturbation.sample(jax.random.split(_key(0), 1)[0], params, 1.0, "rademacher"))
  np.testing.assert_allclose(_flat(d), z * (_np_hess(a, x) @ z), rtol=1e-5, atol=1e-5)
  assert set(np.abs(z)) == {1.0}


def test_hutchinson_is_exact_for_a_diagonal_hessian_and_averages_samples():
  h = jnp.linspace(0.5, 3.0, 6)
  f = lambda p: 0.5 * jnp.sum(h * p["x"] ** 2)
  d = hessian.hutchinson_diag(f, {"x": jnp.ones(6)}, jax.random.PRNGKey(0), num_samples=3)
  np.testing.assert_allclose(d["x"], h, rtol=1e-6)
  with pytest.raises(ValueError, match="num_samples"):
    hessian.hutchinson_diag(f, {"x": jnp.ones(6)}, jax.random.PRNGKey(0), num_samples=0)


def test_lanczos_recovers_the_spectrum_and_cg_solves():
  params, _, a = _problem()
  f = _loss_fn(a)
  x = _flat(params)
  h = _np_hess(a, x)
  matvec, flat = hessian.flat_hvp(f, jax.tree.map(jnp.asarray, params))
  np.testing.assert_allclose(flat, x, rtol=1e-6)
  v0 = jnp.ones(_D)
  values, vectors = hessian.lanczos_eigh(matvec, v0, _D)
  w, u = np.linalg.eigh(h)
  np.testing.assert_allclose(values, w, rtol=1e-4, atol=1e-4 * w.max())
  # Extreme Ritz vectors are eigenvectors (up to sign).
  for i in (0, -1):
    np.testing.assert_allclose(abs(float(np.dot(vectors[i], u[:, i]))), 1.0, rtol=1e-4)
  alphas, betas, basis = hessian.lanczos(matvec, v0, 5)
  np.testing.assert_allclose(np.asarray(basis) @ np.asarray(basis).T, np.eye(5), atol=1e-5)
  tri = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
  np.testing.assert_allclose(np.asarray(basis) @ h @ np.asarray(basis).T, tri, atol=1e-4)
  b = np.random.default_rng(1).normal(size=_D).astype(np.float32)
  sol = hessian.conjugate_gradient(matvec, jnp.asarray(b), _D + 4, damping=0.3)
  np.testing.assert_allclose(sol, np.linalg.solve(h + 0.3 * np.eye(_D), b), rtol=1e-4, atol=1e-5)
  # Negative curvature at the first direction: a gradient step (returns b).
  neg = hessian.conjugate_gradient(lambda v: -v, jnp.asarray(b), 5)
  np.testing.assert_allclose(neg, b)


def test_lanczos_survives_an_exhausted_krylov_space():
  # Two distinct eigenvalues: the Krylov space has dimension 2, later vectors are zero.
  diag = jnp.asarray([1.0, 1.0, 1.0, 4.0, 4.0])
  values, vectors = hessian.lanczos_eigh(lambda v: diag * v, jnp.ones(5), 5)
  assert np.all(np.isfinite(values)) and np.all(np.isfinite(vectors))
  np.testing.assert_allclose(sorted(np.asarray(values))[-1], 4.0, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# optax-registered: the same updates as optax itself
# --------------------------------------------------------------------------------------------


def test_sophia_matches_optax():
  # A separable loss has a diagonal Hessian, so every Rademacher probe gives it exactly and
  # optax's own estimator (its own key) and the project's (the `key` arg) must agree.
  params, grads, _ = _problem()
  h = jnp.linspace(0.5, 3.0, 12).reshape(3, 4)
  f = lambda p: 0.5 * jnp.sum(h * p["w"] ** 2) + jnp.sum(jnp.cosh(p["b"]))
  kw = dict(b1=0.9, b2=0.95, gamma=0.05, update_interval=2, weight_decay=1e-3)
  got = _run(
    baselines.get("sophia", learning_rate=0.1, **kw),
    params,
    grads,
    lambda k, p: {"value_fn": f, "key": k},
  )
  want = _run(optax.contrib.sophia(0.1, **kw), params, grads, lambda k, p: {"obj_fn": f})
  _close(got, want)


def test_lbfgs_matches_optax():
  params, _, a = _problem()
  f = _loss_fn(a)
  p = jax.tree.map(jnp.asarray, params)
  ours = optax.with_extra_args_support(baselines.get("lbfgs", memory_size=4))
  ref = optax.lbfgs(memory_size=4)
  s1, s2 = ours.init(p), ref.init(p)
  q = p

  @jax.jit
  def both(p, s1, q, s2):
    v, g = jax.value_and_grad(f)(p)
    u1, s1 = ours.update(g, s1, p, value=v, value_fn=f)
    v2, g2 = jax.value_and_grad(f)(q)
    u2, s2 = ref.update(g2, s2, q, value=v2, grad=g2, value_fn=f)
    return u1, s1, u2, s2

  for _ in range(5):
    u1, s1, u2, s2 = both(p, s1, q, s2)
    np.testing.assert_allclose(_flat(u1), _flat(u2), rtol=1e-5, atol=1e-6)
    p, q = optax.apply_updates(p, u1), optax.apply_updates(q, u2)
  assert float(f(p)) < 0.1 * float(f(jax.tree.map(jnp.asarray, params)))


def test_hutchinson_newton_matches_optax_estimator():
  params, grads, a = _problem()
  f = _loss_fn(a)
  est = optax.contrib.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(0))
  got = _run(
    baselines.get("hutchinson_newton", learning_rate=0.5, eps=0.1),
    params,
    grads,
    lambda k, p: {"value_fn": f},
  )
  p = jax.tree.map(jnp.asarray, params)
  s = est.init(p)
  for t, g in enumerate(grads):
    d, s = est.update(g, s, p, obj_fn=f)
    want = -0.5 * _flat(g) / np.maximum(np.abs(_flat(d)), 0.1)
    np.testing.assert_allclose(got[t], want, rtol=1e-5, atol=1e-6)
    p = optax.apply_updates(p, _unflat(jnp.asarray(got[t], jnp.float32), params))


# --------------------------------------------------------------------------------------------
# T3-01 AdaHessian
# --------------------------------------------------------------------------------------------


def test_adahessian_matches_reference():
  params, grads, a = _problem()
  b1, b2, eps, k, wd, lr, interval = 0.9, 0.99, 1e-4, 0.5, 1e-2, 0.1, 2
  got = _run(
    baselines.get(
      "adahessian",
      learning_rate=lr,
      b1=b1,
      b2=b2,
      eps=eps,
      hessian_power=k,
      weight_decay=wd,
      update_interval=interval,
    ),
    params,
    grads,
    _curv_extra(a),
  )
  x = _flat(params)
  m = np.zeros(_D)
  v = np.zeros(_D)
  n_h = 0
  want = []
  for t, g in enumerate(grads):
    g = _flat(g)
    if t % interval == 0:
      z = _flat(perturbation.sample(jax.random.split(_key(t), 1)[0], params, 1.0, "rademacher"))
      dd = np.abs(z * (_np_hess(a, x) @ z))  # rank <= 2 tensors: no spatial averaging
      v = b2 * v + (1 - b2) * dd**2
      n_h += 1
    m = b1 * m + (1 - b1) * g
    u = (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2**n_h)) ** k + eps)
    step = -lr * (u + wd * x)
    want.append(step)
    x = x + step
  _close(got, want, rtol=2e-5)


def test_adahessian_spatial_average():
  d = np.random.default_rng(0).normal(size=(3, 3, 2, 5)).astype(np.float32)
  want = np.broadcast_to(np.abs(d).mean(axis=(0, 1), keepdims=True), d.shape)
  np.testing.assert_allclose(spatial_average(jnp.asarray(d)), want, rtol=1e-6)
  np.testing.assert_allclose(spatial_average(jnp.asarray(d[0, 0])), np.abs(d[0, 0]))
  with pytest.raises(ValueError, match="hessian_power"):
    baselines.get("adahessian", hessian_power=2.0)


# --------------------------------------------------------------------------------------------
# T3-15 OASIS
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("adaptive", [True, False])
def test_oasis_matches_reference(adaptive):
  params, _, a = _problem()
  b2, alpha, eta0 = 0.9, 1e-2, 0.05
  # OASIS's adaptive step uses gradient differences, so the gradient is the true one here.
  f = _loss_fn(a)
  opt = optax.with_extra_args_support(
    baselines.get("oasis", learning_rate=eta0, b2=b2, alpha=alpha, adaptive_lr=adaptive)
  )
  p = jax.tree.map(jnp.asarray, params)
  s = opt.init(p)
  x = _flat(params)
  d = None
  eta, theta = eta0, np.inf
  x_prev = g_prev = None
  for t in range(_STEPS):
    u, s = opt.update(jax.grad(f)(p), s, p, value_fn=f, key=_key(t))
    p = optax.apply_updates(p, u)
    g = _np_grad(a, x)
    z = _flat(perturbation.sample(jax.random.split(_key(t), 1)[0], params, 1.0, "rademacher"))
    sample = z * (_np_hess(a, x) @ z)
    d = sample if t == 0 else b2 * d + (1 - b2) * sample
    dhat = np.maximum(np.abs(d), alpha)
    if adaptive and t > 0:
      dw, dg = x - x_prev, g - g_prev
      ratio = np.sqrt(dw @ (dhat * dw)) / (2 * np.sqrt(dg @ (dg / dhat)))
      new_eta = min(np.sqrt(1 + theta) * eta, ratio)
      theta, eta = new_eta / eta, new_eta
    step = -eta * g / dhat
    np.testing.assert_allclose(_flat(u), step, rtol=1e-4, atol=1e-6, err_msg=f"step {t}")
    x_prev, g_prev = x, g
    x = x + step
  if adaptive:
    assert eta != eta0


# --------------------------------------------------------------------------------------------
# T3-07 M-FAC
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_grads", [3, 32])  # Woodbury (d > m) and direct (d <= m) solves
def test_mfac_matches_reference(num_grads):
  params, grads, _ = _problem()
  lam, lr, mu, wd = 1e-2, 0.1, 0.9, 1e-3
  got = _run(
    baselines.get(
      "mfac", learning_rate=lr, num_grads=num_grads, damping=lam, momentum=mu, weight_decay=wd
    ),
    params,
    grads,
  )
  x = _flat(params)
  window = np.zeros((num_grads, _D))
  buf = np.zeros(_D)
  want = []
  for t, g in enumerate(grads):
    g = _flat(g) + wd * x
    window[t % num_grads] = g
    fisher = lam * np.eye(_D) + window.T @ window / num_grads
    buf = mu * buf + np.linalg.solve(fisher, g)
    step = -lr * buf
    want.append(step)
    x = x + step
  _close(got, want, rtol=2e-4, atol=1e-5)  # float32 solves of a κ ~ 1e3 system


# --------------------------------------------------------------------------------------------
# T3-13 IVON
# --------------------------------------------------------------------------------------------


def test_ivon_matches_reference():
  params, grads, a = _problem()
  ess, h0, b1, b2, delta, lr, r = 50.0, 0.5, 0.9, 0.99, 1e-2, 0.1, 3.0
  got = _run(
    baselines.get(
      "ivon",
      learning_rate=lr,
      ess=ess,
      hess_init=h0,
      b1=b1,
      b2=b2,
      weight_decay=delta,
      clip_radius=r,
    ),
    params,
    grads,
    _curv_extra(a),
  )
  m = _flat(params)
  g_mom = np.zeros(_D)
  h = np.full(_D, h0)
  want = []
  for t in range(_STEPS):
    eps = _flat(perturbation.sample(jax.random.split(_key(t), 1)[0], params, 1.0, "gaussian"))
    sigma = 1 / np.sqrt(ess * (h + delta))
    theta = m + sigma * eps
    ghat = _np_grad(a, theta)
    hhat = ghat * eps / sigma
    g_mom = b1 * g_mom + (1 - b1) * ghat
    h = b2 * h + (1 - b2) * hhat + 0.5 * (1 - b2) ** 2 * (h - hhat) ** 2 / (h + delta)
    u = (h0 + delta) * np.clip((g_mom / (1 - b1 ** (t + 1)) + delta * m) / (h + delta), -r, r)
    want.append(-lr * u)
    m = m - lr * u
  _close(got, want, rtol=1e-4, atol=1e-6)  # float32 noise products ε·ĝ/σ, σ ~ 0.1


# --------------------------------------------------------------------------------------------
# T3-14 gradient-regularized Newton
# --------------------------------------------------------------------------------------------


def test_grad_reg_newton_matches_reference():
  params, grads, a = _problem()
  lr, reg = 0.5, 2.0
  got = _run(
    baselines.get("grad_reg_newton", learning_rate=lr, regularization=reg, cg_iters=2 * _D),
    params,
    grads,
    _curv_extra(a),
  )
  x = _flat(params)
  want = []
  for g in grads:
    g = _flat(g)
    step = -lr * np.linalg.solve(_np_hess(a, x) + np.sqrt(reg * np.linalg.norm(g)) * np.eye(_D), g)
    want.append(step)
    x = x + step
  _close(got, want, rtol=1e-4, atol=1e-6)  # float32 CG to convergence


# --------------------------------------------------------------------------------------------
# T3-20 N-PG-IGT and (N-)HARPG
# --------------------------------------------------------------------------------------------


def test_n_pg_igt_matches_reference():
  params, grads, a = _problem()
  lr, p = 0.05, 0.8
  got = _run(
    baselines.get("n_pg_igt", learning_rate=lr, momentum_power=p), params, grads, _curv_extra(a)
  )
  x = _flat(params)
  x_prev, d = x.copy(), np.zeros(_D)
  want = []
  for t in range(_STEPS):
    eta = (t + 1.0) ** -p
    shifted = x + (1 - eta) / eta * (x - x_prev)
    d = (1 - eta) * d + eta * _np_grad(a, shifted)
    step = -lr * d / np.linalg.norm(d)
    want.append(step)
    x_prev, x = x, x + step
  _close(got, want, rtol=2e-5)


@pytest.mark.parametrize("normalize", [True, False])
def test_harpg_matches_reference(normalize):
  params, grads, a = _problem()
  lr, p = 0.05, 1.0
  got = _run(
    baselines.get("harpg", learning_rate=lr, momentum_power=p, normalize=normalize),
    params,
    grads,
    _curv_extra(a),
  )
  x = _flat(params)
  x_prev, d = x.copy(), np.zeros(_D)
  want = []
  for t, g in enumerate(grads):
    eta = (t + 1.0) ** -p
    q = float(jax.random.uniform(_key(t), ()))
    point = q * x + (1 - q) * x_prev
    d = (1 - eta) * (d + _np_hess(a, point) @ (x - x_prev)) + eta * _flat(g)
    step = -lr * (d / np.linalg.norm(d) if normalize else d)
    want.append(step)
    x_prev, x = x, x + step
  _close(got, want, rtol=2e-5)
  with pytest.raises(ValueError, match="correction"):
    from baselines.curvature._harpg import scale_by_harpg

    scale_by_harpg(correction="none")


# --------------------------------------------------------------------------------------------
# T3-18 Iterative Newton, T3-17 SLQ learning rate and momentum
# --------------------------------------------------------------------------------------------


def test_iterative_newton_matches_newton_schulz_matrices():
  params, grads, a = _problem(steps=5)
  lr, k, c = 0.5, 3, 1.0
  got = _run(
    baselines.get(
      "iterative_newton", learning_rate=lr, newton_iters=k, lanczos_iters=_D, alpha_scale=c
    ),
    params,
    grads,
    _curv_extra(a),
  )
  x = _flat(params)
  want = []
  for g in grads:
    h = _np_hess(a, x)
    m = c / np.linalg.eigvalsh(h).max() ** 2 * h
    for _ in range(k):
      m = 2 * m - m @ h @ m
    step = -lr * m @ _flat(g)
    want.append(step)
    x = x + step
  # Newton-Schulz in float32 through a degree-15 polynomial of H, λ_max from Lanczos.
  _close(got, want, rtol=1e-3, atol=1e-5)


def test_iterative_newton_is_newton_on_linear_regression():
  # k iterations from w = 0: one step gives M_k Xᵀy, which tends to the least-squares fit.
  rng = np.random.default_rng(0)
  xs, ys = rng.normal(size=(100, 5)).astype(np.float32), rng.normal(size=100).astype(np.float32)
  f = lambda p: 0.5 * jnp.sum((xs @ p["w"] - ys) ** 2)
  opt = baselines.get("iterative_newton", newton_iters=8, lanczos_iters=5)
  p = {"w": jnp.zeros(5)}
  u, _ = opt.update(jax.grad(f)(p), opt.init(p), p, value_fn=f, key=jax.random.PRNGKey(0))
  np.testing.assert_allclose(u["w"], np.linalg.lstsq(xs, ys, rcond=None)[0], rtol=1e-3)


def test_slq_momentum_matches_reference():
  params, grads, a = _problem()
  lr, interval = 0.7, 3
  got = _run(
    baselines.get("slq_momentum", learning_rate=lr, lanczos_iters=_D, update_interval=interval),
    params,
    grads,
    _curv_extra(a),
  )
  x = _flat(params)
  v = np.zeros(_D)
  want = []
  for t, g in enumerate(grads):
    if t % interval == 0:
      w = np.linalg.eigvalsh(_np_hess(a, x))
      sa, sb = np.sqrt(w.max()), np.sqrt(max(w.min(), 1e-3 * w.max()))
      alpha, mu = 4 / (sa + sb) ** 2, ((sa - sb) / (sa + sb)) ** 2
    v = mu * v + alpha * _flat(g)
    want.append(-lr * v)
    x = x - lr * v
  _close(got, want, rtol=2e-4, atol=1e-6)  # extreme eigenvalues from float32 Lanczos


# --------------------------------------------------------------------------------------------
# T3-04 K-FAC, T3-03 AdaFisher (gradient-only factors)
# --------------------------------------------------------------------------------------------


def test_kfac_matches_reference():
  params, grads, _ = _problem()
  rho, lam, interval, mu, lr, wd = 0.8, 1e-2, 2, 0.9, 0.1, 1e-3
  got = _run(
    baselines.get(
      "kfac",
      learning_rate=lr,
      decay=rho,
      damping=lam,
      inverse_update_interval=interval,
      momentum=mu,
      weight_decay=wd,
    ),
    params,
    grads,
  )
  w, b = params["w"].astype(np.float64), params["b"].astype(np.float64)
  left, right, fb = np.zeros((3, 3)), np.zeros((4, 4)), np.zeros(4)
  buf_w, buf_b = np.zeros((3, 4)), np.zeros(4)
  want = []
  for t, g in enumerate(grads):
    gw, gb = g["w"] + wd * w, g["b"] + wd * b
    nrm = np.linalg.norm(gw)
    left = rho * left + (1 - rho) * gw @ gw.T / nrm
    right = rho * right + (1 - rho) * gw.T @ gw / nrm
    fb = rho * fb + (1 - rho) * gb**2
    if t % interval == 0:
      li = np.linalg.inv(left + np.sqrt(lam) * np.eye(3))
      ri = np.linalg.inv(right + np.sqrt(lam) * np.eye(4))
      bi = 1 / (fb + lam)
    buf_w = mu * buf_w + li @ gw @ ri
    buf_b = mu * buf_b + gb * bi
    step = {"w": -lr * buf_w, "b": -lr * buf_b}
    want.append(_flat(step))
    w, b = w + step["w"], b + step["b"]
  _close(got, want, rtol=1e-4, atol=1e-6)  # float32 eigendecompositions


def test_kfac_reshapes_conv_kernels():
  from baselines.axes import matrix_shape

  assert matrix_shape((3, 3, 8, 16)) == (72, 16)
  assert matrix_shape((5,)) is None
  opt = baselines.get("kfac")
  p = {"k": jnp.ones((2, 2, 3, 4))}
  u, s = opt.update(p, opt.init(p), p)
  assert u["k"].shape == (2, 2, 3, 4) and s[1].left["k"].shape == (12, 12)


def test_adafisher_matches_reference():
  params, grads, _ = _problem()
  b1, (g0, g1), lam, interval, lr, wd = 0.9, (0.92, 0.008), 1e-3, 2, 1e-2, 1e-2
  got = _run(
    baselines.get(
      "adafisher",
      learning_rate=lr,
      b1=b1,
      gammas=(g0, g1),
      damping=lam,
      update_interval=interval,
      weight_decay=wd,
    ),
    params,
    grads,
  )

  def mm(v):
    return (v - v.min()) / (v.max() - v.min() + 1e-6)

  x = {k: v.astype(np.float64) for k, v in params.items()}
  m = {k: np.zeros_like(v) for k, v in x.items()}
  h, s = np.ones(4), np.ones(4)  # b is w's bias: the factors of the augmented [w; b]
  want = []
  for t, g in enumerate(grads):
    m = {k: b1 * m[k] + (1 - b1) * g[k] for k in x}
    if t % interval == 0:
      aug = np.concatenate([g["w"], g["b"][None, :]]) ** 2
      h = (1 - g0) * h + g1 * mm(aug.sum(axis=1))
      s = (1 - g0) * s + g1 * mm(aug.sum(axis=0))
    c1 = 1 - b1 ** (t + 1)
    fisher = np.outer(h, s) + lam
    step = {
      "w": -lr * (m["w"] / c1 / fisher[:-1] + wd * x["w"]),
      "b": -lr * (m["b"] / c1 / fisher[-1] + wd * x["b"]),
    }
    want.append(_flat(step))
    x = {k: x[k] + step[k] for k in x}
  _close(got, want, rtol=2e-5)


# --------------------------------------------------------------------------------------------
# T3-08 FOSI
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["momentum", "adam"])
def test_fosi_matches_reference(base):
  params, grads, a = _problem()
  lr, mu, alpha, k, interval = 0.05, 0.9, 0.1, 3, 3
  got = _run(
    baselines.get(
      "fosi",
      learning_rate=lr,
      base=base,
      momentum=mu,
      alpha=alpha,
      num_eigs=k,
      lanczos_iters=_D,
      update_interval=interval,
      warmup=1,
    ),
    params,
    grads,
    _curv_extra(a),
  )
  clip = 3.0 if base == "momentum" else 1.0
  x = _flat(params)
  vel, buf, am, av = (np.zeros(_D) for _ in range(4))
  vecs, inv, scaling = np.zeros((k, _D)), np.zeros(k), 1.0
  want = []
  for t, g in enumerate(grads):
    g = _flat(g)
    if t >= 1 and (t - 1) % interval == 0:
      w, u = np.linalg.eigh(_np_hess(a, x))
      vecs, inv = u[:, -k:].T, 1 / np.abs(w[-k:])
      scaling = np.clip(w[-1] / w[-k], 1.0, clip)
    g1 = vecs.T @ (vecs @ g)
    g2 = g - g1
    vel = mu * vel + (g1 if base == "momentum" else (1 - mu) * g1)
    newton = vecs.T @ (inv * (vecs @ vel))
    if base == "momentum":
      buf = g2 + mu * buf
      delta = -lr * buf
    else:
      am = mu * am + (1 - mu) * g2
      av = 0.999 * av + 0.001 * g2**2
      delta = -lr * (am / (1 - mu ** (t + 1))) / (np.sqrt(av / (1 - 0.999 ** (t + 1))) + 1e-8)
    delta = delta - vecs.T @ (vecs @ delta)
    step = scaling * delta - alpha * newton
    want.append(step)
    x = x + step
  # Eigenvectors from float32 Lanczos: how XLA compiles it (tests run at
  # --xla_backend_optimization_level=0, tests/conftest.py) moves a step by up to 3e-4.
  _close(got, want, rtol=1e-3, atol=1e-6)


# --------------------------------------------------------------------------------------------
# T3-06 MKOR / MKOR-H (gradient-only rank-1 vectors)
# --------------------------------------------------------------------------------------------


def _mkor_ref(params, grads, values, lr, gamma, iters, max_inv, mu, wd, hybrid=None):
  """Explicit factors L, R (inverted by numpy, not Sherman–Morrison); SGD-momentum on top."""
  w, b = params["w"].astype(np.float64), params["b"].astype(np.float64)
  left, right, v = np.eye(3), np.eye(4), np.full(4, 0.5)
  buf_w, buf_b = np.zeros((3, 4)), np.zeros(4)
  rate, switched, prev, want, resets = 0.0, False, 0.0, [], 0
  for t, g in enumerate(grads):
    if hybrid is not None:
      thr, beta, min_steps = hybrid
      r = (prev - values[t]) / max(abs(prev), 1e-12)
      rate = 0.0 if t == 0 else (r if t == 1 else beta * rate + (1 - beta) * r)
      switched = switched or (t >= min_steps and rate < thr)
      prev = values[t]
    gw = g["w"].astype(np.float64)
    if switched:
      d = gw
    else:
      for _ in range(iters):
        u = gw @ v
        u /= np.linalg.norm(u)
        v = gw.T @ u
        sigma = np.linalg.norm(v)
        v /= sigma
      a, delta = np.sqrt(sigma) * u, np.sqrt(sigma) * v
      left = gamma * left + (1 - gamma) * np.outer(a, a)
      right = gamma * right + (1 - gamma) * np.outer(delta, delta)
      if np.abs(np.linalg.inv(left)).max() > max_inv:
        left, resets = np.eye(3), resets + 1
      if np.abs(np.linalg.inv(right)).max() > max_inv:
        right, resets = np.eye(4), resets + 1
      d = np.linalg.inv(left) @ gw @ np.linalg.inv(right)
      d = d * np.linalg.norm(gw) / np.linalg.norm(d)
    buf_w = mu * buf_w + d + wd * w
    buf_b = mu * buf_b + g["b"] + wd * b
    step = {"w": -lr * buf_w, "b": -lr * buf_b}
    want.append(_flat(step))
    w, b = w + step["w"], b + step["b"]
  return want, resets, switched


@pytest.mark.parametrize("gamma, max_inverse", [(0.8, 1e6), (0.3, 4.0)])
def test_mkor_matches_reference(gamma, max_inverse):
  params, grads, _ = _problem(3)
  hp = {"learning_rate": 0.1, "gamma": gamma, "power_iters": 3, "momentum": 0.9}
  got = _run(baselines.get("mkor", max_inverse=max_inverse, weight_decay=1e-3, **hp), params, grads)
  want, resets, _ = _mkor_ref(params, grads, None, 0.1, gamma, 3, max_inverse, 0.9, 1e-3)
  assert (resets > 0) == (max_inverse < 10)  # the second case exercises the stabilizer
  # Inverses of factors with condition up to max_inverse, in float32: 1e-4 of rounding.
  _close(got, want, rtol=1e-4)


def test_mkor_h_switches_to_first_order_steps():
  params, grads, _ = _problem(4)
  values = [10.0, 8.0, 7.99, 7.98, 7.97, 7.96]  # progress stalls: switch at step 4
  hp = {"switch_threshold": 0.05, "switch_decay": 0.5, "min_second_order_steps": 2}
  opt = baselines.get("mkor_h", learning_rate=0.1, gamma=0.8, power_iters=3, **hp)
  want, _, switched = _mkor_ref(
    params, grads, values, 0.1, 0.8, 3, 1e6, 0.9, 0.0, hybrid=(0.05, 0.5, 2)
  )
  opt = optax.with_extra_args_support(opt)
  p = jax.tree.map(jnp.asarray, params)
  state, out = opt.init(p), []
  for t, g in enumerate(grads):
    u, state = opt.update(jax.tree.map(jnp.asarray, g), state, p, value=values[t])
    p = optax.apply_updates(p, u)
    out.append(_flat(jax.tree.map(np.asarray, u)))
  assert switched
  _close(out, want)
  assert bool(state.inner_states["matrix"].inner_state[0].switched)
  with pytest.raises(ValueError, match="value"):
    opt.update(jax.tree.map(jnp.asarray, grads[0]), state, p)


def test_mkor_sherman_morrison_and_bad_options():
  from baselines.curvature._mkor import sherman_morrison

  rng = np.random.default_rng(0)
  m = rng.normal(size=(4, 4))
  f = m @ m.T + np.eye(4)
  x = rng.normal(size=4)
  got = sherman_morrison(jnp.asarray(np.linalg.inv(f), jnp.float32), jnp.asarray(x), 0.7)
  np.testing.assert_allclose(got, np.linalg.inv(0.7 * f + 0.3 * np.outer(x, x)), rtol=1e-4)
  with pytest.raises(ValueError, match="gamma"):
    baselines.get("mkor", gamma=1.0)
  with pytest.raises(ValueError, match="power_iters"):
    baselines.get("mkor", power_iters=0)
