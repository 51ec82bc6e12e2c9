"""IVON: Improved Variational Online Newton (Gaussian variational learning at Adam's cost)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import perturbation


class ScaleByIvonState(NamedTuple):
  """State of `scale_by_ivon`."""

  count: jax.Array  # int32 step count
  momentum: optax.Updates  # float32 EMA of the sampled gradients
  hess: optax.Updates  # float32 Hessian-diagonal estimate h (> 0)


def scale_by_ivon(
  ess: float,
  hess_init: float = 1.0,
  b1: float = 0.9,
  b2: float = 0.99999,
  weight_decay: float = 1e-4,
  mc_samples: int = 1,
  clip_radius: float = math.inf,
) -> optax.GradientTransformationExtraArgs:
  r"""The IVON direction for the posterior mean m = params (positive sign; negate to descend).

  With λ = `ess`, δ = `weight_decay`, h_0 = `hess_init`, and ε ~ N(0, I) from `key`:

  .. math::
    σ = 1/\sqrt{λ (h + δ)},\quad θ = m + σ ⊙ ε,\quad ĝ = ∇f(θ),\quad
    ĥ = λ\, (σ ε ⊙ ĝ)(h + δ) = ĝ ⊙ ε / σ,

    g ← β_1 g + (1-β_1) ĝ,\qquad
    h ← β_2 h + (1-β_2) ĥ + \tfrac12 (1-β_2)^2 (h - ĥ)^2 / (h + δ),

    u = (h_0 + δ)\ \mathrm{clip}\Big(\frac{g/(1-β_1^t) + δ m}{h + δ}, ±r\Big),

  (ĝ, ε ⊙ ĝ averaged over `mc_samples` draws). The factor h_0 + δ makes the first step an
  SGD step of size η, as in the authors' code. The gradient at the sampled weights is taken
  through `value_fn`; the incoming gradient (at the mean) is not used.

  Args:
    ess: λ, the effective sample size (the training-set size in the paper).
    hess_init: h_0 > 0.
    b1: β_1, gradient-momentum decay.
    b2: β_2, Hessian EMA decay.
    weight_decay: δ > 0 (the prior precision per sample).
    mc_samples: number of weight samples per step.
    clip_radius: r, elementwise clip of the preconditioned step (inf: none).

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params` and the extra args
    `value_fn` and `key`.

  References:
    Shen, Daheim, Cong, Nickl, Marconi, Bazan, Yokota, Gurevych, Cremers, Khan & Möllenhoff,
    Variational Learning is Effective for Large Deep Networks, https://arxiv.org/abs/2402.17641
  """
  if ess <= 0:
    raise ValueError(f"ess must be > 0, got {ess}.")
  if hess_init <= 0:
    raise ValueError(f"hess_init must be > 0, got {hess_init}.")
  if not 0 <= b1 < 1 or not 0 <= b2 < 1:
    raise ValueError(f"b1 and b2 must be in [0, 1), got {b1}, {b2}.")
  if weight_decay <= 0:
    raise ValueError(f"weight_decay must be > 0, got {weight_decay}.")
  if mc_samples < 1:
    raise ValueError(f"mc_samples must be an integer >= 1, got {mc_samples}.")
  if clip_radius <= 0:
    raise ValueError(f"clip_radius must be > 0, got {clip_radius}.")

  def init_fn(params):
    return ScaleByIvonState(
      count=jnp.zeros((), jnp.int32),
      momentum=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
      hess=jax.tree.map(lambda p: jnp.full(p.shape, hess_init, jnp.float32), params),
    )

  def update_fn(updates, state, params=None, *, value_fn=None, key=None, **extra_args):
    del extra_args
    if params is None or value_fn is None or key is None:
      raise ValueError("ivon needs `params` and the extra args `value_fn` and `key`.")
    mean = jax.tree.map(lambda p: p.astype(jnp.float32), params)
    sigma = jax.tree.map(lambda h: jax.lax.rsqrt(ess * (h + weight_decay)), state.hess)
    zero = jax.tree.map(jnp.zeros_like, mean)
    avg_grad, avg_nxg = zero, zero
    for k in jax.random.split(key, mc_samples):
      eps = perturbation.sample(k, mean, 1.0, "gaussian")
      noise = jax.tree.map(jnp.multiply, sigma, eps)
      sample = jax.tree.map(lambda m, n, p: (m + n).astype(p.dtype), mean, noise, params)
      grad = jax.tree.map(lambda g: g.astype(jnp.float32), jax.grad(value_fn)(sample))
      avg_grad = jax.tree.map(lambda a, g: a + g / mc_samples, avg_grad, grad)
      avg_nxg = jax.tree.map(lambda a, n, g: a + n * g / mc_samples, avg_nxg, noise, grad)
    count = optax.safe_increment(state.count)
    momentum = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.momentum, avg_grad)

    def new_hess(h, nxg):
      f = nxg * (h + weight_decay) * ess
      return b2 * h + (1 - b2) * f + 0.5 * (1 - b2) ** 2 * (h - f) ** 2 / (h + weight_decay)

    hess = jax.tree.map(new_hess, state.hess, avg_nxg)
    debias = 1 - b1 ** count.astype(jnp.float32)
    out = jax.tree.map(
      lambda g, h, m, u: (
        (hess_init + weight_decay)
        * jnp.clip((g / debias + weight_decay * m) / (h + weight_decay), -clip_radius, clip_radius)
      ).astype(u.dtype),
      momentum,
      hess,
      mean,
      updates,
    )
    return out, ScaleByIvonState(count=count, momentum=momentum, hess=hess)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def ivon(
  learning_rate: optax.ScalarOrSchedule = 0.1,
  ess: float = 1e4,
  hess_init: float = 1.0,
  b1: float = 0.9,
  b2: float = 0.99999,
  weight_decay: float = 1e-4,
  mc_samples: int = 1,
  clip_radius: float = math.inf,
) -> optax.GradientTransformationExtraArgs:
  """IVON: m ← m − η u (see `scale_by_ivon`; weight decay is inside the rule as δ m).

  Args:
    learning_rate: η.
    ess, hess_init, b1, b2, weight_decay, mc_samples, clip_radius: see `scale_by_ivon`.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` needs `params`, `value_fn`, `key`.

  References:
    Shen et al., Variational Learning is Effective for Large Deep Networks,
    https://arxiv.org/abs/2402.17641
  """
  return optax.chain(
    scale_by_ivon(
      ess=ess,
      hess_init=hess_init,
      b1=b1,
      b2=b2,
      weight_decay=weight_decay,
      mc_samples=mc_samples,
      clip_radius=clip_radius,
    ),
    optax.scale_by_learning_rate(learning_rate),
  )
