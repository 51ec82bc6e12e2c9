"""The VeLO-, Celo- and Celo2-style rules and the µP multipliers against numpy references
written from the papers (float64 numpy, a few steps on a matrix, a 3-D tensor and a vector).

The references share only the parameter layout of the meta-parameters with the code (which
row of an LSTM's weights is which gate, how the MLP bank is stacked); every formula is
written again here: VeLO (Metz et al., arXiv:2211.09760), Celo (Moudgil et al.,
arXiv:2501.12670), Muon's Newton-Schulz iteration (Jordan et al., 2024), Adam (Kingma & Ba,
arXiv:1412.6980), µLO (Thérien et al., arXiv:2406.00153).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import learned_opt
import tasks
from learned_opt import mup
from tasks.language import TransformerLM

SHAPES = {"w": (6, 4), "c": (2, 3, 5), "b": (4,)}
STEPS = 4


def _problem(seed=0):
  rng = np.random.default_rng(seed)
  params = {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
  grads = [
    {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()} for _ in range(STEPS)
  ]
  losses = [2.0, 1.5, 1.7, 0.9]
  return params, grads, losses


def _run(opt, params, grads, losses):
  """`STEPS` updates of `opt` (the loss passed as `value`); the final parameters."""
  params = jax.tree.map(jnp.asarray, params)
  state = opt.init(params)
  update = jax.jit(opt.update)
  for g, loss in zip(grads, losses, strict=True):
    updates, state = update(jax.tree.map(jnp.asarray, g), state, params, value=jnp.float32(loss))
    params = optax.apply_updates(params, updates)
  return params


def _np(tree):
  return jax.tree.map(lambda x: np.asarray(x, np.float64), tree)


# The pieces, in numpy.


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _lstm(cell, carry, x):
  """One LSTM step (Hochreiter & Schmidhuber; forget gate of Gers et al.): gates i, f, g, o."""
  h, c = carry
  i, f, g, o = np.split(x @ cell["wx"] + h @ cell["wh"] + cell["b"], 4)
  c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
  return _sigmoid(o) * np.tanh(c), c


def _mlp(layers, features):
  """A ReLU MLP applied to every parameter: features [..., n] -> outputs [..., m]."""
  x = features
  for n, layer in enumerate(layers):
    x = x @ layer["w"] + layer["b"]
    if n < len(layers) - 1:
      x = np.maximum(x, 0.0)
  return x


def _normalized(f):
  """A per-parameter feature at unit RMS over its tensor."""
  return f / np.sqrt(np.mean(f * f) + 1e-8)


def _newton_schulz(g, steps=5, a=3.4445, b=-4.7750, c=2.0315):
  """Muon's quintic Newton-Schulz iteration on the Frobenius-normalized matrix."""
  x = g / (np.linalg.norm(g) + 1e-7)
  tall = x.shape[0] > x.shape[1]
  if tall:
    x = x.T
  for _ in range(steps):
    s = x @ x.T
    x = a * x + (b * s + c * s @ s) @ x
  return x.T if tall else x


def _log_rms(x):
  return np.log(np.sqrt(np.mean(x * x)) + 1e-8)


# The rules.


