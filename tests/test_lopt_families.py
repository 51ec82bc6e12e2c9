"""The learned-optimizer families: each meta-trains with PES on quadratics, exports as optax
with bitwise-identical updates, and trains a flax nnx model; needs and composition."""

import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

import learned_opt
import tasks
from configs import quickstart
from learned_opt.mlp_lopt import ADAFAC_FEATURES
from meta_train import main as program

MLP_FEATURES = ("grad", "param", "momentum_0.5", "momentum_0.9", "rms_0.999", "norm_momentum_0.9")
FAMILIES = {
  # The per-parameter MLP with two baseline directions added to its inputs: a config change
  # only (the plain `mlp` is meta-trained by the demo and tests/test_job.py).
  "mlp_lion_adabelief": {
    "architecture": "mlp",
    "hidden_sizes": (4,),
    "features": (*MLP_FEATURES, "dir:lion", "dir:adabelief"),
    "step_mult": 1e-2,
  },
  "velo": {
    "architecture": "velo",
    "hidden_sizes": (4,),
    "num_mlps": 4,
    "lstm_size": 8,
    "features": MLP_FEATURES,
    "step_mult": 1e-2,
  },
  "celo": {"architecture": "celo", "rule": "adam", "rule_config": {"learning_rate": 1e-2}},
  "celo2": {"architecture": "celo2", "hidden_sizes": (4,), "step_mult": 1e-2, "mup": True},
}
META_STEPS = 30
EVAL_STEPS = 40


def _config(lopt_options):
  config = quickstart.get_config()
  config.lopt = ml_collections.ConfigDict(lopt_options)
  config.tasks = ml_collections.ConfigDict(
    {
      "quadratic": {
        "dim": 8,
        "log10_condition": (0.0, 1.0),
        "log10_scale": (-0.5, 0.5),
        "noise": (0.0, 0.1),
      }
    }
  )
  config.estimator.num_pairs = 4
  config.estimator.std = 0.03
  config.estimator.trunc_length = 10
  config.estimator.horizon_truncations = (2, 4)
  config.meta_opt.learning_rate = 3e-2
  config.shard_population = False
  return config


def _heldout_losses(lopt, family, *thetas):
  """Mean normalized training loss over EVAL_STEPS steps of 8 fixed quadratics, for each
  theta (one compiled program: theta is its argument)."""

  def one(theta, key):
    k_cfg, k_init = jax.random.split(key)
    task = family.task(family.sample(k_cfg))
    opt = lopt.opt(theta, num_steps=EVAL_STEPS)
    params = task.init(k_init)
    sampler = task.batches("train")

    def step(carry, k):
      p, s = carry
      loss, g = jax.value_and_grad(task.loss)(p, k, sampler.sample(k))
      u, s = opt.update(g, s, p, value=loss)
      return (optax.apply_updates(p, u), s), task.normalize(loss)

    _, losses = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(k_init, EVAL_STEPS))
    return jnp.mean(losses)

  keys = jax.random.split(jax.random.PRNGKey(42), 8)
  mean = jax.jit(lambda theta: jnp.mean(jax.vmap(one, in_axes=(None, 0))(theta, keys)))
  return [float(mean(theta)) for theta in thetas]


class _MLP(nnx.Module):
  def __init__(self, rngs):
    self.hidden = nnx.Linear(4, 16, rngs=rngs)
    self.out = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, x):
    return self.out(nnx.relu(self.hidden(x)))


def _train_nnx(opt, pass_loss):
  model = _MLP(nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, opt, wrt=nnx.Param)
  x = jax.random.normal(jax.random.PRNGKey(1), (64, 4))
  y = jnp.sin(x.sum(-1, keepdims=True))

  @nnx.jit
  def train_step(model, optimizer):
    loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
    if pass_loss:
      optimizer.update(model, grads, value=loss)
    else:
      optimizer.update(model, grads)  # rules that read no loss need nothing more
    return loss

  return [float(train_step(model, optimizer)) for _ in range(30)]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_meta_trains_exports_and_trains_flax(name, tmp_path):
  config = _config(FAMILIES[name])
  trainer = program.build_trainer(config)
  lopt = trainer.lopt
  state = trainer.init(jax.random.PRNGKey(0))
  theta0 = state.theta
  for _ in range(META_STEPS):
    state, _ = trainer.step(state)
  family = tasks.get_family("quadratic", **program.plain(config.tasks.quadratic))
  before, after = _heldout_losses(lopt, family, theta0, state.theta)
  print(f"{name}: held-out meta-loss {before:.3f} -> {after:.3f}")
  assert after < before - 0.1, (name, before, after)

  # Export: the loaded optax form gives bitwise the updates of `lopt.opt(theta)`.
  path = learned_opt.save(tmp_path / "lopt", lopt, state.theta)
  loaded = learned_opt.load(path, num_steps=100)
  assert isinstance(loaded, optax.GradientTransformationExtraArgs)
  params = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(4, 3), "b": jnp.ones(3)}
  grads = jax.tree.map(lambda p: jnp.cos(3 * p), params)

  def updates(opt):
    step = jax.jit(lambda g, s, p: opt.update(g, s, p, value=jnp.float32(1.5)))
    _, s = step(grads, opt.init(params), params)
    return step(grads, s, params)[0]

  ours, theirs = updates(lopt.opt(state.theta, num_steps=100)), updates(loaded)
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
    np.testing.assert_array_equal(a, b)

  losses = _train_nnx(loaded, pass_loss=name in ("velo", "celo"))
  assert np.isfinite(losses).all() and losses[-1] < losses[0], (name, losses[0], losses[-1])


