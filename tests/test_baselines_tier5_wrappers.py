"""Tier 5 wrappers: each project-written method against an independent numpy reference.

The references are written from the papers' update rules (float64); the JAX code runs in
float32 on random gradients with nonzero initial parameters. Entries that register optax's
own code are checked against optax called directly.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines

SHAPES = {"b": (5,), "w": (3, 4)}
STEPS = 6


def _params(seed=0):
  rng = np.random.default_rng(seed)
  return {k: rng.normal(size=s) for k, s in SHAPES.items()}


def _grads(seed=1, steps=STEPS, growth=1.0):
  rng = np.random.default_rng(seed)
  return [{k: rng.normal(size=s) * growth**t for k, s in SHAPES.items()} for t in range(steps)]


def _to_jax(tree):
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _run(opt, params, grads, extra=None):
  """Applies `opt` to the given per-step gradients; the parameters after every step."""
  opt = optax.with_extra_args_support(opt)
  p = _to_jax(params)
  state = opt.init(p)
  out = []
  for t, g in enumerate(grads):
    kwargs = extra(t) if extra else {}
    u, state = opt.update(_to_jax(g), state, p, **kwargs)
    p = optax.apply_updates(p, u)
    out.append(jax.tree.map(np.asarray, p))
  return out, state


def _check(got, want, rtol=1e-5, atol=1e-5):
  """Compares parameter trajectories.

  `atol=1e-5` because Adam's bias correction `1 - b2**t` is computed in float32 (as optax
  does): at t=1 it is 1e-3 with a relative error of ~1e-4, which moves a parameter crossing
  zero by ~2e-6 after a few steps of size 0.05; everything else is within rtol=1e-5.
  """
  assert len(got) == len(want)
  for t, (a, b) in enumerate(zip(got, want, strict=True)):
    for k in SHAPES:
      np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=f"step {t + 1}, {k}")


class _NpAdam:
  """Adam's moments and bias-corrected direction, per tensor (numpy, float64)."""

  def __init__(self, b1=0.9, b2=0.999, eps=1e-8):
    self.b1, self.b2, self.eps = b1, b2, eps
    self.m = {k: np.zeros(s) for k, s in SHAPES.items()}
    self.v = {k: np.zeros(s) for k, s in SHAPES.items()}

  def direction(self, g, t):
    d = {}
    for k in SHAPES:
      self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g[k]
      self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g[k] ** 2
      m_hat = self.m[k] / (1 - self.b1**t)
      v_hat = self.v[k] / (1 - self.b2**t)
      d[k] = m_hat / (np.sqrt(v_hat) + self.eps)
    return d


# ---------------------------------------------------------------- cautious (T5-02)


def test_cautious_adamw_matches_numpy():
  lr, wd = 0.05, 0.1
  params, grads = _params(), _grads()
  got, _ = _run(baselines.get("cautious_adamw", learning_rate=lr, weight_decay=wd), params, grads)
  adam, p, want, masked = _NpAdam(), {k: v.copy() for k, v in params.items()}, [], 0
  for t, g in enumerate(grads, start=1):
    d = adam.direction(g, t)
    for k in SHAPES:
      phi = (d[k] * g[k] > 0).astype(float)
      masked += int(phi.size - phi.sum())
      p[k] = p[k] - lr * (d[k] * phi / max(phi.mean(), 1e-3) + wd * p[k])
    want.append({k: v.copy() for k, v in p.items()})
  assert masked > 0  # the mask did something
  _check(got, want)


def test_cautious_lion_matches_numpy():
  lr, b1, b2 = 0.01, 0.9, 0.99
  params, grads = _params(), _grads()
  got, _ = _run(baselines.get("cautious_lion", learning_rate=lr), params, grads)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  p, want = {k: v.copy() for k, v in params.items()}, []
  for g in grads:
    for k in SHAPES:
      c = np.sign(b1 * m[k] + (1 - b1) * g[k])
      m[k] = b2 * m[k] + (1 - b2) * g[k]
      phi = (c * g[k] > 0).astype(float)
      p[k] = p[k] - lr * c * phi / max(phi.mean(), 1e-3)
    want.append({k: v.copy() for k, v in p.items()})
  _check(got, want)


def test_cautious_update_convention_wraps_a_full_optimizer():
  from baselines.wrappers._cautious import cautious

  params, grads = _params(), _grads()
  a, _ = _run(cautious(optax.adam(0.05), convention="update"), params, grads)
  b, _ = _run(baselines.get("cautious_adamw", learning_rate=0.05), params, grads)
  _check(a, b)
  with pytest.raises(ValueError, match="'direction' or 'update'"):
    cautious(optax.adam(0.1), convention="descent")


# ---------------------------------------------------------------- Fira limiter (T5-07)


