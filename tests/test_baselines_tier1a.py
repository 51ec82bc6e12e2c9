"""OPTIMIZERS.md T1-04 to T1-26 against small numpy references written from the papers.

Every project-written method runs a few steps on random gradients from nonzero parameters;
its updates must match an independent float64 numpy transcription of the paper's update rule
(float32 vs float64: rtol 1e-5). Optax-registered entries are checked to be optax's own
function with the registered defaults.
"""

import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines

NUM_STEPS = 6
RTOL, ATOL = 1e-5, 1e-7


def _problem(seed=0, num_steps=NUM_STEPS):
  rng = np.random.default_rng(seed)
  params = {"b": rng.normal(size=(5,)), "w": rng.normal(size=(3, 4))}
  params = {k: v.astype(np.float32) for k, v in params.items()}
  grads = [
    {
      k: (rng.normal(size=v.shape) * rng.uniform(0.1, 2.0)).astype(np.float32)
      for k, v in params.items()
    }
    for _ in range(num_steps)
  ]
  return params, grads


def _jax_updates(opt, params, grads):
  """The updates `opt` returns along the trajectory it drives itself."""
  p = {k: jnp.asarray(v) for k, v in params.items()}
  state = opt.init(p)
  out = []
  for g in grads:
    u, state = opt.update({k: jnp.asarray(v) for k, v in g.items()}, state, p)
    p = optax.apply_updates(p, u)
    out.append({k: np.asarray(v) for k, v in u.items()})
  return out


def _per_leaf(ref, params, grads, **hp):
  """Runs a per-tensor numpy reference `ref(p0, [g_t], **hp) -> [u_t]` on every leaf."""
  per = {
    k: ref(params[k].astype(np.float64), [g[k].astype(np.float64) for g in grads], **hp)
    for k in params
  }
  return [{k: per[k][t] for k in params} for t in range(len(grads))]


def _assert_close(got, want, rtol=RTOL, atol=ATOL, atol_scale=0.0):
  """Per step and leaf; `atol_scale` adds `atol_scale * max|want|` to the absolute tolerance."""
  assert len(got) == len(want)
  for t, (g, w) in enumerate(zip(got, want, strict=True)):
    for k in w:
      tol = atol + atol_scale * float(np.max(np.abs(w[k])))
      np.testing.assert_allclose(g[k], w[k], rtol=rtol, atol=tol, err_msg=f"step {t + 1}, {k}")


# --------------------------------------------------------------------------------------------
# numpy references, from the papers' equations.
# --------------------------------------------------------------------------------------------


def ref_triple_momentum(p0, grads, lr, kappa):
  rho = 1 - 1 / math.sqrt(kappa)
  alpha, beta = (1 + rho) * lr, rho**2 / (2 - rho)
  gamma = rho**2 / ((1 + rho) * (2 - rho))
  xi_prev, xi = p0.copy(), p0.copy()
  y, out = p0.copy(), []
  for g in grads:  # g is the gradient at y_k
    xi_new = (1 + beta) * xi - beta * xi_prev - alpha * g
    y_new = (1 + gamma) * xi_new - gamma * xi
    out.append(y_new - y)
    xi_prev, xi, y = xi, xi_new, y_new
  return out


def ref_adagrad_norm(params, grads, lr, b0):
  b_sq, out = b0**2, []
  for g in grads:
    b_sq += sum(float(np.sum(x.astype(np.float64) ** 2)) for x in g.values())
    out.append({k: -lr * x.astype(np.float64) / math.sqrt(b_sq) for k, x in g.items()})
  return out


def ref_adamnc(p0, grads, lr, b1, b1_decay, eps):
  m, v, out = np.zeros_like(p0), np.zeros_like(p0), []
  for t, g in enumerate(grads, start=1):
    b1t = b1 * b1_decay ** (t - 1)
    m = b1t * m + (1 - b1t) * g
    v = (1 - 1 / t) * v + g**2 / t
    out.append(-lr / math.sqrt(t) * m / (np.sqrt(v) + eps))
  return out


