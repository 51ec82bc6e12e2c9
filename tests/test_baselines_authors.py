"""Rules checked against their authors' code and their papers' claims (issue 18).

Each test here was written from the authors' public code (read, not copied) or from a claim
of the paper, independently of the project's formula references, and fails on the rule as
it stood before the fix it guards:

- AdamP / SGDP (clovaai/AdamP `adamp/adamp.py`, `adamp/sgdp.py`): scale invariance is
  checked and removed per *output channel*; our kernels are `(in, out)` and HWIO, so the
  output channel is the last axis (`baselines.axes`). The authors' rule is transcribed in
  PyTorch's `(out, in, ...)` layout (`x.view(x.size(0), -1)`), so the axis bookkeeping of
  the reference is not the rule's own.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines

# --------------------------------------------------------------------------------------------
# AdamP / SGDP
# --------------------------------------------------------------------------------------------

_SHAPES = {"w": (5, 4), "k": (2, 2, 3, 4), "embed": (6, 3), "d": (3, 4), "b": (4,)}


def _channels(x, name):
  """The units of the scale invariance in the test's own bookkeeping: output channels
  (last axis) of kernels, rows of the embedding."""
  return x if name == "embed" else np.moveaxis(x, -1, 0).reshape(x.shape[-1], -1)


def _invariant_loss(params, targets):
  """sum over units c of <t_c, w_c / ||w_c||>: invariant to scaling any output channel of
  `w` or `k` and any row of `embed`; plus plain quadratics in `d` (not scale-invariant) and
  `b`."""
  total = sum(jnp.sum((params[k] - targets[k]) ** 2) for k in ("d", "b"))
  for name in ("w", "k", "embed"):
    w, t = params[name], targets[name]
    axis = tuple(range(w.ndim - 1)) if name != "embed" else (1,)
    total += jnp.sum(w * t / jnp.sqrt(jnp.sum(w * w, axis=axis, keepdims=True)))
  return total


_grad = jax.jit(jax.grad(_invariant_loss))


def _start(seed=0):
  rng = np.random.default_rng(seed)
  params = {k: rng.normal(size=s).astype(np.float32) for k, s in _SHAPES.items()}
  targets = {k: rng.normal(size=s).astype(np.float32) for k, s in _SHAPES.items()}
  return params, targets


def _steps(opt, num_steps, seed=0):
  """`opt` on `_invariant_loss` from random parameters: [(params, step)] per step."""
  params, targets = _start(seed)
  params = jax.tree.map(jnp.asarray, params)
  state, out = opt.init(params), []
  update = jax.jit(opt.update)
  for _ in range(num_steps):
    u, state = update(_grad(params, targets), state, params)
    out.append((params, u))
    params = optax.apply_updates(params, u)
  return out


@pytest.mark.parametrize("name", ["adamp", "sgdp"])
def test_adamp_sgdp_step_is_orthogonal_to_each_output_channel(name):
  """The paper's claim (Sec. 3): on weights scale-invariant per output channel, the step has
  no radial part in any channel: |cos(step_c, w_c)| < 1e-5 for every output channel of a
  dense and an HWIO kernel and every row of an embedding, at every step."""
  opt = baselines.get(name, learning_rate=0.05, weight_decay=0.0)
  for t, (params, step) in enumerate(_steps(opt, 3)):
    for key in ("w", "k", "embed"):
      w, u = _channels(np.asarray(params[key]), key), _channels(np.asarray(step[key]), key)
      cos = np.abs(np.sum(w * u, 1)) / (np.linalg.norm(w, axis=1) * np.linalg.norm(u, axis=1))
      assert cos.max() < 1e-5, (name, key, t, cos)


def _authors_projection(p, g, perturb, delta, wd_ratio, eps):
  """clovaai/AdamP `_projection`, on arrays in PyTorch's layout (`(out, ...)`)."""
  for view in (lambda x: x.reshape(x.shape[0], -1), lambda x: x.reshape(1, -1)):
    pv, gv = view(p), view(g)
    cos = np.abs(np.sum(pv * gv, 1)) / np.maximum(
      np.linalg.norm(pv, axis=1) * np.linalg.norm(gv, axis=1), eps
    )
    if cos.max() < delta / math.sqrt(pv.shape[1]):
      expand = (-1,) + (1,) * (p.ndim - 1)
      p_n = p / (np.linalg.norm(pv, axis=1).reshape(expand) + eps)
      return perturb - p_n * np.sum(view(p_n * perturb), 1).reshape(expand), wd_ratio
  return perturb, 1.0


