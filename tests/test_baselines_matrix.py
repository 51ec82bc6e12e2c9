"""Matrix optimizers T2-25..T2-36 and their shared infrastructure (`baselines.matrix.common`).

Each project-written rule runs against a numpy reference written from the paper's equations
(float64), on random per-step gradients from nonzero parameters, for 6 steps. The JAX code
runs in float32, hence rtol=1e-5 for elementwise rules. Looser tolerances, each stated at
its test, cover iterative or spectral solves (Newton–Schulz, eigh, QR, SVD) in float32:
their float32 rounding (~1e-7 per matmul) is amplified by the iteration or by small
eigenvalues, so agreement to ~1e-4 is what float32 can give.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines
from baselines.matrix import common
from baselines.matrix._scale import default_last_layer
from baselines.matrix._sinkgd import scale_by_sinkgd, sinkhorn_normalize

STEPS = 6
RTOL, ATOL = 1e-5, 1e-6
MUON = (3.4445, -4.7750, 2.0315)


def _mat_traj(opt, w0, grads, extra_b=True):
  """Runs `opt` on {"w": w0, "b": vector}; the trajectory of "w" (and of "b")."""
  p = {"w": jnp.asarray(w0, jnp.float32), "b": jnp.linspace(-1.0, 1.0, 3, dtype=jnp.float32)}
  state = opt.init(p)
  update = jax.jit(opt.update)
  traj = []
  for g in grads:
    gt = {"w": jnp.asarray(g, jnp.float32), "b": jnp.ones(3, jnp.float32)}
    u, state = update(gt, state, p)
    p = optax.apply_updates(p, u)
    traj.append(np.asarray(p["w"]))
  return traj


def _grads(shape, seed=1, steps=STEPS):
  rng = np.random.default_rng(seed)
  return [rng.normal(size=shape) for _ in range(steps)]


def _w0(shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape)


def _close(traj, ref, rtol=RTOL, atol=ATOL):
  assert len(traj) == len(ref)
  for k, (a, b) in enumerate(zip(traj, ref, strict=True)):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {k + 1}")


def _ns_ref(x, steps, coeffs, normalize=True, eps=1e-7):
  a, b, c = coeffs
  X = np.array(x, np.float64)
  if normalize:
    X = X / (np.linalg.norm(X) + eps)
  for _ in range(steps):
    A = X @ X.T
    X = a * X + (b * A + c * A @ A) @ X
  return X


# --------------------------------------------------------------------------------------------
# Shared infrastructure.
# --------------------------------------------------------------------------------------------


def test_labels_and_reshape_rule():
  params = {"conv": jnp.zeros((2, 2, 3, 5)), "w": jnp.zeros((3, 4)), "b": jnp.zeros(4), "s": 0.0}
  labels = common.matrix_labels(params)
  assert labels == {"conv": "matrix", "w": "matrix", "b": "fallback", "s": "fallback"}
  assert common.as_matrix(params["conv"]).shape == (12, 5)
  assert baselines.matrix.matrix_shape((7,)) is None
  with pytest.raises(ValueError, match="at least 2 axes"):
    common.as_matrix(jnp.zeros(3))


def test_matrix_optimizer_routes_and_reshapes():
  rng = np.random.default_rng(0)
  g = {"conv": rng.normal(size=(2, 2, 3, 5)), "b": rng.normal(size=4)}
  g = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g)
  opt = common.matrix_optimizer(scale_by_sinkgd(num_iters=3), optax.sgd(0.5))
  u, _ = opt.update(g, opt.init(g), g)
  expected = sinkhorn_normalize(g["conv"].reshape(12, 5), num_iters=3).reshape(2, 2, 3, 5)
  np.testing.assert_allclose(u["conv"], expected, rtol=1e-6)
  np.testing.assert_allclose(u["b"], -0.5 * g["b"], rtol=1e-6)
  # A user label function sends everything to the fallback.
  everything = lambda p: jax.tree.map(lambda _: common.FALLBACK, p)
  opt = common.matrix_optimizer(scale_by_sinkgd(), optax.sgd(0.5), label_fn=everything)
  u, _ = opt.update(g, opt.init(g), g)
  np.testing.assert_allclose(u["conv"], -0.5 * g["conv"], rtol=1e-6)


def test_matrix_transforms_reject_vectors():
  with pytest.raises(ValueError, match="2-D matrices"):
    scale_by_sinkgd().init({"b": jnp.zeros(3)})


@pytest.mark.parametrize("shape", [(4, 6), (7, 3)])
def test_newton_schulz_matches_reference_and_orthogonalizes(shape):
  x = _w0(shape, seed=3)
  # float32 vs float64 through 5 quintic iterations (coefficients up to 4.8): rtol 1e-4.
  ours = common.newton_schulz(jnp.asarray(x, jnp.float32), steps=5, coeffs=MUON)
  ref = _ns_ref(x.T, 5, MUON).T if shape[0] > shape[1] else _ns_ref(x, 5, MUON)
  np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
  s = np.linalg.svd(np.asarray(ours), compute_uv=False)
  assert s.min() > 0.6 and s.max() < 1.25, s
  # The cubic iteration converges to the polar factor U V^T.
  u, _, vt = np.linalg.svd(x, full_matrices=False)
  polar = common.newton_schulz(jnp.asarray(x, jnp.float32), steps=40, coeffs=common.CUBIC_COEFFS)
  np.testing.assert_allclose(polar, u @ vt, atol=1e-4)


# --------------------------------------------------------------------------------------------
# Optax's Muon.
# --------------------------------------------------------------------------------------------


def test_muon_is_optax_muon():
  rng = np.random.default_rng(0)
  p = {"w": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32), "b": jnp.ones(4)}
  ours, theirs = baselines.get("muon", learning_rate=0.02), optax.contrib.muon(0.02)
  s1, s2 = ours.init(p), theirs.init(p)
  for k in range(3):
    g = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), p)
    u1, s1 = ours.update(g, s1, p)
    u2, s2 = theirs.update(g, s2, p)
    for name in p:
      np.testing.assert_allclose(u1[name], u2[name], rtol=1e-6, err_msg=f"{name} step {k}")


def test_muon_orthogonalizes_conv_kernels_by_the_reshape_rule():
  g = jnp.asarray(_w0((2, 2, 3, 5)), jnp.float32)
  opt = baselines.get("muon", learning_rate=1.0, beta=0.0, nesterov=False)
  u, _ = opt.update({"k": g}, opt.init({"k": g}), {"k": g})
  expected = optax.contrib._muon.orthogonalize_via_newton_schulz(
    g.reshape(12, 5), jnp.asarray(MUON), 5
  )
  np.testing.assert_allclose(-u["k"].reshape(12, 5), expected, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Project-written methods.
# --------------------------------------------------------------------------------------------


def _auon_ref(w0, grads, lr, b1, hybrid):
  w, m, out = w0.copy(), np.zeros_like(w0), []
  for g in grads:
    m = b1 * m + (1 - b1) * g
    look = b1 * m + (1 - b1) * g
    x = look / (np.linalg.norm(look) + 1e-7)
    if hybrid:
      x = _ns_ref(x, 1, MUON, normalize=False)
    u = x / (np.sqrt(np.mean(np.cosh(x) ** 2)) + 1e-8) * math.sqrt(max(1, w.shape[1] / w.shape[0]))
    w = w - lr * u
    out.append(w.copy())
  return out


@pytest.mark.parametrize("name", ["auon", "hybrid_auon"])
def test_auon_matches_reference(name):
  lr, b1, shape = 0.05, 0.9, (3, 5)
  w0, grads = _w0(shape), _grads(shape)
  opt = baselines.get(name, learning_rate=lr, b1=b1)
  _close(_mat_traj(opt, w0, grads), _auon_ref(w0, grads, lr, b1, name == "hybrid_auon"))


def test_swan_matches_reference():
  lr, shape = 0.01, (5, 4)
  w0, grads = _w0(shape), _grads(shape)
  w, ref = w0.copy(), []
  for g in grads:
    mu, sd = g.mean(axis=0), g.std(axis=0)
    gn = (g - mu) / (sd + 1e-8)
    x = gn.T / np.sqrt(np.linalg.norm(gn.T @ gn))  # paper layout (out, in): (G G^T)^{-1/2} G
    y, z = x @ x.T, np.eye(x.shape[0])
    for _ in range(10):  # coupled Newton-Schulz iteration for the inverse square root
      t = 0.5 * (3 * np.eye(x.shape[0]) - z @ y)
      y, z = y @ t, t @ z
    d = (z @ x).T
    d = d * np.linalg.norm(gn) / np.linalg.norm(d)
    w = w - lr * d
    ref.append(w.copy())
  # Ten Newton-Schulz iterations in float32: rtol 1e-4 (see the module docstring).
  _close(_mat_traj(baselines.get("swan", learning_rate=lr), w0, grads), ref, rtol=1e-4, atol=1e-5)


def test_sinkgd_matches_reference():
  lr, shape = 0.01, (5, 4)
  w0, grads = _w0(shape), _grads(shape)
  w, ref = w0.copy(), []
  for g in grads:
    x = g.T.copy()  # paper layout (out, in) = (m, n)
    m, n = x.shape
    for _ in range(5):
      x = math.sqrt(n) * x / np.linalg.norm(x, axis=1, keepdims=True)
      x = math.sqrt(m) * x / np.linalg.norm(x, axis=0, keepdims=True)
    w = w - lr * x.T
    ref.append(w.copy())
  _close(_mat_traj(baselines.get("sinkgd", learning_rate=lr), w0, grads), ref)


def test_scale_matches_reference_with_last_layer_momentum():
  lr, b1, shape = 0.05, 0.9, (5, 4)
  grads = {"hidden": _grads(shape, 1), "head": _grads(shape, 2)}
  w0 = {"hidden": _w0(shape, 3), "head": _w0(shape, 4), "b": np.ones(4)}
  last = default_last_layer(w0)
  assert last == {"hidden": False, "head": True, "b": False}
  opt = baselines.get("scale", learning_rate=lr, b1=b1)
  p = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), w0)
  state, update = opt.init(p), jax.jit(opt.update)
  w = {k: v.copy() for k, v in w0.items()}
  m = np.zeros(shape)
  for t in range(STEPS):
    g = {"hidden": grads["hidden"][t], "head": grads["head"][t], "b": np.zeros(4)}
    u, state = update(jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g), state, p)
    p = optax.apply_updates(p, u)
    m = b1 * m + (1 - b1) * g["head"]
    cn = lambda x: (x.T / np.linalg.norm(x.T, axis=0, keepdims=True)).T  # paper's C on (out, in)
    w["hidden"] = w["hidden"] - lr * cn(g["hidden"])
    w["head"] = w["head"] - lr * cn(m)
    for k in ("hidden", "head"):
      np.testing.assert_allclose(p[k], w[k], rtol=RTOL, atol=ATOL, err_msg=f"{k} {t}")


def test_scale_default_last_layer_without_names_is_last_matrix():
  params = [jnp.zeros((3, 4)), jnp.zeros(4), jnp.zeros((4, 2)), jnp.zeros(2)]
  assert default_last_layer(params) == [False, False, True, False]


def test_mars_shampoo_matches_reference():
  lr, b1, gamma, shape = 0.02, 0.95, 0.025, (3, 5)
  w0, grads = _w0(shape), _grads(shape)
  w, m, prev, ref = w0.copy(), np.zeros(shape), np.zeros(shape), []
  for g in grads:
    c = g + gamma * b1 / (1 - b1) * (g - prev)
    c = c / max(1.0, np.linalg.norm(c))
    m = b1 * m + (1 - b1) * c
    o = _ns_ref(m / (1 - b1), 5, MUON)
    # Paper layout (out, in): factor sqrt(max(1, out/in)).
    w = w - lr * o * math.sqrt(max(1, shape[1] / shape[0]))
    prev = g
    ref.append(w.copy())
  # Five quintic Newton-Schulz iterations in float32: rtol 1e-4.
  opt = baselines.get("mars_shampoo", learning_rate=lr, b1=b1, gamma=gamma)
  _close(_mat_traj(opt, w0, grads), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3)])
def test_conda_matches_reference(shape):
  lr, b1, b2, eps, gap, s = 0.01, 0.9, 0.99, 1e-8, 3, 0.5
  w0, grads = _w0(shape), _grads(shape)
  w, m, v, ref = w0.copy(), np.zeros(shape), np.zeros(shape), []
  tall = shape[0] >= shape[1]
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    if t == 1 or t % gap == 0:
      u, _, vt = np.linalg.svd(m, full_matrices=False)
      P = vt if tall else u
    proj = lambda x, P=P: x @ P.T if tall else P.T @ x
    back = lambda y, P=P: y @ P if tall else P @ y
    v = b2 * v + (1 - b2) * proj(g) ** 2
    d = s * back(proj(m) / (np.sqrt(v) + eps)) * math.sqrt(1 - b2**t) / (1 - b1**t)
    w = w - lr * d
    ref.append(w.copy())
  opt = baselines.get(
    "conda", learning_rate=lr, b1=b1, b2=b2, update_proj_gap=gap, scale=s, weight_decay=0.0
  )
  # SVD bases in float32; the rotated second moment divides by small entries: rtol 1e-4.
  _close(_mat_traj(opt, w0, grads), ref, rtol=1e-4, atol=1e-5)


def _inv_root(s, p, eps):
  lam, vec = np.linalg.eigh(s)
  return (vec * (np.maximum(lam, 0) + eps) ** (-1.0 / p)) @ vec.T


def test_shampoo_matches_reference_with_blocks():
  lr, b1, every, meps, shape, bs = 0.1, 0.9, 2, 1e-3, (5, 4), 3
  w0, grads = _w0(shape), _grads(shape)
  rows, cols = [slice(0, 3), slice(3, 5)], [slice(0, 3), slice(3, 4)]
  L = {(i, j): np.zeros((3 if i == 0 else 2,) * 2) for i in range(2) for j in range(2)}
  R = {(i, j): np.zeros((3 if j == 0 else 1,) * 2) for i in range(2) for j in range(2)}
  Li, Ri = {}, {}
  w, acc, m, ref = w0.copy(), np.zeros(shape), np.zeros(shape), []
  for t, g in enumerate(grads):
    p = np.zeros(shape)
    for (i, j), _ in L.items():
      gb = g[rows[i], cols[j]]
      L[i, j] = L[i, j] + gb @ gb.T
      R[i, j] = R[i, j] + gb.T @ gb
      if t % every == 0:
        Li[i, j], Ri[i, j] = _inv_root(L[i, j], 4, meps), _inv_root(R[i, j], 4, meps)
      p[rows[i], cols[j]] = Li[i, j] @ gb @ Ri[i, j]
    acc = acc + g * g
    graft = g / (np.sqrt(acc) + 1e-8)
    m = b1 * m + (1 - b1) * p * np.linalg.norm(graft) / np.linalg.norm(p)
    w = w - lr * m
    ref.append(w.copy())
  opt = baselines.get(
    "shampoo",
    learning_rate=lr,
    b1=b1,
    block_size=bs,
    precondition_every=every,
    matrix_eps=meps,
  )
  # Inverse fourth roots by float32 eigh: rtol 1e-4.
  _close(_mat_traj(opt, w0, grads), ref, rtol=1e-4, atol=1e-5)


def test_soap_matches_reference():
  lr, b1, b2, eps, freq, wd, shape = 0.01, 0.9, 0.95, 1e-8, 2, 0.1, (4, 4)
  w0, grads = _w0(shape), _grads(shape, steps=STEPS + 1)

  def eigvecs(s):
    return np.linalg.eigh(s)[1][:, ::-1]

  w, ref = w0.copy(), []
  m, v = np.zeros(shape), np.zeros(shape)
  g = grads[0]
  L, R = (1 - b2) * g @ g.T, (1 - b2) * g.T @ g
  ql, qr = eigvecs(L), eigvecs(R)
  w = w - lr * wd * w  # set-up step: no SOAP update, decoupled weight decay only
  ref.append(w.copy())
  for s, g in enumerate(grads[1:], start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (ql.T @ g @ qr) ** 2
    d = ql @ ((ql.T @ m @ qr) / (np.sqrt(v) + eps)) @ qr.T
    w = w - lr * (d * math.sqrt(1 - b2**s) / (1 - b1**s) + wd * w)
    ref.append(w.copy())
    L, R = b2 * L + (1 - b2) * g @ g.T, b2 * R + (1 - b2) * g.T @ g
    if s % freq == 0:
      o = np.argsort(-np.diag(ql.T @ L @ ql))
      v, ql = v[o, :], np.linalg.qr(L @ ql[:, o])[0]
      o = np.argsort(-np.diag(qr.T @ R @ qr))
      v, qr = v[:, o], np.linalg.qr(R @ qr[:, o])[0]
  opt = baselines.get(
    "soap", learning_rate=lr, b1=b1, b2=b2, precondition_frequency=freq, weight_decay=wd
  )
  # Eigenbases by float32 eigh and QR: rtol 1e-4.
  _close(_mat_traj(opt, w0, grads), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
  "name", ["auon", "swan", "sinkgd", "scale", "mars_shampoo", "conda", "shampoo", "soap"]
)
def test_vectors_go_to_the_adamw_fallback(name):
  p = {"w": jnp.ones((3, 4)), "b": jnp.linspace(-1.0, 1.0, 4)}
  g = {"w": jnp.ones((3, 4)), "b": jnp.asarray([0.3, -1.0, 2.0, 0.5])}
  opt = baselines.get(name, learning_rate=0.01, fallback_learning_rate=0.03)
  u, _ = opt.update(g, opt.init(p), p)
  entry_defaults = baselines.entry(name).defaults
  wd = entry_defaults.get("weight_decay", 0.0) if name in ("soap", "conda") else 0.0
  b1, b2 = {"mars_shampoo": (0.9, 0.95), "soap": (0.95, 0.95)}.get(name, (0.9, 0.999))
  ref = optax.adamw(0.03, b1=b1, b2=b2, weight_decay=wd)
  expected, _ = ref.update({"b": g["b"]}, ref.init({"b": p["b"]}), {"b": p["b"]})
  np.testing.assert_allclose(u["b"], expected["b"], rtol=1e-6)


def _mobius(x, y):
  xy, x2, y2 = x @ y, x @ x, y @ y
  return ((1 + 2 * xy + y2) * x + (1 - x2) * y) / (1 + 2 * xy + x2 * y2)


def _riemannian_ref(manifold, variant, x0, grads, lr, b1, b2, eps):
  """Row by row, from the paper's algorithm, with the textbook manifold operations."""
  out = np.zeros((len(grads), *x0.shape))
  for i in range(x0.shape[0]):
    x, m, v, vh = x0[i].copy(), np.zeros(x0.shape[1]), 0.0, 0.0
    for t, g_all in enumerate(grads, start=1):
      g = g_all[i]
      if manifold == "sphere":
        rg, sq = g - (x @ g) * x, None
        sq = rg @ rg
      elif manifold == "poincare":
        lam = 2 / (1 - x @ x)
        rg = g / lam**2
        sq = lam**2 * (rg @ rg)
      else:
        rg, sq = g, g @ g
      if variant == "adagrad":
        m, v = rg, v + sq
        step = m / (np.sqrt(v) + eps)
      else:
        m = b1 * m + (1 - b1) * rg
        v = b2 * v + (1 - b2) * sq
        vh = max(vh, v) if variant == "amsgrad" else v
        step = (m / (1 - b1**t)) / (np.sqrt(vh / (1 - b2**t)) + eps)
      u = -lr * step
      n = np.linalg.norm(u)
      if manifold == "sphere":
        y = np.cos(n) * x + np.sin(n) * u / n
        e = u / n
        m = m + (e @ m) * ((np.cos(n) - 1) * e - np.sin(n) * x)
      elif manifold == "poincare":
        lam_x = 2 / (1 - x @ x)
        y = _mobius(x, np.tanh(lam_x * n / 2) * u / n)
        lam_y = 2 / (1 - y @ y)
        # gyr[y, -x] m = -(y + (-x)) + (y + (-x + m)) in Möbius arithmetic (m scaled into the
        # ball; gyrations are linear).
        s = 1e-3 / (np.linalg.norm(m) + 1e-30)
        gyr = _mobius(-_mobius(y, -x), _mobius(y, _mobius(-x, s * m))) / s
        m = lam_x / lam_y * gyr
      else:
        y = x + u
      x = y
      out[t - 1, i] = x
  return list(out)


