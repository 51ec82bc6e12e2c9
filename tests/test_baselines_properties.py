"""Properties the papers state, checked through the registry (issue 18).

The formula tests (`test_baselines_tier1a.py` and beside it) compare each rule with a numpy
reference written by the same team, so a misreading of a paper is copied into both. The
checks here come from the papers' claims instead: a bound, an invariant, an identity, a
state size, a sign. Each runs a few steps on tiny tensors, one family per section.
"""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines


def _tree(seed=0, shapes=None):
  shapes = shapes or {"w": (6, 5), "b": (5,)}
  keys = jax.random.split(jax.random.PRNGKey(seed), len(shapes))
  return {n: jax.random.normal(k, s) for (n, s), k in zip(shapes.items(), keys, strict=True)}


def _steps(opt, params, grads, **extra):
  """Applies `opt` along `grads` (a list of trees); the list of updates."""
  opt = optax.with_extra_args_support(opt)
  update = jax.jit(functools.partial(opt.update, **extra))
  state, out = opt.init(params), []
  for g in grads:
    u, state = update(g, state, params)
    params = optax.apply_updates(params, u)
    out.append(u)
  return out


# ---------------------------------------------------------------------------------------------
# sgd_family
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lion", "sign_sgd", "signum"])
def test_sign_methods_move_every_entry_by_exactly_the_learning_rate(name):
  # Lion (Chen et al.) and signSGD / Signum (Bernstein et al.): the update
  # is lr * sign(.), so without weight decay every entry moves by +-lr.
  lr = 0.01
  hp = {"weight_decay": 0.0} if name == "lion" else {}
  grads = [_tree(s) for s in range(3)]
  for u in _steps(baselines.get(name, learning_rate=lr, **hp), _tree(9), grads):
    for leaf in jax.tree.leaves(u):
      np.testing.assert_allclose(jnp.abs(leaf), lr, rtol=1e-6)
  # signSGD's sign is the gradient's own.
  u = _steps(baselines.get("sign_sgd", learning_rate=lr), _tree(9), grads[:1])[0]
  for a, g in zip(jax.tree.leaves(u), jax.tree.leaves(grads[0]), strict=True):
    np.testing.assert_array_equal(jnp.sign(a), -jnp.sign(g))


def test_gravity_first_step_averages_with_one_half():
  # Gravity (authors' Keras code): beta_hat = (beta t + 1) / (t + 2) with t the steps taken
  # before, so from a zero velocity the first step is lr * zeta / 2, zeta = g / (1 + (M g)^2).
  lr, g = 0.1, _tree(1)
  u = _steps(baselines.get("gravity", learning_rate=lr, alpha=0.0), _tree(0), [g])[0]
  for a, gl in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
    zeta = gl / (1 + (jnp.max(jnp.abs(gl)) * gl) ** 2)
    np.testing.assert_allclose(a, -lr * zeta / 2, rtol=1e-5)


def test_triple_momentum_contracts_at_rate_rho():
  # Van Scoy et al.'s rate: on an L-smooth, mu-strongly convex function with step 1/L, the
  # error shrinks like rho^k, rho = 1 - 1/sqrt(kappa) (plain GD: 1 - 1/kappa).
  kappa, steps = 16.0, 60
  h = jnp.linspace(1.0, kappa, 8)
  loss = lambda p: 0.5 * jnp.sum(h * p["x"] ** 2)
  opt = baselines.get("triple_momentum", learning_rate=1.0 / kappa, kappa=kappa)
  p = {"x": jnp.ones(8)}
  state = opt.init(p)
  for _ in range(steps):
    u, state = opt.update(jax.grad(loss)(p), state, p)
    p = optax.apply_updates(p, u)
  rho = 1 - 1 / math.sqrt(kappa)
  err = float(jnp.linalg.norm(p["x"]) / jnp.linalg.norm(jnp.ones(8)))
  assert err <= 10 * rho**steps < (1 - 1 / kappa) ** steps, err