def ref_adabound(p0, grads, lr_fn, final_lr, b1, b2, eps, gamma, weight_decay, amsbound, clipped):
  # The authors' formulation: clip the absolute step size lr·√(1-β2^t)/(1-β1^t)/(√v+ε) into
  # [final_lr·(1 - 1/(γt+1)), final_lr·(1 + 1/(γt))], final_lr following the lr schedule.
  m, v, vmax, p, out = (np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0), p0.copy(), [])
  for t, g in enumerate(grads, start=1):
    g = g + weight_decay * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    vmax = np.maximum(vmax, v)
    lr = lr_fn(t - 1)
    fl = final_lr * lr / lr_fn(0)
    lower, upper = fl * (1 - 1 / (gamma * t + 1)), fl * (1 + 1 / (gamma * t))
    size = lr * math.sqrt(1 - b2**t) / (1 - b1**t) / (np.sqrt(vmax if amsbound else v) + eps)
    clipped.append(np.mean((size < lower) | (size > upper)))
    u = -np.clip(size, lower, upper) * m
    p = p + u
    out.append(u)
  return out


def ref_adamod(p0, grads, lr, b1, b2, b3, eps, used_ema):
  m, v, s, out = np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0), []
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    eta = lr / (np.sqrt(v_hat) + eps)
    s = b3 * s + (1 - b3) * eta
    used_ema.append(np.mean(s < eta))
    out.append(-np.minimum(eta, s) * m_hat)
  return out


def ref_adashift(p0, grads, lr, keep_num, b1, b2, eps, reduce):
  w = np.array([b1 ** (keep_num - 1 - i) for i in range(keep_num)])
  w = w / w.sum()
  phi = (lambda x: np.max(x)) if reduce == "max" else (lambda x: x)
  buf, v, k, out = [], 0.0, 0, []
  for g in grads:
    if len(buf) < keep_num:
      buf.append(g)
      out.append(np.zeros_like(g))
      continue
    oldest = buf.pop(0)
    buf.append(g)
    k += 1
    v = b2 * v + (1 - b2) * phi(oldest**2)
    m = sum(wi * gi for wi, gi in zip(w, buf, strict=True))
    out.append(-lr * m / (np.sqrt(v / (1 - b2**k)) + eps))
  return out


def ref_diffgrad(p0, grads, lr, b1, b2, eps):
  m, v, prev, out = np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0), []
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    xi = 1 / (1 + np.exp(-np.abs(prev - g)))
    out.append(-lr * xi * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps))
    prev = g
  return out


def ref_laprop(p0, grads, lr, b1, b2, eps):
  m, n, out = np.zeros_like(p0), np.zeros_like(p0), []
  for t, g in enumerate(grads, start=1):
    n = b2 * n + (1 - b2) * g**2
    m = b1 * m + (1 - b1) * g / (np.sqrt(n / (1 - b2**t)) + eps)
    out.append(-lr * m / (1 - b1**t))
  return out


def ref_adamomentum(p0, grads, lr, b1, b2, eps):
  m, v, out = np.zeros_like(p0), np.zeros_like(p0), []
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * m**2 + eps
    out.append(-lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps))
  return out


def ref_exadam(p0, grads, lr, b1, b2, eps, weight_decay):
  m, v, p, out = np.zeros_like(p0), np.zeros_like(p0), p0.copy(), []
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    d1 = 1 + v / (v + eps) * b2**t
    d2 = 1 + m**2 / (m**2 + eps) * b1**t
    m_t, v_t, g_t = m / (1 - b1**t) * d1, v / (1 - b2**t) * d2, g / (1 - b1**t) * d1
    alpha_t = lr * math.log(math.sqrt(2) * math.sqrt(t + 1))
    u = -alpha_t * (m_t + g_t) / (np.sqrt(v_t) + eps) - lr * weight_decay * p
    p = p + u
    out.append(u)
  return out


def ref_fadam(p0, grads, lr, b1, b2, eps, clip, weight_decay, clipped):
  m, v, p, out = np.zeros_like(p0), np.zeros_like(p0), p0.copy(), []
  rms = lambda x: math.sqrt(np.mean(x**2))
  for t, g in enumerate(grads, start=1):
    v = b2 * v + (1 - b2) * g**2
    fisher = v / (1 - b2**t)  # = the paper's ρ_t recursion
    nat = g / (np.sqrt(fisher) + eps)
    clipped.append(rms(nat) > clip)
    nat = nat / max(1.0, rms(nat) / clip)
    m = b1 * m + (1 - b1) * nat
    gw = p / (np.sqrt(fisher) + eps)
    gw = gw / max(1.0, rms(gw) / clip)
    u = -lr * (m + weight_decay * gw)
    p = p + u
    out.append(u)
  return out