@pytest.mark.parametrize(
  "manifold,variant",
  [("euclidean", "adam"), ("sphere", "amsgrad"), ("poincare", "adam"), ("poincare", "adagrad")],
)
def test_riemannian_matches_reference(manifold, variant):
  lr, b1, b2, eps, shape = 0.05, 0.9, 0.99, 1e-8, (3, 4)
  x0 = _w0(shape)
  if manifold == "sphere":
    x0 = x0 / np.linalg.norm(x0, axis=1, keepdims=True)
  elif manifold == "poincare":
    x0 = 0.5 * x0 / np.linalg.norm(x0, axis=1, keepdims=True)
  grads = _grads(shape)
  kw = {} if variant == "adagrad" else {"b1": b1, "b2": b2}
  opt = baselines.get(f"riemannian_{variant}", learning_rate=lr, manifold=manifold, **kw)
  ref = _riemannian_ref(manifold, variant, x0, grads, lr, b1, b2, eps)
  traj = _mat_traj(opt, x0, grads)
  # Transcendental maps and the Poincaré ball's conformal factor (lambda^2 ~ 10) in float32.
  _close(traj, ref, rtol=1e-4 if manifold != "euclidean" else RTOL, atol=1e-5)
  if manifold == "sphere":
    np.testing.assert_allclose(np.linalg.norm(traj[-1], axis=1), 1.0, rtol=1e-5)
  if manifold == "poincare":
    assert np.linalg.norm(traj[-1], axis=1).max() < 1.0