def test_normalized_lr_gd_divides_the_step_by_the_loss():
  # Tyurin's Normalized LR+GD: theta <- theta - (gamma / f(theta)) grad f(theta).
  g = _tree(2)
  u = _steps(baselines.get("normalized_lr_gd", learning_rate=0.5), _tree(0), [g], value=0.25)[0]
  for a, gl in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
    np.testing.assert_allclose(a, -0.5 * gl / 0.25, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# adam_family
# ---------------------------------------------------------------------------------------------


def _scan_updates(opt, params, grads):
  """The updates of `opt` along `grads` (a tree of stacked per-step gradients), one scan."""

  def step(carry, g):
    p, s = carry
    u, s = opt.update(g, s, p)
    return (optax.apply_updates(p, u), s), u

  return jax.lax.scan(step, (params, opt.init(params)), grads)[1]


def _wild_grads(steps, seed=0, shape=(6, 5)):
  # Per-step gradients whose scale varies over four orders of magnitude.
  k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
  scale = 10.0 ** jax.random.uniform(k1, (steps, 1, 1), minval=-2.0, maxval=2.0)
  return {"w": scale * jax.random.normal(k2, (steps, *shape))}


@pytest.mark.parametrize("amsbound", [False, True])
def test_adabound_step_lies_within_its_bounds_and_tends_to_sgd(amsbound):
  # Luo et al. (AdaBound, Alg. 2): the per-coordinate step size is clipped to
  # [a*(1 - 1/(gamma t + 1)), a*(1 + 1/(gamma t))], both tending to the final (SGD) rate a*.
  lr, final_lr, gamma, b1, steps = 1e-3, 0.1, 0.05, 0.9, 400
  grads = _wild_grads(steps)
  name = "amsbound" if amsbound else "adabound"
  opt = baselines.get(name, learning_rate=lr, final_lr=final_lr, gamma=gamma, b1=b1)
  u = _scan_updates(opt, {"w": jnp.zeros((6, 5))}, grads)["w"]
  mom, ms = jnp.zeros((6, 5)), []
  for g in grads["w"]:
    mom = b1 * mom + (1 - b1) * g
    ms.append(mom)
  eff = -u / jnp.stack(ms)  # the step size each coordinate took
  t = jnp.arange(1, steps + 1, dtype=jnp.float32)[:, None, None]
  lower = final_lr * (1 - 1 / (gamma * t + 1))
  upper = final_lr * (1 + 1 / (gamma * t))
  # Where the momentum has cancelled to ~0, float32 rounding dominates the ratio.
  inside = (eff >= lower * (1 - 1e-4)) & (eff <= upper * (1 + 1e-4)) | (
    jnp.abs(jnp.stack(ms)) < 1e-2
  )
  assert bool(jnp.all(inside))
  np.testing.assert_allclose(eff[-1], final_lr, rtol=0.06)  # upper - lower = 10% at t = 400


@pytest.mark.parametrize("name", ["adam_atan2", "laprop"])
def test_direction_is_invariant_to_the_gradient_scale(name):
  # Adam-atan2 (Everett et al.) has no eps: atan2(m, b sqrt(v)) is scale-free; LaProp
  # (Ziyin et al.) normalizes each gradient before the momentum (eps 1e-15 only).
  grads = _wild_grads(6)
  opt = baselines.get(name, learning_rate=1e-2)
  u = _scan_updates(opt, {"w": jnp.zeros((6, 5))}, grads)["w"]
  u_scaled = _scan_updates(opt, {"w": jnp.zeros((6, 5))}, {"w": 1e3 * grads["w"]})["w"]
  np.testing.assert_allclose(u_scaled, u, rtol=1e-4, atol=1e-9)
  if name == "adam_atan2":  # |a atan2(.)| <= a pi / 2
    assert float(jnp.max(jnp.abs(u))) <= 1e-2 * 1.27 * math.pi / 2


def test_adagrad_norm_steps_never_exceed_the_learning_rate():
  # Ward, Wu & Bottou: b_t^2 = b_{t-1}^2 + |g_t|^2 >= |g_t|^2, so |x_{t+1} - x_t| <= eta, and
  # b_t never decreases.
  grads = _wild_grads(20)
  u = _scan_updates(
    baselines.get("adagrad_norm", learning_rate=0.5), {"w": jnp.zeros((6, 5))}, grads
  )
  norms = jnp.linalg.norm(u["w"].reshape(20, -1), axis=1)
  assert float(jnp.max(norms)) <= 0.5 * (1 + 1e-6)
  ratio = norms / jnp.linalg.norm(grads["w"].reshape(20, -1), axis=1)  # eta / b_t
  assert bool(jnp.all(jnp.diff(ratio) <= 1e-7))


def test_adamnc_without_momentum_is_adagrad():
  # Reddi et al.: beta_2t = 1 - 1/t makes v_t the mean of g^2; with alpha_t = alpha / sqrt(t)
  # and beta_1 = 0 the step is alpha g_t / sqrt(sum of g^2), AdaGrad's.
  grads = _wild_grads(8)
  opt = baselines.get("adamnc", learning_rate=0.1, b1=0.0, eps=0.0)
  u = _scan_updates(opt, {"w": jnp.zeros((6, 5))}, grads)["w"]
  want = -0.1 * grads["w"] / jnp.sqrt(jnp.cumsum(grads["w"] ** 2, axis=0))
  np.testing.assert_allclose(u, want, rtol=1e-4)


def test_adamod_never_steps_further_than_adam():
  # Ding et al.: the step size is min(eta_t, s_t) with eta_t Adam's, so |step| <= Adam's.
  grads = _wild_grads(30)
  p = {"w": jnp.zeros((6, 5))}
  u = _scan_updates(baselines.get("adamod", learning_rate=1e-3), p, grads)["w"]
  adam = _scan_updates(optax.adam(1e-3), p, grads)["w"]
  assert bool(jnp.all(jnp.abs(u) <= jnp.abs(adam) * (1 + 1e-5)))
  assert float(jnp.mean(jnp.abs(u))) < 0.5 * float(jnp.mean(jnp.abs(adam)))  # the bound binds


def test_fadam_momentum_rms_is_at_most_the_clip():
  # Hwang (FAdam, Alg. 1): each natural gradient is clipped to RMS <= c before the momentum,
  # so the momentum (a convex combination of them and 0) has RMS <= c too.
  grads = _wild_grads(10)
  opt = baselines.get("fadam", learning_rate=1.0, clip=0.5, weight_decay=0.0)
  u = _scan_updates(opt, {"w": jnp.zeros((6, 5))}, grads)["w"]
  rms = jnp.sqrt(jnp.mean(u.reshape(10, -1) ** 2, axis=1))
  assert float(jnp.max(rms)) <= 0.5 * (1 + 1e-5)


# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------


def test_coupled_adam_scales_every_token_alike_and_leaves_dense_kernels_to_adam():
  # Stollenwerk & Stollenwerk: the embedding's second moment is shared by all tokens, so the
  # first step moves every token vector by the same per-dimension factor of its gradient; the
  # paper couples the embedding only, so a dense kernel takes Adam's step.
  params = {"embed": jnp.zeros((7, 4)), "dense": {"kernel": jnp.zeros((4, 3))}}
  g = _tree(3, {"embed": (7, 4), "kernel": (4, 3)})
  g = {"embed": g["embed"], "dense": {"kernel": g["kernel"]}}
  u = _steps(baselines.get("coupled_adam", learning_rate=1.0), params, [g])[0]
  factor = u["embed"] / g["embed"]
  np.testing.assert_allclose(factor, jnp.broadcast_to(factor[:1], factor.shape), rtol=1e-5)
  adam = _steps(optax.adam(1.0), params, [g])[0]
  np.testing.assert_allclose(u["dense"]["kernel"], adam["dense"]["kernel"], rtol=1e-5)


# Bytes per entry of the m x n matrix that a rule keeps on purpose besides its factors: CAME's
# full first moment (float32), SMMF's one-bit signs of the first moment.
_DENSE_PART = {"adafactor": 0, "adalomo": 0, "came": 4, "smmf": 1 / 8}


@pytest.mark.parametrize("name", sorted(_DENSE_PART))
def test_factored_state_grows_like_rows_plus_columns(name):
  # Shazeer & Stern (Adafactor) and the rules built on its factored second moment keep
  # O(m + n) numbers for an m x n matrix besides `_DENSE_PART`, so quadrupling both sides
  # about quadruples that state, not x16.
  def factored(shape):
    w = {"w": jax.ShapeDtypeStruct(shape, jnp.float32)}
    return baselines.state_bytes(baselines.get(name), w) - _DENSE_PART[name] * math.prod(shape)

  small, big = factored((64, 32)), factored((256, 128))
  assert 0 < big <= 4.5 * small, (small, big)


@pytest.mark.parametrize(("name", "bytes_per_entry"), [("adam8bit", 2.01), ("adam_fp8", 2.0)])
def test_low_precision_adam_keeps_about_one_byte_per_moment_entry(name, bytes_per_entry):
  # Dettmers et al. (8-bit Adam: uint8 codes + one float32 absmax per 2048-block) and Fishman
  # et al. (FP8 moments + one scale per tensor): 2 moments x ~1 byte, against Adam's 8 bytes.
  n, w = 128 * 128, {"w": jax.ShapeDtypeStruct((128, 128), jnp.float32)}
  assert baselines.state_bytes(baselines.get(name), w) <= bytes_per_entry * n + 64


# ---------------------------------------------------------------------------------------------
# matrix
# ---------------------------------------------------------------------------------------------


def _first_update(name, g, **hp):
  p = jax.tree.map(jnp.zeros_like, g)
  return _steps(baselines.get(name, learning_rate=1.0, **hp), p, [g])[0]


def _ill_conditioned(seed=0, shape=(16, 8)):
  # A gradient whose singular values span two orders of magnitude.
  w = jax.random.normal(jax.random.PRNGKey(seed), shape) * jnp.logspace(-1, 1, shape[1])
  return {"w": w, "b": jnp.ones(shape[1])}


@pytest.mark.parametrize("name", ["muon", "mars_shampoo"])
def test_newton_schulz_updates_are_near_orthogonal(name):
  # Jordan et al. (Muon) and MARS-Shampoo: five quintic Newton-Schulz steps send every
  # singular value of the momentum into a band around 1 (about [0.68, 1.13] for Muon's
  # coefficients), whatever the spread of the gradient's.
  s = jnp.linalg.svd(_first_update(name, _ill_conditioned())["w"], compute_uv=False)
  assert 0.6 <= float(s.min()) and float(s.max()) <= 1.2, s


@pytest.mark.parametrize("name", ["swan", "shampoo"])
def test_whitened_updates_are_orthogonal(name):
  # SWAN (Ma et al.): (G G^T)^(-1/2) G = U V^T up to a scale; Shampoo (Gupta et al.): the
  # first step L^(-1/4) G R^(-1/4) = U V^T up to a scale (graft, momentum).
  s = jnp.linalg.svd(_first_update(name, _ill_conditioned())["w"], compute_uv=False)
  np.testing.assert_allclose(s, s[0], rtol=1e-2)


def test_sinkgd_ends_with_every_input_row_at_norm_sqrt_fan_out():
  # Scetbon et al. (SinkGD): each SR-Sinkhorn pass ends by scaling every input's gradient
  # (a row of the (fan_in, fan_out) kernel) to norm sqrt(fan_out).
  u = _first_update("sinkgd", _ill_conditioned())["w"]
  np.testing.assert_allclose(jnp.linalg.norm(u, axis=1), math.sqrt(8), rtol=1e-4)


def test_poet_keeps_the_singular_values_of_the_start():
  # Qiu et al. (POET): W = R W0 P with R, P orthogonal, so W keeps W0's singular values
  # through the steps and the merges.
  w0 = {"w": jax.random.normal(jax.random.PRNGKey(1), (6, 4))}
  loss = lambda p: jnp.sum((p["w"] - 1.0) ** 2)
  opt = baselines.get("poet", learning_rate=0.05, merge_every=3)
  p, state = w0, opt.init(w0)
  update = jax.jit(opt.update)
  for _ in range(7):
    u, state = update(jax.grad(loss)(p), state, p)
    p = optax.apply_updates(p, u)
  assert float(jnp.max(jnp.abs(p["w"] - w0["w"]))) > 1e-2  # it moved
  s0, s = (jnp.linalg.svd(x["w"], compute_uv=False) for x in (w0, p))
  np.testing.assert_allclose(s, s0, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# lowrank
# ---------------------------------------------------------------------------------------------


def _leaves_moved(updates):
  return [sum(bool(jnp.any(leaf != 0)) for leaf in jax.tree.leaves(u)) for u in updates]


def test_block_coordinate_methods_train_only_the_active_blocks():
  # BAdam (Luo et al.): one block per round of K steps, the others frozen; LISA (Pan et al.):
  # gamma sampled layers per period, the others frozen.
  shapes = {f"l{i}": (3, 2) for i in range(5)}
  grads = [_tree(s, shapes) for s in range(6)]
  p = _tree(9, shapes)
  badam = _steps(baselines.get("badam", learning_rate=0.1, switch_every=2), p, grads)
  assert _leaves_moved(badam) == [1] * 6
  moved = [[n for n in shapes if bool(jnp.any(u[n] != 0))] for u in badam]
  assert moved[0] == moved[1] and moved[2] == moved[3] and moved[1] != moved[2]
  lisa = _steps(baselines.get("lisa", learning_rate=0.1, num_active=2, period=3), p, grads)
  assert _leaves_moved(lisa) == [2] * 6


def test_subspace_momentum_without_momentum_is_sgd():
  # Nguyen & Nguyen: u = back(M) + (G - back(R)); with beta = 0, M = R and u = G.
  g = _tree(4, {"w": (8, 6), "b": (6,)})
  u = _steps(baselines.get("subspace_momentum", learning_rate=1.0, rank=2, b1=0.0), g, [g])[0]
  for a, gl in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
    np.testing.assert_allclose(a, -gl, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# layerwise, wrappers, step_size, schedules, distributed, privacy: the papers' checkable claims
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "ratio"), [("lamb", 1.0), ("lars", 1e-3)])
def test_layerwise_trust_ratio_sets_each_tensors_step_norm(name, ratio):
  # You et al. (LAMB; LARS with trust coefficient eta): the step of each tensor is the
  # learning rate times (eta) ||w||, whatever the gradient's norm (first step, no decay).
  w, g = _tree(0), _tree(1)
  g = {"w": 100.0 * g["w"], "b": 0.01 * g["b"]}
  u = _steps(baselines.get(name, learning_rate=0.1, weight_decay=0.0), w, [g])[0]
  for k in w:
    np.testing.assert_allclose(
      jnp.linalg.norm(u[k]), 0.1 * ratio * jnp.linalg.norm(w[k]), rtol=1e-4
    )


def test_sam_perturbs_the_weights_by_rho():
  # Foret et al. (SAM): the gradient is taken at w + rho g / ||g||. On f = |w - a|^2 / 2 that
  # gradient is g + eps, so (momentum's first step) -u / lr - g = eps, of norm rho.
  a = _tree(5)
  loss = lambda p: 0.5 * sum(jnp.sum((p[k] - a[k]) ** 2) for k in p)
  w = _tree(0)
  g = jax.grad(loss)(w)
  u = _steps(baselines.get("sam_sgd", learning_rate=0.1, rho=0.05), w, [g], value_fn=loss)[0]
  eps = jax.tree.map(lambda x, y: -x / 0.1 - y, u, g)
  np.testing.assert_allclose(optax.tree.norm(eps), 0.05, rtol=1e-4)


@pytest.mark.parametrize("name", ["dog", "prodigy", "dadapt_sgd", "dadapt_adamw"])
def test_distance_estimates_never_decrease(name):
  # DoG (Ivgi et al.): r_t = max_i |x_i - x_0|; Prodigy (Mishchenko & Defazio) and
  # D-Adaptation (Defazio & Mishchenko): d_{k+1} = max(d_k, d_hat). All are non-decreasing.
  field = {"dog": "max_dist", "prodigy": "estim_lr", "dadapt_adamw": "estim_lr"}.get(name, "d")
  loss = lambda p: 0.5 * jnp.sum(jnp.linspace(0.5, 3.0, 5) * (p["w"] - 2.0) ** 2)
  opt = baselines.get(name)
  p = {"w": jnp.zeros(5)}
  state, seen = opt.init(p), []
  update = jax.jit(opt.update)
  for _ in range(12):
    u, state = update(jax.grad(loss)(p), state, p)
    p = optax.apply_updates(p, u)
    leaves = [s for s in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, field))]
    seen.append(float(next(getattr(s, field) for s in leaves if hasattr(s, field))))
  assert all(b >= a for a, b in itertools.pairwise(seen)), seen
  assert seen[-1] > seen[0], seen