def _to_torch(x, name):
  """Our array in the layout the authors' PyTorch code sees: output axis first for kernels
  (`(out, h, w, in)` for HWIO: their views flatten all axes after the first, so the order
  of the others does not matter), embeddings and vectors as they are."""
  return x if name in ("embed", "b") else np.moveaxis(x, -1, 0)


def _from_torch(x, name):
  return x if name in ("embed", "b") else np.moveaxis(x, 0, -1)


def _authors_run(step_fn, state_fn, num_steps, seed=0):
  """Runs a per-tensor transcription `step_fn(p, g, state, t) -> (p, state)` of the authors'
  `step` in float64 and PyTorch's layout on `_invariant_loss` (gradients at its own
  parameters); the parameters after each step, in our layout."""
  params, targets = _start(seed)
  p = {k: _to_torch(v.astype(np.float64), k) for k, v in params.items()}
  state = {k: state_fn(v) for k, v in p.items()}
  traj = []
  for t in range(1, num_steps + 1):
    ours = {k: jnp.asarray(_from_torch(v, k), jnp.float32) for k, v in p.items()}
    grads = _grad(ours, targets)
    for k in p:
      g = _to_torch(np.asarray(grads[k], np.float64), k)
      p[k], state[k] = step_fn(p[k], g, state[k], t)
    traj.append({k: _from_torch(v, k) for k, v in p.items()})
  return traj


def _authors_adamp(lr, b1, b2, eps, wd, delta, wd_ratio, nesterov):
  """clovaai/AdamP `AdamP.step` for one tensor."""

  def step(p, g, s, t):
    m, v = b1 * s[0] + (1 - b1) * g, b2 * s[1] + (1 - b2) * g * g
    denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
    perturb = ((b1 * m + (1 - b1) * g) if nesterov else m) / denom
    ratio = 1.0
    if p.ndim > 1:
      perturb, ratio = _authors_projection(p, g, perturb, delta, wd_ratio, eps)
    return p * (1 - lr * wd * ratio) - lr / (1 - b1**t) * perturb, (m, v)

  return step, lambda p: (np.zeros_like(p), np.zeros_like(p))


def _authors_sgdp(lr, momentum, dampening, eps, wd, delta, wd_ratio, nesterov):
  """clovaai/AdamP `SGDP.step` for one tensor."""

  def step(p, g, buf, t):
    buf = momentum * buf + (1 - dampening) * g
    d = g + momentum * buf if nesterov else buf
    ratio = 1.0
    if p.ndim > 1:
      d, ratio = _authors_projection(p, g, d, delta, wd_ratio, eps)
    return p * (1 - lr * wd * ratio / (1 - momentum)) - lr * d, buf

  return step, np.zeros_like


@pytest.mark.parametrize(
  ("name", "hp", "authors"),
  [
    ("adamp", {"nesterov": False}, lambda h: _authors_adamp(
      h["learning_rate"], 0.9, 0.999, 1e-8, h["weight_decay"], 0.1, 0.1, False)),
    ("adamp", {"nesterov": True}, lambda h: _authors_adamp(
      h["learning_rate"], 0.9, 0.999, 1e-8, h["weight_decay"], 0.1, 0.1, True)),
    ("sgdp", {"nesterov": True, "dampening": 0.1}, lambda h: _authors_sgdp(
      h["learning_rate"], 0.9, 0.1, 1e-8, h["weight_decay"], 0.1, 0.1, True)),
  ],
)  # fmt: skip
def test_adamp_sgdp_match_the_authors_code(name, hp, authors):
  """Five steps on `_invariant_loss` (the kernels and the embedding hit the channel view;
  the quadratic `d` is not projected) against the authors' rule in PyTorch's layout."""
  hp = {"learning_rate": 0.05, "weight_decay": 0.3, **hp}
  want = _authors_run(*authors(hp), num_steps=5)
  got = _steps(baselines.get(name, **hp), 5)
  for t in range(5):
    p_next = optax.apply_updates(*got[t])
    for k in _SHAPES:
      np.testing.assert_allclose(p_next[k], want[t][k], rtol=1e-5, atol=1e-5, err_msg=f"{k} {t}")