# --------------------------------------------------------------------------------------------
# T2-35 POET.
# --------------------------------------------------------------------------------------------


def _cayley_ref(theta, k=None):
  """(R, dR/dQ pullback) of the Cayley transform of Q = U - Uᵀ, U = strict upper triangle."""
  u = np.triu(theta, 1)
  q = u - u.T
  eye = np.eye(len(q))
  if k is None:
    inv = np.linalg.inv(eye - q)
    r = (eye + q) @ inv
    # dR = (I + R) dQ (I - Q)^{-1}  =>  dL/dQ = (I + R)ᵀ G_R (I - Q)^{-ᵀ}
    pull = lambda g: (eye + r).T @ g @ inv.T
  else:
    pows = [np.linalg.matrix_power(q, j) for j in range(k + 2)]
    # R = (I + Q) Σ_{j≤k} Q^j = I + 2 Σ_{1≤j≤k} Q^j + Q^{k+1}; d(Q^j) = Σ_a Q^a dQ Q^{j-1-a}
    coef = {j: 2.0 for j in range(1, k + 1)} | {k + 1: 1.0}
    r = eye + sum(c * pows[j] for j, c in coef.items())
    pull = lambda g: sum(
      c * pows[a].T @ g @ pows[j - 1 - a].T for j, c in coef.items() for a in range(j)
    )
  return r, lambda g: np.triu(pull(g) - pull(g).T, 1)


