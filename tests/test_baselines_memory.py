"""OPTIMIZERS.md T2-01 to T2-10 and T2-22 to T2-24 (factored, memory-saving and quantized
state) against small numpy references written from the papers, plus `state_bytes` and the
memory claims: factored methods keep O(m + n) state for an m x n matrix, quantized methods
at most 1.1 bytes per parameter per moment.

Each project-written method runs a few steps on random gradients from nonzero parameters;
its updates must match an independent float64 numpy transcription of the paper's rule
(rtol 1e-5). The quantized methods' references quantize with their own code books and
nearest-value search, so the rounding decisions must agree too.
"""

import math

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import baselines
from baselines import state_bytes

NUM_STEPS = 6
RTOL, ATOL = 1e-5, 1e-7


def _problem(seed=0, num_steps=NUM_STEPS, shapes=None):
  rng = np.random.default_rng(seed)
  shapes = shapes or {"b": (5,), "w": (3, 4)}
  params = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
  grads = [
    {
      k: (rng.normal(size=v.shape) * rng.uniform(0.1, 2.0)).astype(np.float32)
      for k, v in params.items()
    }
    for _ in range(num_steps)
  ]
  return params, grads


def _jax_updates(opt, params, grads):
  p = {k: jnp.asarray(v) for k, v in params.items()}
  state = opt.init(p)
  update = jax.jit(opt.update)
  out = []
  for g in grads:
    u, state = update({k: jnp.asarray(v) for k, v in g.items()}, state, p)
    p = optax.apply_updates(p, u)
    out.append({k: np.asarray(v) for k, v in u.items()})
  return out


def _per_leaf(ref, params, grads, **hp):
  per = {
    k: ref(params[k].astype(np.float64), [g[k].astype(np.float64) for g in grads], **hp)
    for k in params
  }
  return [{k: per[k][t] for k in params} for t in range(len(grads))]


def _assert_close(got, want, rtol=RTOL, atol=ATOL):
  assert len(got) == len(want)
  for t, (g, w) in enumerate(zip(got, want, strict=True)):
    for k in w:
      np.testing.assert_allclose(g[k], w[k], rtol=rtol, atol=atol, err_msg=f"step {t + 1}, {k}")


def _rms(x):
  return np.sqrt(np.mean(x**2))


def _factored_v(r, c):
  """Adafactor's rank-1 reconstruction from row and column *sums*: R C / sum(R)."""
  return np.outer(r, c) / r.sum()


# --------------------------------------------------------------------------------------------
# numpy references, from the papers' equations.
# --------------------------------------------------------------------------------------------


def ref_came(p0, grads, lr, b1, b2, b3, eps1, eps2, d, wd):
  p, out = p0.copy(), []
  m = np.zeros_like(p)
  fact = p.ndim == 2
  r, c = (np.zeros(p.shape[0]), np.zeros(p.shape[1])) if fact else (None, None)
  rr, cc = (np.zeros(p.shape[0]), np.zeros(p.shape[1])) if fact else (None, None)
  v = np.zeros_like(p)
  for g in grads:
    sq = g**2 + eps1
    if fact:
      r = b2 * r + (1 - b2) * sq.sum(1)
      c = b2 * c + (1 - b2) * sq.sum(0)
      u = g / np.sqrt(_factored_v(r, c))
    else:
      v = b2 * v + (1 - b2) * sq
      u = g / np.sqrt(v)
    u = u / max(1.0, _rms(u) / d)
    m = b1 * m + (1 - b1) * u
    if fact:
      res = (u - m) ** 2 + eps2
      rr = b3 * rr + (1 - b3) * res.sum(1)
      cc = b3 * cc + (1 - b3) * res.sum(0)
      direction = m / np.sqrt(_factored_v(rr, cc))
    else:
      direction = m
    upd = -lr * (direction + wd * p)
    out.append(upd)
    p = p + upd
  return out


def ref_adalomo(p0, grads, lr, decay, eps1, eps2, d, wd):
  p, out = p0.copy(), []
  fact = p.ndim == 2
  r, c, v = np.zeros(p.shape[0]), np.zeros(p.shape[-1]), np.zeros_like(p)
  for t, g in enumerate(grads, start=1):
    beta = 1 - t**-decay
    sq = g**2 + eps1
    if fact:
      r = beta * r + (1 - beta) * sq.sum(1)
      c = beta * c + (1 - beta) * sq.sum(0)
      u = g / np.sqrt(_factored_v(r, c))
    else:
      v = beta * v + (1 - beta) * sq
      u = g / np.sqrt(v)
    u = u / max(1.0, _rms(u) / d) * max(eps2, _rms(p))
    upd = -lr * (u + wd * p)
    out.append(upd)
    p = p + upd
  return out


