"""NiNo nowcasting: neural graphs, the nowcaster's equivariance, the optax wrapper, the job."""

import functools
import hashlib
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import learned_opt
import tasks
from configs import nino as nino_config
from learned_opt import neural_graph, nino
from learned_opt.jumps import jump_every, linear_extrapolation
from meta_train.nowcast import train as nowcaster
from meta_train.nowcast import trajectories as traj_lib
from tasks.language import TransformerLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _NNXMLP(nnx.Module):
  def __init__(self, rngs):
    self.layers = nnx.List([nnx.Linear(4, 16, rngs=rngs), nnx.Linear(16, 3, rngs=rngs)])

  def __call__(self, x):
    return self.layers[1](nnx.relu(self.layers[0](x)))


class _NNXCNN(nnx.Module):
  def __init__(self, rngs):
    self.layers = nnx.List(
      [
        nnx.Conv(1, 8, (3, 3), rngs=rngs),
        nnx.Conv(8, 16, (3, 3), rngs=rngs),
        nnx.Linear(16, 10, rngs=rngs),
      ]
    )


def _params(kind):
  if kind == "nnx_mlp":
    return None, nnx.state(_NNXMLP(nnx.Rngs(0)), nnx.Param)
  if kind == "nnx_cnn":
    return None, nnx.state(_NNXCNN(nnx.Rngs(0)), nnx.Param)
  if kind == "transformer":  # byte tokens: no corpus needed to build it
    task = TransformerLM(tokens="bytes", depth=2, width=32, num_heads=4, seq_len=16)
    return task, task.init(jax.random.PRNGKey(0))
  task = tasks.get(kind)
  return task, task.init(jax.random.PRNGKey(0))


def _graph(task, params):
  return neural_graph.infer(params, num_heads=getattr(task, "num_heads", None))


def _equal(a, b):
  return all(
    np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  )


@pytest.mark.parametrize(
  "kind", ["digits_mlp_64x64", "digits_cnn", "transformer", "nnx_mlp", "nnx_cnn"]
)
def test_neural_graph_round_trips(kind):
  task, params = _params(kind)
  graph = _graph(task, params)
  values = graph.edge_values(params)
  assert values.shape == (graph.num_param_edges,)
  assert graph.num_param_edges == sum(np.size(x) for x in jax.tree.leaves(params))
  back = graph.params(values)
  assert _equal(params, back)  # graph -> parameters
  assert np.array_equal(graph.edge_values(back), values)  # -> graph again
  rebuilt = _graph(task, back)
  for field in ("senders", "receivers", "edge_type", "node_type"):
    assert np.array_equal(getattr(rebuilt, field), getattr(graph, field))
  assert graph.senders.max() < graph.num_nodes and graph.receivers.max() < graph.num_nodes


def test_mlp_graph_computes_the_network():
  """Propagating an input along the graph's edges, layer by layer, gives the MLP's logits."""
  task, params = _params("digits_mlp_64x64")
  graph = _graph(task, params)
  x = np.random.RandomState(0).rand(params["dense_0"]["w"].shape[0])
  w = np.asarray(graph.edge_values(params))[: graph.num_param_edges]
  s, r = graph.senders, graph.receivers
  act = np.zeros(graph.num_nodes)
  act[graph.node_type == neural_graph.NODE_TYPES.index("input")] = x
  act[graph.node_type == neural_graph.NODE_TYPES.index("bias")] = 1.0
  for depth in sorted(set(graph.node_depth[graph.node_type != 0]) - {0.0}):
    into = graph.node_depth[r] == depth
    pre = np.bincount(r[into], weights=w[into] * act[s[into]], minlength=graph.num_nodes)
    layer = (graph.node_depth == depth) & (graph.node_type != neural_graph.NODE_TYPES.index("bias"))
    act[layer] = pre[layer] if depth == 1.0 else np.maximum(pre[layer], 0.0)
  out = graph.node_type == neural_graph.NODE_TYPES.index("output")
  logits = task.logits(params, jnp.asarray(x[None], jnp.float32))[0]
  np.testing.assert_allclose(act[out], logits, rtol=1e-4, atol=1e-5)