@pytest.mark.parametrize("name", ["sgd_linear_decay", "sgd_cosine"])
def test_decay_schedules_start_at_the_peak_and_end_at_zero(name):
  # Linear decay to zero (Defazio et al.) and cosine (Loshchilov & Hutter): lr at step 0,
  # 0 at num_steps.
  g = [_tree(1)] * 11
  u = _steps(baselines.get(name, learning_rate=0.1, num_steps=10, momentum=None), _tree(0), g)
  np.testing.assert_allclose(u[0]["w"], -0.1 * g[0]["w"], rtol=1e-5)
  np.testing.assert_allclose(u[10]["w"], 0.0, atol=1e-7)


_KEY = jax.random.PRNGKey(0)


def test_dp_sgd_clips_every_example_to_norm_c():
  # Abadi et al.: each per-example gradient is scaled to norm <= C before the sum; without
  # noise, B aligned examples of norm >> C average to norm exactly C (per layer: C overall).
  g = _tree(2)
  per_example = jax.tree.map(lambda x: jnp.stack([50.0 * x, 20.0 * x, 7.0 * x]), g)
  norms = {}
  for name in ("dp_sgd", "dp_sgd_per_layer"):
    opt = baselines.get(name, learning_rate=1.0, l2_norm_clip=0.5, noise_multiplier=0.0)
    norms[name] = float(optax.tree.norm(_steps(opt, _tree(0), [per_example], key=_KEY)[0]))
  assert norms["dp_sgd_per_layer"] <= 0.5 * (1 + 1e-5)
  np.testing.assert_allclose(norms["dp_sgd"], 0.5, rtol=1e-5)


