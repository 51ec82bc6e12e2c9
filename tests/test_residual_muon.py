"""The residual_muon rule: at init it is optax's Muon under a linear decay to zero; its learned
parts (residual direction, step sizes, schedule) act as documented."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import learned_opt
from learned_opt.residual_muon import gradient_snr, schedule_multiplier

T = 12


def _params(key):
  k = jax.random.split(key, 4)
  return {
    "w": jax.random.normal(k[0], (6, 5)),  # fan_in < fan_out: Muon scales by sqrt(5/6 < 1) -> 1
    "w_wide": jax.random.normal(k[1], (3, 9)),  # sqrt(9 / 3)
    "conv": jax.random.normal(k[2], (2, 2, 3, 4)),  # seen as (12, 4)
    "b": jax.random.normal(k[3], (5,)),
    "scale": jnp.ones([]),
  }


def _updates(opt, params, steps):
  """The updates of `steps` steps of `opt` on random gradients (a scan)."""

  def step(carry, t):
    params, state = carry
    key = jax.random.fold_in(jax.random.PRNGKey(7), t)
    g = jax.tree.map(lambda x: jax.random.normal(key, x.shape), params)
    u, state = opt.update(g, state, params)
    return (optax.apply_updates(params, u), state), u

  return jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))[1]


@functools.cache
def _compiled(lopt, steps):
  """One program per rule config and length; theta is an argument (no recompilation)."""
  return jax.jit(lambda theta, params: _updates(lopt.opt(theta, num_steps=T), params, steps))


def _unstack(updates, steps):
  return [jax.tree.map(lambda u, i=i: u[i], updates) for i in range(steps)]


def _run_lopt(lopt, theta, params, steps=T):
  return _unstack(_compiled(lopt, steps)(theta, params), steps)


def _muon_with_linear_decay():
  from baselines import get  # the registry's Muon reshapes conv kernels as (prod(...) * in, out)

  return get("muon_linear_decay", learning_rate=0.02, num_steps=T)


def test_init_is_muon_with_linear_decay_to_zero():
  lopt = learned_opt.get("residual_muon")
  theta = lopt.init(jax.random.PRNGKey(0))
  params = _params(jax.random.PRNGKey(1))
  ours = _run_lopt(lopt, theta, params)
  ref = _unstack(jax.jit(lambda p: _updates(_muon_with_linear_decay(), p, T))(params), T)
  for a, b in zip(ours, ref, strict=True):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
      np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-7)
  # The last step is 1/T of the first step's scale: the decay reaches zero at T.
  assert float(jnp.abs(ours[-1]["w"]).max()) < 0.2 * float(jnp.abs(ours[0]["w"]).max())


def test_schedule_is_linear_decay_times_learned_knots():
  knots = jnp.array([0.0, jnp.log(2.0), 0.0])  # x2 at mid-training, linear in between
  mults = [float(schedule_multiplier(knots, jnp.asarray(t), 100)) for t in (0, 25, 50, 75, 100)]
  expected = [1.0, 0.75 * 2**0.5, 0.5 * 2.0, 0.25 * 2**0.5, 0.0]
  np.testing.assert_allclose(mults, expected, rtol=1e-5)


def test_learned_parts_move_the_update():
  lopt = learned_opt.get("residual_muon", hidden_sizes=(4,))
  theta = lopt.init(jax.random.PRNGKey(0))
  params = _params(jax.random.PRNGKey(1))
  base = _run_lopt(lopt, theta, params, steps=2)[-1]
  # The step sizes: matrices and vectors scale separately.
  # float32, not weakly typed: theta keeps its types and the program serves again.
  bigger = {**theta, "log_lr": {"matrix": jnp.log(jnp.float32(3.0)), "vector": jnp.zeros([])}}
  moved = _run_lopt(lopt, bigger, params, steps=2)[-1]
  np.testing.assert_allclose(moved["w"], 3 * base["w"], rtol=1e-5)
  np.testing.assert_allclose(moved["b"], base["b"], rtol=1e-6)
  # The residual direction changes the update; `learn_direction=False` ignores it.
  layers = jax.tree.map(lambda x: x + 0.5, theta["layers"])
  corrected = _run_lopt(lopt, {**theta, "layers": layers}, params, steps=2)[-1]
  assert float(jnp.abs(corrected["w"] - base["w"]).max()) > 1e-3
  assert float(jnp.abs(corrected["b"] - base["b"]).max()) > 1e-3
  frozen = learned_opt.get("residual_muon", hidden_sizes=(4,), learn_direction=False)
  same = _run_lopt(frozen, {**theta, "layers": layers}, params, steps=2)[-1]
  np.testing.assert_allclose(same["w"], base["w"], rtol=1e-6)


def test_gradient_snr_separates_signal_from_noise():
  # Adam's EMAs by hand over gradients with a common mean (signal) or none (noise).
  def snr(gs):
    m = v = jnp.zeros_like(gs[0])
    for g in gs:
      m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g**2
    return float(gradient_snr(m, v, jnp.asarray(len(gs) - 1)))

  rng = np.random.default_rng(0)
  constant = [jnp.full((64,), 0.3)] * 50
  noise = [jnp.asarray(rng.standard_normal(64), jnp.float32) for _ in range(500)]
  # Every gradient agrees (float32 rounds 1 - 0.999 to 1e-5 relative).
  np.testing.assert_allclose(snr(constant), 1.0, rtol=1e-4)
  # Pure noise: E[m²] / E[g²] = (1 - 0.9) / (1 + 0.9) once the EMAs have warmed up.
  np.testing.assert_allclose(snr(noise), 0.1 / 1.9, rtol=0.35)
  assert float(gradient_snr(jnp.zeros(3), jnp.zeros(3), jnp.asarray(0))) == 0.0


def test_snr_step_scales_each_kind_by_its_learned_exponent():
  plain = learned_opt.get("residual_muon", hidden_sizes=(4,))
  lopt = learned_opt.get("residual_muon", hidden_sizes=(4,), snr_step=True)
  theta = lopt.init(jax.random.PRNGKey(0))
  assert set(theta["snr"]) == {"matrix", "vector"}
  params = _params(jax.random.PRNGKey(1))
  # At init (a = 0) the rule is the one without the multiplier.
  base = _run_lopt(plain, plain.init(jax.random.PRNGKey(0)), params, steps=2)[-1]
  same = _run_lopt(lopt, theta, params, steps=2)[-1]
  for x, y in zip(jax.tree.leaves(same), jax.tree.leaves(base), strict=True):
    np.testing.assert_allclose(x, y, rtol=1e-6)
  # With a on matrices only, "w"'s step is exp(a (2ρ - 1)) times larger and "b"'s unchanged;
  # at the first update m̂ = g and v̂ = g², so ρ = mean(g²) / mean(g²) = 1.
  a = jnp.float32(0.7)
  moved = _run_lopt(lopt, {**theta, "snr": {"matrix": a, "vector": jnp.zeros([])}}, params, 1)
  first = _run_lopt(lopt, theta, params, steps=1)[0]
  np.testing.assert_allclose(moved[0]["w"], np.exp(0.7) * first["w"], rtol=1e-4)
  np.testing.assert_allclose(moved[0]["b"], first["b"], rtol=1e-6)


def test_needs_the_horizon_and_rejects_loss_features():
  lopt = learned_opt.get("residual_muon")
  opt = lopt.opt(lopt.init(jax.random.PRNGKey(0)))
  params = {"w": jnp.ones((3, 3))}
  with pytest.raises(ValueError, match="num_steps=N"):
    opt.update(params, opt.init(params), params)
  with pytest.raises(ValueError, match="does not read the loss"):
    learned_opt.get("residual_muon", features=("grad", "loss_log_ratio_ema"))


def test_meta_training_signal_is_finite_under_jit_and_vmap():
  lopt = learned_opt.get("residual_muon", hidden_sizes=(4,))
  theta = lopt.init(jax.random.PRNGKey(0))
  params = {"w": jnp.ones((4, 3)) * 0.1, "b": jnp.zeros((3,))}

  def loss_after(theta, num_steps):
    opt = lopt.opt(theta, num_steps=num_steps)
    state, p = opt.init(params), params
    for _ in range(3):
      g = jax.grad(lambda q: jnp.sum((q["w"].sum(0) + q["b"] - 1.0) ** 2))(p)
      u, state = opt.update(g, state, p)
      p = optax.apply_updates(p, u)
    return jnp.sum((p["w"].sum(0) + p["b"] - 1.0) ** 2)

  losses = jax.jit(jax.vmap(loss_after, in_axes=(None, 0)))(theta, jnp.array([10, 100]))
  assert np.all(np.isfinite(losses)) and losses[1] < losses[0] + 1e-6


def _reflected_updates(lopt, theta, params, steps=4):
  """Updates of `steps` steps on random gradients g_t and on the reflected problem (-g_t, -p)
  (one compiled step: the sign is its argument)."""
  opt = lopt.opt(theta, num_steps=T)

  @jax.jit
  def step(p, state, t, sign):
    key = jax.random.fold_in(jax.random.PRNGKey(3), t)
    g = jax.tree.map(lambda x: sign * jax.random.normal(key, x.shape), p)
    u, state = opt.update(g, state, p)
    return optax.apply_updates(p, u), state, u

  def run(sign):
    p = jax.tree.map(lambda x: sign * x, params)
    state, out = opt.init(p), []
    for t in range(steps):
      p, state, u = step(p, state, t, sign)
      out.append(u)
    return out

  return run(1.0), run(-1.0)


@pytest.mark.parametrize("odd", [True, False])
def test_odd_residual_makes_the_rule_reflection_equivariant(odd):
  # Muon and NAdam commute with p -> -p; the odd residual keeps that (update(-g, -p) =
  # -update(g, p)), a plain MLP residual does not (its bias alone is a constant drift).
  lopt = learned_opt.get("residual_muon", hidden_sizes=(4,), odd_residual=odd)
  theta = lopt.init(jax.random.PRNGKey(0))
  keys = jax.random.split(jax.random.PRNGKey(5), 2)
  layers = [
    {k: v + 0.3 * jax.random.normal(key, v.shape) for k, v in layer.items()}
    for layer, key in zip(theta["layers"], keys, strict=True)
  ]
  theta = {**theta, "layers": layers}
  plain, reflected = _reflected_updates(lopt, theta, _params(jax.random.PRNGKey(1)))
  gap = max(
    float(jnp.abs(a + b).max())
    for u, v in zip(plain, reflected, strict=True)
    for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(v), strict=True)
  )
  assert (gap < 1e-5) if odd else (gap > 1e-3)


def test_odd_residual_needs_known_feature_parities():
  with pytest.raises(ValueError, match="parity"):
    learned_opt.get("residual_muon", features=("grad", "rms_0.999"), odd_residual=True)