def test_celo2_matches_numpy_reference():
  """d = MLP(g, m_0.9); for matrices (the `(prod(shape[:-1]), shape[-1])` view) d <-
  NS5(d) sqrt(max(1, rows / cols)); p <- p - step_mult exp(log_step) d / rms(d)."""
  lopt = learned_opt.Celo2(hidden_sizes=(4,), features=("grad", "momentum_0.9"), step_mult=0.01)
  theta = lopt.init(jax.random.PRNGKey(0))
  theta["log_step"] = jnp.float32(0.3)
  params, grads, losses = _problem()
  ours = _run(lopt.opt(theta), params, grads, losses)

  th = _np(theta)
  p, m = _np(params), {k: np.zeros(s) for k, s in SHAPES.items()}
  for g in _np(grads):
    for k in SHAPES:
      m[k] = 0.9 * m[k] + 0.1 * g[k]
      feats = np.stack([_normalized(g[k]), _normalized(m[k])], -1)
      d = _mlp(th["layers"], feats)[..., 0]
      if d.ndim >= 2:
        rows, cols = int(np.prod(d.shape[:-1])), d.shape[-1]
        d = _newton_schulz(d.reshape(rows, cols)).reshape(d.shape) * np.sqrt(max(1, rows / cols))
      d = d / np.sqrt(np.mean(d * d) + 1e-8)
      p[k] = p[k] - 0.01 * np.exp(0.3) * d
  for k in SHAPES:
    assert not np.allclose(p[k], params[k])
    np.testing.assert_allclose(ours[k], p[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_velo_matches_numpy_reference():
  """Per tensor: (h, c) <- LSTM((h, c), z) on the tensor features z; alpha = softmax(W h + b);
  the MLP sum_k alpha_k theta_k maps the per-parameter features to (d, s);
  p <- p - d exp(s exp_mult + w_sigma . h + b_sigma) step_mult."""
  tensor_features = ("log_param_rms", "log_grad_rms", "step_tanh_10", "loss_log_ratio_first")
  lopt = learned_opt.VeLO(
    hidden_sizes=(4,),
    num_mlps=3,
    lstm_size=5,
    features=("grad", "momentum_0.9"),
    tensor_features=tensor_features,
    exp_mult=0.1,
    step_mult=0.01,
  )
  theta = lopt.init(jax.random.PRNGKey(0))
  theta["log_step"]["w"] = 0.5 * jax.random.normal(jax.random.PRNGKey(1), (5,))
  theta["log_step"]["b"] = jnp.float32(0.2)
  params, grads, losses = _problem(1)
  ours = _run(lopt.opt(theta, num_steps=10), params, grads, losses)

  th = _np(theta)
  p = _np(params)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  carry = {k: (np.zeros(5), np.zeros(5)) for k in SHAPES}
  for t, (g, loss) in enumerate(zip(_np(grads), losses, strict=True)):
    loss_ratio = np.clip(np.log(loss) - np.log(losses[0]), -10, 10)
    for k in SHAPES:
      m[k] = 0.9 * m[k] + 0.1 * g[k]
      z = np.array([_log_rms(p[k]), _log_rms(g[k]), np.tanh(t / 10), loss_ratio])
      carry[k] = _lstm(th["lstm"], carry[k], z)
      h = carry[k][0]
      logits = h @ th["mix"]["w"] + th["mix"]["b"]
      alpha = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
      layers = [{n: np.tensordot(alpha, v, 1) for n, v in lay.items()} for lay in th["mlps"]]
      out = _mlp(layers, np.stack([_normalized(g[k]), _normalized(m[k])], -1))
      log_step = h @ th["log_step"]["w"] + th["log_step"]["b"]
      p[k] = p[k] - out[..., 0] * np.exp(out[..., 1] * 0.1 + log_step) * 0.01
  for k in SHAPES:
    assert not np.allclose(p[k], params[k])
    np.testing.assert_allclose(ours[k], p[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_celo_matches_numpy_reference():
  """Adam's update u (bias-corrected moments) times the learned multiplier exp(w . h + b),
  (h, c) <- LSTM((h, c), z_t) on the global features z_t (step embeddings, loss vs its EMA)."""
  features = ("step_tanh_1", "step_tanh_10", "loss_log_ratio_ema")
  lopt = learned_opt.Celo(
    rule="adam", rule_config={"learning_rate": 0.01}, features=features, hidden_size=4
  )
  theta = lopt.init(jax.random.PRNGKey(0))
  theta["schedule"]["out"]["w"] = jax.random.normal(jax.random.PRNGKey(2), (4,))
  theta["schedule"]["out"]["b"] = jnp.float32(-0.3)
  params, grads, losses = _problem(2)
  ours = _run(lopt.opt(theta), params, grads, losses)

  th = _np(theta["schedule"])
  p = _np(params)
  m1 = {k: np.zeros(s) for k, s in SHAPES.items()}
  m2 = {k: np.zeros(s) for k, s in SHAPES.items()}
  carry, ema = (np.zeros(4), np.zeros(4)), np.log(losses[0])
  for t, (g, loss) in enumerate(zip(_np(grads), losses, strict=True)):
    z = np.array([np.tanh(t / 1), np.tanh(t / 10), np.clip(np.log(loss) - ema, -10, 10)])
    ema = 0.9 * ema + 0.1 * np.log(loss)
    carry = _lstm(th["lstm"], carry, z)
    scale = np.exp(carry[0] @ th["out"]["w"] + th["out"]["b"])
    for k in SHAPES:
      m1[k] = 0.9 * m1[k] + 0.1 * g[k]
      m2[k] = 0.999 * m2[k] + 0.001 * g[k] ** 2
      m_hat, v_hat = m1[k] / (1 - 0.9 ** (t + 1)), m2[k] / (1 - 0.999 ** (t + 1))
      p[k] = p[k] - scale * 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
  for k in SHAPES:
    assert not np.allclose(p[k], params[k])
    np.testing.assert_allclose(ours[k], p[k], rtol=1e-5, atol=1e-7, err_msg=k)


# µP: µLO's multipliers, table by table.


def _shapes(tree):
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s, jnp.float32), tree, is_leaf=_is_shape)


def _is_shape(x):
  return isinstance(x, tuple) and all(isinstance(d, int) for d in x)


def test_mup_multipliers_follow_mulo():
  """Input weights, embeddings and vectors 1; hidden and output weights 1 / fan_in."""
  cases = [
    (  # an MLP 64-32-32-10 (tasks' naming): the input layer keeps its step
      {"dense_0": {"w": (64, 32), "b": (32,)}, "dense_1": {"w": (32, 32)}, "out": {"w": (32, 10)}},
      {"dense_0": {"w": 1.0, "b": 1.0}, "dense_1": {"w": 1 / 32}, "out": {"w": 1 / 32}},
    ),
    (  # a CNN: fan_in of an HWIO kernel is kh * kw * in
      {"conv_0": {"w": (3, 3, 1, 16)}, "conv_1": {"w": (3, 3, 16, 32)}, "out": {"w": (32, 10)}},
      {"conv_0": {"w": 1.0}, "conv_1": {"w": 1 / 144}, "out": {"w": 1 / 32}},
    ),
    (  # a character LSTM: the embedding table, not the recurrent layer, reads the input
      {"embed": (256, 32), "lstm_0": {"w": (64, 128), "b": (128,)}, "out": {"w": (32, 256)}},
      {"embed": 1.0, "lstm_0": {"w": 1 / 64, "b": 1.0}, "out": {"w": 1 / 32}},
    ),
    (  # a structure nothing recognizes: every matrix is taken for a hidden one
      {"a": (5, 7), "v": (7,)},
      {"a": 1 / 5, "v": 1.0},
    ),
  ]
  for shapes, expected in cases:
    assert mup.multipliers(_shapes(shapes)) == expected
  transformer = jax.eval_shape(
    TransformerLM(tokens="bytes", depth=1, width=32, num_heads=4, seq_len=16).init,
    jax.random.PRNGKey(0),
  )
  got = mup.multipliers(transformer)
  assert got["embed"] == got["pos"] == 1.0 and got["ln_f"] == {"bias": 1.0, "scale": 1.0}
  block = got["block_0"]
  assert block["qkv"]["w"] == block["proj"]["w"] == block["mlp_in"]["w"] == 1 / 32
  assert block["mlp_out"]["w"] == 1 / 128 and block["qkv"]["b"] == 1.0
  assert got["out"] == {"w": 1 / 32, "b": 1.0}
  digits = jax.eval_shape(tasks.get("digits_mlp_32").init, jax.random.PRNGKey(0))
  assert mup.multipliers(digits) == {
    "dense_0": {"w": 1.0, "b": 1.0},
    "out": {"w": 1 / 32, "b": 1.0},
  }


def test_mup_option_multiplies_each_tensors_update():
  params = {
    "dense_0": {"w": jnp.ones((8, 6)), "b": jnp.zeros(6)},
    "out": {"w": jnp.full((6, 3), 0.5), "b": jnp.zeros(3)},
  }
  grads = jax.tree.map(
    lambda p: jnp.cos(jnp.arange(p.size, dtype=jnp.float32)).reshape(p.shape), params
  )
  expected = {"dense_0": {"w": 1.0, "b": 1.0}, "out": {"w": 1 / 6, "b": 1.0}}
  for arch, options in (("mlp", {"hidden_sizes": (4,)}), ("celo2", {"hidden_sizes": (4,)})):
    plain, scaled = (learned_opt.get(arch, **options, mup=flag) for flag in (False, True))
    theta = plain.init(jax.random.PRNGKey(0))
    u0, _ = plain.opt(theta).update(grads, plain.opt(theta).init(params), params, value=1.0)
    u1, _ = scaled.opt(theta).update(grads, scaled.opt(theta).init(params), params, value=1.0)
    for path, a in jax.tree_util.tree_flatten_with_path(u0)[0]:
      b = _get(u1, path)
      np.testing.assert_allclose(b, a * _get(expected, path), rtol=1e-6, err_msg=str(path))


def _get(tree, path):
  for key in path:
    tree = tree[key.key]
  return tree
