"""Learned optimizers: the MLP rule against a numpy reference, checkpoints, use with flax."""

import ast
import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import learned_opt
from learned_opt import registry

DECAYS = (0.5, 0.9, 0.99)
B2 = 0.999


def _numpy_mlp_rule(theta, grads_seq, param0, exp_mult, step_mult):
  """The rule of `learned_opt/mlp_lopt.py`'s docstring (default features), in numpy."""
  layers = [{k: np.asarray(v, np.float64) for k, v in lay.items()} for lay in theta["layers"]]
  p = np.asarray(param0, np.float64)
  ms = [np.zeros_like(p) for _ in DECAYS]
  v = np.zeros_like(p)
  for g in grads_seq:
    g = np.asarray(g, np.float64)
    ms = [d * m + (1 - d) * g for d, m in zip(DECAYS, ms, strict=True)]
    v = B2 * v + (1 - B2) * g * g
    feats = [g, p, *ms, np.sqrt(v), *(m / np.sqrt(v + 1e-8) for m in ms)]
    x = np.stack([f / np.sqrt(np.mean(f * f) + 1e-8) for f in feats], axis=-1)
    for lay in layers[:-1]:
      x = np.maximum(x @ lay["w"] + lay["b"], 0.0)
    out = x @ layers[-1]["w"] + layers[-1]["b"]
    p = p - out[..., 0] * np.exp(out[..., 1] * exp_mult) * step_mult
  return p


def test_mlp_rule_matches_numpy_reference():
  lopt = learned_opt.MLPLOpt(hidden_sizes=(8, 8), exp_mult=0.1, step_mult=0.01)
  theta = lopt.init(jax.random.PRNGKey(0))
  rng = np.random.default_rng(0)
  param0 = rng.normal(size=(3, 5)).astype(np.float32)
  grads_seq = rng.normal(size=(6, 3, 5)).astype(np.float32)

  opt = lopt.opt(theta)
  params = {"w": jnp.asarray(param0)}
  state = opt.init(params)
  for g in grads_seq:
    updates, state = opt.update({"w": jnp.asarray(g)}, state, params)
    params = optax.apply_updates(params, updates)
  expected = _numpy_mlp_rule(theta, grads_seq, param0, exp_mult=0.1, step_mult=0.01)
  assert not np.allclose(expected, param0)
  np.testing.assert_allclose(params["w"], expected, rtol=1e-5, atol=1e-6)
  assert int(state.count) == 6


def test_mlp_rule_requires_params_and_keeps_dtype():
  lopt = learned_opt.MLPLOpt()
  opt = lopt.opt(lopt.init(jax.random.PRNGKey(0)))
  params = {"w": jnp.ones((4, 2), jnp.bfloat16)}
  with pytest.raises(ValueError, match="reads the parameters"):
    opt.update(params, opt.init(params))
  updates, _ = opt.update(params, opt.init(params), params)
  assert updates["w"].dtype == jnp.bfloat16


def test_learned_sgd_is_sgd():
  theta = {"log_learning_rate": jnp.log(0.05)}
  opt = learned_opt.LearnedSGD().opt(theta)
  g = {"w": jnp.asarray([1.0, -2.0])}
  updates, _ = opt.update(g, opt.init(g), g)
  np.testing.assert_allclose(updates["w"], [-0.05, 0.1], rtol=1e-6)


def test_save_load_round_trip_gives_identical_updates(tmp_path):
  lopt = learned_opt.MLPLOpt(hidden_sizes=(16,))
  theta = jax.tree.map(lambda x: x + 0.1, lopt.init(jax.random.PRNGKey(3)))
  path = learned_opt.save(tmp_path / "lopt", lopt, theta)
  assert learned_opt.read_record(path) == learned_opt.record(lopt)

  params = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
  grads = jax.tree.map(lambda x: jnp.sin(x) + 0.5, params)
  loaded = learned_opt.load(path)
  assert isinstance(loaded, optax.GradientTransformationExtraArgs)
  a, _ = lopt.opt(theta).update(grads, lopt.opt(theta).init(params), params)
  b, _ = loaded.update(grads, loaded.init(params), params)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)