def _poet_ref(w0, grads, lr, b1, b2, eps, merge_every, k=None):
  m, n = w0.shape
  tr, tp = np.zeros((m, m)), np.zeros((n, n))
  mom = [np.zeros((m, m)), np.zeros((n, n))]
  vel = [np.zeros((m, m)), np.zeros((n, n))]
  traj, rs = [], []
  for t, g in enumerate(grads, start=1):
    r, pull_r = _cayley_ref(tr, k)
    p, pull_p = _cayley_ref(tp, k)
    grads_theta = [pull_r(g @ (w0 @ p).T), pull_p((r @ w0).T @ g)]
    thetas = [tr, tp]
    for i in range(2):
      mom[i] = b1 * mom[i] + (1 - b1) * grads_theta[i]
      vel[i] = b2 * vel[i] + (1 - b2) * grads_theta[i] ** 2
      mh, vh = mom[i] / (1 - b1**t), vel[i] / (1 - b2**t)
      thetas[i] = thetas[i] - lr * mh / (np.sqrt(vh) + eps)
    tr, tp = thetas
    r, p = _cayley_ref(tr, k)[0], _cayley_ref(tp, k)[0]
    w = r @ w0 @ p
    rs.append((r, p))
    if t % merge_every == 0:
      w0, tr, tp = w, np.zeros_like(tr), np.zeros_like(tp)
    traj.append(w)
  return traj, rs