def _permute_mlp(p, perm):
  return {
    **p,
    "dense_0": {"w": p["dense_0"]["w"][..., perm], "b": p["dense_0"]["b"][..., perm]},
    "dense_1": {**p["dense_1"], "w": p["dense_1"]["w"][..., perm, :]},
  }


def _permute_cnn(p, perm):
  return {
    **p,
    "conv_1": {"w": p["conv_1"]["w"][..., perm], "b": p["conv_1"]["b"][..., perm]},
    "out": {**p["out"], "w": p["out"]["w"][..., perm, :]},
  }


def _permute_transformer(p, perm, task):
  """Permutes block 0's heads by `perm`, and within every head the query/key dimensions by
  one permutation and the value dimensions by another (all keep the function)."""
  d, h = task.width, task.num_heads
  dh = d // h
  rng = np.random.RandomState(1)
  qk_dims, v_dims = rng.permutation(dh), rng.permutation(dh)
  qk_cols = (perm[:, None] * dh + qk_dims[None, :]).ravel()
  v_cols = (perm[:, None] * dh + v_dims[None, :]).ravel()
  cols = np.concatenate([qk_cols, d + qk_cols, 2 * d + v_cols])
  b0 = p["block_0"]
  block = {
    **b0,
    "qkv": {"w": b0["qkv"]["w"][..., cols], "b": b0["qkv"]["b"][..., cols]},
    "proj": {**b0["proj"], "w": b0["proj"]["w"][..., v_cols, :]},
  }
  return {**p, "block_0": block}