# --------------------------------------------------------------------------------------------
# AdaFisher
# --------------------------------------------------------------------------------------------


def _layer_norm(y, scale, bias):
  mean = jnp.mean(y, -1, keepdims=True)
  return (y - mean) / jnp.sqrt(jnp.var(y, -1, keepdims=True) + 1e-5) * scale + bias


def _adafisher_problem(num_steps, seed=3):
  """A Linear layer with bias, then a LayerNorm (scale and offset), on one example per step:
  the gradients, and what the authors' hooks see (the Linear's input x and output gradient
  δ, the LayerNorm's input y and output gradient s), all at fixed parameters."""
  rng = np.random.default_rng(seed)
  params = {
    "lin": {"w": 0.3 * rng.normal(size=(3, 4)), "b": 0.1 * rng.normal(size=4)},
    "ln": {"scale": 1 + 0.1 * rng.normal(size=4), "bias": 0.1 * rng.normal(size=4)},
  }
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params)

  def loss(p, x, target, dy=0.0, dz=0.0):
    y = x @ p["lin"]["w"] + p["lin"]["b"] + dy
    z = _layer_norm(y, p["ln"]["scale"], p["ln"]["bias"]) + dz
    return 0.5 * jnp.sum((z - target) ** 2), y

  grad = jax.jit(jax.grad(loss, argnums=(0, 3, 4), has_aux=True))
  seen = []
  for _ in range(num_steps):
    x = jnp.asarray(0.3 * rng.normal(size=3), jnp.float32)
    target = jnp.asarray(rng.normal(size=4), jnp.float32)
    (grads, delta, s), y = grad(params, x, target, jnp.zeros(4), jnp.zeros(4))
    seen.append((grads, *(np.asarray(v, np.float64) for v in (x, y, delta, s))))
  return params, seen


def _authors_adafisherw(params, seen, lr, beta, lam, gamma, tcov, wd):
  """AtlasAnalyticsLab/AdaFisher `AdaFisherW` (optimizers/AdaFisher.py): the hooks'
  `Compute_H_D` / `Compute_S_D` for Linear and LayerNorm (batch 1), `update_running_avg`,
  `MinMaxNormalization` (eps 1e-6), `_get_F_tilde`, `_step`; the updates per step."""

  def mm(v):
    return (v - v.min()) / (v.max() - v.min() + 1e-6)

  def running(new, current):
    return current * gamma * 1e-1 + gamma * 1e-2 * new

  p = jax.tree.map(lambda v: np.asarray(v, np.float64), params)
  m = jax.tree.map(np.zeros_like, p)
  h_lin, s_lin, h_ln, s_ln = np.ones(4), np.ones(4), np.ones(2), np.ones(4)
  out = []
  for t, (grads, x, y, delta, s) in enumerate(seen):
    if t % tcov == 0:
      h_lin = running(mm(np.concatenate([x**2, [1.0]])), h_lin)  # Linear with bias
      s_lin = running(mm(delta**2), s_lin)
      h_ln = running(mm(np.array([np.sum(y**2), y.size])), h_ln)  # LayerNorm, batch 1
      s_ln = running(mm(s**2), s_ln)
    f_lin = np.kron(h_lin[:, None], s_lin[None, :]).T + lam  # (out, in + 1)
    f_ln = np.kron(h_ln[:, None], s_ln[None, :]).T + lam  # (d, 2)
    fisher = {
      "lin": {"w": f_lin[:, :-1].T, "b": f_lin[:, -1]},
      "ln": {"scale": f_ln[:, 0], "bias": f_ln[:, 1]},
    }
    g = jax.tree.map(lambda v: np.asarray(v, np.float64), grads)
    m = jax.tree.map(lambda a, b: beta * a + (1 - beta) * b, m, g)
    c = 1 - beta ** (t + 1)
    u = jax.tree.map(lambda a, f, w, c=c: -lr * (a / c / f + wd * w), m, fisher, p)
    p = jax.tree.map(lambda a, b: a + b, p, u)
    out.append(u)
  return out