def ref_sgdw(p0, grads, lr, momentum, weight_decay):
  m, p, out = np.zeros_like(p0), p0.copy(), []
  for g in grads:
    m = momentum * m + g
    u = -lr * (m + weight_decay * p)
    p = p + u
    out.append(u)
  return out


# --------------------------------------------------------------------------------------------
# Project-written methods.
# --------------------------------------------------------------------------------------------


def test_triple_momentum_matches_reference():
  params, grads = _problem()
  got = _jax_updates(baselines.get("triple_momentum", learning_rate=0.2, kappa=9.0), params, grads)
  _assert_close(got, _per_leaf(ref_triple_momentum, params, grads, lr=0.2, kappa=9.0))


def test_triple_momentum_with_kappa_one_is_gradient_descent():
  params, grads = _problem()
  got = _jax_updates(baselines.get("triple_momentum", learning_rate=0.3, kappa=1.0), params, grads)
  _assert_close(got, [{k: -0.3 * g[k] for k in g} for g in grads])


def test_adagrad_norm_matches_reference():
  params, grads = _problem()
  got = _jax_updates(baselines.get("adagrad_norm", learning_rate=0.5, b0=0.3), params, grads)
  _assert_close(got, ref_adagrad_norm(params, grads, lr=0.5, b0=0.3))


def test_adamnc_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b1_decay": 0.8, "eps": 1e-8}
  got = _jax_updates(baselines.get("adamnc", learning_rate=0.1, **hp), params, grads)
  _assert_close(got, _per_leaf(ref_adamnc, params, grads, lr=0.1, **hp))


@pytest.mark.parametrize("name", ["adabound", "amsbound"])
def test_adabound_matches_reference(name):
  params, grads = _problem()
  hp = {"final_lr": 0.05, "b1": 0.9, "b2": 0.9, "eps": 1e-8, "gamma": 0.2, "weight_decay": 0.01}
  clipped = []
  got = _jax_updates(baselines.get(name, learning_rate=0.03, **hp), params, grads)
  want = _per_leaf(
    ref_adabound,
    params,
    grads,
    lr_fn=lambda t: 0.03,
    amsbound=name == "amsbound",
    clipped=clipped,
    **hp,
  )
  _assert_close(got, want)
  assert 0 < np.mean(clipped) < 1  # both the bounds and the Adam step were exercised
  other = _jax_updates(
    baselines.get(({"adabound", "amsbound"} - {name}).pop(), learning_rate=0.03, **hp),
    params,
    grads,
  )
  assert not np.allclose(other[-1]["w"], got[-1]["w"])  # the running max of v mattered


def test_adabound_final_lr_follows_the_schedule():
  params, grads = _problem()
  schedule = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.7)
  hp = {"final_lr": 0.05, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "gamma": 0.2, "weight_decay": 0.0}
  got = _jax_updates(baselines.get("adabound", learning_rate=schedule, **hp), params, grads)
  want = _per_leaf(
    ref_adabound, params, grads, lr_fn=lambda t: 0.1 * 0.7**t, amsbound=False, clipped=[], **hp
  )
  _assert_close(got, want)


def test_adamod_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b2": 0.999, "b3": 0.9, "eps": 1e-8}
  used_ema = []
  got = _jax_updates(baselines.get("adamod", learning_rate=0.1, **hp), params, grads)
  _assert_close(got, _per_leaf(ref_adamod, params, grads, lr=0.1, used_ema=used_ema, **hp))
  assert np.mean(used_ema) > 0  # the momental bound was active


@pytest.mark.parametrize("reduce", ["max", "none"])
def test_adashift_matches_reference(reduce):
  params, grads = _problem(num_steps=8)
  hp = {"keep_num": 3, "b1": 0.8, "b2": 0.9, "eps": 1e-10, "reduce": reduce}
  got = _jax_updates(baselines.get("adashift", learning_rate=0.1, **hp), params, grads)
  want = _per_leaf(ref_adashift, params, grads, lr=0.1, **hp)
  _assert_close(got, want)
  assert np.all(got[2]["w"] == 0) and np.all(got[3]["w"] != 0)


def test_diffgrad_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b2": 0.999, "eps": 1e-8}
  opt = baselines.get("diffgrad", learning_rate=0.1, eps_after_correction=True, **hp)
  got = _jax_updates(opt, params, grads)
  _assert_close(got, _per_leaf(ref_diffgrad, params, grads, lr=0.1, **hp))


