"""TTUR (T5-22, `baselines.ttur`) on the two-player games of `tasks.games`.

The paper's claim (Heusel et al. 2017, Theorem 1): with the discriminator on the faster time
scale, simultaneous stochastic gradient play converges to a local Nash equilibrium, where
one learning rate for both players need not. Checked on the authors' own toy (the saddle of
bioinf-jku/TTUR's Toy_Data_Example) and on a GAN on offline data whose equilibrium is known
(a linear critic: the generator must reach the data mean). Every setting and seed of a game
runs in one compiled, vmapped program.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines
from tasks import games

SEEDS = 3


def _final_distances(game, settings, num_steps):
  """Per (learning_rate, ratio) setting, per seed: the final distance to the equilibrium
  under SGD-TTUR (inf when it diverged)."""
  lrs, ratios = (jnp.asarray(v, jnp.float32) for v in zip(*settings, strict=True))
  keys = jax.random.split(jax.random.PRNGKey(0), SEEDS)

  def one(lr, ratio, key):
    opt = baselines.ttur(lr, ratio=ratio, base="sgd")
    d = games.game_run(game, opt, game.data(), key, num_steps=num_steps)["distance"]
    return jnp.where(jnp.all(jnp.isfinite(d)), d[-1], jnp.inf)

  run = jax.vmap(jax.vmap(one, in_axes=(None, None, 0)), in_axes=(0, 0, None))
  return np.asarray(jax.jit(run)(lrs, ratios, keys))


def test_saddle_one_time_scale_diverges_where_ttur_converges():
  # f = (1 + x^2)(100 - y^2) with N(0, 0.1^2) gradient noise, from (1, 1): the authors' toy.
  # One rate 0.011 for both players overshoots the stiff generator direction (curvature 200:
  # |1 - 0.011 * 200| > 1) and diverges; the same rate with the generator 10x slower (TTUR)
  # converges; both players at the slow rate converge too, but more slowly.
  fast, slow = 0.011, 0.0011
  d = _final_distances(
    games.Saddle(noise=0.1), [(fast, 1.0), (slow, 10.0), (slow, 1.0)], num_steps=1000
  )
  one_fast, ttur, one_slow = d
  assert np.all(np.isinf(one_fast)), d
  assert np.all(ttur < 0.03), d
  assert np.all(one_slow > 0.05) and np.median(one_slow) > 5 * np.median(ttur), d


def test_linear_critic_gan_on_digits_needs_two_time_scales():
  # decay 1: one rate eta converges only for eta < 1, so eta = 1.5 for both players
  # diverges; the discriminator at 1.5 and the generator at 0.15 converge to the data mean;
  # both at 0.15 converge more slowly (after 20 steps: about 4x farther).
  game = games.LinearCriticGAN(decay=1.0)
  start = float(jnp.linalg.norm(jnp.mean(game.data().arrays["x"], axis=0)))
  d = _final_distances(game, [(1.5, 1.0), (0.15, 10.0), (0.15, 1.0)], num_steps=20)
  one_fast, ttur, one_slow = d
  assert np.all(np.isinf(one_fast) | (one_fast > start)), d
  assert np.all(ttur < 0.1 * start), d
  assert np.median(one_slow) > 2 * np.median(ttur), d


def test_ratio_one_with_adam_is_optax_adam_on_both_players():
  params = {"generator": jnp.arange(3.0), "discriminator": {"w": jnp.ones((2, 2))}}
  grads = jax.tree.map(lambda p: jnp.sin(p) + 0.5, params)

  @jax.jit
  def two_steps(grads):
    out = []
    for opt in (baselines.ttur(1e-2, ratio=1.0, b1=0.9), optax.adam(1e-2, b1=0.9)):
      s = opt.init(params)
      u, s = opt.update(grads, s, params)
      u, s = opt.update(grads, s, params)
      out.append(u)
    return out

  ua, ub = two_steps(grads)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), ua, ub)


def test_each_player_gets_its_own_rate():
  params = {"generator": jnp.ones(2), "discriminator": jnp.ones(3)}
  grads = jax.tree.map(jnp.ones_like, params)
  opt = baselines.ttur(0.1, ratio=4.0, base="sgd")
  updates, _ = opt.update(grads, opt.init(params), params)
  np.testing.assert_allclose(updates["generator"], -0.1)
  np.testing.assert_allclose(updates["discriminator"], -0.4)
  assert baselines.player_labels({"generator": 1, "discriminator": {"a": 2}}) == {
    "generator": "generator",
    "discriminator": {"a": "discriminator"},
  }


def test_simultaneous_grad_differentiates_each_player_on_its_own_loss():
  game = games.Saddle(noise=0.0, x0=0.5, y0=2.0)
  losses, grads = games.simultaneous_grad(game, game.init(None), jax.random.PRNGKey(0), None)
  x, y = 0.5, 2.0
  np.testing.assert_allclose(grads["generator"], 2 * x * (100 - y**2), rtol=1e-6)
  np.testing.assert_allclose(grads["discriminator"], 2 * y * (1 + x**2), rtol=1e-6)
  np.testing.assert_allclose(losses["generator"], -losses["discriminator"], rtol=1e-6)


def test_bad_base_is_one_readable_error():
  with pytest.raises(ValueError, match="base must be 'adam' or 'sgd'"):
    baselines.ttur(1e-3, base="lion")
