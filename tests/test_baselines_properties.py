"""Properties the papers state, checked through the registry (issue 18).

The formula tests (`test_baselines_tier1a.py` and beside it) compare each rule with a numpy
reference written by the same team, so a misreading of a paper is copied into both. The
checks here come from the papers' claims instead: a bound, an invariant, an identity, a
state size, a sign. Each runs a few steps on tiny tensors, one family per section.
"""

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
  update = jax.jit(opt.update)
  state, out = opt.init(params), []
  for g in grads:
    u, state = update(g, state, params, **extra)
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
