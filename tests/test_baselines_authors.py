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