def test_swapping_features_changes_input_width():
  base = learned_opt.get("mlp", hidden_sizes=(4,), features=MLP_FEATURES)
  more = learned_opt.get(
    "mlp", hidden_sizes=(4,), features=(*MLP_FEATURES, "dir:lion", "dir:adabelief")
  )
  width = lambda lopt: lopt.init(jax.random.PRNGKey(0))["layers"][0]["w"].shape[0]
  assert width(more) == width(base) + 2 == len(MLP_FEATURES) + 2


def test_value_and_num_steps_are_required_only_by_rules_that_read_them():
  params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
  grads = jax.tree.map(jnp.ones_like, params)
  velo = learned_opt.VeLO(hidden_sizes=(2,), num_mlps=2, lstm_size=4)
  theta = velo.init(jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match="reads the training horizon"):
    opt = velo.opt(theta)
    opt.update(grads, opt.init(params), params, value=1.0)
  opt = velo.opt(theta, num_steps=10)
  with pytest.raises(ValueError, match="reads the loss"):
    opt.update(grads, opt.init(params), params)
  for lopt in (learned_opt.MLPLOpt(hidden_sizes=(2,)), learned_opt.Celo2(hidden_sizes=(2,))):
    opt = lopt.opt(lopt.init(jax.random.PRNGKey(0)))
    updates, _ = opt.update(grads, opt.init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
  with pytest.raises(ValueError, match="neither the loss nor the horizon"):
    learned_opt.Celo2(features=("grad", "loss_log_ratio_ema"))
  with pytest.raises(ValueError, match="global features only"):
    learned_opt.Celo(features=("grad",))


def test_composes_with_optax_chain_and_multi_transform():
  lopt = learned_opt.Celo2(hidden_sizes=(2,))
  rule = lopt.opt(lopt.init(jax.random.PRNGKey(0)))
  params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
  grads = jax.tree.map(jnp.ones_like, params)
  chained = optax.chain(
    optax.add_decayed_weights(1e-2),
    rule,
    optax.scale_by_learning_rate(optax.cosine_decay_schedule(1.0, 10)),
  )
  split = optax.multi_transform({"lopt": rule, "sgd": optax.sgd(0.1)}, {"w": "lopt", "b": "sgd"})
  own, _ = rule.update(grads, rule.init(params), params)
  for tx in (chained, split):
    updates, _ = tx.update(grads, tx.init(params), params)
    assert all(np.isfinite(u).all() for u in jax.tree.leaves(updates))
  updates, _ = split.update(grads, split.init(params), params)
  np.testing.assert_array_equal(updates["w"], own["w"])
  np.testing.assert_allclose(updates["b"], -0.1 * grads["b"])


def test_record_lists_features_and_mismatches_fail(tmp_path):
  lopt = learned_opt.VeLO(hidden_sizes=(2,), num_mlps=2, lstm_size=4)
  path = learned_opt.save(tmp_path / "velo", lopt, lopt.init(jax.random.PRNGKey(0)))
  rec = learned_opt.read_record(path)
  assert rec["format_version"] == 2 and rec["architecture"] == "velo"
  assert rec["features"] == [*lopt.features, *lopt.tensor_features]
  record_file = os.path.join(path, "lopt", "metadata")
  json.dump({**rec, "features": ["grad"]}, open(record_file, "w"))
  with pytest.raises(learned_opt.CheckpointError, match="lists the features"):
    learned_opt.load(path)


def test_state_is_at_most_four_floats_per_parameter_for_matrices():
  lopt = learned_opt.MLPLOpt()
  opt = lopt.opt(lopt.init(jax.random.PRNGKey(0)))
  params = {"w": jnp.zeros((64, 32))}
  state_floats = sum(x.size for x in jax.tree.leaves(opt.init(params)))
  assert state_floats <= 4 * 64 * 32 + 8
  adafac = learned_opt.MLPLOpt(features=ADAFAC_FEATURES)
  opt = adafac.opt(adafac.init(jax.random.PRNGKey(0)))
  assert sum(x.size for x in jax.tree.leaves(opt.init(params))) <= 3 * 64 * 32 + 64 + 32 + 8