def test_norm_growth_limited_adamw_matches_numpy():
  lr, gamma = 0.05, 1.01
  params, grads = _params(), _grads(growth=1.5)
  got, _ = _run(baselines.get("norm_growth_limited_adamw", learning_rate=lr), params, grads)
  adam, prev, limited = _NpAdam(), {}, 0
  p, want = {k: v.copy() for k, v in params.items()}, []
  for t, g in enumerate(grads, start=1):
    d = adam.direction(g, t)
    for k in SHAPES:
      norm = np.linalg.norm(d[k])
      lim = 1.0 if t == 1 else max(norm / (prev[k] + 1e-8), gamma) / gamma
      limited += lim > 1
      d[k] = d[k] / lim
      prev[k] = norm / lim
      p[k] = p[k] - lr * d[k]
    want.append({k: v.copy() for k, v in p.items()})
  assert limited > 0
  _check(got, want)


# ---------------------------------------------------------------- StableAdamW (T5-08)


def test_stable_adamw_matches_numpy():
  lr, b1, b2, eps, wd = 0.05, 0.9, 0.99, 1e-6, 0.2
  params, grads = _params(), _grads(growth=2.0)
  opt = baselines.get("stable_adamw", learning_rate=lr, weight_decay=wd)
  got, _ = _run(opt, params, grads)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  p, want, clipped = {k: x.copy() for k, x in params.items()}, [], 0
  for t, g in enumerate(grads, start=1):
    for k in SHAPES:
      # The paper's form: betas with the bias correction folded in.
      b1h = b1 * (1 - b1 ** (t - 1)) / (1 - b1**t)
      b2h = b2 * (1 - b2 ** (t - 1)) / (1 - b2**t)
      m[k] = b1h * m[k] + (1 - b1h) * g[k]
      v[k] = b2h * v[k] + (1 - b2h) * g[k] ** 2
      rms = np.sqrt(np.mean(g[k] ** 2 / np.maximum(v[k], eps**2)))
      clipped += rms > 1
      eta = lr / max(1.0, rms)
      p[k] = p[k] - eta * wd * p[k] - eta * m[k] / (np.sqrt(v[k]) + eps)
    want.append({k: x.copy() for k, x in p.items()})
  assert clipped > 0
  _check(got, want)


# ---------------------------------------------------------------- SWATS (T5-12)


def _np_swats(params, grads, lr, b1, b2, eps):
  flat = lambda tree: np.concatenate([tree[k].ravel() for k in SHAPES])
  sizes = [int(np.prod(SHAPES[k])) for k in SHAPES]
  unflat = lambda x: {
    k: part.reshape(SHAPES[k])
    for k, part in zip(SHAPES, np.split(x, np.cumsum(sizes)[:-1]), strict=True)
  }
  w = flat(params)
  m, a, lam, v = np.zeros_like(w), np.zeros_like(w), 0.0, np.zeros_like(w)
  phase, big_lam, k, switched_at, want = "adam", 0.0, 0, None, []
  for i, gt in enumerate(grads, start=1):
    g = flat(gt)
    if phase == "sgd":
      v = b1 * v + g
      w = w - (1 - b1) * big_lam * v
    else:
      k += 1
      m = b1 * m + (1 - b1) * g
      a = b2 * a + (1 - b2) * g**2
      p = -lr * np.sqrt(1 - b2**k) / (1 - b1**k) * m / (np.sqrt(a) + eps)
      w = w + p
      if p @ g != 0:
        gamma = (p @ p) / (-(p @ g))
        lam = b2 * lam + (1 - b2) * gamma
        if k > 1 and abs(lam / (1 - b2**k) - gamma) < eps:
          phase, v, big_lam, switched_at = "sgd", np.zeros_like(w), lam / (1 - b2**k), i
    want.append(unflat(w.copy()))
  return want, switched_at


def test_swats_matches_numpy_through_the_switch():
  # A large epsilon makes the switch test fire early (step 3 of 8 here).
  lr, b1, b2, eps = 0.1, 0.9, 0.999, 0.02
  params, grads = _params(), _grads(steps=8)
  got, state = _run(baselines.get("swats", learning_rate=lr, eps=eps), params, grads)
  want, switched_at = _np_swats(params, grads, lr, b1, b2, eps)
  assert switched_at is not None and switched_at < len(grads)
  assert bool(state.sgd_phase)
  _check(got, want)


def test_swats_without_switch_is_adam():
  params, grads = _params(), _grads()
  got, state = _run(baselines.get("swats", learning_rate=0.01), params, grads)
  want, switched_at = _np_swats(params, grads, 0.01, 0.9, 0.999, 1e-9)
  assert switched_at is None and not bool(state.sgd_phase)
  _check(got, want)


# ---------------------------------------------------------------- XGrad (T5-13)


