"""Tier 4 (zeroth-order) methods against independent numpy references, plus unbiasedness.

The references are written from the papers' update rules in float64. The random draws are
jax's: a reference takes the perturbations (or uniforms) that `baselines.perturbation` and
`jax.random` draw from each step's key as inputs. The JAX code evaluates the loss in float32
at perturbations of size 0.1, so a finite difference carries a relative error of ~1e-6
(float32 rounding of a loss of size ~10, divided by 0.2): trajectories are compared with
rtol=1e-4, atol=1e-5 unless stated.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines
from baselines import perturbation
from baselines.zeroth_order._deepzero import coordinates
from baselines.zeroth_order._fipso import neighbours

SHAPES = {"b": (5,), "w": (3, 4)}
STEPS = 6
EPS = 0.1
KEYS = jax.random.split(jax.random.PRNGKey(42), STEPS)
_A = {k: np.linspace(0.5, 2.0, int(np.prod(s))).reshape(s) for k, s in SHAPES.items()}
_C = {k: np.cos(np.arange(np.prod(s))).reshape(s) for k, s in SHAPES.items()}


def loss_np(p):
  """A smooth non-quadratic loss (float64)."""
  return sum(np.sum(0.5 * _A[k] * (p[k] - _C[k]) ** 2 + 0.1 * p[k] ** 3) for k in SHAPES)


def loss_jax(p):
  return sum(
    jnp.sum(0.5 * jnp.asarray(_A[k], jnp.float32) * (p[k] - _C[k]) ** 2 + 0.1 * p[k] ** 3)
    for k in SHAPES
  )


def grad_np(p):
  return {k: _A[k] * (p[k] - _C[k]) + 0.3 * p[k] ** 2 for k in SHAPES}


def _params(seed=0):
  rng = np.random.default_rng(seed)
  return {k: rng.normal(size=s) * 0.5 for k, s in SHAPES.items()}


def _f32(tree):
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _np(tree):
  return jax.tree.map(lambda x: np.asarray(x, np.float64), tree)


def _copy(p):
  return {k: v.copy() for k, v in p.items()}


def _run(opt, params, grads=None, keys=KEYS):
  """`len(keys)` steps of `opt` (value_fn=loss_jax, a key per step); params after each."""
  p, state, out = _f32(params), opt.init(_f32(params)), []
  for t, k in enumerate(keys):
    g = _f32(grads[t]) if grads is not None else jax.tree.map(jnp.zeros_like, p)
    u, state = opt.update(g, state, p, value_fn=loss_jax, key=k)
    p = optax.apply_updates(p, u)
    out.append(_np(p))
  return out, state


def _check(got, want, rtol=1e-4, atol=1e-5):
  assert len(got) == len(want)
  for t, (a, b) in enumerate(zip(got, want, strict=True)):
    for k in SHAPES:
      np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=f"step {t + 1}, {k}")


def _spsa_np(p, z, eps=EPS):
  """(L(p + eps z) - L(p - eps z)) / (2 eps) * z, with z the unit-scale perturbation."""
  plus = {k: p[k] + eps * z[k] for k in SHAPES}
  minus = {k: p[k] - eps * z[k] for k in SHAPES}
  c = (loss_np(plus) - loss_np(minus)) / (2 * eps)
  return {k: c * z[k] for k in SHAPES}


def _z(key, p, std=1.0, distribution="gaussian"):
  """The jax draw the methods use, as float64 numpy (unit scale)."""
  return _np(perturbation.sample(key, _f32(p), std, distribution))


# ------------------------------------------------------------------ shared estimator


def test_two_point_estimate_single_query_is_the_mezo_formula():
  p = _params()
  got = _np(perturbation.two_point_estimate(loss_jax, _f32(p), KEYS[0], EPS))
  want = _spsa_np(p, _z(KEYS[0], p))
  for k in SHAPES:
    np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ MeZO and ZO-Bench (T4-01..05)


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
def test_mezo_matches_numpy(distribution):
  lr, wd = 0.05, 0.1
  opt = baselines.get("mezo", learning_rate=lr, eps=EPS, weight_decay=wd, distribution=distribution)
  got, _ = _run(opt, _params())
  p, want = _params(), []
  for k_t in KEYS:
    z = _z(k_t, p, 1.0, distribution)
    g = _spsa_np(p, z)
    # MeZO's code decays neither biases nor normalization parameters (ndim < 2 here).
    p = {k: p[k] - lr * (g[k] + (wd * p[k] if p[k].ndim >= 2 else 0.0)) for k in SHAPES}
    want.append(_copy(p))
  _check(got, want)


def test_mezo_num_queries_averages_fold_in_keys():
  lr, q = 0.05, 3
  got, _ = _run(baselines.get("mezo", learning_rate=lr, eps=EPS, num_queries=q), _params())
  p, want = _params(), []
  for k_t in KEYS:
    gs = [_spsa_np(p, _z(jax.random.fold_in(k_t, i), p)) for i in range(q)]
    p = {k: p[k] - lr * sum(g[k] for g in gs) / q for k in SHAPES}
    want.append(_copy(p))
  _check(got, want)


def test_mezo_ignores_the_gradient():
  opt = baselines.get("mezo", learning_rate=0.05, eps=EPS)
  rng = np.random.default_rng(3)
  grads = [{k: rng.normal(size=s) for k, s in SHAPES.items()} for _ in KEYS]
  a, _ = _run(opt, _params(), grads)
  b, _ = _run(opt, _params())
  _check(a, b, rtol=0, atol=0)


def test_zo_sgd_momentum_matches_numpy():
  lr, beta = 0.02, 0.9
  got, _ = _run(
    baselines.get("zo_sgd_momentum", learning_rate=lr, momentum=beta, eps=EPS), _params()
  )
  p, m, want = _params(), {k: np.zeros(s) for k, s in SHAPES.items()}, []
  for k_t in KEYS:
    g = _spsa_np(p, _z(k_t, p))
    m = {k: beta * m[k] + g[k] for k in SHAPES}
    p = {k: p[k] - lr * m[k] for k in SHAPES}
    want.append(_copy(p))
  _check(got, want)


def test_zo_sgd_sign_matches_numpy():
  lr = 0.05
  got, _ = _run(baselines.get("zo_sgd_sign", learning_rate=lr, eps=EPS), _params())
  p, want = _params(), []
  for k_t in KEYS:
    g = _spsa_np(p, _z(k_t, p))
    p = {k: p[k] - lr * np.sign(g[k]) for k in SHAPES}
    want.append(_copy(p))
  _check(got, want)


def test_zo_adam_matches_numpy():
  lr, b1, b2, ae = 0.05, 0.9, 0.999, 1e-8
  got, _ = _run(baselines.get("zo_adam", learning_rate=lr, eps=EPS), _params())
  p, want = _params(), []
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  for t, k_t in enumerate(KEYS, start=1):
    g = _spsa_np(p, _z(k_t, p))
    for k in SHAPES:
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
      p[k] = p[k] - lr * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + ae)
    want.append(_copy(p))
  # atol: Adam's float32 bias correction 1 - b2**t (as optax computes it), see tier-5 tests.
  _check(got, want, atol=2e-5)


def test_zo_sgd_cons_matches_numpy_and_never_increases_the_loss():
  lr = 0.1  # large enough that some candidate steps are rejected (steps 1 and 6)
  got, _ = _run(baselines.get("zo_sgd_cons", learning_rate=lr, eps=EPS), _params())
  p, want, choices = _params(), [], set()
  for k_t in KEYS:
    g = _spsa_np(p, _z(k_t, p))
    cands = [p, {k: p[k] - lr * g[k] for k in SHAPES}, {k: p[k] + lr * g[k] for k in SHAPES}]
    i = int(np.argmin([loss_np(c) for c in cands]))
    choices.add(i)
    p = _copy(cands[i])
    want.append(_copy(p))
  _check(got, want)
  losses = [loss_np(_params())] + [loss_np(x) for x in got]
  assert all(b <= a + 1e-5 for a, b in itertools.pairwise(losses))
  assert len(choices) > 1  # the test exercises more than one branch


# ------------------------------------------------------------------ forward gradient (T4-06)


def test_forward_gradient_matches_numpy():
  lr = 0.05
  got, _ = _run(baselines.get("forward_gradient_sgd", learning_rate=lr), _params())
  p, want = _params(), []
  for k_t in KEYS:
    v, g = _z(k_t, p), grad_np(p)
    dd = sum(np.sum(g[k] * v[k]) for k in SHAPES)
    p = {k: p[k] - lr * dd * v[k] for k in SHAPES}
    want.append(_copy(p))
  _check(got, want, rtol=1e-5)  # exact JVP: no finite difference


# ------------------------------------------------------------------ block-wise, hybrid, sparse


def test_zo_sgd_blockwise_matches_numpy():
  lr = 0.05
  got, _ = _run(baselines.get("zo_sgd_blockwise", learning_rate=lr, eps=EPS), _params())
  p, want = _params(), []
  order = sorted(SHAPES)  # jax.tree order of a dict: sorted keys
  for k_t in KEYS:
    new = _copy(p)
    for b, name in enumerate(order):
      zb = np.asarray(
        perturbation.sample(jax.random.fold_in(k_t, b), jnp.zeros(SHAPES[name]), 1.0), np.float64
      )
      plus, minus = _copy(p), _copy(p)
      plus[name], minus[name] = p[name] + EPS * zb, p[name] - EPS * zb
      c = (loss_np(plus) - loss_np(minus)) / (2 * EPS)
      new[name] = p[name] - lr * c * zb
    p = new
    want.append(_copy(p))
  _check(got, want)


def test_zo_sgd_hybrid_matches_numpy():
  lr = 0.05
  rng = np.random.default_rng(7)
  p, want, grads = _params(), [], []
  opt = baselines.get(
    "zo_sgd_hybrid", learning_rate=lr, eps=EPS, first_order={"b": False, "w": True}
  )
  for k_t in KEYS:
    g_true = grad_np(p)
    # The gradient passed in is exact on w; garbage on b (ZO leaves ignore it).
    grads.append({"w": g_true["w"], "b": rng.normal(size=SHAPES["b"]) * 100})
    zb = _np(perturbation.sample(k_t, [jnp.zeros(SHAPES["b"])], 1.0))[0]
    plus, minus = _copy(p), _copy(p)
    plus["b"], minus["b"] = p["b"] + EPS * zb, p["b"] - EPS * zb
    c = (loss_np(plus) - loss_np(minus)) / (2 * EPS)
    p = {"w": p["w"] - lr * g_true["w"], "b": p["b"] - lr * c * zb}
    want.append(_copy(p))
  got, _ = _run(opt, _params(), grads)
  _check(got, want)


@pytest.mark.parametrize("mask", ["random", "magnitude"])
def test_zo_sgd_sparse_matches_numpy(mask):
  lr, density = 0.05, 0.4
  opt = baselines.get("zo_sgd_sparse", learning_rate=lr, density=density, mask=mask, eps=EPS)
  got, _ = _run(opt, _params())
  p, want, sizes = _params(), [], []
  for k_t in KEYS:
    k_mask, k_z = jax.random.split(k_t)
    if mask == "random":
      m = _np(perturbation.random_mask(k_mask, _f32(p), density))
    else:
      m = {k: (np.abs(p[k]) <= np.quantile(np.abs(p[k]), density)).astype(float) for k in SHAPES}
    z = _z(k_z, p)
    g = _spsa_np(p, {k: m[k] * z[k] for k in SHAPES})
    sizes.append(sum(m[k].sum() for k in SHAPES))
    p = {k: p[k] - lr * g[k] for k in SHAPES}
    want.append(_copy(p))
  # magnitude: the quantile is taken of float32 |theta| in JAX; ties are measure-zero here.
  _check(got, want)
  assert 0 < np.mean(sizes) < 17  # sparse, not empty


# ------------------------------------------------------------------ ZO-AdaMU (T4-10)


def test_zo_adamu_matches_numpy():
  lr, alpha, b1, b2, delta = 0.05, 0.5, 0.9, 0.99, 1e-8
  got, _ = _run(
    baselines.get("zo_adamu", learning_rate=lr, eps=EPS, alpha=alpha, b1=b1, b2=b2), _params()
  )
  p, want = _params(), []
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  for t, k_t in enumerate(KEYS):
    u = _z(k_t, p)
    a = alpha if t > 0 else 0.0
    if t > 0:
      z = {
        k: a * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + delta)
        + np.sqrt(1 - a**2) * u[k]
        for k in SHAPES
      }
    else:
      z = u
    g = _spsa_np(p, z)
    for k in SHAPES:
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
    p = {k: p[k] - lr * g[k] for k in SHAPES}
    want.append(_copy(p))
  _check(got, want, rtol=2e-4)


# ------------------------------------------------------------------ DeepZero (T4-11, T4-12)


@pytest.mark.parametrize("density", [1.0, 0.3])
def test_deepzero_matches_numpy(density):
  lr, mu, beta = 0.05, EPS, 0.9
  opt = baselines.get("deepzero", learning_rate=lr, mu=mu, density=density, momentum=beta)
  got, _ = _run(opt, _params())
  p, want = _params(), []
  mom = {k: np.zeros(s) for k, s in SHAPES.items()}
  order, sizes = sorted(SHAPES), [int(np.prod(SHAPES[k])) for k in sorted(SHAPES)]
  for k_t in KEYS:
    idx = np.asarray(coordinates(k_t, _f32(p), density))
    assert len(idx) == (17 if density == 1.0 else round(0.3 * 5) + round(0.3 * 12))
    flat = np.concatenate([p[k].ravel() for k in order])
    unflat = lambda x: {
      k: x[o : o + n].reshape(SHAPES[k])
      for k, o, n in zip(order, np.cumsum([0, *sizes[:-1]]), sizes, strict=True)
    }
    g, f0 = np.zeros_like(flat), loss_np(p)
    for i in idx:
      e = flat.copy()
      e[i] += mu
      g[i] = (loss_np(unflat(e)) - f0) / mu
    g = unflat(g)
    mom = {k: beta * mom[k] + g[k] for k in SHAPES}
    p = {k: p[k] - lr * mom[k] for k in SHAPES}
    want.append(_copy(p))
  _check(got, want, rtol=2e-4, atol=3e-5)  # forward differences: one-sided, mu = 0.1


# ------------------------------------------------------------------ QuZO (T4-13)


def _sr_np(x, u, bits):
  levels = 2.0 ** (bits - 1) - 1
  s = max(np.max(np.abs(x)), 1e-30) / levels
  y = x / s
  lo = np.floor(y)
  return np.clip(lo + (u < y - lo), -levels, levels) * s


def test_quzo_matches_numpy():
  lr, bits = 0.05, 4
  got, _ = _run(baselines.get("quzo", learning_rate=lr, bits=bits, eps=EPS), _params())
  p, want, order = _params(), [], sorted(SHAPES)
  for k_t in KEYS:
    k_z, k_1, k_2 = jax.random.split(k_t, 3)
    z = _z(k_z, p)

    def q(k_r, z=z):
      ks = jax.random.split(k_r, len(order))
      return {
        n: _sr_np(z[n], np.asarray(jax.random.uniform(ks[i], SHAPES[n])), bits)
        for i, n in enumerate(order)
      }

    z1, z2 = q(k_1), q(k_2)
    assert any(np.any(z1[n] != z2[n]) for n in order)  # two independent roundings
    plus = {k: p[k] + EPS * z1[k] for k in SHAPES}
    minus = {k: p[k] - EPS * z1[k] for k in SHAPES}
    c = (loss_np(plus) - loss_np(minus)) / (2 * EPS)
    p = {k: p[k] - lr * c * z2[k] for k in SHAPES}
    want.append(_copy(p))
  _check(got, want)


# ------------------------------------------------------------------ population methods


def test_cbo_matches_numpy():
  dt, n, alpha, lam, sigma = 0.2, 8, 5.0, 1.0, 0.7
  opt = baselines.get("cbo", learning_rate=dt, num_particles=n, alpha=alpha, lam=lam, sigma=sigma)
  x = _np(opt.init(_f32(_params()))[0].particles)
  got, _ = _run(opt, _params())
  want = []
  for k_t in KEYS:
    xi = _np(perturbation.sample(k_t, _f32(x), 1.0))
    f = np.array([loss_np({k: x[k][i] for k in SHAPES}) for i in range(n)])
    w = np.exp(-alpha * (f - f.min()))
    w /= w.sum()
    v = {k: np.tensordot(w, x[k], axes=1) for k in SHAPES}
    x = {
      k: x[k] - lam * dt * (x[k] - v[k]) + sigma * np.sqrt(dt) * np.abs(x[k] - v[k]) * xi[k]
      for k in SHAPES
    }
    want.append(v)
  _check(got, want, rtol=1e-4, atol=2e-5)


def test_adam_fipso_matches_numpy():
  lr, n, chi, phi, b1, b2, ae = 0.05, 5, 0.7298, 4.1, 0.9, 0.999, 1e-8
  opt = baselines.get("adam_fipso", learning_rate=lr, num_particles=n, topology="ring")
  x = _np(opt.init(_f32(_params()))[0].positions)
  a = neighbours(n, "ring")
  vel = {k: np.zeros_like(x[k]) for k in SHAPES}
  best, best_f = _copy(x), np.full(n, np.inf)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  theta, want, grads, accepted = _params(), [], [], 0
  order = sorted(SHAPES)
  for t, k_t in enumerate(KEYS, start=1):
    g = grad_np(theta)
    grads.append(g)
    f = np.array([loss_np({k: x[k][i] for k in SHAPES}) for i in range(n)])
    imp = f < best_f
    for k in SHAPES:
      best[k] = np.where(imp.reshape((-1,) + (1,) * (x[k].ndim - 1)), x[k], best[k])
    best_f = np.where(imp, f, best_f)
    for k in SHAPES:
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
    cand = {
      k: theta[k] - lr * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + ae) for k in SHAPES
    }
    gi = int(np.argmin(best_f))
    if loss_np(cand) < best_f[gi]:
      accepted += 1
      for k in SHAPES:
        best[k][gi] = cand[k]
      best_f[gi] = loss_np(cand)
    ks = jax.random.split(k_t, len(order))
    for i, k in enumerate(order):
      r = np.asarray(jax.random.uniform(ks[i], (n, n, *SHAPES[k])), np.float64)
      r = r * (phi / a.sum(1)).reshape((-1, 1) + (1,) * len(SHAPES[k]))
      r = r * a.reshape(a.shape + (1,) * len(SHAPES[k]))
      pull = np.sum(r * (best[k][None] - x[k][:, None]), axis=1)
      vel[k] = chi * (vel[k] + pull)
      x[k] = x[k] + vel[k]
    gi = int(np.argmin(best_f))
    theta = {k: best[k][gi].copy() for k in SHAPES}
    want.append(_copy(theta))
  got, _ = _run(opt, _params(), grads)
  _check(got, want)
  assert accepted > 0  # the Adam correction was exercised


# ------------------------------------------------------------------ unbiasedness


def _quadratic_setup():
  # f(x) = 1/2 sum a x^2 + b x: its Gaussian-smoothed gradient equals its gradient a x + b.
  a = {k: np.linspace(0.5, 2.0, int(np.prod(s))).reshape(s) for k, s in SHAPES.items()}
  b = {k: np.sin(np.arange(np.prod(s))).reshape(s) for k, s in SHAPES.items()}
  f = lambda p: sum(jnp.sum(0.5 * a[k] * p[k] ** 2 + b[k] * p[k]) for k in SHAPES)
  x = _params(5)
  return f, _f32(x), {k: a[k] * x[k] + b[k] for k in SHAPES}


@pytest.mark.parametrize(
  ("name", "hparams", "factor"),
  [
    ("mezo", {"eps": 0.3}, 1.0),
    ("mezo", {"eps": 0.3, "distribution": "rademacher"}, 1.0),
    ("mezo", {"eps": 0.3, "num_queries": 4}, 1.0),
    ("forward_gradient_sgd", {}, 1.0),
    ("zo_sgd_blockwise", {"eps": 0.3}, 1.0),
    ("quzo", {"eps": 0.3, "bits": 4}, 1.0),
    ("zo_sgd_sparse", {"eps": 0.3, "density": 0.5}, 0.5),
  ],
)
def test_estimator_is_unbiased_on_a_quadratic(name, hparams, factor):
  """Mean over 20000 keys within 4 standard errors of factor * gradient, per coordinate.

  Power check: the same criterion rejects 0.9x the true mean for some coordinate, so a
  10% bias (or a wrong sign, scale or mask) would fail.
  """
  f, x, grad = _quadratic_setup()
  # learning_rate = -1 turns the update into the estimate itself.
  opt = baselines.get(name, learning_rate=-1.0, **hparams)
  state = opt.init(x)
  zeros = jax.tree.map(jnp.zeros_like, x)
  est = jax.jit(jax.vmap(lambda k: opt.update(zeros, state, x, value_fn=f, key=k)[0]))(
    jax.random.split(jax.random.PRNGKey(1), 20000)
  )
  rejected_biased = False
  for k in SHAPES:
    e = np.asarray(est[k], np.float64)
    mean, se = e.mean(0), e.std(0) / np.sqrt(len(e))
    np.testing.assert_array_less(np.abs(mean - factor * grad[k]), 4 * se + 1e-6, err_msg=k)
    rejected_biased |= bool(np.any(np.abs(mean - 0.9 * factor * grad[k]) > 4 * se))
  assert rejected_biased


# ------------------------------------------------------------------ registry and errors


def test_every_tier4_id_is_registered():
  ids = {i for e in baselines.entries() for i in e.ids if i.startswith("T4-")}
  assert ids == {f"T4-{i:02d}" for i in range(1, 19)}
  for name in ("zo2", "zeroflow"):
    e = baselines.entry(name)
    assert e.status == "not-applicable" and e.reason


def test_zo_methods_fail_clearly_without_value_fn_or_key():
  opt = baselines.get("mezo", learning_rate=0.1)
  p = _f32(_params())
  with pytest.raises(ValueError, match="value_fn"):
    opt.update(p, opt.init(p), p, key=KEYS[0])
  with pytest.raises(ValueError, match="Unknown distribution"):
    baselines.get("mezo", learning_rate=0.1, distribution="uniform")
  with pytest.raises(ValueError, match="Unknown mask"):
    baselines.get("zo_sgd_sparse", learning_rate=0.1, mask="topk")