def ref_smmf(p0, grads, lr, b1, growth, decay, eps, wd):
  size = p0.size
  cols = 1
  for i in range(1, int(math.sqrt(size)) + 1):
    if size % i == 0:
      cols = i
  shape = (size // cols, cols)

  def compress(x):  # rank-1 NNMF, kept here as the reconstructed matrix
    total = x.sum()
    return np.outer(x.sum(1), x.sum(0)) / total if total != 0 else np.zeros_like(x)

  p, out = p0.copy(), []
  m_abs, sign, v = np.zeros(shape), np.zeros(shape, bool), np.zeros(shape)
  for t, g in enumerate(grads, start=1):
    gm = g.reshape(shape)
    beta_m, beta_v = b1 * growth ** (t - 1), 1 - t**decay
    m = beta_m * np.where(sign, m_abs, -m_abs) + (1 - beta_m) * gm
    vv = beta_v * v + (1 - beta_v) * gm**2
    direction = (m / (np.sqrt(vv) + eps)).reshape(p.shape)
    sign, m_abs, v = m > 0, compress(np.abs(m)), compress(vv)
    upd = -lr * (direction + wd * p)
    out.append(upd)
    p = p + upd
  return out


def ref_block_adam(p0, grads, lr, b1, b2, eps, wd, axes, op=np.mean):
  """Adam whose v is the EMA of op(g^2) over `axes` (Adam-mini, SlimAdam, Coupled Adam,
  Subset-Norm); `axes=()` is Adam."""
  p, out = p0.copy(), []
  m, v = np.zeros_like(p), None
  for t, g in enumerate(grads, start=1):
    sq = op(g**2, axis=axes, keepdims=True) if axes else g**2
    m = b1 * m + (1 - b1) * g
    v = (1 - b2) * sq if v is None else b2 * v + (1 - b2) * sq
    direction = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    upd = -lr * (direction + wd * p)
    out.append(upd)
    p = p + upd
  return out


def ref_dynamic_code(signed):
  """The dynamic tree code from its bit layout: [sign] e zeros, a one, f fraction bits."""
  bits = 7 if signed else 8
  values = [0.0, 1.0]
  for e in range(7):
    f = bits - 1 - e
    for j in range(2**f):
      x = 10.0**-e * (0.1 + 0.9 * (j + 0.5) / 2**f)
      values += [x, -x] if signed else [x]
  return np.array(sorted(values))


def ref_blockwise(x, code, block):
  """Quantize then dequantize: nearest code value of x / absmax, per block."""
  flat, out = x.reshape(-1), np.empty(x.size)
  for s in range(0, flat.size, block):
    chunk = flat[s : s + block]
    absmax = np.abs(chunk).max()
    normed = chunk / (absmax if absmax else 1.0)
    out[s : s + block] = code[np.abs(normed[:, None] - code[None]).argmin(1)] * absmax
  return out.reshape(x.shape)


def ref_fp8(x, dtype):
  fmax = float(ml_dtypes.finfo(dtype).max)
  amax = np.abs(x).max()
  scale = amax / fmax if amax else 1.0
  return np.clip(x / scale, -fmax, fmax).astype(dtype).astype(np.float64) * scale


def ref_quantized_adam(p0, grads, lr, b1, b2, eps, wd, q_m, q_v):
  p, out = p0.copy(), []
  m, v = np.zeros_like(p), np.zeros_like(p)
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    direction = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    m, v = q_m(m), q_v(v)  # what is stored for the next step
    upd = -lr * (direction + wd * p)
    out.append(upd)
    p = p + upd
  return out


def ref_microadam(p0, grads, lr, b1, b2, eps, window, density, wd):
  p, out = p0.copy(), []
  size = p.size
  k = max(1, math.ceil(density * size))
  e = np.zeros(size)
  hist = []  # (indices, values), oldest first
  for t, g in enumerate(grads, start=1):
    a = g.reshape(-1) + e
    idx = np.argsort(-np.abs(a))[:k]
    hist = ([*hist, (idx, a[idx].copy())])[-window:]
    a[idx] = 0.0
    lo, hi = a.min(), a.max()
    span = hi - lo
    e = lo + np.round((a - lo) / span * 15) * span / 15 if span > 0 else np.full(size, lo)
    m, v = np.zeros(size), np.zeros(size)
    for age, (i, val) in enumerate(reversed(hist)):
      np.add.at(m, i, (1 - b1) * b1**age * val)
      np.add.at(v, i, (1 - b2) * b2**age * val**2)
    direction = ((m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)).reshape(p.shape)
    upd = -lr * (direction + wd * p)
    out.append(upd)
    p = p + upd
  return out


# --------------------------------------------------------------------------------------------
# Project-written methods against their references.
# --------------------------------------------------------------------------------------------


def test_came_matches_reference():
  params, grads = _problem(1)
  hp = dict(b1=0.9, b2=0.99, b3=0.999, eps1=1e-30, eps2=1e-16, clipping_threshold=1.0)
  opt = baselines.get("came", learning_rate=0.01, weight_decay=0.01, **hp)
  want = _per_leaf(
    ref_came, params, grads, lr=0.01, b1=0.9, b2=0.99, b3=0.999, eps1=1e-30, eps2=1e-16,
    d=1.0, wd=0.01,
  )  # fmt: skip
  _assert_close(_jax_updates(opt, params, grads), want)


def test_adalomo_matches_reference():
  params, grads = _problem(2)
  opt = baselines.get("adalomo", learning_rate=0.05, weight_decay=0.01, clipping_threshold=0.5)
  want = _per_leaf(
    ref_adalomo, params, grads, lr=0.05, decay=0.8, eps1=1e-30, eps2=1e-3, d=0.5, wd=0.01
  )
  _assert_close(_jax_updates(opt, params, grads), want)


def test_smmf_matches_reference():
  params, grads = _problem(3, shapes={"b": (5,), "w": (3, 4), "k": (2, 3, 3)})
  opt = baselines.get("smmf", learning_rate=0.01, weight_decay=0.01, growth_rate=0.99)
  want = _per_leaf(
    ref_smmf, params, grads, lr=0.01, b1=0.9, growth=0.99, decay=-0.5, eps=1e-8, wd=0.01
  )
  _assert_close(_jax_updates(opt, params, grads), want)


def test_smmf_square_shape():
  from baselines.memory._smmf import square_shape

  assert square_shape(12) == (4, 3)
  assert square_shape(16) == (4, 4)
  assert square_shape(7) == (7, 1)
  assert square_shape(512 * 512) == (512, 512)


_PER_TENSOR = lambda p: {"w": "fan_out", "b": "none"}


@pytest.mark.parametrize(
  ("name", "hp", "axes", "op"),
  [
    # Adam-mini: tests/test_baselines_authors.py (against the authors' code).
    ("slimadam", {"compress": "fan_in"}, {"w": (0,), "b": ()}, np.mean),
    ("slimadam", {"compress": "fan_out"}, {"w": (1,), "b": ()}, np.mean),
    ("slimadam", {"compress": _PER_TENSOR}, {"w": (1,), "b": ()}, np.mean),
    # Coupled Adam: the (vocab, dim) matrix w shares v over the vocabulary.
    ("coupled_adam", {"mask": {"w": True, "b": False}}, {"w": (0,), "b": ()}, np.mean),
    ("coupled_adam", {"mask": {"w": False, "b": False}}, {"w": (), "b": ()}, np.mean),
    # Subset-Norm: w is 3 x 4, so each of its 3 rows is one subset (sum over the longer side).
    ("subset_norm", {}, {"w": (1,), "b": ()}, np.sum),
  ],
)  # fmt: skip
def test_shared_second_moment_methods_match_reference(name, hp, axes, op):
  params, grads = _problem(4)
  opt = baselines.get(name, learning_rate=0.01, weight_decay=0.02, b2=0.99, **hp)
  per = {
    k: ref_block_adam(
      params[k].astype(np.float64), [g[k].astype(np.float64) for g in grads],
      lr=0.01, b1=0.9, b2=0.99, eps=1e-8, wd=0.02, axes=axes[k], op=op,
    )
    for k in params
  }  # fmt: skip
  want = [{k: per[k][t] for k in params} for t in range(NUM_STEPS)]
  _assert_close(_jax_updates(opt, params, grads), want)


def test_lomo_is_clipped_sgd():
  params, grads = _problem(5)
  opt = baselines.get("lomo", learning_rate=0.1, clip_grad_norm=1.0, weight_decay=0.01)
  p, want = {k: v.astype(np.float64) for k, v in params.items()}, []
  for g in grads:
    norm = math.sqrt(sum(float(np.sum(x.astype(np.float64) ** 2)) for x in g.values()))
    u = {k: -0.1 * (g[k] * min(1.0, 1.0 / norm) + 0.01 * p[k]) for k in p}
    p = {k: p[k] + u[k] for k in p}
    want.append(u)
  _assert_close(_jax_updates(opt, params, grads), want)


def test_dynamic_code_matches_its_bit_layout():
  from baselines.memory._adam8bit import dynamic_code

  for signed in (True, False):
    code = dynamic_code(signed)
    assert code.shape == (256,) and np.all(np.diff(code) > 0)
    np.testing.assert_allclose(code, ref_dynamic_code(signed), rtol=1e-6)


def test_adam8bit_matches_reference():
  params, grads = _problem(6, shapes={"b": (5,), "w": (6, 7)})
  block = 8  # several blocks, the last one partial
  opt = baselines.get("adam8bit", learning_rate=0.01, weight_decay=0.01, block_size=block,
                      min_8bit_size=0, b2=0.99)  # fmt: skip
  cs, cu = ref_dynamic_code(True), ref_dynamic_code(False)
  want = _per_leaf(
    ref_quantized_adam, params, grads, lr=0.01, b1=0.9, b2=0.99, eps=1e-8, wd=0.01,
    q_m=lambda x: ref_blockwise(x, cs, block), q_v=lambda x: ref_blockwise(x, cu, block),
  )  # fmt: skip
  got = _jax_updates(opt, params, grads)
  _assert_close(got, want)
  # Quantization matters: plain Adam differs.
  adam = _per_leaf(
    ref_quantized_adam, params, grads, lr=0.01, b1=0.9, b2=0.99, eps=1e-8, wd=0.01,
    q_m=lambda x: x, q_v=lambda x: x,
  )  # fmt: skip
  assert not np.allclose(got[-1]["w"], adam[-1]["w"], rtol=1e-5)


def test_adam_fp8_matches_reference():
  params, grads = _problem(7)
  opt = baselines.get("adam_fp8", learning_rate=0.01, weight_decay=0.01)
  want = _per_leaf(
    ref_quantized_adam, params, grads, lr=0.01, b1=0.9, b2=0.95, eps=1e-8, wd=0.01,
    q_m=lambda x: ref_fp8(x, ml_dtypes.float8_e4m3fn),
    q_v=lambda x: ref_fp8(x, ml_dtypes.float8_e5m2),
  )  # fmt: skip
  _assert_close(_jax_updates(opt, params, grads), want)


def test_microadam_matches_reference():
  params, grads = _problem(8)
  opt = baselines.get(
    "microadam", learning_rate=0.01, weight_decay=0.01, window=3, density=0.25, b2=0.99
  )
  want = _per_leaf(
    ref_microadam, params, grads, lr=0.01, b1=0.9, b2=0.99, eps=1e-8, window=3, density=0.25,
    wd=0.01,
  )  # fmt: skip
  _assert_close(_jax_updates(opt, params, grads), want)


@pytest.mark.parametrize(
  ("name", "direct", "hp"),
  [
    ("adafactor", optax.adafactor, {"learning_rate": 0.05, "min_dim_size_to_factor": 2}),
    ("sm3", optax.sm3, {"learning_rate": 0.05, "momentum": 0.9}),
  ],
)
def test_optax_entries_are_optax(name, direct, hp):
  params, grads = _problem(9)
  defaults = baselines.entry(name).defaults
  got = _jax_updates(baselines.get(name, **hp), params, grads[:3])
  want = _jax_updates(direct(**{**defaults, **hp}), params, grads[:3])
  _assert_close(got, want, rtol=0, atol=0)
  assert baselines.entry(name).factory is direct


# --------------------------------------------------------------------------------------------
# state_bytes and the memory claims.
# --------------------------------------------------------------------------------------------


def test_state_bytes_counts_real_dtypes_without_allocating():
  params = {"w": jax.ShapeDtypeStruct((64, 48), jnp.float32), "b": jnp.zeros(48, jnp.bfloat16)}
  # Adam: int32 count, then mu and nu in each parameter's dtype.
  assert state_bytes(optax.adam(1e-3), params) == 4 + 2 * (64 * 48 * 4) + 2 * (48 * 2)
  assert state_bytes(optax.sgd(0.1), params) == 0
  odd = optax.GradientTransformation(
    lambda p: (jnp.zeros(10, jnp.int8), jnp.zeros(3, jnp.float8_e4m3fn), None), None
  )
  assert state_bytes(odd, params) == 13


M, N = 64, 48  # the test matrix for factored state


@pytest.mark.parametrize(
  ("name", "hp", "full_size_bytes"),
  [
    # Second moments factored, no first moment.
    ("adafactor", {"min_dim_size_to_factor": 32}, 0),
    ("adalomo", {}, 0),
    # A full first moment (float32) plus factored second-moment statistics.
    ("came", {}, 4 * M * N),
    ("sm3", {}, 4 * M * N),
    # Both moments factored; the sign of m takes 1 bit per entry.
    ("smmf", {}, M * N // 8),
    # One second-moment entry per output neuron / per subset.
    ("adam_mini", {}, 4 * M * N),
    ("slimadam", {}, 4 * M * N),
    ("subset_norm", {}, 4 * M * N),
  ],
)
def test_factored_state_is_o_of_m_plus_n(name, hp, full_size_bytes):
  params = {"w": jax.ShapeDtypeStruct((M, N), jnp.float32)}
  adam_bound = state_bytes(optax.adam(1e-3), params) - 4  # 2 m n float32
  got = state_bytes(baselines.get(name, **hp), params)
  # At most two (row, column) pairs of float32 factors and a few scalars beyond the
  # full-size part; the Adam bound is 2 * 4 * m * n = 24576 bytes.
  assert got - full_size_bytes <= 2 * 4 * (M + N) + 64, got
  assert got < adam_bound


@pytest.mark.parametrize(
  ("name", "num_moments"), [("adam8bit", 2), ("adam_fp8", 2), ("microadam", 2)]
)
def test_quantized_state_is_at_most_1_1_bytes_per_parameter_per_moment(name, num_moments):
  params = {"w": jnp.zeros((128, 64)), "b": jnp.zeros((64,))}
  big = {"w": params["w"]}
  opt = baselines.get(name)
  per_param_per_moment = (state_bytes(opt, big) - 4) / (big["w"].size * num_moments)
  assert per_param_per_moment <= 1.1, per_param_per_moment
  # The state really holds 1-byte arrays, not float32 ones.
  dtypes = {x.dtype for x in jax.tree.leaves(opt.init(params)) if x.size > 64}
  assert dtypes <= {
    jnp.dtype(jnp.uint8),
    jnp.dtype(jnp.float8_e4m3fn),
    jnp.dtype(jnp.float8_e5m2),
    jnp.dtype(jnp.int32),
    jnp.dtype(jnp.float32),
  }
  assert not any(
    x.dtype == jnp.float32 and x.size >= big["w"].size for x in jax.tree.leaves(opt.init(params))
  )


def test_quantizers_round_trip():
  from baselines.memory._adam8bit import dequantize_blockwise, dynamic_code, quantize_blockwise
  from baselines.memory._microadam import dequantize_4bit, quantize_4bit

  x = jax.random.normal(jax.random.PRNGKey(0), (1000,))
  code = dynamic_code(True)
  q = quantize_blockwise(x, code, 256)
  assert q.codes.dtype == jnp.uint8 and q.absmax.shape == (4,)
  back = dequantize_blockwise(q, code, 256, x.shape)
  assert float(jnp.max(jnp.abs(back - x))) < 0.02 * float(jnp.max(jnp.abs(x)))
  packed, lo, hi = quantize_4bit(x)
  assert packed.dtype == jnp.uint8 and packed.shape == (500,)
  back4 = dequantize_4bit(packed, lo, hi, x.size)
  assert float(jnp.max(jnp.abs(back4 - x))) <= float(hi - lo) / 30 + 1e-6


def test_bad_options_raise():
  with pytest.raises(ValueError, match="compress"):
    baselines.get("slimadam", compress="rows")
  with pytest.raises(ValueError, match="m_format"):
    baselines.get("adam_fp8", m_format="e3m4")
  with pytest.raises(ValueError, match="density"):
    baselines.get("microadam", density=0.0)
  with pytest.raises(ValueError, match="decay_rate"):
    baselines.get("smmf", decay_rate=0.5)