def _quadratic_targets(steps=STEPS, seed=2):
  rng = np.random.default_rng(seed)
  scale = {k: rng.uniform(0.5, 2.0, size=s) for k, s in SHAPES.items()}
  targets = [{k: rng.normal(size=s) for k, s in SHAPES.items()} for _ in range(steps)]
  return scale, targets


def _value_fn(scale, target):
  sc, tg = _to_jax(scale), _to_jax(target)
  return lambda p: sum(0.5 * jnp.sum(sc[k] * (p[k] - tg[k]) ** 2) for k in SHAPES)


def test_xgrad_adam_matches_numpy():
  lr, s = 0.05, 2
  params = _params()
  scale, targets = _quadratic_targets()
  dummy = _grads()  # the incoming gradient is ignored: XGrad recomputes it
  opt = baselines.get("xgrad_adam", learning_rate=lr, prediction_steps=s)
  got, _ = _run(opt, params, dummy, extra=lambda t: {"value_fn": _value_fn(scale, targets[t])})
  adam, last = _NpAdam(), {k: np.zeros(sh) for k, sh in SHAPES.items()}
  p, want = {k: v.copy() for k, v in params.items()}, []
  for t in range(STEPS):
    predicted = {k: p[k] + s * last[k] for k in SHAPES}
    g = {k: scale[k] * (predicted[k] - targets[t][k]) for k in SHAPES}
    d = adam.direction(g, t + 1)
    last = {k: -lr * d[k] for k in SHAPES}
    p = {k: p[k] + last[k] for k in SHAPES}
    want.append(p)
  _check(got, want)


def test_xgrad_momentum_matches_numpy():
  lr, mu = 0.05, 0.9
  params = _params()
  scale, targets = _quadratic_targets()
  opt = baselines.get("xgrad_momentum", learning_rate=lr, momentum=mu)
  got, _ = _run(opt, params, _grads(), extra=lambda t: {"value_fn": _value_fn(scale, targets[t])})
  buf = {k: np.zeros(sh) for k, sh in SHAPES.items()}
  p, want = {k: v.copy() for k, v in params.items()}, []
  for t in range(STEPS):
    g = {k: scale[k] * (p[k] - lr * buf[k] - targets[t][k]) for k in SHAPES}
    buf = {k: mu * buf[k] + g[k] for k in SHAPES}
    p = {k: p[k] - lr * buf[k] for k in SHAPES}
    want.append(p)
  _check(got, want)


# ---------------------------------------------------------------- Adam+CM (T5-16)


