"""The feature bank: every named feature against a numpy formula or the registered optimizer
whose direction it is, in one compiled program (3 steps, a matrix and a vector)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import baselines
from learned_opt import features
from learned_opt.base import safe_gradient
from learned_opt.features.schedule import STEP_SCALES, init_loss_stats

SHAPES = {"w": (4, 3), "v": (5,)}
STEPS = 3
LOSSES = (2.0, 1.5, 1.8)
NUM_STEPS = 50
# Features whose value is, up to per-tensor normalization, a registered optimizer's direction.
# (The `grams` feature is the paper's formula, checked below; the registry's Grams follows
# the authors' code, eps 1e-6 on the uncorrected root, so the two differ at these scales.)
SAME_AS_BASELINE = {
  "adam": "adam",
  "adabelief": "adabelief",
  "diffgrad": "diffgrad",
  "cautious_adam": "cautious_adamw",
  "ademamix": "ademamix",
  "muon": "muon",
}


def _run(names, params, grads_seq):
  """All feature values (per step, per tensor) of the bank `names`, in one jitted program."""
  bank = features.FeatureBank(names)

  @jax.jit
  def run(params, grads_seq):
    stats = {k: bank.init_leaf(p) for k, p in params.items()}
    loss_stats, out = init_loss_stats(), []
    for t in range(STEPS):
      count = jnp.int32(t)
      glob, loss_stats = bank.global_inputs(
        loss_stats, count, jnp.float32(LOSSES[t]), NUM_STEPS, "test"
      )
      step = {}
      for k, p in params.items():
        step[k], stats[k] = bank.leaf(grads_seq[k][t], p, stats[k], count, glob)
      out.append(step)
    return out

  return run(params, grads_seq)


def _normalized(x):
  return x / np.sqrt(np.mean(x * x) + 1e-8)


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _newton_schulz(x, steps=5):
  a, b, c = 3.4445, -4.7750, 2.0315
  transposed = x.shape[0] > x.shape[1]
  X = x.T if transposed else x
  X = X / (np.linalg.norm(X) + 1e-7)
  for _ in range(steps):
    A = X @ X.T
    X = a * X + (b * A + c * A @ A) @ X
  return X.T if transposed else X


def _reference(p, gs):
  """Each feature's raw value at each step, in float64, from the formulas of the docstrings."""
  ema = lambda s, x, b: b * s + (1 - b) * x
  m = {b: np.zeros_like(p) for b in (0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999)}
  v = {b: np.zeros_like(p) for b in (0.9, 0.99, 0.999)}
  belief_m, belief_s, prev_g, adopt_v = (np.zeros_like(p) for _ in range(4))
  matrix = p.reshape(-1, p.shape[-1]) if p.ndim >= 2 else None
  row = np.zeros(matrix.shape[0]) if matrix is not None else None
  col = np.zeros(matrix.shape[1]) if matrix is not None else None
  full = np.zeros_like(p)
  first = ema_loss = None
  out = []
  for t, g in enumerate(gs):
    n = t + 1
    old_m = {b: x.copy() for b, x in m.items()}
    m = {b: ema(x, g, b) for b, x in m.items()}
    v = {b: ema(x, g * g, b) for b, x in v.items()}
    belief_s = ema(belief_s, (g - belief_m) ** 2, 0.999) + 1e-16
    belief_m = ema(belief_m, g, 0.9)
    adam = (m[0.9] / (1 - 0.9**n)) / (np.sqrt(v[0.999] / (1 - 0.999**n)) + 1e-8)
    belief = np.sqrt(belief_s / (1 - 0.999**n))
    phi = (adam * g > 0).astype(float)
    friction = _sigmoid(np.abs(prev_g - g))
    v_prev = g * g if t == 0 else adopt_v
    adopt_v = g * g if t == 0 else ema(adopt_v, g * g, 0.9999)
    g2 = g * g + 1e-30
    if matrix is not None:
      g2m = g2.reshape(matrix.shape)
      row, col = ema(row, g2m.mean(1), 0.999), ema(col, g2m.mean(0), 0.999)
      v_hat = (np.outer(row, col) / row.mean()).reshape(p.shape) / (1 - 0.999**n)
      row_b = np.broadcast_to(np.sqrt(row)[:, None], matrix.shape).reshape(p.shape)
      col_b = np.broadcast_to(np.sqrt(col)[None, :], matrix.shape).reshape(p.shape)
    else:
      full = ema(full, g2, 0.999)
      v_hat, row_b, col_b = full / (1 - 0.999**n), np.sqrt(full), np.sqrt(full)
    nest = 0.95 * m[0.95] / (1 - 0.95 ** (n + 1)) + 0.05 * g / (1 - 0.95**n)
    log_loss = np.log(LOSSES[t])
    first = log_loss if t == 0 else first
    ema_prev = log_loss if t == 0 else ema_loss
    ema_loss = ema(ema_prev, log_loss, 0.9)
    f = {
      "grad": g,
      "param": p,
      **{f"momentum_{b}": x for b, x in m.items()},
      **{f"rms_{b}": np.sqrt(x) for b, x in v.items()},
      **{f"norm_momentum_{b}": m[b] / np.sqrt(v[0.999] + 1e-8) for b in (0.5, 0.9, 0.99)},
      "adam": adam,
      "adabelief": (belief_m / (1 - 0.9**n)) / (belief + 1e-16),
      "belief": belief,
      "lion": np.sign(0.9 * old_m[0.99] + 0.1 * g),
      "sign_agreement": np.sign(m[0.9]) * np.sign(g),
      "cautious_adam": adam * phi / max(phi.mean(), 1e-3),
      "grams": np.sign(g) * np.abs(adam),
      "diffgrad_friction": friction,
      "diffgrad": adam * friction,
      "adopt": g / np.maximum(np.sqrt(v_prev), 1e-6),
      "ademamix": (m[0.9] / (1 - 0.9**n) + 5 * m[0.9999])
      / (np.sqrt(v[0.999] / (1 - 0.999**n)) + 1e-8),
      "adafactor_row": row_b,
      "adafactor_col": col_b,
      "adafactor": g / np.sqrt(v_hat),
      **{f"adafactor_momentum_{b}": m[b] / np.sqrt(v_hat) for b in (0.5, 0.9, 0.99)},
      "muon": _newton_schulz(nest.reshape(matrix.shape)).reshape(p.shape)
      if matrix is not None
      else nest,
      "lars_trust_ratio": np.log(np.linalg.norm(p) + 1e-8) - np.log(np.linalg.norm(g) + 1e-8),
      "lamb_trust_ratio": np.log(np.linalg.norm(p) + 1e-8) - np.log(np.linalg.norm(adam) + 1e-8),
      "log_param_rms": np.log(np.sqrt(np.mean(p * p)) + 1e-8),
      "log_grad_rms": np.log(np.sqrt(np.mean(g * g)) + 1e-8),
      "log_momentum_rms_0.9": np.log(np.sqrt(np.mean(m[0.9] ** 2)) + 1e-8),
      "rank": p.ndim,
      "log_numel": np.log(p.size),
      **{f"step_tanh_{s}": np.tanh(t / s) for s in STEP_SCALES},
      "train_frac": t / NUM_STEPS,
      "loss_log_ratio_first": log_loss - first,
      "loss_log_ratio_ema": log_loss - ema_prev,
    }
    prev_g = g
    out.append(f)
  return out


