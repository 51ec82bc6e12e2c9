"""Tier-1 methods T1-27..T1-46: project-written rules against numpy references of the papers'
equations, optax-shipped ones against optax called directly.

Each reference below is written from the update rule (not by calling the JAX code) and run
in float64 on random per-step gradients from nonzero parameters; the JAX optimizer runs in
float32, hence rtol=1e-5 (atol covers entries that pass near zero).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines

STEPS = 8
RTOL, ATOL = 1e-5, 1e-6


def _params0(seed=0):
  rng = np.random.default_rng(seed)
  return {"b": rng.normal(size=4), "w": rng.normal(size=(3, 4))}


def _grads(seed=1, steps=STEPS, scale=1.0):
  rng = np.random.default_rng(seed)
  return [
    {"b": scale * rng.normal(size=4), "w": scale * rng.normal(size=(3, 4))} for _ in range(steps)
  ]


def _to_jax(tree):
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _run(opt, params, grads, extra=None):
  """Applies `opt` along a fixed gradient sequence; the parameters after each step."""
  opt = optax.with_extra_args_support(opt)
  update = jax.jit(opt.update)
  p = _to_jax(params)
  state = opt.init(p)
  out = []
  for k, g in enumerate(grads):
    kwargs = extra(k, p) if extra else {}
    u, state = update(_to_jax(g), state, p, **kwargs)
    p = optax.apply_updates(p, u)
    out.append(jax.tree.map(np.asarray, p))
  return out


def _close(jax_traj, ref_traj, rtol=RTOL, atol=ATOL):
  assert len(jax_traj) == len(ref_traj)
  for k, (a, b) in enumerate(zip(jax_traj, ref_traj, strict=True)):
    for name in b:
      np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=f"step {k + 1}")


def _ref(params, grads, step_fn, state_fn):
  """Runs a per-tensor numpy reference: `step_fn(name, p, g, state, t) -> (p, state)`."""
  p = {k: v.copy() for k, v in params.items()}
  states = {k: state_fn(v) for k, v in p.items()}
  traj = []
  for t, g in enumerate(grads, start=1):
    for name in p:
      p[name], states[name] = step_fn(name, p[name], g[name], states[name], t)
    traj.append({k: v.copy() for k, v in p.items()})
  return traj


# --------------------------------------------------------------------------------------------
# Project-written methods.
# --------------------------------------------------------------------------------------------


def _adam_moments(s, g, b1, b2, t):
  s["m"] = b1 * s["m"] + (1 - b1) * g
  s["v"] = b2 * s["v"] + (1 - b2) * g * g
  return s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)


def _mv(p):
  return {"m": np.zeros_like(p), "v": np.zeros_like(p)}


def test_grams_matches_reference():
  lr, b1, b2, eps, wd = 1e-2, 0.9, 0.999, 1e-8, 0.1
  params, grads = _params0(), _grads()

  def step(name, p, g, s, t):
    mh, vh = _adam_moments(s, g, b1, b2, t)
    u = mh / (np.sqrt(vh) + eps)
    return p - lr * (np.sign(g) * np.abs(u) + wd * p), s

  opt = baselines.get(
    "grams", learning_rate=lr, weight_decay=wd, eps=eps, eps_after_correction=True
  )
  _close(_run(opt, params, grads), _ref(params, grads, step, _mv))


def test_adam_atan2_matches_reference():
  lr, b1, b2, a, b, wd = 1e-2, 0.9, 0.95, 1.27, 2.0, 0.1
  params, grads = _params0(), _grads()

  def step(name, p, g, s, t):
    mh, vh = _adam_moments(s, g, b1, b2, t)
    return p - lr * (a * np.arctan2(mh, b * np.sqrt(vh)) + wd * p), s

  opt = baselines.get("adam_atan2", learning_rate=lr, b2=b2, a=a, b=b, weight_decay=wd)
  _close(_run(opt, params, grads), _ref(params, grads, step, _mv))


def test_complex_momentum_matches_reference():
  lr, beta = 0.05, 0.9 * np.exp(1j * np.pi / 8)
  params, grads = _params0(), _grads()

  def step(name, p, g, s, t):
    s["mu"] = beta * s["mu"] - g
    return p + lr * np.real(s["mu"]), s

  opt = baselines.get("complex_momentum", learning_rate=lr)
  traj = _ref(params, grads, step, lambda p: {"mu": np.zeros(p.shape, complex)})
  _close(_run(opt, params, grads), traj)
  # A real coefficient is heavy-ball momentum; the complex one must differ from it.
  real = _run(baselines.get("complex_momentum", learning_rate=lr, beta_arg=0.0), params, grads)
  assert not np.allclose(real[-1]["w"], traj[-1]["w"], rtol=1e-3)


def test_gravity_matches_reference():
  lr, alpha, beta = 0.1, 0.01, 0.9
  params, grads = _params0(), _grads()
  opt = baselines.get("gravity", learning_rate=lr, alpha=alpha, beta=beta)
  # The initial velocity is a seeded random draw of the optimizer; the reference starts from it.
  v0 = jax.tree.map(np.asarray, opt.init(_to_jax(params))[0].velocity)

  def step(name, p, g, s, t):
    big = np.max(np.abs(g))
    zeta = g / (1 + (big * g) ** 2)
    bt = (beta * t + 1) / (t + 2)
    s["v"] = bt * s["v"] + (1 - bt) * zeta
    return p - lr * s["v"], s

  p = {k: v.copy() for k, v in params.items()}
  vel = {k: v0[k].astype(np.float64) for k in p}
  traj = []
  for t, g in enumerate(grads):  # t: the steps before (the authors' Keras `iterations`)
    for name in p:
      s = {"v": vel[name]}
      p[name], s = step(name, p[name], g[name], s, t)
      vel[name] = s["v"]
    traj.append({k: v.copy() for k, v in p.items()})
  _close(_run(opt, params, grads), traj)
  # The initial velocity has standard deviation alpha / lr.
  big = opt.init({"x": jnp.zeros((200, 200))})[0].velocity["x"]
  assert abs(float(jnp.std(big)) - alpha / lr) < 0.01 * alpha / lr


def test_sgd_sai_matches_reference():
  lr, mom, eps, wd = 1e-2, 0.9, 1e-8, 1e-2
  params, grads = _params0(), _grads()
  grads[0]["b"] = np.full(4, 0.7)  # constant first gradient: std 0, scale = ||g||

  def step(name, p, g, s, t):
    if t == 1:
      std = np.std(g, ddof=1)
      s["snr"] = np.linalg.norm(g) / (std + eps) if std > 0 else np.linalg.norm(g)
      s["m"] = g
    else:
      s["m"] = mom * s["m"] + (1 - mom) * g
    return p - lr * (s["snr"] * s["m"] + wd * p), s

  opt = baselines.get("sgd_sai", learning_rate=lr, momentum=mom, weight_decay=wd)
  _close(_run(opt, params, grads), _ref(params, grads, step, lambda p: {}))


def test_spam_matches_reference():
  lr, b1, b2, eps, wd = 1e-2, 0.9, 0.999, 1e-6, 0.1
  theta, reset, warm, delay = 2.0, 4, 3, 2
  params, grads = _params0(), _grads(steps=11)
  hits = []

  def step(name, p, g, s, t):
    if t % reset == 0:
      s["m"], s["v"] = np.zeros_like(p), np.zeros_like(p)
    if t >= delay and t % reset >= delay:
      spike = g * g > theta * s["v"]
      hits.append(spike.sum())
      g = np.where(spike, np.sign(g) * np.sqrt(theta * s["v"]), g)
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g * g
    c = t % reset if t >= reset else math.inf
    w = 1 - 0.99 * (1 + math.cos(math.pi * c / (warm + 1))) / 2 if c < warm else 1.0
    u = math.sqrt(1 - b2**t) / (1 - b1**t) * s["m"] / (np.sqrt(s["v"]) + eps)
    return p - lr * (w * u + wd * p), s

  opt = baselines.get(
    "spam",
    learning_rate=lr,
    eps=eps,
    weight_decay=wd,
    spike_threshold=theta,
    reset_interval=reset,
    warmup_steps=warm,
    clip_delay=delay,
  )
  traj = _ref(params, grads, step, _mv)
  assert sum(hits) > 0  # the sequence exercises the clipping
  _close(_run(opt, params, grads), traj)


def _adamp_project(p, g, step, delta, eps):
  """AdamP's projection, from the paper: channel view (one row per output channel: the last
  axis of our `(in, out)` kernels), then layer view."""
  if p.ndim <= 1:
    return step, False
  for rows in (p.shape[-1], 1):
    pv, gv, sv = (x.T.reshape(rows, -1) for x in (p, g, step))
    cos = np.abs(np.sum(pv * gv, 1)) / (
      np.maximum(np.linalg.norm(pv, axis=1), eps) * np.maximum(np.linalg.norm(gv, axis=1), eps)
    )
    if cos.max() < delta / math.sqrt(pv.shape[1]):
      pn = pv / (np.linalg.norm(pv, axis=1, keepdims=True) + eps)
      return (sv - pn * np.sum(pn * sv, 1, keepdims=True)).reshape(p.T.shape).T, True
  return step, False


def _scale_invariant_grads(params, steps=STEPS):
  """Random gradients; on even steps the matrix gradient is orthogonal to each output
  channel (column) of w0."""
  grads = _grads(steps=steps)
  w = params["w"]
  for k in range(0, steps, 2):
    g = grads[k]["w"]
    grads[k]["w"] = g - w * np.sum(w * g, 0, keepdims=True) / np.sum(w * w, 0, keepdims=True)
  return grads


def test_adamp_matches_reference():
  lr, b1, b2, eps, wd, delta, ratio = 1e-3, 0.9, 0.999, 1e-8, 0.5, 0.1, 0.1
  params = _params0()
  grads = _scale_invariant_grads(params)
  projected = []

  def step(name, p, g, s, t):
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g * g
    perturb = s["m"] / (np.sqrt(s["v"] / (1 - b2**t)) + eps)
    perturb, hit = _adamp_project(p, g, perturb, delta, eps)
    projected.append(hit)
    decay = wd * (ratio if hit else 1.0)
    return p - lr * (perturb / (1 - b1**t) + decay * p), s

  opt = baselines.get("adamp", learning_rate=lr, weight_decay=wd)
  traj = _ref(params, grads, step, _mv)
  assert any(projected) and not all(projected)
  _close(_run(opt, params, grads), traj)


def test_sgdp_matches_reference():
  lr, mom, eps, wd, delta, ratio = 1e-2, 0.9, 1e-8, 0.5, 0.1, 0.1
  params = _params0()
  grads = _scale_invariant_grads(params)
  projected = []

  def step(name, p, g, s, t):
    s["b"] = mom * s["b"] + g
    d = g + mom * s["b"]  # Nesterov
    d, hit = _adamp_project(p, g, d, delta, eps)
    projected.append(hit)
    decay = wd * (ratio if hit else 1.0) / (1 - mom)
    return p - lr * (d + decay * p), s

  opt = baselines.get("sgdp", learning_rate=lr, weight_decay=wd, nesterov=True)
  traj = _ref(params, grads, step, lambda p: {"b": np.zeros_like(p)})
  assert any(projected)
  _close(_run(opt, params, grads), traj)


def _batches(steps=STEPS, seed=2):
  """Per-step quadratic losses f_k(p) = 1 + sum_x 0.5 * a_k (x - c_k)^2 (positive everywhere)."""
  rng = np.random.default_rng(seed)
  shapes = {"b": (4,), "w": (3, 4)}
  return [
    {n: (rng.uniform(0.5, 2.0, s), rng.normal(size=s)) for n, s in shapes.items()}
    for _ in range(steps)
  ]


def _batch_loss(batch):
  def loss(p):
    return 1.0 + sum(0.5 * jnp.sum(a * (p[n] - c) ** 2) for n, (a, c) in batch.items())

  return loss


def _batch_grad_np(batch, p):
  return {n: a * (p[n] - c) for n, (a, c) in batch.items()}


@pytest.mark.parametrize("base", ["adamw", "lion"])
def test_mars_approx_matches_reference(base):
  lr, b1, b2, eps, gamma, wd = 1e-2, 0.9, 0.99, 1e-8, 0.05, 0.1
  params = _params0()
  grads = _grads(steps=STEPS)
  for k in range(STEPS):  # some steps below the unit-norm clip, some above
    if k % 3:
      grads[k] = jax.tree.map(lambda x: 0.02 * x, grads[k])
  norms = []

  def step(name, p, g, s, t):
    c = g + gamma * b1 / (1 - b1) * (g - s["prev"])
    norms.append(np.linalg.norm(c))
    c = c / max(1.0, np.linalg.norm(c))
    s["prev"] = g
    s["m"] = b1 * s["m"] + (1 - b1) * c
    if base == "adamw":
      s["v"] = b2 * s["v"] + (1 - b2) * c * c
      d = (s["m"] / (1 - b1**t)) / (np.sqrt(s["v"] / (1 - b2**t)) + eps)
    else:
      d = np.sign(s["m"])
    return p - lr * (d + wd * p), s

  hp = {"learning_rate": lr, "b1": b1, "gamma": gamma, "weight_decay": wd, "optimize_1d": True}
  if base == "adamw":
    opt = baselines.get("mars_adamw", b2=b2, **hp)
  else:
    opt = baselines.get("mars_lion", **hp)
  traj = _ref(params, grads, step, lambda p: {**_mv(p), "prev": np.zeros_like(p)})
  assert min(norms) < 1.0 < max(norms)
  _close(_run(opt, params, grads), traj)


def test_mars_exact_matches_reference():
  lr, b1, b2, eps, gamma = 1e-2, 0.95, 0.99, 1e-8, 0.025
  params, batches = _params0(), _batches()
  p = {k: v.copy() for k, v in params.items()}
  prev = {k: v.copy() for k, v in params.items()}
  s = {k: _mv(v) for k, v in p.items()}
  traj, grads = [], []
  for t, batch in enumerate(batches, start=1):
    g, gp = _batch_grad_np(batch, p), _batch_grad_np(batch, prev)
    grads.append(g)
    prev = {k: v.copy() for k, v in p.items()}
    for n in p:
      c = g[n] + gamma * b1 / (1 - b1) * (g[n] - gp[n])
      c = c / max(1.0, np.linalg.norm(c))
      s[n]["m"] = b1 * s[n]["m"] + (1 - b1) * c
      s[n]["v"] = b2 * s[n]["v"] + (1 - b2) * c * c
      d = (s[n]["m"] / (1 - b1**t)) / (np.sqrt(s[n]["v"] / (1 - b2**t)) + eps)
      p[n] = p[n] - lr * d
    traj.append({k: v.copy() for k, v in p.items()})

  opt = baselines.get("mars_adamw_exact", learning_rate=lr, optimize_1d=True)
  opt = optax.with_extra_args_support(opt)
  q = _to_jax(params)
  state = opt.init(q)
  out = []
  for batch in batches:
    loss = _batch_loss(batch)
    u, state = opt.update(jax.grad(loss)(q), state, q, value_fn=loss)
    q = optax.apply_updates(q, u)
    out.append(jax.tree.map(np.asarray, q))
  _close(out, traj)
  with pytest.raises(ValueError, match="value_fn"):
    opt.update(jax.grad(loss)(q), state, q)


def test_innaprop_matches_reference():
  lr, alpha, beta, sigma, eps, wd = 0.05, 0.1, 0.9, 0.999, 1e-8, 0.01
  params, grads = _params0(), _grads()

  def step(name, p, g, s, t):
    p = p * (1 - lr * wd)
    s["v"] = sigma * s["v"] + (1 - sigma) * g * g
    denom = np.sqrt(s["v"] / (1 - sigma**t)) + eps
    s["psi"] = (1 - lr / beta) * s["psi"] + lr * (1 / beta - alpha) * p
    p = p + lr * (1 - beta * alpha) / (beta - lr) * p - lr / (beta - lr) * s["psi"]
    return p - lr * beta * g / denom, s

  opt = baselines.get("innaprop", learning_rate=lr, weight_decay=wd)
  traj = _ref(params, grads, step, lambda p: {"v": np.zeros_like(p), "psi": (1 - alpha * beta) * p})
  _close(_run(opt, params, grads), traj, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="learning_rate"):
    baselines.get("innaprop", learning_rate=1.0)  # must stay below beta


def test_core_optimizer_matches_reference():
  s0, b1a, b1b, b1c, b2, eps = 1e-3, 0.7375, 0.8125, 3.0, 0.99, 1e-8
  eta_m, eta_p, smin, smax, wd = 0.7375, 1.2, 1e-6, 1.5e-3, 0.1
  params, grads = _params0(), _grads(steps=10)
  grew, shrank = [], []

  def step(name, p, G, s, t):
    b1 = b1b + (b1a - b1b) * math.exp(-(((t - 1) / b1c) ** 2))
    g = b1 * s["g"] + (1 - b1) * G
    s["h"] = b2 * s["h"] + (1 - b2) * G * G
    agree = g * s["g"]
    grew.append((agree > 0).sum())
    shrank.append((agree < 0).sum())
    factor = np.where(agree > 0, eta_p, np.where(agree < 0, eta_m, 1.0))
    s["s"] = np.clip(s["s"] * factor, smin, smax)
    s["g"] = g
    u = s["s"] * (g / (1 - b1**t)) / (np.sqrt(s["h"] / (1 - b2**t)) + eps)
    return p - wd * np.abs(u) * p - u, s

  opt = baselines.get(
    "core_optimizer", learning_rate=s0, b1_decay_steps=b1c, max_step_size=smax, weight_decay=wd
  )
  traj = _ref(
    params,
    grads,
    step,
    lambda p: {"g": np.zeros_like(p), "h": np.zeros_like(p), "s": np.full(p.shape, s0)},
  )
  assert sum(grew) > 0 and sum(shrank) > 0
  _close(_run(opt, params, grads), traj)


def test_normalized_lr_gd_matches_reference():
  gamma = 0.3
  params, batches = _params0(), _batches()
  p = {k: v.copy() for k, v in params.items()}
  traj = []
  for batch in batches:
    f = 1.0 + sum(0.5 * np.sum(a * (p[n] - c) ** 2) for n, (a, c) in batch.items())
    g = _batch_grad_np(batch, p)
    p = {n: p[n] - gamma / f * g[n] for n in p}
    traj.append({k: v.copy() for k, v in p.items()})

  opt = optax.with_extra_args_support(baselines.get("normalized_lr_gd", learning_rate=gamma))
  q = _to_jax(params)
  state = opt.init(q)
  out = []
  for batch in batches:
    loss = _batch_loss(batch)
    u, state = opt.update(jax.grad(loss)(q), state, q, value=loss(q))
    q = optax.apply_updates(q, u)
    out.append(jax.tree.map(np.asarray, q))
  _close(out, traj)
  with pytest.raises(ValueError, match="value"):
    opt.update(jax.grad(loss)(q), state, q)


def test_normalized_lr_gd_converges_when_the_loss_stays_positive():
  # The loss-normalized step grows without bound as f -> 0, so on a quadratic whose minimum
  # is 0 it does not settle; with a positive minimum (as a logistic loss has on non-separable
  # data) it is gradient descent with step gamma / f and converges.
  opt = optax.with_extra_args_support(baselines.get("normalized_lr_gd", learning_rate=0.5))
  scales = jnp.linspace(0.5, 2.0, 12).reshape(3, 4)
  loss = lambda p: 1.0 + 0.5 * jnp.sum(scales * (p["w"] - 1.0) ** 2)

  def step(carry, _):
    p, s = carry
    u, s = opt.update(jax.grad(loss)(p), s, p, value=loss(p))
    return (optax.apply_updates(p, u), s), None

  p0 = {"w": jnp.zeros((3, 4))}
  (p, _), _ = jax.lax.scan(step, (p0, opt.init(p0)), None, length=300)
  assert float(loss(p)) - 1.0 < 1e-4 * (float(loss(p0)) - 1.0)


@pytest.mark.parametrize(
  ("name", "bad"),
  [
    ("grams", {"b1": 1.0}),
    ("spam", {"reset_interval": -1}),
    ("gravity", {"beta": 1.5}),
    ("core_optimizer", {"eta_plus": 0.5}),
    ("mars_adamw", {"gamma": -1.0}),
    ("complex_momentum", {"beta_abs": 1.0}),
    ("adamp", {"delta": 0.0}),
    ("sgd_sai", {"momentum": -0.1}),
    ("normalized_lr_gd", {"eps": -1.0}),
  ],
)
def test_bad_hyperparameters_raise(name, bad):
  with pytest.raises(ValueError):
    baselines.get(name, **bad)


def test_mars_base_must_be_known():
  from baselines.adam_family._mars import scale_by_mars

  with pytest.raises(ValueError, match="adamw"):
    scale_by_mars(base="sgd")


# --------------------------------------------------------------------------------------------
# optax-shipped methods: the registry gives optax's own updates.
# --------------------------------------------------------------------------------------------

OPTAX = {
  "adopt": (optax.contrib.adopt, {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.9999, "eps": 1e-6}),
  "ademamix": (
    optax.contrib.ademamix,
    {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "b3": 0.9999, "alpha": 5.0, "eps": 1e-8},
  ),
  "sign_sgd": (optax.sign_sgd, {"learning_rate": 1e-3}),
  "signum": (optax.signum, {"learning_rate": 1e-3, "beta": 0.9}),
  "madgrad": (optax.contrib.madgrad, {"learning_rate": 1e-2, "momentum": 0.9, "eps": 1e-6}),
  "rprop": (optax.rprop, {"learning_rate": 1e-2}),
  "lars": (optax.lars, {"learning_rate": 1.0, "trust_coefficient": 1e-3, "momentum": 0.9}),
  "lamb": (optax.lamb, {"learning_rate": 1e-3, "eps": 1e-6, "weight_decay": 0.01}),
  "novograd": (
    optax.novograd,
    {"learning_rate": 1e-2, "b1": 0.95, "b2": 0.98, "eps": 1e-8, "weight_decay": 1e-3},
  ),
}


@pytest.mark.parametrize("name", sorted(OPTAX))
def test_optax_entries_are_optax(name):
  fn, kwargs = OPTAX[name]
  entry = baselines.entry(name)
  assert entry.source == "optax"
  params, grads = _params0(), _grads(steps=3)
  _close(
    _run(baselines.get(name), params, grads), _run(fn(**kwargs), params, grads), rtol=0, atol=0
  )