def test_adam_cm_matches_numpy():
  lr, b1, b2, eps, size, decay, kappa = 0.02, 0.9, 0.999, 1e-8, 3, 0.7, 1.0
  scales = [1.0, 1.0, 1.0, 5.0, 0.2, 0.2, 3.0, 0.1, 1.0]
  params = _params()
  grads = [{k: g[k] * c for k in SHAPES} for g, c in zip(_grads(steps=9), scales, strict=True)]
  opt = baselines.get("adam_cm", learning_rate=lr, buffer_size=size, decay=decay)
  got, _ = _run(opt, params, grads)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  buffer, replaced, rejected = [], 0, 0  # [priority, momenta]
  p, want = {k: x.copy() for k, x in params.items()}, []
  for t, g in enumerate(grads, start=1):
    gnorm = np.sqrt(sum(np.sum(g[k] ** 2) for k in SHAPES))
    m = {k: b1 * m[k] + (1 - b1) * g[k] for k in SHAPES}
    if buffer:
      agg = {k: m[k] + kappa * np.mean([e[1][k] for e in buffer], axis=0) for k in SHAPES}
    else:
      agg = dict(m)
    if len(buffer) < size:
      buffer.append([gnorm, {k: m[k].copy() for k in SHAPES}])
    else:
      low = int(np.argmin([e[0] for e in buffer]))
      if gnorm > buffer[low][0]:
        buffer[low] = [gnorm, {k: m[k].copy() for k in SHAPES}]
        replaced += 1
      else:
        rejected += 1
    for k in SHAPES:
      v[k] = b2 * v[k] + (1 - b2) * agg[k] ** 2
      p[k] = p[k] - lr * (agg[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
    for e in buffer:
      e[0] *= decay
    want.append({k: x.copy() for k, x in p.items()})
  assert replaced > 0 and rejected > 0  # both buffer branches are exercised
  _check(got, want)


# ---------------------------------------------------------------- NaP (T5-18)


def test_nap_adam_matches_numpy():
  lr = 0.1
  params, grads = _params(), _grads()
  got, _ = _run(baselines.get("nap_adam", learning_rate=lr), params, grads)
  adam, n0 = _NpAdam(), {k: np.linalg.norm(v) for k, v in params.items()}
  p, want = {k: v.copy() for k, v in params.items()}, []
  for t, g in enumerate(grads, start=1):
    d = adam.direction(g, t)
    for k in SHAPES:
      new = p[k] - lr * d[k]
      p[k] = n0[k] * new / np.linalg.norm(new) if new.ndim >= 2 else new
    want.append({k: v.copy() for k, v in p.items()})
  _check(got, want)
  np.testing.assert_allclose(np.linalg.norm(got[-1]["w"]), n0["w"], rtol=1e-5)
  assert abs(np.linalg.norm(got[-1]["b"]) - n0["b"]) > 1e-2  # vectors are not projected


# ---------------------------------------------------------------- variance freezing (T5-20)


def test_frozen_variance_adam_matches_numpy():
  lr, b1, b2, eps, freeze = 0.05, 0.9, 0.999, 1e-8, 3
  params, grads = _params(), _grads(growth=1.5)
  opt = baselines.get("frozen_variance_adam", learning_rate=lr, freeze_step=freeze)
  got, _ = _run(opt, params, grads)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  p, want = {k: x.copy() for k, x in params.items()}, []
  for t, g in enumerate(grads, start=1):
    for k in SHAPES:
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      if t <= freeze:
        v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
      v_hat = v[k] / (1 - b2 ** min(t, freeze))
      p[k] = p[k] - lr * (m[k] / (1 - b1**t)) / (np.sqrt(v_hat) + eps)
    want.append({k: x.copy() for k, x in p.items()})
  _check(got, want)
  plain, _ = _run(optax.adam(lr), params, grads)
  assert not np.allclose(plain[-1]["w"], got[-1]["w"])  # freezing changed the steps


# ---------------------------------------------------------------- optax-shipped entries


def test_lookahead_adam_is_optax_lookahead():
  params, grads = _params(), _grads(steps=7)
  got, _ = _run(baselines.get("lookahead_adam", learning_rate=0.05), params, grads)
  ref = optax.lookahead(optax.adam(0.05), sync_period=5, slow_step_size=0.5)
  pair = optax.LookaheadParams.init_synced(_to_jax(params))
  state, want = ref.init(pair), []
  for g in grads:
    u, state = ref.update(_to_jax(g), state, pair)
    pair = optax.apply_updates(pair, u)
    want.append(jax.tree.map(np.asarray, pair.fast))
  _check(got, want)


def test_sam_sgd_is_optax_sam_and_matches_numpy():
  lr, mu, rho = 0.05, 0.9, 0.05
  params = _params()
  scale, targets = _quadratic_targets()
  extra = lambda t: {"value_fn": _value_fn(scale, targets[t])}
  grad_at = lambda p, t: {k: scale[k] * (p[k] - targets[t][k]) for k in SHAPES}
  opt = baselines.get("sam_sgd", learning_rate=lr, momentum=mu, rho=rho)
  # The incoming gradient is the gradient at the current params: run the loop by hand.
  opt = optax.with_extra_args_support(opt)
  p = _to_jax(params)
  state, got = opt.init(p), []
  ref = optax.contrib.sam(
    optax.sgd(lr, momentum=mu),
    optax.chain(optax.contrib.normalize(), optax.sgd(rho)),
    opaque_mode=True,
  )
  rp, rstate, want_optax = _to_jax(params), ref.init(_to_jax(params)), []
  buf, np_p, want = {k: np.zeros(s) for k, s in SHAPES.items()}, dict(params), []
  for t in range(STEPS):
    vf = extra(t)["value_fn"]
    u, state = opt.update(jax.grad(vf)(p), state, p, value_fn=vf)
    p = optax.apply_updates(p, u)
    got.append(jax.tree.map(np.asarray, p))
    ru, rstate = ref.update(jax.grad(vf)(rp), rstate, rp, grad_fn=lambda q, _, f=vf: jax.grad(f)(q))
    rp = optax.apply_updates(rp, ru)
    want_optax.append(jax.tree.map(np.asarray, rp))
    g = grad_at(np_p, t)
    gnorm = np.sqrt(sum(np.sum(g[k] ** 2) for k in SHAPES))
    g_adv = grad_at({k: np_p[k] + rho * g[k] / gnorm for k in SHAPES}, t)
    buf = {k: mu * buf[k] + g_adv[k] for k in SHAPES}
    np_p = {k: np_p[k] - lr * buf[k] for k in SHAPES}
    want.append(np_p)
  _check(got, want_optax, rtol=1e-6, atol=1e-7)
  _check(got, want)


@pytest.mark.parametrize(
  "name, hparams, direct",
  [
    ("noisy_sgd", {"learning_rate": 0.1}, lambda: optax.noisy_sgd(0.1, 0.01, 0.55, key=0)),
    (
      "noisy_adam",
      {"learning_rate": 0.1},
      lambda: optax.chain(optax.add_noise(0.01, 0.55, 0), optax.adam(0.1)),
    ),
    (
      "coord_clip_sgd",
      {"learning_rate": 0.1, "max_delta": 0.5},
      lambda: optax.chain(optax.clip(0.5), optax.sgd(0.1)),
    ),
    (
      "global_clip_adamw",
      {"learning_rate": 0.1, "max_norm": 1.0},
      lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(0.1, weight_decay=1e-2)),
    ),
    (
      "agc_sgd",
      {"learning_rate": 0.1, "clipping": 0.1},
      lambda: optax.chain(
        optax.adaptive_grad_clip(0.1, 1e-3), optax.sgd(0.1, momentum=0.9, nesterov=True)
      ),
    ),
    (
      "gc_sgd",
      {"learning_rate": 0.1},
      lambda: optax.chain(optax.centralize(), optax.sgd(0.1, momentum=0.9)),
    ),
    ("gc_adam", {"learning_rate": 0.1}, lambda: optax.chain(optax.centralize(), optax.adam(0.1))),
    (
      "grad_accum_adam",
      {"learning_rate": 0.1},
      lambda: optax.MultiSteps(optax.adam(0.1), every_k_schedule=4).gradient_transformation(),
    ),
  ],
)
def test_optax_entries_match_optax(name, hparams, direct):
  params, grads = _params(), _grads(steps=5)
  got, _ = _run(baselines.get(name, **hparams), params, grads)
  want, _ = _run(direct(), params, grads)
  _check(got, want, rtol=1e-6, atol=1e-7)
  assert not np.allclose(got[-1]["w"], params["w"])  # it moved


def test_bad_options_raise():
  from baselines.wrappers._lookahead import lookahead
  from baselines.wrappers._nap import normalize_and_project
  from baselines.wrappers._sam import sam

  with pytest.raises(ValueError, match="gamma must be > 1"):
    baselines.get("norm_growth_limited_adamw", gamma=0.9)
  with pytest.raises(ValueError, match="buffer_size"):
    baselines.get("adam_cm", buffer_size=0)
  with pytest.raises(ValueError, match="freeze_step"):
    baselines.get("frozen_variance_adam", freeze_step=0)
  with pytest.raises(ValueError, match="sync_period"):
    lookahead(optax.sgd(0.1), sync_period=0)
  with pytest.raises(ValueError, match="rho"):
    sam(optax.sgd(0.1), rho=0.0)
  with pytest.raises(ValueError, match="min_ndim"):
    normalize_and_project(optax.sgd(0.1), min_ndim=-1)
  with pytest.raises(ValueError, match="value_fn"):
    opt = baselines.get("xgrad_adam")
    opt.update(_to_jax(_params()), opt.init(_to_jax(_params())), _to_jax(_params()))


# ---------------------------------------------------------------- SPAM cross-reference (T5-06)


def test_spam_entry_covers_t5_06():
  assert {"T1-32", "T5-06"} <= set(baselines.entry("spam").ids)


# ---------------------------------------------------------------- Ranger21 (T5-11)


def _np_unit_norm(x, axes):
  return np.sqrt(np.sum(x**2, axis=axes, keepdims=True))


def test_ranger21_matches_numpy():
  lr, b1, b2, eps, beta0 = 0.05, 0.9, 0.999, 1e-8, 1.0
  wd, nl, clip, agc_eps = 0.1, 0.1, 0.5, 1e-3
  num_steps, warmup, start, low, k, alpha = 8, 2, 4, 3e-5, 3, 0.5
  params, grads = _params(), _grads(growth=1.3)
  opt = baselines.get(
    "ranger21",
    learning_rate=lr,
    num_steps=num_steps,
    warmup_steps=warmup,
    warmdown_start_pct=0.5,
    weight_decay=wd,
    normloss_factor=nl,
    agc_clipping=clip,
    sync_period=k,
    slow_step_size=alpha,
  )
  got, _ = _run(opt, params, grads)
  # Units: AGC (optax) and the norm loss both take the norm over all axes but the last.
  axes = {"b": None, "w": (0,)}
  zeros = lambda: {key: np.zeros(s) for key, s in SHAPES.items()}
  m_odd, m_even, v, vmax, nu = zeros(), zeros(), zeros(), zeros(), zeros()
  fast = {key: x.copy() for key, x in params.items()}
  slow = {key: x.copy() for key, x in params.items()}
  want, clipped = [], 0
  for t, graw in enumerate(grads, start=1):
    g = {}
    for key in SHAPES:
      x = graw[key]
      gn = _np_unit_norm(x, axes[key])
      mx = clip * np.maximum(_np_unit_norm(fast[key], axes[key]), agc_eps)
      clipped += int(np.sum(gn >= mx))
      x = np.where(gn < mx, x, x * mx / np.maximum(gn, 1e-6))
      if x.ndim > 1:
        x = x - x.mean(axis=1, keepdims=True)  # gradient centralization
      g[key] = x / (np.std(x, ddof=1) + 1e-8)  # gradient normalization
    for key in SHAPES:
      nu[key] = b2 * nu[key] + (1 - b2) * g[key] ** 2
    v_bar = np.mean(np.concatenate([nu[key].ravel() for key in SHAPES])) / (1 - b2**t)
    s = t
    eta = lr * min(1.0, s / warmup) - (lr - low) * np.clip((s - start) / (num_steps - start), 0, 1)
    new_fast = {}
    for key in SHAPES:
      cur, prev = (m_odd, m_even) if t % 2 == 1 else (m_even, m_odd)
      cur[key] = b1**2 * cur[key] + (1 - b1**2) * g[key]
      v[key] = b2 * v[key] + (1 - b2) * g[key] ** 2
      vmax[key] = np.maximum(vmax[key], v[key])
      m_bar = ((1 + beta0) * cur[key] - beta0 * prev[key]) / np.sqrt((1 + beta0) ** 2 + beta0**2)
      d = (m_bar / (1 - b1**t)) / (np.sqrt(vmax[key] / (1 - b2**t)) + eps)
      d = d + wd * fast[key] / (np.sqrt(v_bar) + 1e-8)
      un = _np_unit_norm(fast[key], axes[key])
      d = d + 2 * nl * (1 - 1 / (un + 1e-8)) * fast[key]
      new_fast[key] = fast[key] - eta * d
    fast = new_fast
    if t % k == 0:  # Lookahead synchronization
      slow = {key: slow[key] + alpha * (fast[key] - slow[key]) for key in SHAPES}
      fast = {key: x.copy() for key, x in slow.items()}
    want.append({key: x.copy() for key, x in fast.items()})
  assert 0 < clipped  # AGC was active
  _check(got, want)


def test_explore_exploit_schedule_and_ranger21_warmup_rule():
  from baselines.wrappers._ranger21 import explore_exploit_schedule, ranger21_warmup_steps

  sched = explore_exploit_schedule(
    1.0, num_steps=10, warmup_steps=4, warmdown_start_pct=0.6, min_value=0.2
  )
  got = [float(sched(t)) for t in range(10)]
  np.testing.assert_allclose(got, [0.25, 0.5, 0.75, 1, 1, 1, 0.8, 0.6, 0.4, 0.2], rtol=1e-6)
  assert ranger21_warmup_steps(100_000) == 2000  # ceil(2 / (1 - 0.999))
  assert ranger21_warmup_steps(1000) == 220  # 2000 > 45% of 1000: 22% instead
  with pytest.raises(ValueError, match="warmdown_start_pct"):
    explore_exploit_schedule(1.0, 10, 2, warmdown_start_pct=0.0)


# ---------------------------------------------------------------- FAD (T5-15)


def test_fad_sgd_matches_numpy():
  lr, mu, rho, alpha, beta = 0.05, 0.9, 0.1, 0.3, 0.5
  params = _params()
  scale, targets = _quadratic_targets()
  quart = {k: np.full(s, 0.3) for k, s in SHAPES.items()}

  def value_fn(t):
    sc, tg, q = _to_jax(scale), _to_jax(targets[t]), _to_jax(quart)
    return lambda p: sum(
      jnp.sum(0.5 * sc[k] * (p[k] - tg[k]) ** 2 + 0.25 * q[k] * (p[k] - tg[k]) ** 4) for k in SHAPES
    )

  # Analytic gradient and (diagonal) Hessian of the quartic-plus-quadratic loss.
  grad = lambda p, t: {
    k: scale[k] * (p[k] - targets[t][k]) + quart[k] * (p[k] - targets[t][k]) ** 3 for k in SHAPES
  }
  hess = lambda p, t: {k: scale[k] + 3 * quart[k] * (p[k] - targets[t][k]) ** 2 for k in SHAPES}
  norm = lambda tree: np.sqrt(sum(np.sum(tree[k] ** 2) for k in SHAPES))

  def gn_grad(p, t):  # gradient of ||grad L||: H g / ||g||
    g, h = grad(p, t), hess(p, t)
    return {k: h[k] * g[k] / norm(g) for k in SHAPES}

  opt = optax.with_extra_args_support(
    baselines.get("fad_sgd", learning_rate=lr, momentum=mu, rho=rho, alpha=alpha, beta=beta)
  )
  p = _to_jax(params)
  state, got = opt.init(p), []
  buf, q, want = {k: np.zeros(s) for k, s in SHAPES.items()}, dict(params), []
  for t in range(STEPS):
    vf = value_fn(t)
    u, state = opt.update(jax.grad(vf)(p), state, p, value_fn=vf)
    p = optax.apply_updates(p, u)
    got.append(jax.tree.map(np.asarray, p))
    g0 = grad(q, t)
    g1 = grad({k: q[k] + rho * g0[k] / norm(g0) for k in SHAPES}, t)
    f0 = gn_grad(q, t)
    f1 = gn_grad({k: q[k] + rho * f0[k] / norm(f0) for k in SHAPES}, t)
    g = {k: (1 - alpha) * g0[k] + alpha * g1[k] + beta * rho * f1[k] for k in SHAPES}
    buf = {k: mu * buf[k] + g[k] for k in SHAPES}
    q = {k: q[k] - lr * buf[k] for k in SHAPES}
    want.append(q)
  _check(got, want)


# ---------------------------------------------------------------- LAWN (T5-17)


def test_lawn_adam_matches_numpy():
  lr, free = 0.05, 2
  params, grads = _params(), _grads()
  got, _ = _run(baselines.get("lawn_adam", learning_rate=lr, free_steps=free), params, grads)
  adam, c = _NpAdam(), None
  p, want = {k: v.copy() for k, v in params.items()}, []
  for t, g in enumerate(grads, start=1):
    g = dict(g)
    on = t > free
    if on:
      if c is None:
        c = np.linalg.norm(p["w"])  # frozen at the end of the free phase
      w = p["w"]
      g["w"] = g["w"] - np.sum(g["w"] * w) / np.sum(w**2) * w
    d = adam.direction(g, t)
    for k in SHAPES:
      new = p[k] - lr * d[k]
      if on and k == "w":
        new = c * new / np.linalg.norm(new)
      p[k] = new
    want.append({k: v.copy() for k, v in p.items()})
  _check(got, want)
  norms = [np.linalg.norm(x["w"]) for x in got]
  assert abs(norms[1] - norms[0]) > 1e-3  # free phase: the norm moves
  np.testing.assert_allclose(norms[free:], norms[free - 1], rtol=1e-5)  # then it is frozen
  assert abs(np.linalg.norm(got[-1]["b"]) - np.linalg.norm(got[free]["b"])) > 1e-3  # b is free


# ---------------------------------------------------------------- SGG (T5-19)


def _np_kmeans(x, c, iters):
  assign = lambda c: np.argmin(np.abs(x[:, None] - c[None, :]), axis=1)
  for _ in range(iters):
    lab = assign(c)
    c = np.array([x[lab == j].mean() if np.any(lab == j) else c[j] for j in range(len(c))])
  return assign(c), c


def test_sgg_adamw_matches_numpy():
  from baselines.wrappers._sgg import sgg

  lr, b1, K, interval, decay, iters = 0.05, 0.9, 3, 2, 0.5, 5
  params, grads = _params(), _grads(growth=1.2)
  opt = sgg(
    optax.adam(lr), num_clusters=K, interval=interval, b1=b1, scale_decay=decay, kmeans_iters=iters
  )
  got, state = _run(opt, params, grads)
  adam = _NpAdam()
  mu = {k: np.zeros(s) for k, s in SHAPES.items()}
  lab = {k: np.zeros(s, int) for k, s in SHAPES.items()}
  cent = {k: None for k in SHAPES}
  sc = {k: np.ones(K) for k in SHAPES}
  p, want = {k: v.copy() for k, v in params.items()}, []
  for t, g in enumerate(grads, start=1):
    for k in SHAPES:
      mu[k] = b1 * mu[k] + (1 - b1) * g[k]
      if t % interval == 0:
        x = np.abs(mu[k]).ravel()
        start = np.quantile(x, (np.arange(K) + 0.5) / K) if cent[k] is None else cent[k]
        labels, cent[k] = _np_kmeans(x, start, iters)
        lab[k] = labels.reshape(SHAPES[k])
        sc[k] = np.clip(
          decay * sc[k] + (1 - decay) * x.mean() / np.maximum(cent[k], 1e-8), 0.1, 10.0
        )
    d = adam.direction(g, t)
    for k in SHAPES:
      p[k] = p[k] - lr * d[k] * sc[k][lab[k]]
    want.append({k: v.copy() for k, v in p.items()})
  assert np.ptp(sc["w"]) > 0.1  # the clusters got different scales
  _check(got, want)
  np.testing.assert_allclose(state.scales["w"], sc["w"], rtol=1e-5)


def test_sgg_reclusters_inside_jit_once():
  from baselines.wrappers._sgg import sgg

  opt = sgg(optax.adam(0.01), interval=2)
  params = _to_jax(_params())
  step = jax.jit(opt.update)
  state = opt.init(params)
  for g in _grads(steps=4):
    _, state = step(_to_jax(g), state, params)
  assert step._cache_size() == 1
  assert not np.allclose(state.scales["w"], 1.0)


# ---------------------------------------------------------------- Blockwise LR (T5-21)


_BLOCK_SHAPES = {
  "embed": (6, 3),
  "attn": {"query": {"kernel": (3, 3)}, "value": {"kernel": (3, 3), "bias": (3,)}},
  "mlp": {"fc1": {"kernel": (3, 4)}},
  "ln_f": {"scale": (3,)},
  "head": {"kernel": (3, 2)},
}


def test_default_block_labels():
  from baselines.wrappers._blockwise_lr import block_label, default_block_labels

  params = jax.tree.map(
    lambda s: jnp.zeros(s), _BLOCK_SHAPES, is_leaf=lambda x: isinstance(x, tuple)
  )
  assert default_block_labels(params) == {
    "embed": "emb",
    "attn": {"query": {"kernel": "qk"}, "value": {"kernel": "vo", "bias": "vo"}},
    "mlp": {"fc1": {"kernel": "ffn"}},
    "ln_f": {"scale": "norm"},
    "head": {"kernel": "other"},
  }
  assert block_label(["layers_0", "mlp", "layernorm", "scale"], 1) == "norm"  # innermost wins
  assert block_label(["h", "0", "attn", "k_proj", "kernel"], 2) == "qk"
  assert block_label(["h", "0", "attn", "o_proj", "kernel"], 2) == "vo"
  assert block_label(["wpe"], 2) == "emb"


def test_blockwise_adamw_matches_numpy():
  lr, b1, b2, eps, wd = 0.01, 0.9, 0.95, 1e-8, 0.1
  ratios = {"emb": 10.0, "qk": 8.0, "ffn": 6.0, "vo": 4.0, "norm": 1.0, "other": 1.0}
  is_leaf = lambda x: isinstance(x, tuple)
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: rng.normal(size=s), _BLOCK_SHAPES, is_leaf=is_leaf)
  grads = [
    jax.tree.map(lambda s: rng.normal(size=s), _BLOCK_SHAPES, is_leaf=is_leaf) for _ in range(STEPS)
  ]
  from baselines.wrappers._blockwise_lr import default_block_labels

  labels = default_block_labels(params)
  opt = baselines.get("blockwise_adamw", learning_rate=lr)
  p = _to_jax(params)
  state = opt.init(p)
  flat_p, treedef = jax.tree.flatten(params)
  flat_l = treedef.flatten_up_to(labels)
  m = [np.zeros_like(x) for x in flat_p]
  v = [np.zeros_like(x) for x in flat_p]
  q = [x.copy() for x in flat_p]
  for t, g in enumerate(grads, start=1):
    u, state = opt.update(_to_jax(g), state, p)
    p = optax.apply_updates(p, u)
    for i, gi in enumerate(treedef.flatten_up_to(g)):
      m[i] = b1 * m[i] + (1 - b1) * gi
      v[i] = b2 * v[i] + (1 - b2) * gi**2
      d = (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps)
      q[i] = q[i] - ratios[flat_l[i]] * lr * (d + wd * q[i])
    for i, x in enumerate(jax.tree.leaves(p)):
      np.testing.assert_allclose(x, q[i], rtol=1e-5, atol=1e-5, err_msg=f"step {t}, {flat_l[i]}")