def test_adafisher_matches_the_authors_code():
  """Six steps (factors refreshed every 2) on one example per step, where the gradient-only
  factors are exact: the kernel, its bias and the LayerNorm offset match the authors' rule
  (their Fisher factors near 0.008 at the start, not 1); the LayerNorm scale, whose factors
  the authors read from activations, is the stated deviation: within 25%."""
  hp = dict(lr=1e-2, beta=0.9, lam=1e-3, gamma=0.8, tcov=2, wd=1e-2)
  params, seen = _adafisher_problem(6)
  want = _authors_adafisherw(params, seen, **hp)
  opt = baselines.get(
    "adafisher",
    learning_rate=hp["lr"],
    b1=hp["beta"],
    damping=hp["lam"],
    gammas=(0.92, 0.008),
    update_interval=hp["tcov"],
    weight_decay=hp["wd"],
  )
  state, p = opt.init(params), params
  update = jax.jit(opt.update)
  for t, (grads, *_) in enumerate(seen):
    u, state = update(grads, state, p)
    p = optax.apply_updates(p, u)
    for path in (("lin", "w"), ("lin", "b"), ("ln", "bias")):
      np.testing.assert_allclose(
        u[path[0]][path[1]], want[t][path[0]][path[1]], rtol=2e-5, atol=1e-8, err_msg=f"{path} {t}"
      )
    ratio = np.asarray(u["ln"]["scale"]) / want[t]["ln"]["scale"]
    assert np.all(np.abs(ratio - 1) < 0.25), (t, ratio)


# --------------------------------------------------------------------------------------------
# Adam-mini
# --------------------------------------------------------------------------------------------

_MINI_SHAPES = {
  "embed": (6, 3),
  "pos": (4, 3),
  "block_0": {"ln_1": {"scale": (3,), "bias": (3,)}, "mlp_in": {"w": (3, 5), "b": (5,)}},
  "out": {"w": (3, 6)},
}


def _authors_adam_mini(params, grads, lr, b1, b2, eps, wd):
  """zyushun/Adam-mini `Adam_mini.step` (v1.1.1) per named tensor in PyTorch's layout: rows
  of `(out, in)` kernels and of embeddings are blocks (`mean(grad * grad, dim=1)`), `bias`
  is Adam, norms one block (`sum(grad * grad) / numel`); weight decay `p *= 1 - lr * wd`
  except where the name has `norm`, `ln` or `bias`. The position table `pos` is an
  embedding (rows), the paper's rule. Returns the parameters after each step."""
  flat = {"/".join(path): v for path, v in _flatten(params).items()}
  torch = {k: (v.T if k.endswith("/w") else v).astype(np.float64) for k, v in flat.items()}
  m = {k: np.zeros_like(v) for k, v in torch.items()}
  v = {
    k: np.zeros_like(p)
    if "bias" in k or k.endswith("/b")
    else np.zeros(p.shape[:1] + (1,) * (p.ndim - 1))
    for k, p in torch.items()
  }
  v["block_0/ln_1/scale"] = np.zeros(())
  traj = []
  for t, g_tree in enumerate(grads, start=1):
    for k, p in torch.items():
      g = np.asarray(_flatten(g_tree)[tuple(k.split("/"))], np.float64)
      g = g.T if k.endswith("/w") else g
      if "bias" in k or k.endswith("/b"):  # adam_block_names
        sq = g * g
      elif k == "block_0/ln_1/scale":  # other blocks: one per tensor
        sq = np.sum(g * g) / g.size
      else:  # embd / output / mlp names: one per row
        sq = np.mean(g * g, axis=1, keepdims=True)
      v[k] = b2 * v[k] + (1 - b2) * sq
      no_decay = "norm" in k or "ln" in k or "bias" in k or k.endswith("/b")
      if not no_decay:
        p = p * (1 - lr * wd)
      m[k] = m[k] + (1 - b1) * (g - m[k])
      h = np.sqrt(v[k]) / math.sqrt(1 - b2**t) + eps
      torch[k] = p - lr * m[k] / (1 - b1**t) / h
    traj.append({k: (p.T if k.endswith("/w") else p) for k, p in torch.items()})
  return traj


def _flatten(tree):
  return {
    tuple(str(getattr(k, "key", k)) for k in path): x
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]
  }