def test_every_feature_matches_its_formula_and_baselines():
  native = features.names()
  assert len(native) >= 40
  directions = [f"dir:{b}" for b in sorted(set(SAME_AS_BASELINE.values()))]
  names = (*native, *directions)
  rng = np.random.default_rng(0)
  params = {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
  grads_seq = {k: rng.normal(size=(STEPS, *s)).astype(np.float32) for k, s in SHAPES.items()}
  got = _run(names, params, grads_seq)
  for k in SHAPES:
    expected = _reference(params[k].astype(np.float64), grads_seq[k].astype(np.float64))
    for t in range(STEPS):
      values = dict(zip(names, got[t][k], strict=True))
      missing = set(native) - set(expected[t])
      assert not missing, f"no reference for {missing}"
      for name in native:
        ref = np.asarray(expected[t][name], np.float64)
        if features.get(name).scope == "param":
          ref = _normalized(ref)
        np.testing.assert_allclose(
          values[name], ref, rtol=2e-4, atol=2e-5, err_msg=f"{name}, tensor {k}, step {t}"
        )
      for name, baseline in SAME_AS_BASELINE.items():
        if name == "muon" and len(SHAPES[k]) < 2:
          continue  # Muon orthogonalizes matrices only; its vectors go to Adam
        np.testing.assert_allclose(
          values[name], values[f"dir:{baseline}"], rtol=1e-4, atol=2e-5, err_msg=name
        )


def test_feature_names_and_errors():
  assert features.get("dir:adam").stats[0].name == "dir:adam"
  with pytest.raises(ValueError, match=r"Did you mean 'momentum_0\.9'"):
    features.get("momentum_0.91")
  with pytest.raises(ValueError, match="listed more than once"):
    features.FeatureBank(("grad", "grad"))
  key_needing = next(n for n in baselines.names() if "key" in baselines.entry(n).needs)
  with pytest.raises(ValueError, match="a feature cannot provide"):
    features.get(f"dir:{key_needing}")
  bank = features.FeatureBank(("grad", "train_frac", "loss_log_ratio_ema"))
  assert bank.reading("value") == ["loss_log_ratio_ema"]
  with pytest.raises(ValueError, match=r"reads the training horizon \(features \['train_frac'\]"):
    bank.global_inputs(init_loss_stats(), jnp.int32(0), 1.0, None, "rule")
  with pytest.raises(ValueError, match=r"reads the loss"):
    bank.global_inputs(init_loss_stats(), jnp.int32(0), None, 10, "rule")


SCALES = (0.0, 1e-30, 1e30)


def test_every_feature_and_its_derivative_are_finite_for_zero_tiny_and_huge_gradients():
  """For each scale: a row and a column of a matrix's gradient (the rest ordinary), and a
  whole vector's, at that scale (digits MLPs have always-blank pixels: rows of exact zeros),
  as the rules hand them to the bank (`safe_gradient`: huge ones clipped to 1e15). The
  derivatives: a forward-mode derivative along random directions of the parameters and of
  the ordinary gradient elements (the blank ones stay blank whatever theta is), as
  backpropagating through an unroll (TBPTT's meta-gradient) needs them: sqrt's inf at 0
  times 0 made them NaN. The scales are vmapped: one compiled program."""
  names = features.names()
  bank = features.FeatureBank(names)
  rng = np.random.default_rng(1)
  n = len(SCALES)
  params = {k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in SHAPES.items()}
  grads = {k: rng.normal(size=(STEPS, n, *s)).astype(np.float32) for k, s in SHAPES.items()}
  for i, scale in enumerate(SCALES):
    grads["w"][:, i, 0, :] = scale
    grads["w"][:, i, :, 1] = scale
    grads["v"][:, i] = scale
  params_dir = {k: rng.normal(size=p.shape).astype(np.float32) for k, p in params.items()}
  grads_dir = {k: rng.normal(size=g.shape).astype(np.float32) for k, g in grads.items()}
  grads_dir["w"][:, :, 0, :] = grads_dir["w"][:, :, :, 1] = grads_dir["v"][:] = 0.0

  def run(params, grads):  # the steps as a scan: one step's program
    def step(carry, xs):
      stats, loss_stats = carry
      count, loss, grads_t = xs
      glob, loss_stats = bank.global_inputs(loss_stats, count, loss, NUM_STEPS, "test")
      leaf = lambda g, p, s: bank.leaf(safe_gradient(g), p, s, count, glob)
      out = {}
      for k, p in params.items():
        out[k], stats[k] = jax.vmap(leaf)(grads_t[k], p, stats[k])
      return (stats, loss_stats), out

    stats = {k: jax.vmap(bank.init_leaf)(p) for k, p in params.items()}
    xs = (jnp.arange(STEPS, dtype=jnp.int32), jnp.asarray(LOSSES, jnp.float32), grads)
    return jax.lax.scan(step, (stats, init_loss_stats()), xs)[1]

  got, derivative = jax.jit(lambda *a: jax.jvp(run, *a))((params, grads), (params_dir, grads_dir))
  bad = {
    (what, name, k, SCALES[i], t)
    for what, values in (("value", got), ("derivative", derivative))
    for k in SHAPES
    for name, value in zip(names, values[k], strict=True)
    for t in range(STEPS)
    for i in range(n)
    if not np.all(np.isfinite(np.asarray(value)[t, i]))
  }
  assert not bad, sorted(bad)