def test_blockwise_lr_custom_labels_and_missing_ratio():
  from baselines.wrappers._blockwise_lr import blockwise_lr

  params, grads = _params(), _grads(steps=1)
  labels = lambda p: {"b": "slow", "w": "fast"}
  opt = blockwise_lr(optax.sgd(0.1), ratios={"slow": 1.0, "fast": 3.0}, label_fn=labels)
  got, _ = _run(opt, params, grads)
  np.testing.assert_allclose(got[0]["w"], params["w"] - 0.3 * grads[0]["w"], rtol=1e-5)
  np.testing.assert_allclose(got[0]["b"], params["b"] - 0.1 * grads[0]["b"], rtol=1e-5)
  with pytest.raises(ValueError, match="No ratio for block types"):
    bad = blockwise_lr(optax.sgd(0.1), ratios={"slow": 1.0}, label_fn=labels)
    bad.init(_to_jax(params))


def test_new_wrappers_bad_options_raise():
  from baselines.wrappers._fad import fad
  from baselines.wrappers._lawn import lawn
  from baselines.wrappers._ranger21 import scale_by_pnm
  from baselines.wrappers._sgg import sgg

  with pytest.raises(ValueError, match="alpha"):
    fad(optax.sgd(0.1), alpha=1.5)
  with pytest.raises(ValueError, match="free_steps"):
    lawn(optax.sgd(0.1), free_steps=-1)
  with pytest.raises(ValueError, match="beta0"):
    scale_by_pnm(beta0=-1.0)
  with pytest.raises(ValueError, match="num_clusters"):
    sgg(optax.sgd(0.1), num_clusters=0)
  with pytest.raises(ValueError, match="value_fn"):
    opt = baselines.get("fad_sgd")
    opt.update(_to_jax(_params()), opt.init(_to_jax(_params())), _to_jax(_params()))
