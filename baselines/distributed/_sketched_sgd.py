"""Sketched first-order method: workers send a random sketch Rg, the server desketches (T6-09)."""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.distributed import communication as dist


class ScaleBySketchState(NamedTuple):
  count: jnp.ndarray
  bits: jnp.ndarray


def sketch_size(d: int, ratio: float) -> int:
  """Sketch length s = max(1, ceil(ratio * d)) of a d-entry tensor."""
  return max(1, math.ceil(ratio * d))


def sketch_operators(key: jax.Array, d: int, s: int, sketch: str):
  """(sk, desk) for one tensor, from a key shared by all workers and the server.

  `"count"`: bucket h(j) ~ U{0..s-1} and sign σ_j = ±1 per coordinate;
  sk(g)_b = Σ_{h(j)=b} σ_j g_j, desk(y)_j = σ_j y_{h(j)}.
  `"gaussian"`: R ∈ ℝ^{s×d} with i.i.d. N(0, 1/s) entries; sk(g) = Rg, desk(y) = Rᵀy.
  Both have E[desk(sk(g))] = g.
  """
  kh, ks = jax.random.split(key)
  if sketch == "count":
    h = jax.random.randint(kh, (d,), 0, s)
    sigma = jax.random.rademacher(ks, (d,), jnp.float32)
    sk = lambda g: jax.ops.segment_sum(sigma * g, h, num_segments=s)
    desk = lambda y: sigma * y[h]
  else:
    r = jax.random.normal(kh, (s, d), jnp.float32) / jnp.sqrt(jnp.float32(s))
    sk = lambda g: r @ g
    desk = lambda y: r.T @ y
  return sk, desk


def scale_by_sketch(
  ratio: float = 0.1,
  sketch: Literal["count", "gaussian"] = "count",
  noise_std: float = 0.0,
  num_workers: int | None = None,
) -> optax.GradientTransformationExtraArgs:
  r"""Sketch-and-desketch aggregation of worker gradients, with optional Gaussian noise.

  Per tensor with $d$ entries, a fresh random sketch $R \in \mathbb R^{s\times d}$,
  $s = \lceil \text{ratio}\cdot d\rceil$, shared by all workers (drawn from the step's key):

  $$y_i = R g_i + \xi_i,\ \ \xi_i \sim \mathcal N(0, \text{noise\_std}^2 I_s),\qquad
    d = R^\top\Big(\frac1n\sum_i y_i\Big).$$

  The noise $\xi_i$ is the paper's differential-privacy mechanism (sketching alone leaks the
  gradient); calibrate `noise_std` to the sensitivity of $Rg_i$ (e.g. after clipping) with
  the accountant in `baselines/privacy/accounting.py`.

  Args:
    ratio: sketch length over tensor size (s/d).
    sketch: `"count"` (CountSketch, O(d) memory and time) or `"gaussian"` (dense R).
    noise_std: standard deviation of the Gaussian noise each worker adds to its sketch.
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs the extra arg `key` (tensor j
    uses `fold_in(key, j)` for R and `fold_in(key, 10**6 + j)` for the noise, split over
    workers). Its state's `bits` is what one worker sent last step (32 bits per sketch entry).

  References:
    Song et al., Sketching for First Order Method: Efficient Algorithm for Low-Bandwidth
    Channel and Vulnerability, https://arxiv.org/abs/2210.08371
  """
  dist.check_num_workers(num_workers)
  if not 0 < ratio <= 1:
    raise ValueError(f"ratio must be in (0, 1], got {ratio}.")
  if sketch not in ("count", "gaussian"):
    raise ValueError(f"sketch must be 'count' or 'gaussian', got {sketch!r}.")
  if noise_std < 0:
    raise ValueError(f"noise_std must be >= 0, got {noise_std}.")
  n = dist.size(num_workers)

  def init_fn(params):
    del params
    return ScaleBySketchState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.float32))

  def update_fn(updates, state, params=None, *, key=None, **extra_args):
    del params, extra_args
    if key is None:
      raise ValueError("sketched_sgd needs the extra arg `key` in update.")
    g = dist.with_worker_axis(updates, num_workers)
    leaves, treedef = jax.tree.flatten(g)
    out, bits = [], 0.0
    for j, x in enumerate(leaves):
      shape = x.shape[1:]
      d = math.prod(shape)
      s = sketch_size(d, ratio)
      sk, desk = sketch_operators(jax.random.fold_in(key, j), d, s, sketch)
      y = jax.vmap(sk)(x.reshape(n, d).astype(jnp.float32))
      if noise_std > 0:
        y = y + noise_std * jax.random.normal(jax.random.fold_in(key, 10**6 + j), (n, s))
      out.append(desk(jnp.mean(y, 0)).reshape(shape).astype(x.dtype))
      bits += 32.0 * s
    d = jax.tree.unflatten(treedef, out)
    return d, ScaleBySketchState(optax.safe_increment(state.count), jnp.asarray(bits, jnp.float32))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sketched_sgd(
  learning_rate: optax.ScalarOrSchedule,
  ratio: float = 0.1,
  sketch: Literal["count", "gaussian"] = "count",
  noise_std: float = 0.0,
  num_workers: int | None = None,
) -> optax.GradientTransformationExtraArgs:
  """Gradient descent on the desketched average (`scale_by_sketch`)."""
  return optax.chain(
    scale_by_sketch(ratio, sketch, noise_std, num_workers),
    optax.scale_by_learning_rate(learning_rate),
  )