def test_load_errors_are_clear(tmp_path):
  with pytest.raises(learned_opt.CheckpointError, match="No learned-optimizer checkpoint"):
    learned_opt.load(tmp_path / "nothing")
  lopt = learned_opt.MLPLOpt(hidden_sizes=(16,))
  path = learned_opt.save(tmp_path / "lopt", lopt, lopt.init(jax.random.PRNGKey(0)))
  with pytest.raises(learned_opt.CheckpointError, match="already exists"):
    learned_opt.save(path, lopt, lopt.init(jax.random.PRNGKey(0)))

  record_file = os.path.join(path, "lopt", "metadata")
  original = json.load(open(record_file))

  def rewrite(**changes):
    json.dump({**original, **changes}, open(record_file, "w"))

  rewrite(config={**original["config"], "hidden_sizes": [8]})
  with pytest.raises(learned_opt.CheckpointError, match=r"does not fit architecture 'mlp'"):
    learned_opt.load(path)
  rewrite(architecture="velo_v0")
  with pytest.raises(learned_opt.CheckpointError, match="Unknown learned-optimizer architecture"):
    learned_opt.load(path)
  rewrite(format_version=99)
  with pytest.raises(learned_opt.CheckpointError, match="format version 99"):
    learned_opt.load(path)


def test_unknown_architecture_and_option():
  with pytest.raises(ValueError, match="Did you mean 'mlp'"):
    learned_opt.get("mpl")
  with pytest.raises(ValueError, match="has no option"):
    learned_opt.get("mlp", hidden=(3,))


class _MLP(nnx.Module):
  def __init__(self, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(4, 16, rngs=rngs)
    self.out = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, x):
    return self.out(nnx.relu(self.hidden(x)))


def test_loaded_optimizer_trains_a_flax_nnx_model(tmp_path):
  """The user's path: load a checkpoint, hand it to nnx.Optimizer, train as usual."""
  lopt = learned_opt.MLPLOpt(hidden_sizes=(16,), step_mult=0.01)
  # A hand-set theta that makes the rule a momentum-normalized descent: the direction
  # output reads the m_0.9 / sqrt(v) feature, so the test does not depend on meta-training.
  theta = jax.tree.map(jnp.zeros_like, lopt.init(jax.random.PRNGKey(0)))
  feature = lopt.features.index("norm_momentum_0.9")  # m_0.9 / sqrt(v)
  theta["layers"][0]["w"] = theta["layers"][0]["w"].at[feature, 0].set(1.0)
  theta["layers"][0]["w"] = theta["layers"][0]["w"].at[feature, 1].set(-1.0)
  theta["layers"][1]["w"] = theta["layers"][1]["w"].at[0, 0].set(1.0).at[1, 0].set(-1.0)
  path = learned_opt.save(tmp_path / "lopt", lopt, theta)

  model = _MLP(nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, learned_opt.load(path), wrt=nnx.Param)
  x = jax.random.normal(jax.random.PRNGKey(1), (64, 4))
  y = jnp.sin(x.sum(-1, keepdims=True))

  @nnx.jit
  def train_step(model, optimizer):
    loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
    optimizer.update(model, grads, value=loss)
    return loss

  losses = [float(train_step(model, optimizer)) for _ in range(150)]
  assert losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])


def test_learned_opt_modules_import_one_another_without_a_cycle():
  """Every import of a `learned_opt` module by another (module- or function-level, read with
  `ast`): the graph has no cycle (`from learned_opt import x` counts as importing `x`, not
  the package's `__init__`, which imports everything)."""
  root = pathlib.Path(learned_opt.__file__).parent
  modules = {
    ".".join(("learned_opt", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
    for p in root.rglob("*.py")
  }
  graph = {}
  for path in root.rglob("*.py"):
    name = ".".join(("learned_opt", *path.relative_to(root).with_suffix("").parts))
    if name.endswith("__init__"):
      continue  # the package re-exports everything
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        deps |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
      elif isinstance(node, ast.Import):
        deps |= {a.name for a in node.names}
    graph[name] = {d for d in deps if d in modules and d != "learned_opt" and d != name}

  def visit(name, stack):
    assert name not in stack, " -> ".join([*stack, name])
    for dep in graph.get(name, ()):
      visit(dep, (*stack, name))

  for name in graph:
    visit(name, ())
  assert learned_opt.names() == sorted(cls.architecture for cls in registry.ARCHITECTURES)
