"""Distributed, compressed and federated baselines (OPTIMIZERS.md T6-01..T6-15).

Each project-written method against an independent numpy reference of its rule (6 steps,
random per-worker gradients, nonzero parameters); the error-feedback pair on a problem where
plain Top-K diverges; communicated bits; and the same jitted step vmapped on one device vs
truly sharded over 4 host devices (one subprocess).
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import baselines
from baselines.distributed import communication as dist
from baselines.distributed._terngrad import terngrad_uniforms

N = 3  # workers
STEPS = 6
SHAPES = {"b": (2,), "w": (3, 4)}  # dict order = jax leaf order (sorted keys)


def _params(lead=None, seed=0):
  rng = np.random.default_rng(seed)
  shape = lambda s: s if lead is None else (lead, *s)
  return {k: (rng.normal(size=shape(s)) + 0.5).astype(np.float32) for k, s in SHAPES.items()}


def _grads(seed=1, steps=STEPS):
  rng = np.random.default_rng(seed)
  return [
    {k: rng.normal(size=(N, *s)).astype(np.float32) for k, s in SHAPES.items()}
    for _ in range(steps)
  ]


def _keys(steps=STEPS):
  return list(jax.random.split(jax.random.PRNGKey(7), steps))


def _run(opt, params, grads, keys=None, move=False):
  """Updates of `opt` for each step; with `move`, the parameters follow the updates."""
  opt = optax.with_extra_args_support(opt)
  p = jax.tree.map(jnp.asarray, params)
  state = opt.init(p)
  step = jax.jit(lambda g, s, p, k: opt.update(g, s, p, key=k))
  out = []
  for t, g in enumerate(grads):
    k = keys[t] if keys is not None else jax.random.PRNGKey(0)
    u, state = step(jax.tree.map(jnp.asarray, g), state, p, k)
    out.append(jax.tree.map(np.asarray, u))
    if move:
      p = optax.apply_updates(p, u)
  return out, state


def _close(got, want, rtol=1e-5, atol=1e-6):
  assert len(got) == len(want)
  for g, w in zip(got, want, strict=True):
    for k in SHAPES:
      np.testing.assert_allclose(g[k], w[k], rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# numpy compressors
# ---------------------------------------------------------------------------------------------


def np_topk(x, frac):
  k = max(1, int(np.ceil(frac * x.size)))
  flat = x.ravel()
  idx = np.argsort(-np.abs(flat), kind="stable")[:k]
  out = np.zeros_like(flat)
  out[idx] = flat[idx]
  return out.reshape(x.shape)


def np_sign_l1(x):
  return np.abs(x).mean() * np.sign(x)


def np_sign_l2(x):
  return np.sqrt((x * x).mean()) * np.sign(x)


# ---------------------------------------------------------------------------------------------
# Data-parallel compressed methods.
# ---------------------------------------------------------------------------------------------


def test_topk_sgd_matches_reference():
  lr, frac = 0.1, 0.25
  grads = _grads()
  got, state = _run(
    baselines.get("topk_sgd", learning_rate=lr, k_fraction=frac, num_workers=N), _params(), grads
  )
  want = [
    {k: -lr * np.mean([np_topk(g[k][i], frac) for i in range(N)], 0) for k in SHAPES} for g in grads
  ]
  _close(got, want)
  # b: k=1 of 2 entries, 1 index bit; w: k=3 of 12 entries, 4 index bits; per worker.
  assert float(dist.communicated_bits(state)) == 1 * 33 + 3 * 36
  np.testing.assert_allclose(float(dist.compression_ratio(state, 14)), (33 + 108) / (32 * 14))


@pytest.mark.parametrize("compressor", ["scaled_sign", "top_k"])
def test_ef_sgd_matches_reference(compressor):
  lr, frac = 0.1, 0.25
  grads = _grads()
  opt = baselines.get(
    "ef_sgd", learning_rate=lr, compressor=compressor, k_fraction=frac, num_workers=N
  )
  got, _ = _run(opt, _params(), grads)
  comp = np_sign_l1 if compressor == "scaled_sign" else (lambda x: np_topk(x, frac))
  e = {k: np.zeros((N, *s)) for k, s in SHAPES.items()}
  want = []
  for g in grads:
    u = {}
    for k in SHAPES:
      p = e[k] + g[k]
      c = np.stack([comp(p[i]) for i in range(N)])
      e[k] = p - c
      u[k] = -lr * c.mean(0)
    want.append(u)
  _close(got, want)


@pytest.mark.parametrize("smoothness", [None, (1.0, 2.0, 5.0)])
def test_ef21_matches_reference(smoothness):
  lr, frac = 0.1, 0.25
  grads = _grads()
  if smoothness is None:
    opt = baselines.get("ef21", learning_rate=lr, k_fraction=frac, num_workers=N)
    w = np.full(N, 1.0 / N)
  else:
    opt = baselines.get(
      "ef21_w", learning_rate=lr, smoothness=smoothness, k_fraction=frac, num_workers=N
    )
    w = np.asarray(smoothness) / np.sum(smoothness)
  got, _ = _run(opt, _params(), grads)
  est = {k: np.zeros((N, *s)) for k, s in SHAPES.items()}
  want = []
  for g in grads:
    u = {}
    for k in SHAPES:
      for i in range(N):
        est[k][i] = est[k][i] + np_topk(g[k][i] / (N * w[i]) - est[k][i], frac)
      u[k] = -lr * np.tensordot(w, est[k], axes=1)
    want.append(u)
  _close(got, want)


def test_onebit_adam_matches_reference_across_warmup():
  lr, b1, b2, eps, tw = 0.01, 0.9, 0.999, 1e-8, 2
  grads = _grads()
  opt = baselines.get("onebit_adam", learning_rate=lr, warmup_steps=tw, num_workers=N)
  got, state = _run(opt, _params(), grads)
  m = {k: np.zeros(s) for k, s in SHAPES.items()}
  v = {k: np.zeros(s) for k, s in SHAPES.items()}
  we = {k: np.zeros((N, *s)) for k, s in SHAPES.items()}
  se = {k: np.zeros(s) for k, s in SHAPES.items()}
  want = []
  for t, g in enumerate(grads, start=1):
    u = {}
    for k in SHAPES:
      if t <= tw:
        gb = g[k].mean(0)
        m[k] = b1 * m[k] + (1 - b1) * gb
        v[k] = b2 * v[k] + (1 - b2) * gb**2
        d = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
      else:
        mi = b1 * m[k] + (1 - b1) * g[k]
        p = mi + we[k]
        c = np.stack([np_sign_l2(p[i]) for i in range(N)])
        we[k] = p - c
        avg = c.mean(0) + se[k]
        m[k] = np_sign_l2(avg)
        se[k] = avg - m[k]
        d = m[k] / (np.sqrt(v[k] / (1 - b2**tw)) + eps)
      u[k] = -lr * d
    want.append(u)
  _close(got, want, rtol=1e-4, atol=1e-6)  # float32 sqrt/sign-scale chains over 6 steps
  assert float(dist.communicated_bits(state)) == (2 + 32) + (12 + 32)  # 1 bit + a scale per tensor


@pytest.mark.parametrize("aggregation", ["majority_vote", "average"])
def test_distributed_lion_matches_reference(aggregation):
  lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
  grads, params = _grads(), _params()
  opt = baselines.get(
    "distributed_lion", learning_rate=lr, weight_decay=wd, aggregation=aggregation, num_workers=N
  )
  got, _ = _run(opt, params, grads)
  m = {k: np.zeros((N, *s)) for k, s in SHAPES.items()}
  want = []
  for g in grads:
    u = {}
    for k in SHAPES:
      delta = np.sign(b1 * m[k] + (1 - b1) * g[k])
      m[k] = b2 * m[k] + (1 - b2) * g[k]
      agg = np.sign(delta.sum(0)) if aggregation == "majority_vote" else delta.mean(0)
      u[k] = -lr * (agg + wd * params[k])
    want.append(u)
  _close(got, want)


def test_dgc_matches_reference():
  lr, mom, sparsity, warm, clip = 0.1, 0.9, 0.9, 3, 1.5
  grads = _grads()
  opt = baselines.get(
    "dgc",
    learning_rate=lr,
    momentum=mom,
    sparsity=sparsity,
    warmup_steps=warm,
    clip_norm=clip,
    num_workers=N,
  )
  got, _ = _run(opt, _params(), grads)
  uu = {k: np.zeros((N, *s)) for k, s in SHAPES.items()}
  vv = {k: np.zeros((N, *s)) for k, s in SHAPES.items()}
  want = []
  for t, g in enumerate(grads, start=1):
    s_t = 1 - 0.25 * ((1 - sparsity) / 0.25) ** min((t - 1) / warm, 1.0)
    u = {}
    for k in SHAPES:
      sent = []
      for i in range(N):
        x = g[k][i] * min(1.0, clip / np.linalg.norm(g[k][i]))
        uu[k][i] = mom * uu[k][i] + x
        vv[k][i] = vv[k][i] + uu[k][i]
        kk = max(1, int(np.ceil((1 - s_t) * x.size)))
        mask = np_topk(vv[k][i], kk / x.size - 1e-9) != 0
        sent.append(np.where(mask, vv[k][i], 0.0))
        vv[k][i] = np.where(mask, 0.0, vv[k][i])
        uu[k][i] = np.where(mask, 0.0, uu[k][i])
      u[k] = -lr * np.mean(sent, 0)
    want.append(u)
  _close(got, want)


def test_terngrad_matches_reference_given_the_key():
  lr, c = 0.1, 2.5
  grads, keys = _grads(), _keys()
  opt = baselines.get("terngrad", learning_rate=lr, momentum=0.0, clip_sigma=c, num_workers=N)
  got, _ = _run(opt, _params(), grads, keys)
  want = []
  for g, key in zip(grads, keys, strict=True):
    uni = jax.tree.map(np.asarray, terngrad_uniforms(key, g, N))  # the draws the key defines
    u = {}
    for k in SHAPES:
      t = []
      for i in range(N):
        x = g[k][i]
        x = np.clip(x, -c * x.std(), c * x.std())
        s = np.abs(x).max()
        t.append(np.where(uni[k][i] * s < np.abs(x), s * np.sign(x), 0.0))
      u[k] = -lr * np.mean(t, 0)
    want.append(u)
  _close(got, want)


def test_terngrad_is_unbiased():
  g = {"b": jnp.array([[0.3, -0.1]]), "w": jnp.linspace(-1, 1, 12).reshape(1, 3, 4)}
  opt = baselines.get("terngrad", learning_rate=1.0, momentum=0.0, clip_sigma=None, num_workers=1)
  p = jax.tree.map(lambda x: x[0], g)
  upd = jax.vmap(lambda k: opt.update(g, opt.init(p), p, key=k)[0])(
    jax.random.split(jax.random.PRNGKey(0), 4000)
  )
  np.testing.assert_allclose(-upd["w"].mean(0), g["w"][0], atol=0.05)


@pytest.mark.parametrize("sketch", ["count", "gaussian"])
def test_sketched_sgd_matches_reference_given_the_key(sketch):
  lr, ratio, noise = 0.1, 0.5, 0.3
  grads, keys = _grads(), _keys()
  opt = baselines.get(
    "sketched_sgd", learning_rate=lr, ratio=ratio, sketch=sketch, noise_std=noise, num_workers=N
  )
  got, _ = _run(opt, _params(), grads, keys)
  want = []
  for g, key in zip(grads, keys, strict=True):
    u = {}
    for j, k in enumerate(SHAPES):
      d = int(np.prod(SHAPES[k]))
      s = int(np.ceil(ratio * d))
      kh, ks = jax.random.split(jax.random.fold_in(key, j))
      xi = np.asarray(jax.random.normal(jax.random.fold_in(key, 10**6 + j), (N, s)))
      x = g[k].reshape(N, d)
      if sketch == "count":
        h = np.asarray(jax.random.randint(kh, (d,), 0, s))
        sg = np.asarray(jax.random.rademacher(ks, (d,), jnp.float32))
        r = np.zeros((s, d))
        r[h, np.arange(d)] = sg
      else:
        r = np.asarray(jax.random.normal(kh, (s, d), jnp.float32)) / np.sqrt(s)
      y = x @ r.T + noise * xi
      u[k] = (-lr * r.T @ y.mean(0)).reshape(SHAPES[k])
    want.append(u)
  _close(got, want, rtol=1e-5, atol=1e-5)


def test_sketch_is_unbiased():
  g = {"b": jnp.array([[0.3, -0.1]]), "w": jnp.linspace(-1, 1, 12).reshape(1, 3, 4)}
  opt = baselines.get("sketched_sgd", learning_rate=1.0, ratio=0.25, num_workers=1)
  p = jax.tree.map(lambda x: x[0], g)
  upd = jax.vmap(lambda k: opt.update(g, opt.init(p), p, key=k)[0])(
    jax.random.split(jax.random.PRNGKey(0), 4000)
  )
  np.testing.assert_allclose(-upd["w"].mean(0), g["w"][0], atol=0.08)


# ---------------------------------------------------------------------------------------------
# Decentralized, local and federated methods (per-worker parameters).
# ---------------------------------------------------------------------------------------------


def _ring(n):
  w = np.zeros((n, n))
  for i in range(n):
    for j in (i - 1, i, i + 1):
      w[i, j % n] = 1 / 3
  return w


def test_dsgd_matches_reference():
  lr, mom, n = 0.1, 0.9, 4
  rng = np.random.default_rng(3)
  grads = [
    {k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in SHAPES.items()}
    for _ in range(STEPS)
  ]
  params = _params(lead=n)
  got, _ = _run(
    baselines.get("dsgd", learning_rate=lr, momentum=mom, num_workers=n), params, grads, move=True
  )
  w, x = _ring(n), {k: params[k].astype(np.float64) for k in SHAPES}
  m = {k: np.zeros_like(x[k]) for k in SHAPES}
  want = []
  for g in grads:
    u = {}
    for k in SHAPES:
      m[k] = mom * m[k] + g[k]
      new = np.tensordot(w, x[k] - lr * m[k], axes=1)
      u[k], x[k] = new - x[k], new
    want.append(u)
  _close(got, want, atol=1e-5)


def test_decentralized_adam_matches_reference():
  lr, b1, b2, eps, kk, wd, n = 0.01, 0.9, 0.999, 1e-8, 2, 0.1, 4
  rng = np.random.default_rng(4)
  grads = [
    {k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in SHAPES.items()}
    for _ in range(STEPS)
  ]
  params = _params(lead=n)
  opt = baselines.get(
    "decentralized_adam", learning_rate=lr, weight_decay=wd, accum_steps=kk, num_workers=n
  )
  got, _ = _run(opt, params, grads, move=True)
  w, x = _ring(n), {k: params[k].astype(np.float64) for k in SHAPES}
  mt = {k: np.zeros_like(x[k]) for k in SHAPES}
  vt = {k: np.zeros_like(x[k]) for k in SHAPES}
  acc = {k: np.zeros_like(x[k]) for k in SHAPES}
  want = []
  for t, g in enumerate(grads, start=1):
    kr = -(-t // kk)
    u = {}
    for k in SHAPES:
      acc[k] += g[k] / kk
      m = mt[k] + (1 - b1) * g[k]
      v = vt[k] + (1 - b2) * g[k] ** 2
      d = (m / (1 - b1**kr)) / (np.sqrt(v / (1 - b2**kr)) + eps)
      if t % kk == 0:
        mt[k] = b1 * (mt[k] + (1 - b1) * acc[k])
        vt[k] = b2 * (vt[k] + (1 - b2) * acc[k] ** 2)
        acc[k] = 0 * acc[k]
      new = np.tensordot(w, x[k], axes=1) - lr * (d + wd * x[k])
      u[k], x[k] = new - x[k], new
    want.append(u)
  _close(got, want, atol=1e-5)


def test_monna_matches_reference():
  lr, beta, f, n = 0.1, 0.9, 1, 4
  rng = np.random.default_rng(5)
  grads = [
    {k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in SHAPES.items()}
    for _ in range(STEPS)
  ]
  params = _params(lead=n)
  opt = baselines.get("monna", learning_rate=lr, momentum=beta, num_byzantine=f, num_workers=n)
  got, _ = _run(opt, params, grads, move=True)
  x = {k: params[k].astype(np.float64) for k in SHAPES}
  m = {k: np.zeros_like(x[k]) for k in SHAPES}
  want = []
  for g in grads:
    y = {}
    for k in SHAPES:
      m[k] = beta * m[k] + (1 - beta) * g[k]
      y[k] = x[k] - lr * m[k]
    flat = np.concatenate([y[k].reshape(n, -1) for k in SHAPES], 1)
    dist2 = ((flat[:, None] - flat[None]) ** 2).sum(-1)
    u = {}
    for k in SHAPES:
      new = np.stack([y[k][np.argsort(dist2[i], kind="stable")[: n - f]].mean(0) for i in range(n)])
      u[k], x[k] = new - x[k], new
    want.append(u)
  _close(got, want, atol=1e-5)


@pytest.mark.parametrize("scaling", ["adam", "rmsprop", "identity"])
def test_local_sgd_matches_reference(scaling):
  lr, h, b2, eps = 0.05, 2, 0.999, 1e-8
  grads, params = _grads(), _params(lead=N)
  opt = baselines.get(
    "local_sgd", learning_rate=lr, sync_period=h, scaling=scaling, b2=b2, num_workers=N
  )
  got, state = _run(opt, params, grads, move=True)
  x = {k: params[k].astype(np.float64) for k in SHAPES}
  v = {k: np.zeros_like(x[k]) for k in SHAPES}
  dd = {k: np.ones(SHAPES[k]) for k in SHAPES}
  want = []
  for t, g in enumerate(grads):
    u = {}
    for k in SHAPES:
      v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
      if t % h == 0 and scaling != "identity":
        c = 1 - b2 ** (t + 1) if scaling == "adam" else 1.0
        dd[k] = np.sqrt(v[k].mean(0) / c) + eps
      new = x[k] - lr * g[k] / dd[k]
      if (t + 1) % h == 0:
        new = np.broadcast_to(new.mean(0), new.shape)
      u[k], x[k] = new - x[k], new
    want.append(u)
  _close(got, want, rtol=1e-4, atol=1e-5)  # 1/sqrt(v) of tiny early statistics amplifies rounding
  assert float(dist.communicated_bits(state)) == 32 * 14  # step 6 ends a round: the model


def test_fedavg_is_local_sgd_then_average():
  lr, h = 0.1, 3
  grads, params = _grads(), _params(lead=N)
  got, _ = _run(
    baselines.get("fedavg", learning_rate=lr, local_steps=h, num_workers=N),
    params,
    grads,
    move=True,
  )
  x = {k: params[k].astype(np.float64) for k in SHAPES}
  want = []
  for t, g in enumerate(grads):
    u = {}
    for k in SHAPES:
      new = x[k] - lr * g[k]
      if (t + 1) % h == 0:
        new = np.broadcast_to(new.mean(0), new.shape)
      u[k], x[k] = new - x[k], new
    want.append(u)
  _close(got, want, atol=1e-5)


def test_fedadam_matches_reference():
  lr, clr, b1, b2, tau, h = 0.05, 0.1, 0.9, 0.99, 1e-3, 2
  grads = _grads()
  p0 = _params()
  params = {
    k: np.broadcast_to(p0[k], (N, *p0[k].shape)).copy() for k in SHAPES
  }  # clients start equal
  opt = baselines.get(
    "fedadam", learning_rate=lr, client_learning_rate=clr, tau=tau, local_steps=h, num_workers=N
  )
  got, _ = _run(opt, params, grads, move=True)
  x = {k: params[k].astype(np.float64) for k in SHAPES}
  srv = {k: p0[k].astype(np.float64) for k in SHAPES}
  m = {k: np.zeros(SHAPES[k]) for k in SHAPES}
  v = {k: np.zeros(SHAPES[k]) for k in SHAPES}
  r = 0
  want = []
  for t, g in enumerate(grads):
    end = (t + 1) % h == 0
    r += end
    u = {}
    for k in SHAPES:
      new = x[k] - clr * g[k]
      if end:  # server: optax.adam on the pseudo-gradient -Delta
        pg = -(new.mean(0) - srv[k])
        m[k] = b1 * m[k] + (1 - b1) * pg
        v[k] = b2 * v[k] + (1 - b2) * pg**2
        srv[k] = srv[k] - lr * (m[k] / (1 - b1**r)) / (np.sqrt(v[k] / (1 - b2**r)) + tau)
        new = np.broadcast_to(srv[k], new.shape)
      u[k], x[k] = new - x[k], new
    want.append(u)
  _close(got, want, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The error-feedback pair, single-worker convention, communicated bits.
# ---------------------------------------------------------------------------------------------

# Beznosikov et al.'s example: f_i(x) = <a_i, x>^2 on 3 workers, sum PD, but Top-1 of every
# worker's gradient points away from the optimum, so plain Top-K compression diverges.
_A = np.array([[-3.0, 2.0, 2.0], [2.0, -3.0, 2.0], [2.0, 2.0, -3.0]], np.float32)


def _pair_run(opt, steps=300):
  opt = optax.with_extra_args_support(opt)
  loss_i = lambda x: jnp.stack([jnp.dot(a, x["x"]) ** 2 for a in jnp.asarray(_A)])

  def step(carry, _):
    x, s = carry
    g = jax.jacrev(lambda p: loss_i(p))(x)  # {"x": (3 workers, 3)}
    u, s = opt.update(g, s, x)
    return (optax.apply_updates(x, u), s), None

  x0 = {"x": jnp.ones(3)}
  (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)
  return float(jnp.mean(loss_i(x))), float(jnp.mean(loss_i(x0)))


def test_error_feedback_converges_where_plain_topk_does_not():
  frac = 0.3  # Top-1 of 3 coordinates
  plain, init = _pair_run(
    baselines.get("topk_sgd", learning_rate=0.04, k_fraction=frac, num_workers=3)
  )
  ef21, _ = _pair_run(baselines.get("ef21", learning_rate=0.04, k_fraction=frac, num_workers=3))
  ef, _ = _pair_run(
    baselines.get("ef_sgd", learning_rate=0.04, compressor="top_k", k_fraction=frac, num_workers=3)
  )
  assert not plain < 1e3 * init, (plain, init)  # diverges
  assert ef21 < 1e-6 * init and ef < 1e-6 * init, (ef21, ef, init)


@pytest.mark.parametrize("name", ["ef21", "onebit_adam", "local_sgd", "dsgd", "monna", "fedadam"])
def test_num_workers_none_is_one_worker_without_the_axis(name):
  grads = [{k: g[k][:1] for k in SHAPES} for g in _grads()]
  lead = name in ("local_sgd", "dsgd", "monna", "fedadam")
  p1 = _params(lead=1) if lead else _params()
  one, _ = _run(baselines.get(name, num_workers=1), p1, grads, move=lead)
  p0 = jax.tree.map(lambda x: x[0], p1) if lead else p1
  none, _ = _run(baselines.get(name), p0, [{k: g[k][0] for k in SHAPES} for g in grads], move=lead)
  for a, b in zip(one, none, strict=True):
    for k in SHAPES:
      np.testing.assert_allclose(a[k][0] if lead else a[k], b[k], rtol=1e-6, atol=1e-7)


def test_bad_options_raise():
  with pytest.raises(ValueError, match="num_workers"):
    baselines.get("ef21", num_workers=0)
  with pytest.raises(ValueError, match="compressor"):
    baselines.get("ef_sgd", compressor="random")
  with pytest.raises(ValueError, match="smoothness"):
    baselines.get("ef21_w", smoothness=(1.0, 2.0), num_workers=3)
  with pytest.raises(ValueError, match="topology"):
    baselines.get("dsgd", topology="star", num_workers=4)
  with pytest.raises(ValueError, match="worker axis"):
    opt = baselines.get("topk_sgd", num_workers=4)
    opt.update(_grads()[0], opt.init(_params()), None)


def test_bits_and_ratios():
  grads = _grads()
  d = 14
  _, s = _run(baselines.get("distributed_lion", num_workers=N), _params(), grads)
  assert float(dist.compression_ratio(s, d)) == pytest.approx(1 / 32)
  _, s = _run(baselines.get("terngrad", num_workers=N), _params(), grads, _keys())
  assert float(dist.communicated_bits(s)) == 2 * d + 2 * 32
  _, s = _run(baselines.get("sketched_sgd", ratio=0.5, num_workers=N), _params(), grads, _keys())
  assert float(dist.communicated_bits(s)) == 32 * (1 + 6)
  _, s = _run(baselines.get("dsgd", num_workers=N), _params(lead=N), grads)
  assert float(dist.compression_ratio(s, d)) == 1.0
  _, s = _run(baselines.get("fedavg", local_steps=4, num_workers=N), _params(lead=N), grads)
  assert float(dist.communicated_bits(s)) == 0.0  # 6 steps: the last one is not a round end


# ---------------------------------------------------------------------------------------------
# Vmapped on one device vs sharded over 4 devices: one subprocess for every method.
# ---------------------------------------------------------------------------------------------

_SHARDED_SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np, optax
import baselines
from baselines.distributed import communication as dist
n = 4
assert len(jax.devices()) == n, jax.devices()
mesh = dist.worker_mesh()
rng = np.random.default_rng(0)
shapes = {"b": (2,), "w": (3, 4)}
decentral = {"dsgd", "decentralized_adam", "monna", "local_sgd", "fedavg",
             "fedadagrad", "fedadam", "fedyogi"}
kw = {"monna": {"num_byzantine": 1}, "onebit_adam": {"warmup_steps": 2}, "dgc": {"warmup_steps": 2}}
names = sorted(
  e.name for e in baselines.entries() if "devices" in e.needs and e.status == "implemented"
)
grads = [{k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in shapes.items()}
         for _ in range(5)]
keys = jax.random.split(jax.random.PRNGKey(3), 5)
out = {}
for name in names:
  lead = name in decentral
  p = {k: rng.normal(size=((n, *s) if lead else s)).astype(np.float32) for k, s in shapes.items()}
  if name.startswith("fed"):
    p = {k: np.broadcast_to(v[0], v.shape).copy() for k, v in p.items()}
  opt = optax.with_extra_args_support(baselines.get(name, num_workers=n, **kw.get(name, {})))

  def step(p, s, g, k):
    u, s = opt.update(g, s, p, key=k)
    return optax.apply_updates(p, u), s

  def run(shard):
    params, state = jax.tree.map(jnp.asarray, p), opt.init(jax.tree.map(jnp.asarray, p))
    if shard:
      ps, ss = dist.worker_shardings(params, mesh, n), dist.worker_shardings(state, mesh, n)
      gs = dist.worker_shardings(grads[0], mesh, n)
      params, state = jax.device_put(params, ps), jax.device_put(state, ss)
      fn = jax.jit(step, in_shardings=(ps, ss, gs, None), out_shardings=(ps, ss))
    else:
      dev = jax.devices()[0]
      params, state = jax.device_put(params, dev), jax.device_put(state, dev)
      fn = jax.jit(step)
    for g, k in zip(grads, keys):
      g = jax.device_put(g, gs if shard else jax.devices()[0])
      params, state = fn(params, state, g, k)
    return params, state, g

  p1, s1, _ = run(False)
  p2, s2, g2 = run(True)
  diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
             for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)))
  shards = len(g2["w"].sharding.device_set)
  local = g2["w"].addressable_shards[0].data.shape[0]
  out[name] = {"diff": diff, "grad_devices": shards, "grad_rows_per_device": local,
               "bits": float(dist.communicated_bits(s2)),
               "single_device": len(jax.tree.leaves(p1)[0].sharding.device_set)}
print("RESULT" + json.dumps(out))
"""


def test_sharded_over_devices_matches_vmapped_single_device():
  root = pathlib.Path(__file__).resolve().parents[1]
  env = {
    **os.environ,
    "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4",
    "JAX_PLATFORMS": "cpu",
  }
  proc = subprocess.run(
    [sys.executable, "-c", _SHARDED_SCRIPT],
    cwd=root,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert proc.returncode == 0, proc.stderr[-4000:]
  line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
  res = json.loads(line[len("RESULT") :])
  expected = {
    e.name for e in baselines.entries() if "devices" in e.needs and e.status == "implemented"
  }
  assert set(res) == expected
  for name, r in res.items():
    assert r["grad_devices"] == 4 and r["grad_rows_per_device"] == 1, (name, r)
    assert r["single_device"] == 1, (name, r)
    assert r["diff"] <= 1e-5, (name, r)
