"""NiNo on models written the ordinary way (issue 19): plain pytrees of dicts and lists.

Acceptance: a loaded nowcaster trains each model without error; the tensors the neural graph
leaves out stay with the base optimizer, and the log says which are nowcast. Then, per new
layer kind (dense-over-patches convolutions, embeddings, recurrent cells, norms in residual
blocks), a hidden-neuron permutation that keeps the model's function permutes the nowcast.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import learned_opt
from learned_opt import neural_graph, nino
from tasks.language import LSTMLM

EVERY, CONTEXT, LR = 4, 2, 1e-2


def _normal(key, shape, scale=0.5):
  return scale * jax.random.normal(key, shape)


def _dense(key, n_in, n_out):
  return {"w": _normal(key, (n_in, n_out), 1 / np.sqrt(n_in)), "b": jnp.zeros(n_out)}


def _patches(x):
  """3x3 'valid' patches of NHWC images, (position, channel) with the channel fastest."""
  h, w = x.shape[1] - 2, x.shape[2] - 2
  parts = [x[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)]
  return jnp.stack(parts, axis=3).reshape(*x.shape[:1], h, w, -1)


def _layer_norm(x, p):
  mean, var = jnp.mean(x, -1, keepdims=True), jnp.var(x, -1, keepdims=True)
  return (x - mean) / jnp.sqrt(var + 1e-5) * p["scale"] + p["bias"]


def _gru(p, x):
  h = jnp.zeros((x.shape[0], p["w_h"].shape[0]))
  for t in range(x.shape[1]):
    gx, gh = x[:, t] @ p["w_x"] + p["b"], h @ p["w_h"]
    r, z, n = jnp.split(gx, 3, -1)
    hr, hz, hn = jnp.split(gh, 3, -1)
    r, z = jax.nn.sigmoid(r + hr), jax.nn.sigmoid(z + hz)
    h = (1 - z) * jnp.tanh(n + r * hn) + z * h
  return h


# Each model: (init(key) -> params, loss(params, batch), batch, what the graph leaves out).
def _patch_cnn():
  def init(key):
    k = jax.random.split(key, 3)
    return {"conv1": _dense(k[0], 9, 4), "conv2": _dense(k[1], 36, 6), "out": _dense(k[2], 6, 3)}

  def loss(p, batch):
    x = jax.nn.relu(_patches(batch["x"]) @ p["conv1"]["w"] + p["conv1"]["b"])
    x = jax.nn.relu(_patches(x) @ p["conv2"]["w"] + p["conv2"]["b"])
    logits = jnp.mean(x, (1, 2)) @ p["out"]["w"] + p["out"]["b"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()

  k1, k2 = jax.random.split(jax.random.PRNGKey(10))
  batch = {"x": jax.random.uniform(k1, (8, 6, 6, 1)), "y": jax.random.randint(k2, (8,), 0, 3)}
  return init, loss, batch, ()


def _logreg():
  def init(key):
    return {"w": _normal(key, (5,)), "b": jnp.zeros(())}

  def loss(p, batch):
    return optax.sigmoid_binary_cross_entropy(batch["x"] @ p["w"] + p["b"], batch["y"]).mean()

  x = jax.random.normal(jax.random.PRNGKey(11), (16, 5))
  return init, loss, {"x": x, "y": (x[:, 0] > 0).astype(jnp.float32)}, ()


def _gru_lm():
  vocab, d, h = 7, 4, 5

  def init(key):
    k = jax.random.split(key, 4)
    return {
      "embed": _normal(k[0], (vocab, d)),
      "gru": {
        "w_x": _normal(k[1], (d, 3 * h)),
        "w_h": _normal(k[2], (h, 3 * h)),
        "b": jnp.zeros(3 * h),
      },
      "out": _dense(k[3], h, vocab),
    }

  def loss(p, batch):
    tokens = batch["tokens"]
    h_last = _gru(p["gru"], p["embed"][tokens[:, :-1]])
    logits = h_last @ p["out"]["w"] + p["out"]["b"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, -1]).mean()

  return init, loss, {"tokens": jax.random.randint(jax.random.PRNGKey(12), (6, 5), 0, vocab)}, ()


def _residual_mlp():
  def init(key):
    k = jax.random.split(key, 6)
    ln = lambda: {"scale": jnp.ones(8), "bias": jnp.zeros(8)}
    block = lambda k1, k2: {"ln": ln(), "fc1": _dense(k1, 8, 12), "fc2": _dense(k2, 12, 8)}
    return {
      "in": _dense(k[0], 3, 8),
      "blocks": [block(k[1], k[2]), block(k[3], k[4])],
      "ln_f": ln(),
      "out": _dense(k[5], 8, 2),
    }

  def loss(p, batch):
    x = batch["x"] @ p["in"]["w"] + p["in"]["b"]
    for blk in p["blocks"]:
      y = jax.nn.gelu(_layer_norm(x, blk["ln"]) @ blk["fc1"]["w"] + blk["fc1"]["b"])
      x = x + y @ blk["fc2"]["w"] + blk["fc2"]["b"]
    out = _layer_norm(x, p["ln_f"]) @ p["out"]["w"] + p["out"]["b"]
    return jnp.mean((out - batch["y"]) ** 2)

  x = jax.random.normal(jax.random.PRNGKey(13), (16, 3))
  return init, loss, {"x": x, "y": jnp.stack([jnp.sin(x[:, 0]), x[:, 1] * x[:, 2]], -1)}, ()


def _low_rank():
  def init(key):
    k1, k2 = jax.random.split(key)
    return {"U": _normal(k1, (6, 2)), "V": _normal(k2, (5, 2))}

  def loss(p, batch):
    return jnp.mean((p["U"] @ p["V"].T - batch["m"]) ** 2)

  return init, loss, {"m": jax.random.normal(jax.random.PRNGKey(14), (6, 5))}, ("V",)


MODELS = {
  "patch_cnn": _patch_cnn,
  "logreg_scalar_bias": _logreg,
  "gru_lm": _gru_lm,
  "pre_ln_residual_mlp": _residual_mlp,
  "low_rank_uv": _low_rank,
}


def _theta(lopt, seed=0):
  """A nowcaster that predicts a change (the untrained one predicts none)."""
  theta = lopt.init(jax.random.PRNGKey(seed))
  theta["out"][1]["w"] = 0.3 * jax.random.normal(jax.random.PRNGKey(seed + 1), (lopt.hidden, 1))
  return theta


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
  """A tiny nowcaster checkpoint, loaded as a user would: `learned_opt.load(path)`."""
  lopt = nino.Nino(context=CONTEXT, every=EVERY, hidden=4, layers=1, base_learning_rate=LR)
  path = tmp_path_factory.mktemp("nino") / "ckpt"
  learned_opt.save(path, lopt, _theta(lopt))
  return learned_opt.load(path)


def _train(opt, init, loss, batch, steps):
  """The parameters after `EVERY` steps and after `steps`, and the losses (one compilation)."""
  params = init(jax.random.PRNGKey(0))

  @jax.jit
  def step(params, state):
    value, grads = jax.value_and_grad(loss)(params, batch)
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state, value

  state, losses = opt.init(params), []
  for t in range(steps):
    params, state, value = step(params, state)
    losses.append(float(value))
    if t + 1 == EVERY:
      at_jump = params
  return at_jump, params, np.asarray(losses)


def _finite(tree):
  return all(np.isfinite(x).all() for x in jax.tree.leaves(tree))


@pytest.mark.parametrize("name", list(MODELS))
def test_loaded_nowcaster_trains_models_written_the_ordinary_way(name, loaded, caplog):
  """Two jumps (steps 4 and 8); at the first, the nowcast tensors leave Adam's path and the
  tensors left out stay on it; the log line names both."""
  init, loss, batch, left_out = MODELS[name]()
  nino._log_once.cache_clear()
  with caplog.at_level(logging.INFO, logger="absl"):
    jumped, params, losses = _train(loaded, init, loss, batch, 2 * EVERY)
  assert np.all(np.isfinite(losses)) and _finite(params)
  (record,) = [r for r in caplog.records if "NiNo nowcasts" in r.getMessage()]
  message = record.getMessage()
  graph = neural_graph.infer(init(jax.random.PRNGKey(0)))
  assert {p for p, _ in graph.left_out} == set(left_out), message
  for path in left_out:
    assert f"left out: {path} (" in message
  assert record.levelno == (logging.WARNING if left_out else logging.INFO)
  adam, _, _ = _train(optax.adam(LR), init, loss, batch, EVERY)
  flat = jax.tree_util.tree_flatten_with_path(jumped)[0]
  for (path, a), b in zip(flat, jax.tree.leaves(adam), strict=True):
    names = "/".join(neural_graph.path_names(path))
    if names in left_out:
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=names)
    else:
      assert not np.allclose(a, b, rtol=1e-4, atol=1e-6), names


def test_a_model_with_no_graph_gets_the_base_optimizer_alone(loaded):
  params = {"x": jnp.array([1.0, -2.0, 3.0])}
  nino._log_once.cache_clear()
  loss = lambda p, _: jnp.sum(p["x"] ** 2)
  with pytest.warns(UserWarning, match="base optimizer trains alone"):
    _, out, _ = _train(loaded, lambda _: params, loss, None, EVERY + 1)
  _, adam, _ = _train(optax.adam(LR), lambda _: params, loss, None, EVERY + 1)
  np.testing.assert_allclose(out["x"], adam["x"], rtol=1e-6)


def test_nowcast_of_snapshots_keeps_what_the_graph_leaves_out():
  lopt = nino.Nino(context=CONTEXT, every=EVERY, hidden=4, layers=1)
  theta = _theta(lopt)
  init = _low_rank()[0]
  old, new = init(jax.random.PRNGKey(0)), init(jax.random.PRNGKey(1))
  out = jax.jit(lambda a, b: lopt.nowcast(theta, [a, b]))(old, new)
  np.testing.assert_array_equal(out["V"], new["V"])
  assert not np.allclose(out["U"], new["U"])
  quadratic = [{"x": jnp.ones(3)}, {"x": jnp.zeros(3)}]
  nino._log_once.cache_clear()
  with pytest.warns(UserWarning, match="nowcasts no tensor"):
    np.testing.assert_array_equal(lopt.nowcast(theta, quadratic)["x"], jnp.zeros(3))  # eager
  with pytest.raises(ValueError, match="2 snapshots"):
    lopt.nowcast(theta, [old])


def test_layer_order_and_residual_blocks_can_be_stated():
  """Names that sort out of layer order: `a` (3->4), `c` (4->5), `b` (5->2)."""
  shapes = {"a": {"w": (3, 4)}, "b": {"w": (5, 2)}, "c": {"w": (4, 5)}}
  params = jax.tree.map(jnp.zeros, shapes, is_leaf=lambda s: isinstance(s, tuple))
  by_name = neural_graph.infer(params)
  assert [p for p, _ in by_name.left_out] == ["b/w"]
  stated = neural_graph.infer(params, layer_order=("a", "c", "b"))
  assert not stated.left_out and stated.num_param_edges == 12 + 20 + 10
  only_two = neural_graph.infer(params, layer_order=("a", "c"))
  assert only_two.left_out == (("b/w", "not under any prefix of layer_order"),)
  # A residual block stated explicitly writes back into the neurons it reads.
  res = {
    "in": {"w": jnp.zeros((2, 4))},
    "blk": {"f": {"w": jnp.zeros((4, 6))}, "g": {"w": jnp.zeros((6, 4))}},
  }
  plain = neural_graph.infer(res, layer_order=("in", "blk"))
  residual = neural_graph.infer(res, layer_order=("in", "blk"), residual_blocks=("blk",))
  assert residual.num_nodes == plain.num_nodes - 4
  assert (residual.node_type == neural_graph.NODE_TYPES.index("residual")).sum() == 4


class _NNXGRULM(nnx.Module):
  def __init__(self, rngs):
    self.embed = nnx.Embed(7, 4, rngs=rngs)
    self.cell = nnx.GRUCell(4, 5, rngs=rngs)
    self.norm = nnx.LayerNorm(5, rngs=rngs)
    self.out = nnx.Linear(5, 7, rngs=rngs)


def test_flax_nnx_state_of_embedding_gru_and_norm_is_graphed_whole():
  state = nnx.state(_NNXGRULM(nnx.Rngs(0)), nnx.Param)
  graph = neural_graph.infer(state)
  assert not graph.left_out, neural_graph.summary(graph)
  kinds = {neural_graph.EDGE_TYPES[t] for t in graph.edge_type}
  assert {"embed", "recurrent", "gate_member", "norm_scale", "dense"} <= kinds
  values = graph.edge_values(state)
  back = graph.params(values)
  for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(back), strict=True):
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# Equivariance, per new layer kind: permutations that keep the model's function.
# ---------------------------------------------------------------------------------------


def _cols_per_gate(x, perm, gates):
  """Permutes the units within each of `gates` gate-major column groups of the last axis."""
  h = x.shape[-1] // gates
  return x[..., np.concatenate([g * h + perm for g in range(gates)])]


def _permute_patch_cnn(p, perm):  # conv1's 4 output channels
  rows = np.concatenate([k * 4 + perm for k in range(9)])  # (position, channel) rows
  return {
    **p,
    "conv1": {"w": p["conv1"]["w"][..., perm], "b": p["conv1"]["b"][..., perm]},
    "conv2": {**p["conv2"], "w": p["conv2"]["w"][..., rows, :]},
  }


def _permute_gru_lm(p, perm):  # hidden units, and the embedding width
  emb, g = np.array([2, 0, 3, 1]), p["gru"]
  return {
    "embed": p["embed"][..., emb],
    "gru": {
      "w_x": _cols_per_gate(g["w_x"][..., emb, :], perm, 3),
      "w_h": _cols_per_gate(g["w_h"][..., perm, :], perm, 3),
      "b": _cols_per_gate(g["b"], perm, 3),
    },
    "out": {**p["out"], "w": p["out"]["w"][..., perm, :]},
  }


def _permute_residual_mlp(p, perm):  # the stream, and block 0's hidden neurons
  hid = np.arange(12)[::-1]
  vec = lambda v: v[..., perm]
  ln = lambda n: {"scale": vec(n["scale"]), "bias": vec(n["bias"])}

  def block(b, inner):
    return {
      "ln": ln(b["ln"]),
      "fc1": {"w": b["fc1"]["w"][..., perm, :][..., inner], "b": b["fc1"]["b"][..., inner]},
      "fc2": {"w": b["fc2"]["w"][..., inner, :][..., perm], "b": vec(b["fc2"]["b"])},
    }

  return {
    "in": {"w": p["in"]["w"][..., perm], "b": vec(p["in"]["b"])},
    "blocks": [block(p["blocks"][0], hid), block(p["blocks"][1], np.arange(12))],
    "ln_f": ln(p["ln_f"]),
    "out": {**p["out"], "w": p["out"]["w"][..., perm, :]},
  }


_LSTM = LSTMLM(tokens="bytes", depth=1, width=4, seq_len=6)


def _permute_lstm(p, perm):  # the zoo's [x, h] kernel: hidden units
  w, d = p["lstm_0"]["w"], _LSTM.width
  rows = np.concatenate([np.arange(d), d + perm])
  return {
    **p,
    "lstm_0": {
      "w": _cols_per_gate(w[..., rows, :], perm, 4),
      "b": _cols_per_gate(p["lstm_0"]["b"], perm, 4),
    },
    "out": {**p["out"], "w": p["out"]["w"][..., perm, :]},
  }


def _lstm_model():
  tokens = jax.random.randint(jax.random.PRNGKey(15), (3, _LSTM.seq_len + 1), 0, _LSTM.vocab_size)
  loss = lambda p, batch: _LSTM.loss(p, jax.random.PRNGKey(0), batch)
  return _LSTM.init, loss, {"tokens": tokens}, ()


EQUIVARIANT = {
  "patch_cnn": (_patch_cnn, _permute_patch_cnn, np.array([3, 1, 0, 2])),
  "gru_lm": (_gru_lm, _permute_gru_lm, np.array([4, 2, 0, 1, 3])),
  "pre_ln_residual_mlp": (_residual_mlp, _permute_residual_mlp, np.array([5, 7, 0, 1, 6, 2, 4, 3])),
  "zoo_lstm_lm": (_lstm_model, _permute_lstm, np.array([1, 3, 0, 2])),
}


@pytest.mark.parametrize("name", list(EQUIVARIANT))
def test_nowcast_is_equivariant_to_hidden_permutations(name):
  model, permute_with, perm = EQUIVARIANT[name]
  init, loss, batch, _ = model()
  permute = jax.jit(lambda p: permute_with(p, perm))
  params = init(jax.random.PRNGKey(0))
  value = jax.jit(loss)
  np.testing.assert_allclose(value(permute(params), batch), value(params, batch), rtol=1e-5)
  lopt = nino.Nino(context=3, every=6, hidden=4, layers=1)
  theta = _theta(lopt, seed=5)
  rng = np.random.RandomState(4)
  window = jax.tree.map(
    lambda x: x[None] + 0.05 * rng.randn(3, *x.shape).astype(np.float32), params
  )
  predict = jax.jit(lopt.predictor(theta))
  pred, pred_of_permuted = predict(window), predict(jax.jit(jax.vmap(permute))(window))
  assert not np.allclose(jax.tree.leaves(pred)[0], jax.tree.leaves(window)[0][-1])
  for a, b in zip(jax.tree.leaves(permute(pred)), jax.tree.leaves(pred_of_permuted), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
