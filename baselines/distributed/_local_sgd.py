"""Local SGD with diagonal scaling (local Adam / RMSProp) and FedAvg (T6-10, T6-14)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.distributed import communication as dist


class LocalSGDState(NamedTuple):
  count: jnp.ndarray
  nu: Any  # per-worker second-moment statistics (EMA of g^2), float32
  scaling: Any  # the diagonal D shared by all workers, refreshed at round starts, float32
  bits: jnp.ndarray


def local_sgd(
  learning_rate: optax.ScalarOrSchedule,
  sync_period: int = 4,
  scaling: Literal["adam", "rmsprop", "identity"] = "adam",
  b2: float = 0.999,
  eps: float = 1e-8,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""Local SGD with a diagonal scaling refreshed at communication rounds.

  Rounds have H = `sync_period` steps. Every step t (0-based) each worker updates its
  statistics $v_i \leftarrow \beta_2 v_i + (1-\beta_2) g_i^2$; at a round start
  ($t \bmod H = 0$) the statistics are averaged (communicated) and the shared scaling becomes
  $D = \sqrt{\bar v / c} + \epsilon$ ($c = 1-\beta_2^{t+1}$ for `"adam"`, 1 for `"rmsprop"`;
  `"identity"`: $D = 1$, plain local SGD). Each worker steps
  $x_i \leftarrow x_i - \gamma\, g_i / D$, and at a round end ($(t+1) \bmod H = 0$) the
  models are averaged: $x_i \leftarrow \frac1n\sum_j x_j$.

  The learning rate is inside the transform (averaging happens after the local step).

  Args:
    learning_rate: $\gamma$ (a float or schedule of the step count).
    sync_period: H, local steps per communication round.
    scaling: `"adam"`, `"rmsprop"` or `"identity"` (the paper's OASIS scaling is not included).
    b2: $\beta_2$ of the statistics.
    eps: $\epsilon$.
    num_workers: length of the leading worker axis of parameters and gradients; None: one
      worker.

  Returns:
    An `optax.GradientTransformation` returning updates (added to the parameters); `update`
    needs `params`. Its state's `bits` counts the statistics (round starts, non-identity
    scaling) and the model (round ends), 32 bits per coordinate each.

  References:
    Chezhegov et al., Local Methods with Adaptivity via Scaling, https://arxiv.org/abs/2406.00846
  """
  dist.check_num_workers(num_workers)
  if isinstance(sync_period, bool) or not isinstance(sync_period, int) or sync_period < 1:
    raise ValueError(f"sync_period must be an int >= 1, got {sync_period!r}.")
  if scaling not in ("adam", "rmsprop", "identity"):
    raise ValueError(f"scaling must be 'adam', 'rmsprop' or 'identity', got {scaling!r}.")
  lr_fn = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

  def init_fn(params):
    x = dist.with_worker_axis(params, num_workers, "parameters")
    z = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), x)
    ones = jax.tree.map(lambda p: jnp.ones(p.shape[1:], jnp.float32), x)
    return LocalSGDState(jnp.zeros([], jnp.int32), z, ones, jnp.zeros([], jnp.float32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("local_sgd needs `params` in update.")
    x = jax.tree.map(
      lambda p: p.astype(jnp.float32), dist.with_worker_axis(params, num_workers, "parameters")
    )
    g = jax.tree.map(lambda u: u.astype(jnp.float32), dist.with_worker_axis(updates, num_workers))
    t = state.count
    start = t % sync_period == 0
    end = (t + 1) % sync_period == 0
    d_one = sum(v[0].size for v in jax.tree.leaves(x))
    if scaling == "identity":
      nu, scale = state.nu, state.scaling
      stat_bits = 0.0
    else:
      nu = jax.tree.map(lambda v, y: b2 * v + (1 - b2) * y * y, state.nu, g)
      c = 1 - b2 ** (t + 1).astype(jnp.float32) if scaling == "adam" else 1.0
      fresh = jax.tree.map(lambda v: jnp.sqrt(jnp.mean(v, 0) / c) + eps, nu)
      scale = jax.tree.map(lambda a, b: jnp.where(start, a, b), fresh, state.scaling)
      stat_bits = jnp.where(start, 32.0 * d_one, 0.0)
    lr = lr_fn(t)
    step = jax.tree.map(lambda y, s: -lr * y / s[None], g, scale)
    moved = jax.tree.map(lambda a, b: a + b, x, step)
    avg = jax.tree.map(lambda a, b: jnp.broadcast_to(jnp.mean(a, 0), b.shape) - b, moved, x)
    out = jax.tree.map(lambda a, b: jnp.where(end, a, b), avg, step)
    out = dist.without_worker_axis(out, num_workers)
    out = jax.tree.map(lambda a, u: a.astype(u.dtype), out, updates)
    bits = stat_bits + jnp.where(end, 32.0 * d_one, 0.0)
    return out, LocalSGDState(optax.safe_increment(t), nu, scale, jnp.asarray(bits, jnp.float32))

  return optax.GradientTransformation(init_fn, update_fn)


def fedavg(
  learning_rate: optax.ScalarOrSchedule,
  local_steps: int = 5,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""FedAvg with full participation: every client runs `local_steps` SGD steps, then the
  server averages the client models (server learning rate 1).

  References:
    McMahan et al., Communication-Efficient Learning of Deep Networks from Decentralized Data,
    https://arxiv.org/abs/1602.05629 (as the baseline of Reddi et al., Adaptive Federated
    Optimization, https://arxiv.org/abs/2003.00295)
  """
  return local_sgd(
    learning_rate, sync_period=local_steps, scaling="identity", num_workers=num_workers
  )