def test_laprop_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b2": 0.99, "eps": 1e-15}
  got = _jax_updates(baselines.get("laprop", learning_rate=0.1, **hp), params, grads)
  _assert_close(got, _per_leaf(ref_laprop, params, grads, lr=0.1, **hp))


def test_adamomentum_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b2": 0.999, "eps": 1e-8}
  got = _jax_updates(baselines.get("adamomentum", learning_rate=0.1, **hp), params, grads)
  _assert_close(got, _per_leaf(ref_adamomentum, params, grads, lr=0.1, **hp))


def test_exadam_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.1}
  got = _jax_updates(baselines.get("exadam", learning_rate=0.1, **hp), params, grads)
  _assert_close(got, _per_leaf(ref_exadam, params, grads, lr=0.1, **hp))


def test_fadam_matches_reference():
  params, grads = _problem()
  hp = {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "clip": 0.9, "weight_decay": 0.1}
  clipped = []
  got = _jax_updates(baselines.get("fadam", learning_rate=0.1, **hp), params, grads)
  want = _per_leaf(ref_fadam, params, grads, lr=0.1, clipped=clipped, **hp)
  # The momentum and the decay term nearly cancel in a few coordinates: float32 rounding
  # there is ~1e-5 of the update's scale, not of the (tiny) coordinate itself.
  _assert_close(got, want, atol_scale=1e-5)
  assert 0 < np.mean(clipped) < 1  # the natural-gradient clipping was exercised


def test_sgdw_decay_stays_out_of_the_momentum():
  params, grads = _problem()
  hp = {"momentum": 0.9, "weight_decay": 0.05}
  got = _jax_updates(baselines.get("sgdw", learning_rate=0.1, **hp), params, grads)
  _assert_close(got, _per_leaf(ref_sgdw, params, grads, lr=0.1, **hp))


@pytest.mark.parametrize(
  ("name", "bad"),
  [
    ("triple_momentum", {"kappa": 0.5}),
    ("adashift", {"reduce": "mean"}),
    ("adashift", {"keep_num": 0}),
    ("adabound", {"b2": 1.0}),
    ("fadam", {"clip": 0.0}),
    ("adagrad_norm", {"b0": 0.0}),
  ],
)
def test_bad_options_raise(name, bad):
  with pytest.raises(ValueError, match=next(iter(bad))):
    baselines.get(name, **bad)


# --------------------------------------------------------------------------------------------
# Registered from optax: the entry is optax's function with the registered defaults.
# --------------------------------------------------------------------------------------------

_OPTAX = {
  "adagrad": optax.adagrad,
  "rmsprop": optax.rmsprop,
  "adadelta": optax.adadelta,
  "adamax": optax.adamax,
  "nadam": optax.nadam,
  "amsgrad": optax.amsgrad,
  "yogi": optax.yogi,
  "radam": optax.radam,
  "adabelief": optax.adabelief,
}


@pytest.mark.parametrize("name", sorted(_OPTAX))
def test_optax_entries_are_optax(name):
  entry = baselines.entry(name)
  assert entry.factory is _OPTAX[name] and entry.source == "optax"
  params, grads = _problem(num_steps=3)
  got = _jax_updates(baselines.get(name), params, grads)
  _assert_close(got, _jax_updates(_OPTAX[name](**entry.defaults), params, grads), rtol=0, atol=0)


def test_amsgrad_defaults_are_the_papers_algorithm():
  # Algorithm 2 of Reddi et al.: no bias correction, v̂ = max(v̂, v), step α m / √v̂.
  params, grads = _problem()

  def ref(p0, gs, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m, v, vmax, out = np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0), []
    for g in gs:
      m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
      vmax = np.maximum(vmax, v)
      out.append(-lr * m / (np.sqrt(vmax) + eps))
    return out

  _assert_close(
    _jax_updates(baselines.get("amsgrad"), params, grads), _per_leaf(ref, params, grads)
  )


def test_rmsprop_default_puts_eps_outside_the_root():
  params, grads = _problem(num_steps=1)
  (u,) = _jax_updates(baselines.get("rmsprop", learning_rate=1.0, eps=0.5), params, grads)
  g = grads[0]["w"].astype(np.float64)
  np.testing.assert_allclose(u["w"], -g / (np.sqrt(0.1 * g**2) + 0.5), rtol=RTOL)
