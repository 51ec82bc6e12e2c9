"""Differential-privacy baselines (OPTIMIZERS.md T6-16..T6-20) and the privacy accountant."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines
from baselines.privacy._dp_sgd import per_example_grads
from baselines.privacy.accounting import dp_sgd_epsilon

B, STEPS = 5, 6
SHAPES = {"b": (2,), "w": (3, 4)}


def _params():
  rng = np.random.default_rng(0)
  return {k: (rng.normal(size=s) + 0.5).astype(np.float32) for k, s in SHAPES.items()}


def _grads():
  rng = np.random.default_rng(1)
  # Scales spread so that some examples are clipped and some are not.
  scale = np.array([0.1, 0.5, 1.0, 3.0, 10.0], np.float32)
  return [
    {
      k: (rng.normal(size=(B, *s)) * scale.reshape(-1, *[1] * len(s))).astype(np.float32)
      for k, s in SHAPES.items()
    }
    for _ in range(STEPS)
  ]


def _keys():
  return list(jax.random.split(jax.random.PRNGKey(5), STEPS))


def _normals(key, std):
  """The noise the key defines: leaf j (sorted keys) from fold_in(key, j)."""
  return {
    k: std * np.asarray(jax.random.normal(jax.random.fold_in(key, j), s))
    for j, (k, s) in enumerate(SHAPES.items())
  }


def _run(opt, params, grads, keys):
  p = jax.tree.map(jnp.asarray, params)
  state = opt.init(p)
  step = jax.jit(lambda g, s, p, k: opt.update(g, s, p, key=k))
  out = []
  for g, k in zip(grads, keys, strict=True):
    u, state = step(jax.tree.map(jnp.asarray, g), state, p, k)
    out.append(jax.tree.map(np.asarray, u))
    p = optax.apply_updates(p, u)
  return out


def _close(got, want, rtol=1e-5, atol=1e-6):
  for g, w in zip(got, want, strict=True):
    for k in SHAPES:
      np.testing.assert_allclose(g[k], w[k], rtol=rtol, atol=atol)


def _clip_global(g, c):
  norms = np.sqrt(sum((g[k].reshape(B, -1) ** 2).sum(1) for k in SHAPES))
  f = np.minimum(1.0, c / norms)
  return {k: g[k] * f.reshape(-1, *[1] * len(SHAPES[k])) for k in SHAPES}


def test_dp_sgd_matches_reference():
  lr, c, sigma, mom = 0.1, 1.0, 0.7, 0.9
  grads, keys = _grads(), _keys()
  got = _run(
    baselines.get("dp_sgd", learning_rate=lr, l2_norm_clip=c, noise_multiplier=sigma, momentum=mom),
    _params(),
    grads,
    keys,
  )
  tr = {k: np.zeros(s) for k, s in SHAPES.items()}
  want = []
  for g, key in zip(grads, keys, strict=True):
    cg, z = _clip_global(g, c), _normals(key, sigma * c)
    u = {}
    for k in SHAPES:
      tr[k] = mom * tr[k] + (cg[k].sum(0) + z[k]) / B
      u[k] = -lr * tr[k]
    want.append(u)
  _close(got, want)


@pytest.mark.filterwarnings("ignore:.*seed.*:DeprecationWarning")  # optax.contrib.dpsgd
def test_dp_sgd_without_noise_equals_optax_dpsgd():
  grads = _grads()
  ours = baselines.get(
    "dp_sgd", learning_rate=0.1, l2_norm_clip=1.0, noise_multiplier=0.0, momentum=0.9
  )
  theirs = optax.contrib.dpsgd(0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0, momentum=0.9)
  p = jax.tree.map(jnp.asarray, _params())
  s1, s2 = ours.init(p), theirs.init(p)
  for g, k in zip(grads, _keys(), strict=True):
    u1, s1 = ours.update(g, s1, p, key=k)
    u2, s2 = theirs.update(g, s2, p)
    for name in SHAPES:
      np.testing.assert_allclose(u1[name], u2[name], rtol=1e-6, atol=1e-7)


def test_per_example_clipping_bound_holds_exactly():
  c = 1.0
  opt = baselines.get("dp_sgd", learning_rate=1.0, l2_norm_clip=c, noise_multiplier=0.0)
  p = jax.tree.map(jnp.asarray, _params())
  g = _grads()[0]
  for i in range(B):  # a batch of one example: the update is minus that example, clipped
    one = {k: g[k][i : i + 1] for k in SHAPES}
    u, _ = opt.update(one, opt.init(p), p, key=jax.random.PRNGKey(0))
    norm = float(np.sqrt(sum(np.sum(np.asarray(u[k], np.float64) ** 2) for k in SHAPES)))
    raw = float(np.sqrt(sum(np.sum(one[k].astype(np.float64) ** 2) for k in SHAPES)))
    assert norm <= c * (1 + 1e-6), (i, norm)
    np.testing.assert_allclose(norm, min(raw, c), rtol=1e-6)
  # Per-layer: every tensor of every example within C / sqrt(L).
  opt = baselines.get("dp_sgd_per_layer", learning_rate=1.0, l2_norm_clip=c, noise_multiplier=0.0)
  for i in range(B):
    one = {k: g[k][i : i + 1] for k in SHAPES}
    u, _ = opt.update(one, opt.init(p), p, key=jax.random.PRNGKey(0))
    for k in SHAPES:
      assert float(np.linalg.norm(np.asarray(u[k], np.float64))) <= c / np.sqrt(2) * (1 + 1e-6)


def test_per_example_grads_by_vmap_and_plain_gradient_is_one_example():
  loss = lambda p, x: jnp.sum((p["w"] @ x) ** 2) + jnp.sum(p["b"] * x[:2])
  p = jax.tree.map(jnp.asarray, _params())
  xs = jnp.asarray(np.random.default_rng(2).normal(size=(B, 4)), jnp.float32)
  pe = per_example_grads(loss, p, xs)
  assert pe["w"].shape == (B, 3, 4)
  np.testing.assert_allclose(pe["w"][2], jax.grad(loss)(p, xs[2])["w"], rtol=1e-6)
  opt = baselines.get("dp_sgd", learning_rate=1.0, l2_norm_clip=1e6, noise_multiplier=0.0)
  u, _ = opt.update(jax.grad(loss)(p, xs[0]), opt.init(p), p, key=jax.random.PRNGKey(0))
  np.testing.assert_allclose(u["w"], -jax.grad(loss)(p, xs[0])["w"], rtol=1e-6)
  with pytest.raises(ValueError, match="per-example"):
    opt.update({"b": pe["b"], "w": pe["w"][:2]}, opt.init(p), p, key=jax.random.PRNGKey(0))


def test_dp_sgd_per_layer_matches_reference():
  lr, c, sigma = 0.1, 1.0, 0.5
  grads, keys = _grads(), _keys()
  got = _run(
    baselines.get("dp_sgd_per_layer", learning_rate=lr, l2_norm_clip=c, noise_multiplier=sigma),
    _params(),
    grads,
    keys,
  )
  want = []
  for g, key in zip(grads, keys, strict=True):
    z = _normals(key, sigma * c)
    u = {}
    for k in SHAPES:
      norms = np.sqrt((g[k].reshape(B, -1) ** 2).sum(1))
      f = np.minimum(1.0, (c / np.sqrt(2)) / norms).reshape(-1, *[1] * len(SHAPES[k]))
      u[k] = -lr * ((g[k] * f).sum(0) + z[k]) / B
    want.append(u)
  _close(got, want)


def test_dicesgd_matches_reference():
  lr, c1, c2, sigma = 0.1, 1.0, 2.0, 0.5
  grads, keys = _grads(), _keys()
  opt = baselines.get(
    "dicesgd", learning_rate=lr, l2_norm_clip=c1, error_clip=c2, noise_multiplier=sigma
  )
  got = _run(opt, _params(), grads, keys)
  e = {k: np.zeros(s) for k, s in SHAPES.items()}
  want = []
  for g, key in zip(grads, keys, strict=True):
    cg, z = _clip_global(g, c1), _normals(key, sigma * c1 / B)
    en = np.sqrt(sum((e[k] ** 2).sum() for k in SHAPES))
    fe = min(1.0, c2 / en) if en > 0 else 1.0
    u = {}
    for k in SHAPES:
      v = cg[k].mean(0) + fe * e[k]
      e[k] = e[k] + g[k].mean(0) - v
      u[k] = -lr * (v + z[k])
    want.append(u)
  _close(got, want)


def test_dicesgd_removes_the_clipping_bias():
  # Full-batch least squares with large per-example gradients, no noise: clipped DP-SGD
  # stops at a biased point, DiceSGD's error feedback reaches the optimum.
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.normal(size=(8, 3)) * 5, jnp.float32)
  y = jnp.asarray(rng.normal(size=8) * 5 + 20, jnp.float32)
  loss = lambda p, i: 0.5 * (a[i] @ p["x"] - y[i]) ** 2
  xstar = jnp.linalg.lstsq(a, y)[0]

  def final(opt):
    def step(carry, k):
      p, s = carry
      u, s = opt.update(per_example_grads(loss, p, jnp.arange(8)), s, p, key=k)
      return (optax.apply_updates(p, u), s), None

    p = {"x": jnp.zeros(3)}
    keys = jax.random.split(jax.random.PRNGKey(0), 400)
    (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), keys)
    return float(jnp.linalg.norm(p["x"] - xstar))

  dp = final(baselines.get("dp_sgd", learning_rate=0.01, l2_norm_clip=1.0, noise_multiplier=0.0))
  dice = final(
    baselines.get(
      "dicesgd", learning_rate=0.01, l2_norm_clip=1.0, error_clip=5.0, noise_multiplier=0.0
    )
  )
  assert dice < 1e-3 and dp > 1.0, (dp, dice)


def test_accountant_reproduces_abadi_et_al_mnist():
  # Abadi et al. 2016, Section 3.1: lot size L = 600 of N = 60000 MNIST examples (q = 0.01),
  # sigma = 4, delta = 1e-5, E = 100 epochs (T = E/q = 10000 steps): "epsilon ≈ 1.26 using
  # the moments accountant" (vs 9.34 by the strong composition theorem).
  eps = dp_sgd_epsilon(4.0, 0.01, 10_000, 1e-5, conversion="classic")
  assert round(eps, 2) == 1.26, eps
  tighter = dp_sgd_epsilon(4.0, 0.01, 10_000, 1e-5)  # the library's improved conversion
  pld = dp_sgd_epsilon(4.0, 0.01, 10_000, 1e-5, conversion="pld")
  assert pld <= tighter < eps < 9.34
  with pytest.raises(ValueError, match="conversion"):
    dp_sgd_epsilon(4.0, 0.01, 10, 1e-5, conversion="moments")
