"""Tier 5 schedules, LR-free / step-size methods, per-layer LR rules and merging (T5-25..T5-47).

Each project-written method is checked against an independent numpy transcription of the
paper's equations for several steps with random gradients; optax-registered entries against
calling optax directly; merging utilities against numpy.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines
from baselines import merging
from baselines.schedules._adadagrad import inner_product_test_batch_size, norm_test_batch_size
from baselines.schedules._refined_schedule import median_filter, refined_schedule, refined_weights

_STEPS = 6


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
  return params, grads


def _flat(tree):
  return np.concatenate([np.ravel(tree[k]) for k in ("b", "w")]).astype(np.float64)


def _unflat(x, like):
  out, i = {}, 0
  for k in ("b", "w"):
    n = like[k].size
    out[k] = x[i : i + n].reshape(like[k].shape)
    i += n
  return out


def _run(opt, params, grads, extra=None):
  """Updates of `opt` for the fixed gradient sequence; params follow the updates."""
  opt = optax.with_extra_args_support(opt)
  p = jax.tree.map(jnp.asarray, params)
  state = opt.init(p)
  out = []
  for t, g in enumerate(grads):
    e = {} if extra is None else extra(t, p)
    u, state = opt.update(jax.tree.map(jnp.asarray, g), state, p, **e)
    out.append(jax.tree.map(np.asarray, u))
    p = optax.apply_updates(p, u)
  return out


def _close(got, want, rtol=1e-5, atol=1e-7):
  for g, w in zip(got, want, strict=True):
    np.testing.assert_allclose(_flat(g), _flat(w), rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------------
# T5-27 refined schedules
# --------------------------------------------------------------------------------------------


def _ref_refined(norms, tau, power):
  g = np.asarray(norms, np.float64)
  t_len = len(g)
  width = max(1, int(tau * t_len))
  half = width // 2
  sm = np.empty(t_len)
  for t in range(t_len):
    window = [g[min(max(j, 0), t_len - 1)] for j in range(t - half, t + half + 1)]
    sm[t] = np.median(window)
  w = np.array(
    [sm[t] ** -power * sum(sm[p] ** -power for p in range(t + 1, t_len)) for t in range(t_len)]
  )
  return w / w.max()


@pytest.mark.parametrize(("norm", "power"), [("l2", 2), ("l1", 1)])
@pytest.mark.parametrize("tau", [0.0, 0.2])
def test_refined_weights_match_reference(norm, power, tau):
  norms = np.random.default_rng(1).uniform(0.5, 3.0, size=20)
  np.testing.assert_allclose(
    refined_weights(norms, smoothing=tau, norm=norm), _ref_refined(norms, tau, power), rtol=1e-10
  )


def test_refined_schedule_constant_norms_is_linear_decay():
  t_len = 10
  sched = refined_schedule(0.5, np.full(t_len, 2.0))
  got = np.array([float(sched(jnp.asarray(t))) for t in range(t_len + 3)])
  want = np.concatenate([0.5 * (t_len - 1 - np.arange(t_len)) / (t_len - 1), np.zeros(3)])
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_refined_schedule_rising_norms_warm_up_and_anneal():
  # Small norms early and growing: the refined schedule warms up, then anneals to 0.
  w = refined_weights(np.linspace(1.0, 0.2, 50)[::-1] ** -1.0)
  assert np.argmax(w) > 0 and w[0] < 1 and w[-1] == 0


def test_median_filter():
  np.testing.assert_allclose(median_filter([1, 9, 2, 8, 3], 3), [1, 2, 8, 3, 3])
  with pytest.raises(ValueError, match="width"):
    median_filter([1.0, 2.0], 0)


def test_sgd_refined_steps_follow_the_schedule():
  params, grads = _problem()
  norms = np.random.default_rng(2).uniform(0.5, 2.0, size=_STEPS)
  lr = _ref_refined(norms, 0.0, 2) * 0.3
  got = _run(
    baselines.get("sgd_refined", learning_rate=0.3, grad_norms=tuple(norms)), params, grads
  )
  _close(got, [{k: -lr[t] * g[k] for k in g} for t, g in enumerate(grads)])


def test_refined_bad_options_raise():
  with pytest.raises(ValueError, match="norm"):
    refined_weights([1.0, 2.0], norm="l3")
  with pytest.raises(ValueError, match="positive"):
    refined_weights([1.0, 0.0])


# --------------------------------------------------------------------------------------------
# T5-32 D-Adaptation, SGD variant
# --------------------------------------------------------------------------------------------


def _ref_dadapt_sgd(grads, lr, d0, growth=math.inf):
  s = np.zeros_like(_flat(grads[0]))
  d, big_g, sum_sq, out = d0, None, 0.0, []
  for g in grads:
    gv = _flat(g)
    if big_g is None:
      big_g = np.linalg.norm(gv)
    lam = lr * d / big_g
    s = s + lam * gv
    sum_sq += lam**2 * gv @ gv
    d_hat = (s @ s - sum_sq) / (2 * np.linalg.norm(s))
    d = max(d, min(d_hat, growth * d))
    out.append(_unflat(-lam * gv, g))
  return out


@pytest.mark.parametrize("growth", [math.inf, 2.0])
def test_dadapt_sgd_matches_reference(growth):
  params, grads = _problem(3)
  # A common drift makes the gradients correlated, so the distance estimate grows.
  drift = _problem(4, 1)[1][0]
  grads = [{k: g[k] + 2.0 * drift[k] for k in g} for g in grads]
  got = _run(
    baselines.get("dadapt_sgd", learning_rate=0.7, d0=0.1, growth_rate=growth), params, grads
  )
  want = _ref_dadapt_sgd(grads, lr=0.7, d0=0.1, growth=growth)
  # ‖s‖² - Σλ²‖g‖² (reference) vs the equal running sum Σλ⟨g, s⟩ (code): float32 rounding.
  _close(got, want, rtol=2e-5)
  assert not np.allclose(_flat(got[-1]) / _flat(grads[-1]), _flat(got[0]) / _flat(grads[0]))


def test_dadapt_sgd_bad_options_raise():
  with pytest.raises(ValueError, match="d0"):
    baselines.get("dadapt_sgd", d0=0.0)


# --------------------------------------------------------------------------------------------
# T5-38 preconditioned SPS, T5-39 SANIA
# --------------------------------------------------------------------------------------------


def _extras(values, curvatures):
  """value_t, and a value_fn whose Hessian is diag(curvature_t): Hutchinson is then exact."""

  def extra(t, p):
    a = jax.tree.map(jnp.asarray, curvatures[t])
    vf = lambda q: 0.5 * sum(jnp.sum(a[k] * q[k].astype(jnp.float32) ** 2) for k in a)
    return {
      "value": jnp.asarray(values[t], jnp.float32),
      "value_fn": vf,
      "key": jax.random.PRNGKey(t),
    }

  return extra


def _diag_stats(kind, grads, curv, b2):
  """Per step, the raw running statistic (v or D) of each preconditioner, flattened."""
  stat, out = None, []
  for t, g in enumerate(grads):
    gv, hv = _flat(g), _flat(curv[t])
    if kind == "hutchinson":
      stat = hv if t == 0 else b2 * stat + (1 - b2) * hv
    elif kind in ("adam", "adam_sqr"):
      stat = (1 - b2) * gv**2 if t == 0 else b2 * stat + (1 - b2) * gv**2
    else:
      stat = gv**2 if t == 0 else stat + gv**2
    out.append(stat.copy())
  return out


def _ref_psps(grads, values, curv, kind, b2, alpha, eps, lr):
  out = []
  for t, (g, stat) in enumerate(zip(grads, _diag_stats(kind, grads, curv, b2), strict=True)):
    gv = _flat(g)
    if kind == "hutchinson":
      bdiag = np.maximum(alpha, np.abs(stat))
    elif kind == "adam":
      bdiag = np.sqrt(stat / (1 - b2 ** (t + 1))) + eps
    else:
      bdiag = np.sqrt(stat) + eps
    step = max(values[t], 0.0) / (gv @ (gv / bdiag))
    out.append(_unflat(-lr * step * gv / bdiag, g))
  return out


def _polyak_problem(seed):
  params, grads = _problem(seed)
  rng = np.random.default_rng(seed + 10)
  values = rng.uniform(0.0, 3.0, size=_STEPS)
  values[2] = -0.5  # below f*: no step
  curv = [
    {k: rng.normal(size=v.shape).astype(np.float32) for k, v in params.items()}
    for _ in range(_STEPS)
  ]
  return params, grads, values, curv


@pytest.mark.parametrize("kind", ["hutchinson", "adam", "adagrad"])
def test_psps_matches_reference(kind):
  params, grads, values, curv = _polyak_problem(5)
  hp = {"b2": 0.9, "alpha": 0.3, "eps": 1e-3}
  opt = baselines.get(f"psps_{kind}", learning_rate=0.8, **hp)
  got = _run(opt, params, grads, _extras(values, curv))
  _close(got, _ref_psps(grads, values, curv, kind, lr=0.8, **hp))
  assert np.all(_flat(got[2]) == 0.0)


def _ref_sania(grads, values, curv, kind, b2, eps, lr):
  out, regimes = [], set()
  stats = _diag_stats(kind if kind != "identity" else "adagrad_sqr", grads, curv, b2)
  for t, g in enumerate(grads):
    gv = _flat(g)
    if kind == "identity":
      bdiag = np.ones_like(gv)
    elif kind == "adam_sqr":
      bdiag = np.maximum(eps, stats[t] / (1 - b2 ** (t + 1)))
    else:
      bdiag = np.maximum(eps, np.abs(stats[t]))
    a = gv @ (gv / bdiag)
    f = max(values[t], 0.0)
    # Quadratic model along -τ B⁻¹g: f - τ a + τ² a / 2 = 0; smallest root, or τ = 1 if none.
    disc = a * a - 2 * a * f
    tau = (a - math.sqrt(disc)) / a if disc >= 0 else 1.0
    regimes.add("none" if disc < 0 else "root" if f > 0 else "zero")
    out.append(_unflat(-lr * tau * gv / bdiag, g))
  return out, regimes


@pytest.mark.parametrize("kind", ["adagrad_sqr", "adam_sqr", "hutchinson", "identity"])
def test_sania_matches_reference(kind):
  params, grads, values, curv = _polyak_problem(6)
  values = values * np.array([1.0, 0.02, 1.0, 0.02, 30.0, 0.05])  # both regimes of τ
  hp = {"b2": 0.9, "eps": 0.05}
  opt = baselines.get("sania_adagrad_sqr", learning_rate=0.6, preconditioner=kind, **hp)
  got = _run(opt, params, grads, _extras(values, curv))
  want, regimes = _ref_sania(grads, values, curv, kind, lr=0.6, **hp)
  _close(got, want)
  assert {"root", "none"} <= regimes, "the test must exercise both the root and no-root cases"


def test_sania_adagrad_sqr_is_scale_invariant():
  # Rescaling coordinates x = V y scales gradients by V; without eps the y-step is V⁻¹ x-step.
  params, grads, values, _ = _polyak_problem(7)
  scale = {"w": np.full((3, 4), 10.0, np.float32), "b": np.linspace(0.1, 3.0, 4).astype(np.float32)}
  extra = lambda t, p: {"value": jnp.asarray(values[t], jnp.float32)}
  opt = baselines.get("sania_adagrad_sqr", eps=1e-12)
  a = _run(opt, params, grads, extra)
  b = _run(opt, params, [{k: g[k] * scale[k] for k in g} for g in grads], extra)
  _close([{k: x[k] * scale[k] for k in x} for x in b], a, rtol=1e-4)  # float32, two paths


def test_polyak_bad_options_raise():
  with pytest.raises(ValueError, match="preconditioner"):
    baselines.get("psps_adam", preconditioner="shampoo")
  with pytest.raises(ValueError, match="preconditioner"):
    baselines.get("sania_adam_sqr", preconditioner="adam")


# --------------------------------------------------------------------------------------------
# T5-25 μP Adam
# --------------------------------------------------------------------------------------------


def _ref_mup_adam(params, grads, lr, r, mults, b1, b2, eps, weight_decay):
  m = {k: np.zeros(v.shape) for k, v in params.items()}
  v = {k: np.zeros(v.shape) for k, v in params.items()}
  p = {k: x.astype(np.float64) for k, x in params.items()}
  out = []
  for t, g in enumerate(grads, start=1):
    u = {}
    for k in g:
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
      mhat, vhat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
      u[k] = -lr * (mults[k] * mhat / (np.sqrt(vhat) + eps / r) + weight_decay * p[k])
      p[k] = p[k] + u[k]
    out.append(u)
  return out


@pytest.mark.parametrize(
  ("roles", "mults"),
  [(None, {"w": 0.25, "b": 1.0}), ({"w": "input", "b": "output"}, {"w": 1.0, "b": 0.25})],
)
def test_mup_adam_matches_reference(roles, mults):
  params, grads = _problem(8)
  grads = [{k: 1e-3 * g[k] for k in g} for g in grads]  # small gradients: ε matters
  hp = {"b1": 0.9, "b2": 0.99, "eps": 1e-3, "weight_decay": 0.1}
  got = _run(
    baselines.get("mup_adam", learning_rate=0.01, width_mult=4.0, roles=roles, **hp), params, grads
  )
  _close(got, _ref_mup_adam(params, grads, lr=0.01, r=4.0, mults=mults, **hp))


def test_mup_adam_bad_options_raise():
  with pytest.raises(ValueError, match="width_mult"):
    baselines.get("mup_adam", width_mult=0.0)
  with pytest.raises(ValueError, match="role"):
    baselines.get("mup_adam", roles={"w": "embedding", "b": "vector"}).init(_problem()[0])


# --------------------------------------------------------------------------------------------
# T5-40 AdAdaGrad batch-size tests
# --------------------------------------------------------------------------------------------


def test_adaptive_batch_size_tests_match_reference():
  rng = np.random.default_rng(9)
  per_ex = {"w": rng.normal(0.3, 1.0, size=(8, 3, 4)), "b": rng.normal(-0.2, 1.0, size=(8, 4))}
  flat = np.concatenate([per_ex["w"].reshape(8, -1), per_ex["b"]], axis=1)
  mean = flat.mean(0)
  var = np.sum((flat - mean) ** 2) / 7
  want_norm = max(8, math.ceil(var / (0.5**2 * mean @ mean)))
  ip = flat @ mean
  var_ip = np.sum((ip - mean @ mean) ** 2) / 7
  want_ip = max(8, math.ceil(var_ip / (0.1**2 * (mean @ mean) ** 2)))
  tree = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), per_ex)
  assert int(norm_test_batch_size(tree, 0.5)) == want_norm > 8
  assert int(inner_product_test_batch_size(tree, 0.1)) == want_ip > 8
  # A batch that passes the test keeps its size.
  same = jax.tree.map(lambda x: jnp.broadcast_to(x[:1], x.shape) + 1e-3 * x, tree)
  assert int(norm_test_batch_size(same, 0.5)) == 8


# --------------------------------------------------------------------------------------------
# optax-registered entries: the entry is optax's function with the registered defaults.
# --------------------------------------------------------------------------------------------

_OPTAX = {
  "adamw_linear_decay": lambda: optax.adamw(
    optax.linear_schedule(1e-3, 0.0, 1000), weight_decay=1e-4
  ),
  "sgd_linear_decay": lambda: optax.sgd(optax.linear_schedule(0.1, 0.0, 1000), momentum=0.9),
  "adamw_warmup_cosine": lambda: optax.adamw(
    optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000), weight_decay=1e-4
  ),
  "sgd_cosine": lambda: optax.sgd(optax.cosine_decay_schedule(0.1, 1000), momentum=0.9),
  "adafactor_relative_step": lambda: optax.adafactor(
    lambda c: jnp.minimum(1e-2, 1 / jnp.sqrt(c + 1.0)), decay_rate=0.8
  ),
  "dadapt_adamw": lambda: optax.contrib.dadapt_adamw(1.0),
  "dog": lambda: optax.contrib.dog(1.0),
  "dowg": lambda: optax.contrib.dowg(1.0),
  "ldog": lambda: optax.chain(optax.scale_by_distance_over_gradients(), optax.scale(-1.0)),
  "momo": lambda: optax.contrib.momo(1.0),
  "momo_adam": lambda: optax.contrib.momo_adam(1e-2),
  "sps": lambda: optax.polyak_sgd(1.0),
  "adadagrad": lambda: optax.adagrad(0.1),
  "prodigy": lambda: optax.contrib.prodigy(1.0),
  "schedule_free_adamw": lambda: optax.contrib.schedule_free_adamw(0.0025),
}


@pytest.mark.parametrize("name", sorted(_OPTAX))
def test_optax_entries_are_optax(name):
  params, grads = _problem(11, 4)
  values = np.random.default_rng(12).uniform(0.5, 2.0, size=4)
  extra = lambda t, p: {"value": jnp.asarray(values[t], jnp.float32)}
  got = _run(baselines.get(name), params, grads, extra)
  _close(got, _run(_OPTAX[name](), params, grads, extra))
  assert baselines.entry(name).source == "optax"


def test_warmup_linear_decay_schedule_values():
  from baselines.schedules.entries import warmup_linear_decay_schedule

  sched = warmup_linear_decay_schedule(1.0, 10, 4)
  got = [float(sched(t)) for t in range(11)]
  np.testing.assert_allclose(
    got, [0, 0.25, 0.5, 0.75, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0], atol=1e-6
  )


# --------------------------------------------------------------------------------------------
# Merging utilities (T5-43..T5-47) and the not-applicable entries that point to them.
# --------------------------------------------------------------------------------------------


def _models(n, seed=13):
  rng = np.random.default_rng(seed)
  return [
    {
      "w": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
      "b": jnp.asarray(rng.normal(size=4), jnp.float32),
    }
    for _ in range(n)
  ]


def test_uniform_average_and_task_arithmetic():
  base, *fts = _models(4)
  avg = merging.uniform_average(fts)
  for k in base:
    np.testing.assert_allclose(avg[k], np.mean([np.asarray(m[k]) for m in fts], 0), rtol=1e-6)
  ta = merging.task_arithmetic(base, fts, scale=0.4)
  for k in base:
    want = np.asarray(base[k]) + 0.4 * sum(np.asarray(m[k]) - np.asarray(base[k]) for m in fts)
    np.testing.assert_allclose(ta[k], want, rtol=1e-5, atol=1e-6)


def test_merge_task_vectors_task_and_layer_wise():
  base, *fts = _models(3)
  taus = merging.task_vectors(base, fts)
  got = merging.merge_task_vectors(base, taus, jnp.array([0.2, -0.7]))
  lw = merging.merge_task_vectors(
    base, taus, {"w": jnp.array([0.2, -0.7]), "b": jnp.array([1.0, 0.5])}
  )
  for k, c in (("w", (0.2, -0.7)), ("b", (0.2, -0.7))):
    want = np.asarray(base[k]) + sum(
      ci * (np.asarray(m[k]) - np.asarray(base[k])) for ci, m in zip(c, fts, strict=True)
    )
    np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(lw["w"], got["w"])
  want_b = np.asarray(base["b"]) + sum(
    ci * (np.asarray(m["b"]) - np.asarray(base["b"])) for ci, m in zip((1.0, 0.5), fts, strict=True)
  )
  np.testing.assert_allclose(lw["b"], want_b, rtol=1e-5, atol=1e-6)


def test_adamerging_finds_the_coefficients_an_objective_prefers():
  base, *fts = _models(3)
  taus = merging.task_vectors(base, fts)
  target = merging.merge_task_vectors(base, taus, jnp.array([0.8, 0.1]))
  objective = lambda p, key: sum(jnp.sum((p[k] - target[k]) ** 2) for k in p)
  merged, coeffs = merging.adamerging(
    base, taus, objective, jax.random.PRNGKey(0), layerwise=False, num_steps=400, learning_rate=0.02
  )
  np.testing.assert_allclose(coeffs, [0.8, 0.1], atol=1e-2)
  assert float(objective(merged, None)) < 1e-3
  ent = merging.prediction_entropy(jnp.array([[0.0, 0.0], [100.0, 0.0]]))
  np.testing.assert_allclose(ent, math.log(2) / 2, rtol=1e-6)


def test_lcsc_combination_and_search():
  ckpts = _models(4)
  alphas = jnp.array([0.1, 0.2, 0.3, 0.4])
  comb = merging.linear_combination(ckpts, alphas)
  np.testing.assert_allclose(
    comb["w"],
    sum(float(a) * np.asarray(c["w"]) for a, c in zip(alphas, ckpts, strict=True)),
    rtol=1e-5,
    atol=1e-6,
  )
  target = merging.linear_combination(ckpts, jnp.array([0.5, 0.0, 0.0, 0.5]))
  metric = lambda p: sum(jnp.sum((p[k] - target[k]) ** 2) for k in p)
  start = float(metric(ckpts[-1]))
  best, val = merging.lcsc_search(
    ckpts, metric, jax.random.PRNGKey(1), num_iters=60, population=8, sigma=0.1
  )
  assert float(val) < 0.2 * start
  np.testing.assert_allclose(
    float(metric(merging.linear_combination(ckpts, best))), float(val), rtol=1e-5
  )


def test_adamms_merge_and_select():
  base = {"a": jnp.ones((2,)), "b": jnp.zeros((3,)), "only_base": jnp.full((2,), 7.0)}
  other = {"a2": jnp.full((2,), 3.0), "b": jnp.ones((3,)), "extra": jnp.ones((5,))}
  m = merging.adamms_merge(base, other, 0.25, mapping={"a": "a2"})
  np.testing.assert_allclose(m["a"], 1.5)
  np.testing.assert_allclose(m["b"], 0.25)
  np.testing.assert_allclose(m["only_base"], 7.0)
  alphas = [0.0, 0.2, 0.4, 0.6, 0.8]
  outputs = [0.0, 1.0, 1.1, 1.15, 3.0]  # most stable around alpha = 0.4
  assert merging.adamms_select(alphas[::-1], outputs[::-1], lambda x, y: abs(x - y)) == 0.4


@pytest.mark.parametrize(
  "name", ["lcsc", "single_final_merge", "adamerging", "task_arithmetic", "adamms"]
)
def test_merging_entries_point_to_existing_utilities(name):
  e = baselines.entry(name)
  assert e.status == "not-applicable" and name not in baselines.names()
  refs = [w.rstrip(",.;)") for w in e.reason.split() if w.startswith("baselines.merging.")]
  assert refs and all(callable(getattr(merging, r.split(".")[-1])) for r in refs)


def test_batch_ids_are_all_covered():
  ids = {i for e in baselines.entries() for i in e.ids}
  assert {f"T5-{n}" for n in range(25, 48)} <= ids