@pytest.mark.parametrize("kind", ["digits_mlp_64x64", "digits_cnn", "transformer"])
def test_nowcaster_is_equivariant_to_neuron_permutations(kind):
  task, params = _params(kind)
  if kind == "digits_mlp_64x64":
    perm = np.random.RandomState(0).permutation(64)
    permute = lambda p: _permute_mlp(p, perm)
  elif kind == "digits_cnn":
    perm = np.random.RandomState(0).permutation(32)
    permute = lambda p: _permute_cnn(p, perm)
  else:
    perm = np.array([2, 0, 3, 1])
    permute = lambda p: _permute_transformer(p, perm, task)
  # The permutation keeps the network's function (so it is a symmetry worth respecting).
  key = jax.random.PRNGKey(3)
  if kind == "transformer":
    batch = {"tokens": jax.random.randint(key, (4, task.seq_len + 1), 0, task.vocab_size)}
  else:
    batch = task.batches("train").sample(key)
  np.testing.assert_allclose(
    task.loss(permute(params), key, batch), task.loss(params, key, batch), rtol=1e-5
  )
  lopt = nino.Nino(hidden=8, layers=2)
  theta = lopt.init(jax.random.PRNGKey(1))
  theta["out"][1]["w"] = jax.random.normal(jax.random.PRNGKey(2), theta["out"][1]["w"].shape)
  noise = jax.random.split(jax.random.PRNGKey(4), len(jax.tree.leaves(params)))
  leaves, treedef = jax.tree.flatten(params)
  window = jax.tree.unflatten(
    treedef,
    [
      x[None] + 0.01 * jax.random.normal(k, (5, *x.shape))
      for x, k in zip(leaves, noise, strict=True)
    ],
  )
  predict = jax.jit(lopt.predictor(theta, num_heads=getattr(task, "num_heads", None)))
  permuted_window = jax.vmap(permute)(window)
  pred, pred_of_permuted = predict(window), predict(permuted_window)
  newest = jax.tree.map(lambda w: w[-1], window)
  assert not _equal(pred, newest)  # it does predict a change
  for a, b in zip(jax.tree.leaves(permute(pred)), jax.tree.leaves(pred_of_permuted), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_untrained_nowcaster_predicts_no_change():
  _, params = _params("digits_mlp_64x64")
  lopt = nino.Nino(hidden=8, layers=1)
  window = jax.tree.map(lambda x: jnp.stack([x * (1 + 0.1 * i) for i in range(5)]), params)
  pred = lopt.predictor(lopt.init(jax.random.PRNGKey(0)))(window)
  assert _equal(pred, jax.tree.map(lambda w: w[-1], window))


def test_wrapper_matches_a_numpy_reference():
  """SGD with a linear-extrapolation jump every 6 steps (context 3: snapshots 2 apart)."""
  target = np.array([1.0, -2.0, 0.5])
  params = {"x": jnp.zeros(3)}
  lr, every, context, ahead = 0.1, 6, 3, 2.0
  opt = jump_every(optax.sgd(lr), linear_extrapolation(ahead), every=every, context=context)
  state = opt.init(params)
  update = jax.jit(opt.update)
  x, snaps = np.zeros(3), []
  for t in range(1, 14):
    g = params["x"] - target
    updates, state = update({"x": g}, state, params)
    params = optax.apply_updates(params, updates)
    x = x - lr * (x - target)  # the reference
    if t % (every // context) == 0:
      snaps = [*snaps, x.copy()][-context:]
    if t % every == 0:
      x = snaps[-1] + ahead * (snaps[-1] - snaps[0]) / (context - 1)
    np.testing.assert_allclose(params["x"], x, rtol=1e-6, err_msg=f"step {t}")
  assert int(state.count) == 13


def test_guided_jump_matches_a_numpy_reference():
  """A loss-guided jump: of p + s (q - p), s in {0, 0.5, 1, 2, 4}, the one of least loss."""
  target = np.array([1.0, -2.0, 0.5])
  loss = lambda x: 0.5 * np.sum((x - target) ** 2)
  params = {"x": jnp.zeros(3)}
  lr, every, context, ahead, scales = 0.05, 6, 3, 1.0, (4.0, 0.0, 1.0, 0.5, 2.0)
  opt = jump_every(
    optax.sgd(lr), linear_extrapolation(ahead), every=every, context=context, scales=scales
  )
  state = opt.init(params)
  value_fn = lambda p: 0.5 * jnp.sum((p["x"] - target) ** 2)
  update = jax.jit(functools.partial(opt.update, value_fn=value_fn))
  x, snaps, chosen = np.zeros(3), [], []
  for t in range(1, 14):
    updates, state = update({"x": params["x"] - target}, state, params)
    params = optax.apply_updates(params, updates)
    x = x - lr * (x - target)
    if t % (every // context) == 0:
      snaps = [*snaps, x.copy()][-context:]
    if t % every == 0:
      move = snaps[-1] + ahead * (snaps[-1] - snaps[0]) / (context - 1) - x
      s = min(sorted(scales), key=lambda s: loss(x + s * move))
      x, chosen = x + s * move, [*chosen, s]
    np.testing.assert_allclose(params["x"], x, rtol=1e-5, err_msg=f"step {t}")
  assert chosen[0] > 1.0  # SGD on a quadratic is slow: the guided jump goes past the prediction


def test_guided_jump_never_raises_the_loss():
  """With staying put among the scales, a predictor that points away from the minimum is
  never followed; without `value_fn` a guided jump is refused with a clear error."""
  away = lambda window: jax.tree.map(lambda w: w[-1] + 10.0 * (w[-1] - w[0]) - 5.0, window)
  target = jnp.array([1.0, -2.0])
  value_fn = lambda p: jnp.sum((p["x"] - target) ** 2)
  params = plain = {"x": jnp.zeros(2)}
  guided = jump_every(optax.adam(0.1), away, every=4, context=2, scales=(0.0, 1.0, 2.0))
  base = optax.adam(0.1)
  state, base_state = guided.init(params), base.init(plain)
  for _ in range(8):
    updates, state = guided.update(jax.grad(value_fn)(params), state, params, value_fn=value_fn)
    params = optax.apply_updates(params, updates)
    base_updates, base_state = base.update(jax.grad(value_fn)(plain), base_state, plain)
    plain = optax.apply_updates(plain, base_updates)
  np.testing.assert_allclose(params["x"], plain["x"], rtol=1e-6)
  with pytest.raises(ValueError, match="value_fn"):
    guided.update(jax.grad(value_fn)(params), state, params)
  with pytest.raises(ValueError, match="scales must be non-negative"):
    jump_every(optax.adam(0.1), away, every=4, context=2, scales=(-1.0, 1.0))


def test_wrapper_rejects_bad_arguments():
  with pytest.raises(ValueError, match="multiple of context"):
    jump_every(optax.adam(1e-3), linear_extrapolation(1.0), every=7, context=3)
  opt = jump_every(optax.adam(1e-3), linear_extrapolation(1.0), every=6, context=3)
  with pytest.raises(ValueError, match="params"):
    opt.update({"x": jnp.ones(2)}, opt.init({"x": jnp.ones(2)}))


def test_wrapper_trains_a_flax_nnx_model():
  lopt = nino.Nino(hidden=8, layers=1, every=10, context=5, base_learning_rate=1e-2)
  theta = lopt.init(jax.random.PRNGKey(0))
  theta["out"][1]["w"] = 0.01 * jnp.ones_like(theta["out"][1]["w"])  # predicts a change
  x = jax.random.normal(jax.random.PRNGKey(1), (64, 4))
  y = jnp.stack([jnp.sin(x.sum(-1)), x[:, 0], x[:, 1] * x[:, 2]], -1)

  def train(opt, steps):
    model = _NNXMLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, opt, wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer):
      loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
      optimizer.update(model, grads)
      return loss

    losses = [float(train_step(model, optimizer)) for _ in range(steps)]
    return np.asarray(losses), jax.tree.leaves(nnx.state(model, nnx.Param))

  losses, _ = train(lopt.opt(theta), 40)
  assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
  # Adam alone takes the same first 10 steps; the 10th step's jump then moves the model
  # away from where Adam took it (a no-op jump would leave it there).
  np.testing.assert_allclose(losses[:10], train(optax.adam(1e-2), 10)[0], rtol=1e-5)
  (_, with_jump), (_, adam) = train(lopt.opt(theta), 10), train(optax.adam(1e-2), 10)
  moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(with_jump, adam, strict=True))
  assert moved > 1e-4, moved  # ~1e-3; a no-op jump: ~1e-8 (float rounding)


def test_sampled_windows_are_consecutive_snapshots_and_their_target():
  """A trajectory whose snapshot i is filled with i: windows and targets read back indices."""
  num, context = 30, 5
  traj = {"w": jnp.broadcast_to(jnp.arange(num, dtype=jnp.float32)[:, None, None], (num, 2, 3))}
  window, ahead, target = nowcaster.sample_windows(
    traj, jax.random.PRNGKey(0), 256, context, (1, 10)
  )
  first = window["w"][:, :, 0, 0]  # [batch, context]: snapshot indices
  np.testing.assert_array_equal(np.diff(first, axis=1), 1.0)
  end = first[:, -1]
  assert first.min() >= 0 and (end + ahead).max() <= num - 1
  np.testing.assert_array_equal(target["w"][:, 0, 0], end + ahead)
  assert set(np.asarray(ahead).astype(int)) == set(range(1, 11))


def _tiny_config(num_steps=40):
  config = nino_config.get_config()
  config.trajectories.tasks = ("digits_mlp_32",)
  config.trajectories.seeds = 2
  config.trajectories.num_steps = 400
  config.eval.tasks = ("digits_mlp_32_tanh",)
  config.nowcaster.hidden = 16
  config.nowcaster.layers = 2
  config.train.num_steps = num_steps
  config.train.learning_rate = 3e-3
  config.log_every = 20
  config.checkpoint_every = 20
  return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A nowcaster trained for 200 steps on two digits-MLP trajectories."""
  workdir = str(tmp_path_factory.mktemp("nino"))
  state = nowcaster.train_nowcaster(nowcaster.setup(_tiny_config(200), workdir), log=lambda _: None)
  return workdir, state


def test_trained_nowcaster_beats_trivial_predictors_on_heldout_trajectories(trained):
  """Held out: another architecture's (tanh) trajectories, 5 spacings (50 steps) ahead."""
  workdir, state = trained
  lopt = nowcaster.lopt_of(_tiny_config())
  heldout = traj_lib.load(os.path.join(workdir, traj_lib.DIRNAME), "digits_mlp_32_tanh", 1e-3, 1)
  graph = nowcaster._graph("digits_mlp_32_tanh")
  errors = nowcaster.heldout_errors(
    lopt, state.theta, graph, heldout.params, jax.random.PRNGKey(7), 64, 5
  )
  errors = {k: float(v) for k, v in errors.items()}
  print(errors)
  best_trivial = min(errors["no_change_mae"], errors["linear_mae"])
  assert errors["nino_mae"] < 0.95 * best_trivial, errors


def test_job_resumes_exactly_and_loads_as_optax(trained, tmp_path):
  workdir, _ = trained
  # Reuse the collected trajectories; train 40 steps whole, and 20 + 20 across a restart.
  whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
  for d in (whole, split):
    os.makedirs(d)
    os.symlink(os.path.join(workdir, traj_lib.DIRNAME), os.path.join(d, traj_lib.DIRNAME))
  quiet = lambda _: None
  a = nowcaster.train_nowcaster(nowcaster.setup(_tiny_config(40), whole), log=quiet)
  half = nowcaster.train_nowcaster(nowcaster.setup(_tiny_config(20), split), log=quiet)
  b = nowcaster.train_nowcaster(nowcaster.setup(_tiny_config(40), split), log=quiet)
  assert int(half.step) == 20 and int(b.step) == 40
  assert _equal(a.theta, b.theta) and not _equal(half.theta, b.theta)
  lopt, theta = learned_opt.load_theta(split)
  assert lopt == nowcaster.lopt_of(_tiny_config()) and _equal(theta, b.theta)
  opt = learned_opt.load(split)
  task = tasks.get("digits_mlp_32")
  out = tasks.train(task, opt, num_steps=60)["train_loss"]  # jumps at steps 50
  assert np.all(np.isfinite(out)) and out[-1] < out[0]
  # The base optimizer alone takes the same first 50 steps; from the jump on, the losses
  # are those of other parameters (a no-op jump would leave them Adam's).
  adam = tasks.train(task, optax.adam(lopt.base_learning_rate), num_steps=60)["train_loss"]
  np.testing.assert_allclose(out[:50], adam[:50], rtol=1e-5)
  assert np.max(np.abs(out[50:] - adam[50:]) / adam[50:]) > 1e-3, (out[50:], adam[50:])


def _tree_hash(path):
  h = hashlib.sha256()
  for root, _, files in sorted(os.walk(path)):
    for f in sorted(files):
      h.update(f.encode())
      with open(os.path.join(root, f), "rb") as fh:
        h.update(fh.read())
  return h.hexdigest()


@pytest.mark.parametrize(
  "change, message",
  [
    (lambda c: setattr(c.trajectories, "tasks", ("digits_mlp_23",)), "digits_mlp_32"),
    (lambda c: setattr(c.trajectories, "tasks", ("quadratic_10d",)), "no neural graph"),
    (lambda c: setattr(c.nowcaster, "ahead", 50), "beyond the horizons"),
    (lambda c: setattr(c.trajectories, "spacing", 20), "another spec"),
  ],
)
def test_bad_input_is_refused_before_writing(trained, change, message):
  workdir, _ = trained
  before = _tree_hash(workdir)
  config = _tiny_config(200)
  change(config)
  with pytest.raises(ValueError, match=message):
    nowcaster.setup(config, workdir)
  assert _tree_hash(workdir) == before


def test_command_line_exits_2_on_bad_input(tmp_path):
  result = subprocess.run(
    [
      sys.executable, "-m", "meta_train.nowcast", "--config=configs/nino.py",
      f"--workdir={tmp_path}", "--config.trajectories.tasks=('quadratic_10d',)",
    ],
    cwd=ROOT, capture_output=True, text=True, timeout=300,
  )  # fmt: skip
  assert result.returncode == 2, result.stderr
  assert "no neural graph" in result.stderr
  assert os.listdir(tmp_path) == []