@pytest.mark.parametrize("neumann_terms", [None, 3])
def test_poet_matches_reference_across_a_merge(neumann_terms):
  w0, grads = _w0((4, 3), seed=5), _grads((4, 3), seed=6)
  hp = {"learning_rate": 0.05, "b1": 0.9, "b2": 0.99, "eps": 1e-8, "merge_every": 3}
  opt = baselines.get("poet", neumann_terms=neumann_terms, **hp)
  ref, _ = _poet_ref(w0, grads, hp["learning_rate"], 0.9, 0.99, 1e-8, 3, neumann_terms)
  _close(_mat_traj(opt, w0, grads), ref)
  assert not np.allclose(ref[-1], w0, atol=1e-2)  # it really moved


def test_poet_keeps_r_p_orthogonal_and_the_spectrum_fixed():
  from baselines.matrix._poet import cayley

  w0, grads = _w0((5, 4), seed=7), _grads((5, 4), seed=8, steps=7)
  opt = baselines.get("poet", learning_rate=0.1, merge_every=4)
  p = {"w": jnp.asarray(w0, jnp.float32), "b": jnp.zeros(3, jnp.float32)}
  state = opt.init(p)
  s0 = np.linalg.svd(w0, compute_uv=False)
  for t, g in enumerate(grads, start=1):
    u, state = opt.update({"w": jnp.asarray(g, jnp.float32), "b": jnp.ones(3)}, state, p)
    p = optax.apply_updates(p, u)
    inner = state.inner_states["matrix"].inner_state
    r = np.asarray(cayley(inner.theta_r["w"]), np.float64)
    q = np.asarray(cayley(inner.theta_p["w"]), np.float64)
    np.testing.assert_allclose(r.T @ r, np.eye(5), atol=1e-5)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    if t % 4 == 0:  # merged: R = P = I and W0 = W
      np.testing.assert_array_equal(r, np.eye(5))
      np.testing.assert_allclose(inner.w0["w"], p["w"], atol=1e-6)
    np.testing.assert_allclose(np.linalg.svd(p["w"], compute_uv=False), s0, rtol=1e-4)
  assert not np.allclose(p["w"], w0, atol=1e-2)


