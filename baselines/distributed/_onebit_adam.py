"""1-bit Adam: Adam warmup, then frozen variance and error-compensated 1-bit momentum (T6-01)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from baselines.distributed import communication as dist


class ScaleByOnebitAdamState(NamedTuple):
  count: jnp.ndarray
  mu: Any  # the synchronized momentum m (server copy, replicated), float32
  nu: Any  # the second moment v, frozen after warmup, float32
  worker_error: Any  # per-worker compression error, (num_workers or 1, *p.shape), float32
  server_error: Any  # the server's compression error, float32
  bits: jnp.ndarray


def scale_by_onebit_adam(
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  warmup_steps: int = 100,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  r"""1-bit Adam's direction.

  Warmup ($t \le T_w$): vanilla Adam on the full-precision average $\bar g = \frac1n\sum_i g_i$,
  $m \leftarrow \beta_1 m + (1-\beta_1)\bar g$, $v \leftarrow \beta_2 v + (1-\beta_2)\bar g^2$,
  $d = \hat m / (\sqrt{\hat v} + \epsilon)$ with bias corrections.

  Compression stage ($t > T_w$): $v$ is frozen at $\hat v_{T_w}$ and, per tensor, with the
  1-bit compressor $\mathcal C(x) = \tfrac{\lVert x\rVert_2}{\sqrt d}\,\mathrm{sign}(x)$,

  $$m_i = \beta_1 m + (1-\beta_1) g_i,\quad c_i = \mathcal C(m_i + \delta_i),\quad
    \delta_i \leftarrow m_i + \delta_i - c_i,$$
  $$m = \mathcal C\big(\tfrac1n\textstyle\sum_i c_i + \bar\delta\big),\quad
    \bar\delta \leftarrow \tfrac1n\textstyle\sum_i c_i + \bar\delta - m,\qquad
    d = m / (\sqrt{\hat v_{T_w}} + \epsilon).$$

  The compression stage uses $m$ without bias correction (as the paper's Algorithm 1 and
  DeepSpeed's implementation; $\beta_1^{T_w} \approx 0$ after a real warmup).

  Args:
    b1: $\beta_1$.
    b2: $\beta_2$.
    eps: $\epsilon$.
    warmup_steps: $T_w$, steps of vanilla Adam before freezing $v$ (the paper uses roughly
      15-25% of training).
    num_workers: length of the leading worker axis of the gradients; None: no worker axis.

  Returns:
    An `optax.GradientTransformation`; its state's `bits` is what one worker sent last step
    (32 bits per coordinate in warmup, 1 bit plus a 32-bit scale per tensor afterwards).

  References:
    Tang et al., 1-bit Adam: Communication Efficient Large-Scale Training with Adam's
    Convergence Speed, https://arxiv.org/abs/2102.02888
  """
  dist.check_num_workers(num_workers)
  if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 1:
    raise ValueError(f"warmup_steps must be an int >= 1, got {warmup_steps!r}.")
  if not (0 <= b1 < 1 and 0 <= b2 < 1):
    raise ValueError(f"b1 and b2 must be in [0, 1), got {b1}, {b2}.")

  def sign_compress(x):
    return dist.scaled_sign(x, "l2")

  def init_fn(params):
    z = lambda p: jnp.zeros(p.shape, jnp.float32)
    return ScaleByOnebitAdamState(
      jnp.zeros([], jnp.int32),
      jax.tree.map(z, params),
      jax.tree.map(z, params),
      dist.worker_zeros(params, num_workers, params_have_axis=False),
      jax.tree.map(z, params),
      jnp.zeros([], jnp.float32),
    )

  def update_fn(updates, state, params=None):
    del params
    g = dist.with_worker_axis(updates, num_workers)
    g = jax.tree.map(lambda x: x.astype(jnp.float32), g)
    count = optax.safe_increment(state.count)
    warm = count <= warmup_steps

    # Warmup: Adam on the averaged gradient.
    gbar = jax.tree.map(lambda x: jnp.mean(x, 0), g)
    mu_w = jax.tree.map(lambda m, x: b1 * m + (1 - b1) * x, state.mu, gbar)
    nu_w = jax.tree.map(lambda v, x: b2 * v + (1 - b2) * x * x, state.nu, gbar)
    c1 = 1 - b1 ** count.astype(jnp.float32)
    c2 = 1 - b2 ** count.astype(jnp.float32)
    d_w = jax.tree.map(lambda m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), mu_w, nu_w)

    # Compression stage: error-compensated 1-bit momentum on workers and server.
    m_i = jax.tree.map(lambda m, x: b1 * m[None] + (1 - b1) * x, state.mu, g)
    p_i = jax.tree.map(lambda a, e: a + e, m_i, state.worker_error)
    c_i = jax.tree.map(lambda x: jax.vmap(sign_compress)(x), p_i)
    werr = jax.tree.map(lambda a, b: a - b, p_i, c_i)
    avg = jax.tree.map(lambda c, e: jnp.mean(c, 0) + e, c_i, state.server_error)
    mu_c = jax.tree.map(sign_compress, avg)
    serr = jax.tree.map(lambda a, b: a - b, avg, mu_c)
    c2_frozen = 1 - b2 ** jnp.float32(warmup_steps)
    d_c = jax.tree.map(lambda m, v: m / (jnp.sqrt(v / c2_frozen) + eps), mu_c, state.nu)

    pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(warm, x, y), a, b)
    d = jax.tree.map(lambda x, u: x.astype(u.dtype), pick(d_w, d_c), updates)
    one = jax.tree.map(lambda x: x[0], g)
    full = dist.full_bits(one)
    onebit = float(sum(int(np.prod(x.shape)) + 32 for x in jax.tree.leaves(one)))
    new = ScaleByOnebitAdamState(
      count,
      pick(mu_w, mu_c),
      pick(nu_w, state.nu),
      pick(state.worker_error, werr),
      pick(state.server_error, serr),
      jnp.where(warm, jnp.float32(full), jnp.float32(onebit)),
    )
    return d, new

  return optax.GradientTransformation(init_fn, update_fn)


def onebit_adam(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  warmup_steps: int = 100,
  num_workers: int | None = None,
) -> optax.GradientTransformation:
  """1-bit Adam (`scale_by_onebit_adam`), decoupled weight decay, then the learning rate."""
  return optax.chain(
    scale_by_onebit_adam(b1, b2, eps, warmup_steps, num_workers),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
