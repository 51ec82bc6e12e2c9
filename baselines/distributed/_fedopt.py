"""FedOpt: client SGD, server-side adaptive optimizer on the averaged delta (T6-15)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.distributed import communication as dist


class FedOptState(NamedTuple):
  count: jnp.ndarray
  anchor: Any  # the server model (no worker axis), float32
  server_state: optax.OptState
  bits: jnp.ndarray


def fed_opt(
  client_learning_rate: float,
  server_optimizer: optax.GradientTransformation,
  local_steps: int = 5,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""FedOpt: the averaged client delta is a pseudo-gradient for a server optimizer.

  Clients (leading worker axis of parameters and gradients; all start from the server model
  $x$) take `local_steps` SGD steps $x_i \leftarrow x_i - \eta_l g_i$. At the round's end,
  $\Delta = \frac1n\sum_i x_i - x$, the server applies `server_optimizer` to the
  pseudo-gradient $-\Delta$, $x \leftarrow x + \mathrm{ServerOpt}(-\Delta)$, and every
  client restarts from the new $x$.

  Args:
    client_learning_rate: $\eta_l$.
    server_optimizer: an optax optimizer with its (server) learning rate, e.g. `optax.adam`.
    local_steps: client steps per round.
    num_workers: length of the leading worker axis (clients); None: one client.

  Returns:
    An `optax.GradientTransformation` returning updates; `update` needs `params`. Its state's
    `bits` is the client upload (32 bits per coordinate at a round end, 0 otherwise).

  References:
    Reddi et al., Adaptive Federated Optimization, https://arxiv.org/abs/2003.00295
  """
  dist.check_num_workers(num_workers)
  if isinstance(local_steps, bool) or not isinstance(local_steps, int) or local_steps < 1:
    raise ValueError(f"local_steps must be an int >= 1, got {local_steps!r}.")

  def init_fn(params):
    x = dist.with_worker_axis(params, num_workers, "parameters")
    anchor = jax.tree.map(lambda p: jnp.mean(p.astype(jnp.float32), 0), x)
    return FedOptState(
      jnp.zeros([], jnp.int32), anchor, server_optimizer.init(anchor), jnp.zeros([], jnp.float32)
    )

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("fed_opt needs `params` in update.")
    x = jax.tree.map(
      lambda p: p.astype(jnp.float32), dist.with_worker_axis(params, num_workers, "parameters")
    )
    g = jax.tree.map(lambda u: u.astype(jnp.float32), dist.with_worker_axis(updates, num_workers))
    end = (state.count + 1) % local_steps == 0
    step = jax.tree.map(lambda y: -client_learning_rate * y, g)

    def server(_):
      delta = jax.tree.map(lambda a, s, c: jnp.mean(a + s, 0) - c, x, step, state.anchor)
      pseudo = jax.tree.map(lambda v: -v, delta)
      upd, s_state = server_optimizer.update(pseudo, state.server_state, state.anchor)
      return jax.tree.map(lambda c, v: c + v.astype(jnp.float32), state.anchor, upd), s_state

    anchor, s_state = jax.lax.cond(end, server, lambda _: (state.anchor, state.server_state), None)
    restart = jax.tree.map(lambda c, a: c[None] - a, anchor, x)
    out = jax.tree.map(lambda a, b: jnp.where(end, a, b), restart, step)
    out = dist.without_worker_axis(out, num_workers)
    out = jax.tree.map(lambda a, u: a.astype(u.dtype), out, updates)
    d_one = sum(v[0].size for v in jax.tree.leaves(x))
    bits = jnp.where(end, 32.0 * d_one, 0.0).astype(jnp.float32)
    return out, FedOptState(optax.safe_increment(state.count), anchor, s_state, bits)

  return optax.GradientTransformation(init_fn, update_fn)


def fedadagrad(
  learning_rate: float,
  client_learning_rate: float = 0.1,
  tau: float = 1e-3,
  local_steps: int = 5,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """FedAdagrad: `optax.adagrad` (accumulator starting at tau^2) on the server."""
  server = optax.adagrad(learning_rate, initial_accumulator_value=tau**2, eps=0.0)
  return fed_opt(client_learning_rate, server, local_steps, num_workers)


def fedadam(
  learning_rate: float,
  client_learning_rate: float = 0.1,
  b1: float = 0.9,
  b2: float = 0.99,
  tau: float = 1e-3,
  local_steps: int = 5,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """FedAdam: `optax.adam(learning_rate, b1, b2, eps=tau)` on the server."""
  return fed_opt(
    client_learning_rate, optax.adam(learning_rate, b1, b2, eps=tau), local_steps, num_workers
  )


def fedyogi(
  learning_rate: float,
  client_learning_rate: float = 0.1,
  b1: float = 0.9,
  b2: float = 0.99,
  tau: float = 1e-3,
  local_steps: int = 5,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """FedYogi: `optax.yogi(learning_rate, b1, b2, eps=tau)` on the server."""
  server = optax.yogi(learning_rate, b1, b2, eps=tau)
  return fed_opt(client_learning_rate, server, local_steps, num_workers)