def test_poet_converges_on_a_quadratic_with_a_target_of_the_same_spectrum():
  # The generic harness's target (from W = 0) is unreachable: POET never changes singular
  # values. A target Qa W0 Qb (Qa, Qb orthogonal) is reachable.
  rng = np.random.default_rng(9)
  w0 = rng.normal(size=(4, 3))
  qa, _ = np.linalg.qr(rng.normal(size=(4, 4)))
  qb, _ = np.linalg.qr(rng.normal(size=(3, 3)))
  target = jnp.asarray(qa @ w0 @ qb, jnp.float32)
  loss = lambda p: 0.5 * jnp.sum((p["w"] - target) ** 2) + 0.5 * jnp.sum((p["b"] - 1.0) ** 2)
  opt = baselines.get("poet", learning_rate=0.03, merge_every=50)
  p = {"w": jnp.asarray(w0, jnp.float32), "b": jnp.zeros(3, jnp.float32)}

  def step(carry, _):
    p, s = carry
    u, s = opt.update(jax.grad(loss)(p), s, p)
    return (optax.apply_updates(p, u), s), None

  (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), None, length=300)
  init = float(loss({"w": jnp.asarray(w0, jnp.float32), "b": jnp.zeros(3)}))
  assert float(loss(p)) < 0.05 * init, (float(loss(p)), init)


def test_poet_vectors_go_to_adamw_and_bad_options_raise():
  p = {"w": jnp.ones((3, 4)), "b": jnp.linspace(-1.0, 1.0, 4)}
  g = {"w": jnp.ones((3, 4)), "b": jnp.asarray([0.3, -1.0, 2.0, 0.5])}
  opt = baselines.get("poet", learning_rate=0.01, fallback_learning_rate=0.03)
  u, _ = opt.update(g, opt.init(p), p)
  ref = optax.adamw(0.03, weight_decay=0.0)
  expected, _ = ref.update({"b": g["b"]}, ref.init({"b": p["b"]}), {"b": p["b"]})
  np.testing.assert_allclose(u["b"], expected["b"], rtol=1e-6)
  with pytest.raises(ValueError, match="merge_every"):
    baselines.get("poet", merge_every=0)
  with pytest.raises(ValueError, match="neumann_terms"):
    baselines.get("poet", neumann_terms=0)