def test_terngrad_is_unbiased():
  # Wen et al. (TernGrad): s sign(g) Bernoulli(|g| / s) has mean g (without clipping).
  g = {"w": jax.random.normal(jax.random.PRNGKey(3), (4, 3))}
  tern = baselines.scale_by_terngrad(clip_sigma=None)
  state = tern.init(g)
  keys = jax.random.split(jax.random.PRNGKey(0), 4000)
  d = jax.vmap(lambda k: tern.update(g, state, None, key=k)[0]["w"])(keys)
  big = jnp.max(jnp.abs(g["w"]))
  assert bool(jnp.all((jnp.abs(d) < 1e-6) | (jnp.abs(jnp.abs(d) - big) < 1e-5)))  # 0 or +-s
  # The mean of 4000 draws: standard error <= s / sqrt(4000) = s / 63.
  np.testing.assert_allclose(d.mean(0), g["w"], atol=4 * float(big) / 63)


@pytest.mark.parametrize("compressor", ["scaled_sign", "top_k"])
def test_error_feedback_loses_nothing(compressor):
  # Seide et al. / Karimireddy et al.: e_t + sum of what was sent = sum of the gradients.
  ef = baselines.scale_by_error_feedback(compressor=compressor, k_fraction=0.25)
  grads = [_tree(s) for s in range(5)]
  state, sent = ef.init(grads[0]), jax.tree.map(jnp.zeros_like, grads[0])
  update = jax.jit(ef.update)
  for g in grads:
    d, state = update(g, state)
    sent = jax.tree.map(jnp.add, sent, d)
  total = jax.tree.map(lambda *x: sum(x), *grads)
  error = jax.tree.map(lambda e: e[0] if e.ndim and e.shape[0] == 1 else e, state.error)
  for s, e, t in zip(
    jax.tree.leaves(sent), jax.tree.leaves(error), jax.tree.leaves(total), strict=True
  ):
    np.testing.assert_allclose(s + e.reshape(s.shape), t, rtol=1e-5, atol=1e-5)


