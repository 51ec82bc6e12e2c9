"""Compressed gradient aggregation without and with classic error feedback (T6-06, T6-03)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.distributed import communication as dist


class ScaleByCompressedMeanState(NamedTuple):
  count: jnp.ndarray
  bits: jnp.ndarray  # bits one worker sent in the last step


class ScaleByErrorFeedbackState(NamedTuple):
  count: jnp.ndarray
  error: Any  # per-worker error e_i, shape (num_workers or 1, *p.shape), float32
  bits: jnp.ndarray


def scale_by_compressed_mean(
  compressor: Literal["top_k", "scaled_sign"] = "top_k",
  k_fraction: float = 0.1,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""The server's average of compressed worker gradients, with no error feedback.

  $$d = \frac1n \sum_{i=1}^n \mathcal C(g_i),$$

  with $\mathcal C$ = Top-K (per tensor, the $k = \lceil \text{k\_fraction}\cdot d\rceil$
  entries of largest magnitude) or the scaled sign $\lVert x\rVert_1/d \cdot \mathrm{sign}(x)$.

  Args:
    compressor: `"top_k"` or `"scaled_sign"`.
    k_fraction: fraction of each tensor's entries Top-K keeps (at least one).
    num_workers: length of the leading worker axis of the gradients; None: no worker axis
      (a single worker). See `baselines/distributed/communication.py`.

  Returns:
    An `optax.GradientTransformation`; its state's `bits` is what one worker sent last step.
  """
  dist.check_compressor(compressor, k_fraction)
  dist.check_num_workers(num_workers)

  def init_fn(params):
    del params
    return ScaleByCompressedMeanState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.float32))

  def update_fn(updates, state, params=None):
    del params
    g = dist.with_worker_axis(updates, num_workers)
    c, bits = dist.compress_workers(
      jax.tree.map(lambda x: x.astype(jnp.float32), g), compressor, k_fraction
    )
    d = jax.tree.map(lambda x, u: jnp.mean(x, 0).astype(u.dtype), c, g)
    return d, ScaleByCompressedMeanState(
      optax.safe_increment(state.count), jnp.asarray(bits, jnp.float32)
    )

  return optax.GradientTransformation(init_fn, update_fn)


def topk_sgd(
  learning_rate: optax.ScalarOrSchedule,
  k_fraction: float = 0.1,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """SGD on the average of Top-K compressed worker gradients (no error feedback).

  References:
    Top-K sparsification as the biased compressor of Richtárik et al., EF21: A New, Simpler,
    Theoretically Better, and Practically Faster Error Feedback, https://arxiv.org/abs/2106.05203
  """
  return optax.chain(
    scale_by_compressed_mean("top_k", k_fraction, num_workers),
    optax.scale_by_learning_rate(learning_rate),
  )


def scale_by_error_feedback(
  compressor: Literal["top_k", "scaled_sign"] = "scaled_sign",
  k_fraction: float = 0.1,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""Classic error feedback (Seide et al. 2014; Karimireddy et al. 2019) on every worker.

  Each worker i keeps the error $e_i$ (zero at start) of what it failed to send:

  $$p_i = e_i + g_i,\quad c_i = \mathcal C(p_i),\quad e_i \leftarrow p_i - c_i,\qquad
    d = \frac1n \sum_i c_i .$$

  The default compressor is the scaled 1-bit sign $\lVert p\rVert_1/d\cdot\mathrm{sign}(p)$
  (1-bit SGD); `"top_k"` keeps the largest entries.

  Args:
    compressor: `"scaled_sign"` or `"top_k"`.
    k_fraction: fraction of each tensor's entries Top-K keeps.
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformation`; its state's `bits` is what one worker sent last step.

  References:
    Seide et al., 1-Bit Stochastic Gradient Descent and its Application to Data-Parallel
    Distributed Training of Speech DNNs (Interspeech 2014); Karimireddy et al., Error Feedback
    Fixes SignSGD and other Gradient Compression Schemes, https://arxiv.org/abs/1901.09847
  """
  dist.check_compressor(compressor, k_fraction)
  dist.check_num_workers(num_workers)

  def init_fn(params):
    return ScaleByErrorFeedbackState(
      jnp.zeros([], jnp.int32),
      dist.worker_zeros(params, num_workers, params_have_axis=False),
      jnp.zeros([], jnp.float32),
    )

  def update_fn(updates, state, params=None):
    del params
    g = dist.with_worker_axis(updates, num_workers)
    p = jax.tree.map(lambda e, x: e + x.astype(jnp.float32), state.error, g)
    c, bits = dist.compress_workers(p, compressor, k_fraction)
    error = jax.tree.map(lambda a, b: a - b, p, c)
    d = jax.tree.map(lambda x, u: jnp.mean(x, 0).astype(u.dtype), c, g)
    return d, ScaleByErrorFeedbackState(
      optax.safe_increment(state.count), error, jnp.asarray(bits, jnp.float32)
    )

  return optax.GradientTransformation(init_fn, update_fn)


def ef_sgd(
  learning_rate: optax.ScalarOrSchedule,
  compressor: Literal["top_k", "scaled_sign"] = "scaled_sign",
  k_fraction: float = 0.1,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """SGD with classic error-feedback compression (`scale_by_error_feedback`)."""
  return optax.chain(
    scale_by_error_feedback(compressor, k_fraction, num_workers),
    optax.scale_by_learning_rate(learning_rate),
  )