def test_adam_mini_matches_the_authors_code():
  """Five steps on random gradients (rare tokens: most embedding rows get no gradient at a
  step) against the authors' rule: per-token blocks of embeddings, full Adam for biases,
  one block per output neuron, no decay of norms and biases."""
  rng = np.random.default_rng(5)
  params = jax.tree.map(
    lambda s: rng.normal(size=s).astype(np.float32),
    _MINI_SHAPES,
    is_leaf=lambda s: isinstance(s, tuple),
  )
  grads = []
  for _ in range(5):
    g = jax.tree.map(
      lambda p: (rng.normal(size=p.shape) * rng.uniform(0.1, 3)).astype(np.float32), params
    )
    g["embed"] = g["embed"] * (rng.uniform(size=(6, 1)) < 0.4)  # tokens absent from the batch
    grads.append(g)
  hp = dict(lr=1e-2, b1=0.9, b2=0.99, eps=1e-8, wd=0.1)
  want = _authors_adam_mini(params, grads, **hp)
  opt = baselines.get(
    "adam_mini",
    learning_rate=hp["lr"],
    b1=hp["b1"],
    b2=hp["b2"],
    eps=hp["eps"],
    weight_decay=hp["wd"],
  )
  p = jax.tree.map(jnp.asarray, params)
  state, update = opt.init(p), jax.jit(opt.update)
  for t, g in enumerate(grads):
    u, state = update(jax.tree.map(jnp.asarray, g), state, p)
    p = optax.apply_updates(p, u)
    for k, x in _flatten(p).items():
      np.testing.assert_allclose(x, want[t]["/".join(k)], rtol=1e-5, atol=1e-6, err_msg=f"{k} {t}")


def test_adam_mini_embedding_blocks_are_per_token_and_vectors_are_not_decayed():
  """One token's gradient does not change another token's step (the paper's per-token
  blocks; the old partition averaged over all tokens of a column), and with zero gradients
  only tensors of two or more axes decay."""
  rng = np.random.default_rng(6)
  params = {"embed": jnp.ones((5, 3)), "ln": {"scale": jnp.ones(3)}, "w": jnp.ones((3, 2))}
  g = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
  loud = {**g, "embed": g["embed"].at[0].multiply(100.0)}
  opt = baselines.get("adam_mini", learning_rate=0.1, weight_decay=0.5)
  step = jax.jit(lambda grads: opt.update(grads, opt.init(params), params)[0])
  quiet, louder = step(g), step(loud)
  np.testing.assert_allclose(louder["embed"][1:], quiet["embed"][1:], rtol=1e-6)
  zero = step(jax.tree.map(jnp.zeros_like, params))
  np.testing.assert_array_equal(zero["ln"]["scale"], 0.0)
  np.testing.assert_allclose(zero["w"], -0.05 * params["w"])
  np.testing.assert_allclose(zero["embed"], -0.05 * params["embed"])


# --------------------------------------------------------------------------------------------
# Grams, diffGrad, MARS: the authors' defaults (eps placement, 1-D tensors)
# --------------------------------------------------------------------------------------------


def _tiny_problem(scale, steps=4, seed=7):
  """Parameters and gradients of size `scale`, where eps placement matters; a matrix and a
  vector."""
  rng = np.random.default_rng(seed)
  params = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
  grads = [{k: scale * rng.normal(size=v.shape) for k, v in params.items()} for _ in range(steps)]
  return params, grads


def _run_ours(opt, params, grads):
  p = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params)
  state, update, out = opt.init(p), jax.jit(opt.update), []
  for g in grads:
    u, state = update(jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g), state, p)
    p = optax.apply_updates(p, u)
    out.append(jax.tree.map(np.asarray, p))
  return out


def _run_authors(step_fn, state_fn, params, grads):
  """A per-tensor float64 transcription `step_fn(p, g, state, t) -> (p, state)`."""
  p = {k: v.copy() for k, v in params.items()}
  state = {k: state_fn(v) for k, v in p.items()}
  out = []
  for t, g in enumerate(grads, start=1):
    for k in p:
      p[k], state[k] = step_fn(p[k], g[k], state[k], t, k)
    out.append({k: v.copy() for k, v in p.items()})
  return out