def test_dicesgd_feeds_back_what_clipping_removed():
  # Zhang et al. (DiceSGD): e_{t+1} = e_t + mean_i g_i - v_t, so without noise the steps
  # plus the final error sum to the unclipped mean gradients (no clipping bias is lost).
  g = _tree(2)
  per_example = [
    jax.tree.map(lambda x, s=s: jnp.stack([s * x, -0.5 * s * x]), g) for s in (9.0, 3.0, 1.0)
  ]
  opt = baselines.get(
    "dicesgd", learning_rate=1.0, l2_norm_clip=0.5, error_clip=2.0, noise_multiplier=0.0
  )
  opt = optax.with_extra_args_support(opt)
  state, sent, p = opt.init(_tree(0)), jax.tree.map(jnp.zeros_like, g), _tree(0)
  update = jax.jit(functools.partial(opt.update, key=_KEY))
  for pe in per_example:
    u, state = update(pe, state, p)
    sent = jax.tree.map(lambda a, b: a - b, sent, u)
  error = next(
    s for s in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, "error")) if hasattr(s, "error")
  ).error
  mean = jax.tree.map(lambda *x: sum(jnp.mean(y, 0) for y in x), *per_example)
  for a, e, m in zip(
    jax.tree.leaves(sent), jax.tree.leaves(error), jax.tree.leaves(mean), strict=True
  ):
    np.testing.assert_allclose(a + e, m, rtol=1e-5, atol=1e-6)


