"""The adaptive batch-size tests of AdAdaGrad / AdAdaGradNorm.

AdAdaGrad pairs AdaGrad (`optax.adagrad`) or AdaGrad-Norm with a batch size that grows whenever
an adaptive-sampling test fails. The update rule is an ordinary transform; these tests read
per-example gradients and return the next batch size, which the training loop applies (a batch
size is a shape, so it cannot change inside a jitted update).

References:
  Lau, Liu & Kolar, AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods,
  https://arxiv.org/abs/2402.11215
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _per_example_stats(per_example_grads: Any):
  leaves = [x.astype(jnp.float32) for x in jax.tree.leaves(per_example_grads)]
  b = leaves[0].shape[0]
  if b < 2:
    raise ValueError(f"The batch-size tests need at least 2 examples, got {b}.")
  flat = jnp.concatenate([x.reshape(b, -1) for x in leaves], axis=1)  # (b, d)
  mean = jnp.mean(flat, axis=0)
  return b, flat, mean


def norm_test_batch_size(per_example_grads: Any, eta: float) -> jax.Array:
  r"""Next batch size from the norm test.

  With per-example gradients g_i (i = 1..b) and their mean ḡ, the test passes when
    (1/(b-1)) Σ_i ‖g_i - ḡ‖² / b ≤ η² ‖ḡ‖²;
  otherwise the batch grows to ⌈(1/(b-1)) Σ_i ‖g_i - ḡ‖² / (η² ‖ḡ‖²)⌉. Never shrinks.

  Args:
    per_example_grads: pytree of per-example gradients, leading axis = batch (b >= 2).
    eta: the test's tolerance η > 0.

  Returns:
    An int32 scalar: the next batch size (>= b).
  """
  if eta <= 0:
    raise ValueError(f"eta must be > 0, got {eta}.")
  b, flat, mean = _per_example_stats(per_example_grads)
  var = jnp.sum(jnp.square(flat - mean)) / (b - 1)
  need = var / (eta**2 * jnp.sum(jnp.square(mean)))
  return jnp.maximum(b, jnp.ceil(need)).astype(jnp.int32)


def inner_product_test_batch_size(per_example_grads: Any, theta: float) -> jax.Array:
  r"""Next batch size from the (augmented-free) inner-product test.

  The test passes when  (1/(b-1)) Σ_i (⟨g_i, ḡ⟩ - ‖ḡ‖²)² / b ≤ θ² ‖ḡ‖⁴;  otherwise the batch
  grows to ⌈(1/(b-1)) Σ_i (⟨g_i, ḡ⟩ - ‖ḡ‖²)² / (θ² ‖ḡ‖⁴)⌉. Never shrinks.

  Args:
    per_example_grads: pytree of per-example gradients, leading axis = batch (b >= 2).
    theta: the test's tolerance θ > 0.

  Returns:
    An int32 scalar: the next batch size (>= b).
  """
  if theta <= 0:
    raise ValueError(f"theta must be > 0, got {theta}.")
  b, flat, mean = _per_example_stats(per_example_grads)
  sq = jnp.sum(jnp.square(mean))
  var = jnp.sum(jnp.square(flat @ mean - sq)) / (b - 1)
  need = var / (theta**2 * sq**2)
  return jnp.maximum(b, jnp.ceil(need)).astype(jnp.int32)