def _compare(got, want, rtol=1e-5):
  for t, (a, b) in enumerate(zip(got, want, strict=True)):
    for k in b:
      np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=1e-7, err_msg=f"{k} {t}")


def test_grams_matches_the_authors_code_on_tiny_gradients():
  """Gunale0926/Grams `Grams.step`: eps 1e-6 on sqrt(v), step lr sqrt(1-b2^t)/(1-b1^t),
  decay before the step. At gradients of 1e-5 the paper's placement (the old rule, eps 1e-8
  on sqrt(v_hat)) is more than twice as large a step."""
  lr, b1, b2, eps, wd = 1e-2, 0.9, 0.999, 1e-6, 0.1
  params, grads = _tiny_problem(1e-5)

  def step(p, g, s, t, name):
    m, v = b1 * s[0] + (1 - b1) * g, b2 * s[1] + (1 - b2) * g * g
    p = p - lr * wd * p
    size = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    return p - size * np.sign(g) * np.abs(m) / (np.sqrt(v) + eps), (m, v)

  want = _run_authors(step, lambda p: (np.zeros_like(p), np.zeros_like(p)), params, grads)
  _compare(
    _run_ours(baselines.get("grams", learning_rate=lr, weight_decay=wd), params, grads), want
  )


def test_diffgrad_matches_the_authors_code_on_tiny_gradients():
  """shivram1987/diffGrad `diffGrad_v2.py`: eps on sqrt(v), step lr sqrt(1-b2^t)/(1-b1^t),
  friction from the previous gradient."""
  lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
  params, grads = _tiny_problem(1e-6)

  def step(p, g, s, t, name):
    m, v = b1 * s[0] + (1 - b1) * g, b2 * s[1] + (1 - b2) * g * g
    dfc = 1.0 / (1.0 + np.exp(-np.abs(s[2] - g)))
    size = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    return p - size * m * dfc / (np.sqrt(v) + eps), (m, v, g.copy())

  zeros = lambda p: (np.zeros_like(p), np.zeros_like(p), np.zeros_like(p))
  want = _run_authors(step, zeros, params, grads)
  _compare(_run_ours(baselines.get("diffgrad", learning_rate=lr), params, grads), want)


@pytest.mark.parametrize("base", ["adamw", "lion"])
def test_mars_matches_the_authors_code_with_1d_adamw(base):
  """AGI-Arena/MARS `update_fn` (MARS-approx, optimize_1d=False): the matrix takes MARS, the
  vector AdamW with betas (0.9, 0.95) and weight decay 0.1 (the old rule sent it through
  MARS)."""
  lr, b1, b2, eps, gamma, wd = 3e-3, 0.95, 0.99, 1e-8, 0.025, 0.01
  (a1, a2), wd_1d = (0.9, 0.95), 0.1
  if base == "lion":
    lr, b1 = 1e-4, 0.9
  params, grads = _tiny_problem(1.0, steps=5)

  def step(p, g, s, t, name):
    m, v, last = s
    if p.ndim == 2:
      c = (g - last) * (gamma * b1 / (1 - b1)) + g
      c = c / max(1.0, np.linalg.norm(c))
      m = b1 * m + (1 - b1) * c
      if base == "adamw":
        v = b2 * v + (1 - b2) * c * c
        denom = (np.sqrt(v) / math.sqrt(1 - b2**t) + eps) * (1 - b1**t)
        p = p - lr * (p * wd + m / denom)
      else:
        p = p - lr * (p * wd + np.sign(m))
    else:
      m, v = a1 * m + (1 - a1) * g, a2 * v + (1 - a2) * g * g
      denom = (np.sqrt(v) / math.sqrt(1 - a2**t) + eps) * (1 - a1**t)
      p = p - lr * (p * wd_1d + m / denom)
    return p, (m, v, g.copy())

  zeros = lambda p: (np.zeros_like(p), np.zeros_like(p), np.zeros_like(p))
  want = _run_authors(step, zeros, params, grads)
  hp = {"learning_rate": lr, "b1": b1, "gamma": gamma, "weight_decay": wd}
  if base == "adamw":
    opt = baselines.get("mars_adamw", b2=b2, eps=eps, **hp)
  else:
    opt = baselines.get("mars_lion", **hp)
  _compare(_run_ours(opt, params, grads), want)