def test_refined_schedule_is_linear_decay_for_constant_norms_and_favours_small_norms():
  # Defazio et al. (refinement, Alg. 1): w_t = g_t^-2 sum_{p>t} g_p^-2; constant norms give
  # linear decay to zero, and a step with a smaller gradient norm gets a larger rate.
  from baselines.schedules._refined_schedule import refined_weights

  np.testing.assert_allclose(refined_weights([2.0] * 5), [1.0, 0.75, 0.5, 0.25, 0.0], atol=1e-12)
  w = refined_weights([1.0, 0.5, 1.0, 1.0, 1.0])
  assert w[1] > w[0] and w[-1] == 0.0


def test_sania_hits_the_interpolating_minimum_of_a_round_quadratic_in_one_step():
  # Abdukhakimov et al. (SANIA): the step solves f + <g, d> + |d|^2 / 2 = f* along -g; on
  # f = |x|^2 / 2 with f* = 0 (identity preconditioner) the root is d = -x, the minimizer.
  loss = lambda p: 0.5 * sum(jnp.sum(x**2) for x in jax.tree.leaves(p))
  x = _tree(0)
  opt = baselines.get("sania_adagrad_sqr", preconditioner="identity")
  u = _steps(opt, x, [jax.grad(loss)(x)], value=loss(x))[0]
  for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(x), strict=True):
    np.testing.assert_allclose(a, -b, rtol=1e-4, atol=1e-6)


def test_polyak_step_of_psps_matches_the_loss_gap():
  # Abdukhakimov et al. (PSPS): gamma = (f - f*) / (g^T B^-1 g), so the step B^-1 g gamma
  # satisfies <g, step> = f - f*: the linear model reaches f* exactly.
  loss = lambda p: 0.5 * jnp.sum(jnp.linspace(1.0, 4.0, 6) * p["w"] ** 2)
  x = {"w": jnp.linspace(-1.0, 2.0, 6)}
  g = jax.grad(loss)(x)
  u = _steps(baselines.get("psps_adam"), x, [g], value=loss(x))[0]
  np.testing.assert_allclose(-jnp.sum(g["w"] * u["w"]), loss(x), rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# wrappers
# ---------------------------------------------------------------------------------------------


def _trajectory(opt, params, grads):
  """Parameters after each step of `opt` along `grads`."""
  update = jax.jit(opt.update)
  state, out = opt.init(params), []
  for g in grads:
    u, state = update(g, state, params)
    params = optax.apply_updates(params, u)
    out.append(params)
  return out


@pytest.mark.parametrize("name", ["cautious_adamw", "cautious_lion"])
def test_cautious_steps_never_go_uphill(name):
  # Liang et al. (Cautious optimizers): coordinates where the update and the current gradient
  # disagree are masked, so every entry of the step has the descent sign (u g <= 0).
  grads = [_tree(s) for s in range(6)]
  for u, g in zip(_steps(baselines.get(name), _tree(9), grads), grads, strict=True):
    for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
      assert bool(jnp.all(a * b <= 0))


def test_nap_keeps_every_weight_matrix_on_its_initial_sphere():
  # Normalize-and-Project: W_{t+1} = |W_0| (W_t + u_t) / |W_t + u_t| for matrices.
  p0 = _tree(0)
  for p in _trajectory(
    baselines.get("nap_adam", learning_rate=0.05), p0, [_tree(s) for s in range(5)]
  ):
    np.testing.assert_allclose(jnp.linalg.norm(p["w"]), jnp.linalg.norm(p0["w"]), rtol=1e-5)
  assert not np.allclose(p["w"], p0["w"])


def test_lawn_fixes_the_weight_norms_after_the_free_phase():
  # Lawn (Kulkarni et al.): after `free_steps`, each constrained layer keeps the norm it had.
  traj = _trajectory(
    baselines.get("lawn_sgd", learning_rate=0.1, free_steps=2),
    _tree(0),
    [_tree(s) for s in range(6)],
  )
  assert abs(float(jnp.linalg.norm(traj[1]["w"]) - jnp.linalg.norm(_tree(0)["w"]))) > 1e-3
  for p in traj[2:]:
    np.testing.assert_allclose(jnp.linalg.norm(p["w"]), jnp.linalg.norm(traj[1]["w"]), rtol=1e-5)


def test_lookahead_moves_the_slow_weights_a_fraction_alpha_towards_the_fast():
  # Zhang et al. (Lookahead): after k fast steps, phi <- phi + alpha (theta_k - phi) and the
  # parameters restart from phi. Constant gradient, no momentum: theta_k = phi - k lr g.
  p0, g = _tree(0), _tree(1)
  opt = baselines.get(
    "lookahead_sgd", learning_rate=0.1, momentum=0.0, sync_period=3, slow_step_size=0.5
  )
  traj = _trajectory(opt, p0, [g] * 3)
  np.testing.assert_allclose(traj[-1]["w"], p0["w"] - 0.5 * 3 * 0.1 * g["w"], rtol=1e-5, atol=1e-6)


def test_norm_growth_limiter_caps_the_growth_of_each_tensors_update():
  # Fira's limiter: |S_t| <= gamma |S_{t-1}| per tensor, from the second step on.
  grads = [jax.tree.map(lambda x, s=s: (3.0**s) * x, _tree(s)) for s in range(6)]
  opt = baselines.get("norm_growth_limited_adamw", learning_rate=1.0, gamma=1.01)
  norms = np.array(
    [[float(jnp.linalg.norm(u[k])) for k in ("w", "b")] for u in _steps(opt, _tree(9), grads)]
  )
  assert np.all(norms[1:] <= 1.01 * norms[:-1] * (1 + 1e-5))


# ---------------------------------------------------------------------------------------------
# distributed
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sketch", ["count", "gaussian"])
def test_sketch_and_desketch_is_unbiased(sketch):
  # Sketched first-order methods: E[R^T R] = I for CountSketch and for a Gaussian R with
  # entries of variance 1/s, so the desketched gradient has mean g over the sketches.
  g = {"w": jax.random.normal(jax.random.PRNGKey(3), (5, 4))}
  opt = baselines.get("sketched_sgd", learning_rate=1.0, ratio=0.5, sketch=sketch)
  state = opt.init(g)
  keys = jax.random.split(jax.random.PRNGKey(0), 1000)
  d = jax.vmap(lambda k: -opt.update(g, state, g, key=k)[0]["w"])(keys)
  np.testing.assert_allclose(d.mean(0), g["w"], atol=0.12 * float(jnp.max(jnp.abs(g["w"]))))


def test_gossip_preserves_the_workers_average():
  # Lian et al. (D-SGD): a doubly stochastic mixing matrix keeps the average over workers, so
  # the workers' mean moves by -lr times their mean gradient, as in centralized SGD.
  n, p = 4, {"w": jax.random.normal(jax.random.PRNGKey(0), (4, 3, 2))}
  g = {"w": jax.random.normal(jax.random.PRNGKey(1), (4, 3, 2))}
  opt = baselines.get("dsgd", learning_rate=0.1, num_workers=n)
  u = _steps(opt, p, [g])[0]
  np.testing.assert_allclose(u["w"].mean(0), -0.1 * g["w"].mean(0), rtol=1e-5, atol=1e-6)
  assert not np.allclose(u["w"], -0.1 * g["w"])  # the workers did mix


# ---------------------------------------------------------------------------------------------
# zeroth_order
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mezo", "forward_gradient_sgd"])
def test_random_direction_estimates_are_unbiased(name):
  # Malladi et al. (MeZO's SPSA) and Baydin et al. (forward gradient): on a linear loss
  # (z^T grad) z is exact per direction up to the direction, and E[z z^T] = I: mean = grad.
  small = {"w": (3, 2), "b": (2,)}
  c = _tree(4, small)
  loss = lambda p: sum(
    jnp.sum(a * b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(c), strict=True)
  )
  opt = optax.with_extra_args_support(baselines.get(name, learning_rate=1.0))
  p = _tree(0, small)
  state = opt.init(p)
  keys = jax.random.split(jax.random.PRNGKey(1), 2000)
  est = jax.vmap(lambda k: opt.update(p, state, p, value_fn=loss, key=k)[0])(keys)
  for e, want in zip(jax.tree.leaves(est), jax.tree.leaves(c), strict=True):
    # Per entry the estimate's variance is about |c|^2 + c_i^2: 5 standard errors.
    se = math.sqrt(float(sum(jnp.sum(x**2) for x in jax.tree.leaves(c))) * 2 / 2000)
    np.testing.assert_allclose(-e.mean(0), want, atol=5 * se)


def test_mezo_decays_matrices_only():
  # MeZO's code applies weight decay to every parameter but biases and LayerNorm ones.
  loss = lambda p: jnp.zeros([])  # a flat loss: the SPSA estimate is 0
  p = _tree(0)
  u = _steps(
    baselines.get("mezo", learning_rate=0.1, weight_decay=0.5), p, [p], value_fn=loss, key=_KEY
  )[0]
  np.testing.assert_allclose(u["w"], -0.1 * 0.5 * p["w"], rtol=1e-6)
  np.testing.assert_array_equal(u["b"], 0.0)


def test_deepzero_coordinate_estimate_is_the_gradient_on_a_quadratic():
  # Chen et al. (DeepZero's CGE): (f(x + mu e_i) - f(x)) / mu per coordinate, the gradient up
  # to mu h_ii / 2 on a quadratic.
  h = jnp.linspace(1.0, 2.0, 30).reshape(6, 5)
  loss = lambda p: 0.5 * jnp.sum(h * p["w"] ** 2)
  p = {"w": jax.random.normal(jax.random.PRNGKey(0), (6, 5))}
  opt = baselines.get("deepzero", learning_rate=1.0, momentum=0.0, mu=1e-2)
  u = _steps(opt, p, [p], value_fn=loss, key=_KEY)[0]
  np.testing.assert_allclose(-u["w"], h * p["w"], atol=1e-2 * 2.0 / 2 + 1e-3)


# ---------------------------------------------------------------------------------------------
# curvature
# ---------------------------------------------------------------------------------------------


def test_adahessian_first_step_is_newtons_on_a_separable_quadratic():
  # Yao et al. (AdaHessian): Hutchinson's z * Hz with Rademacher z is the exact Hessian
  # diagonal when H is diagonal, so the first bias-corrected step is lr * g / diag(H).
  h = jnp.linspace(1.0, 4.0, 12).reshape(3, 4)
  loss = lambda p: 0.5 * jnp.sum(h * (p["w"] - 1.0) ** 2)
  p = {"w": jnp.zeros((3, 4))}
  g = jax.grad(loss)(p)
  u = _steps(baselines.get("adahessian", learning_rate=0.5), p, [g], value_fn=loss, key=_KEY)[0]
  np.testing.assert_allclose(u["w"], -0.5 * g["w"] / h, rtol=1e-3)


def test_gradient_regularized_newton_solves_its_regularized_system():
  # Semenov, Jaggi & Doikov (gradient-regularized Newton): x+ = x - (H + sqrt(L |g|) I)^-1 g; on an
  # 8-dimensional quadratic, 10 CG iterations solve the system exactly.
  a = jax.random.normal(jax.random.PRNGKey(0), (8, 8))
  hess = a @ a.T / 8 + jnp.eye(8)
  loss = lambda p: 0.5 * p["x"] @ hess @ p["x"] - jnp.sum(p["x"])
  p = {"x": jnp.linspace(-1.0, 1.0, 8)}
  g = jax.grad(loss)(p)
  u = _steps(baselines.get("grad_reg_newton", regularization=2.0), p, [g], value_fn=loss)[0]
  lam = math.sqrt(2.0 * float(jnp.linalg.norm(g["x"])))
  np.testing.assert_allclose(
    u["x"], -jnp.linalg.solve(hess + lam * jnp.eye(8), g["x"]), rtol=1e-3, atol=1e-5
  )


def test_mup_adam_scales_hidden_steps_by_one_over_width():
  # Yang et al. (muP for Adam): hidden and output weights take lr / width_mult, vectors lr.
  g = _tree(1)
  base = _steps(baselines.get("mup_adam", learning_rate=0.1, width_mult=1.0), _tree(0), [g])[0]
  wide = _steps(baselines.get("mup_adam", learning_rate=0.1, width_mult=4.0), _tree(0), [g])[0]
  np.testing.assert_allclose(wide["w"], base["w"] / 4.0, rtol=1e-5)
  np.testing.assert_allclose(wide["b"], base["b"], rtol=1e-5)
