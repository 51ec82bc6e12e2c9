"""Features built from EMA moments of the gradient: momenta, second moments, and the
directions of Adam-like rules that read nothing else.

Every statistic is an EMA started at zero, `s <- b s + (1 - b) x`. With `m_b` the momentum
and `v_b` the second moment at decay `b`, and `t` the update's index (1 at the first):

    adam            m̂ / (sqrt(v̂) + 1e-8),  m = m_0.9, v = v_0.999, x̂ = x / (1 - b^t)
                    (Kingma & Ba, arXiv:1412.6980)
    norm_momentum_b m_b / sqrt(v_0.999 + 1e-8)           (no bias correction)
    adabelief       m̂ / (sqrt(ŝ) + 1e-16), s <- 0.999 s + 0.001 (g - m_{t-1})^2 + 1e-16
                    (Zhuang et al., arXiv:2010.07468); `belief` is sqrt(ŝ)
    lion            sign(0.9 m_{t-1} + 0.1 g), m = m_0.99 (Chen et al., arXiv:2302.06675)
    sign_agreement  sign(m_0.9) sign(g): +1 where momentum and gradient agree
    cautious_adam   adam * φ / max(mean φ, 1e-3), φ = [adam * g > 0]
                    (Liang et al., arXiv:2411.16085)
    grams           sign(g) |adam|  (Cao et al., arXiv:2412.17107)
    diffgrad        adam * ξ, ξ = sigmoid(|g_{t-1} - g_t|), g_0 = 0; `diffgrad_friction` is ξ
                    (Dubey et al., arXiv:1909.11015)
    adopt           g / max(sqrt(v'_{t-1}), 1e-6), v' = EMA at 0.9999 of g^2 started at g_1^2
                    (Taniguchi et al., arXiv:2411.02853)
    ademamix        (m̂_0.9 + 5 m_0.9999) / (sqrt(v̂_0.999) + 1e-8)
                    (Pagliardini et al., arXiv:2409.03113); `momentum_0.9999` is its slow EMA
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from learned_opt.features.base import (
  Feature,
  Inputs,
  Stat,
  bias_correction,
  ema,
  ema_stat,
  safe_sqrt,
)

MOMENTUM_DECAYS = (0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999)
SECOND_MOMENT_DECAYS = (0.9, 0.99, 0.999)


def momentum(decay: float) -> Stat:
  return ema_stat(f"momentum_{decay}", decay, lambda g, p: g)


def second_moment(decay: float) -> Stat:
  return ema_stat(f"second_moment_{decay}", decay, lambda g, p: jnp.square(g))


M, V = momentum(0.9), second_moment(0.999)


def _adam(x: Inputs) -> jax.Array:
  m_hat = x.new[M.name] / bias_correction(0.9, x.count)
  v_hat = x.new[V.name] / bias_correction(0.999, x.count)
  return m_hat / (safe_sqrt(v_hat) + 1e-8)


def _belief_update(state, g, p, count, glob):
  m, s = state
  s = ema(s, jnp.square(g - m), 0.999) + 1e-16
  return ema(m, g, 0.9), s


BELIEF = Stat(
  "belief", init=lambda p: (jnp.zeros_like(p), jnp.zeros_like(p)), update=_belief_update
)


def _belief(x: Inputs) -> jax.Array:
  return jnp.sqrt(x.new[BELIEF.name][1] / bias_correction(0.999, x.count))


def _adabelief(x: Inputs) -> jax.Array:
  m_hat = x.new[BELIEF.name][0] / bias_correction(0.9, x.count)
  return m_hat / (_belief(x) + 1e-16)


def _cautious(x: Inputs) -> jax.Array:
  u = _adam(x)
  phi = (u * x.g > 0).astype(jnp.float32)
  return u * phi / jnp.maximum(jnp.mean(phi), 1e-3)


PREV_GRAD = Stat("previous_gradient", init=jnp.zeros_like, update=lambda s, g, p, count, glob: g)


def _friction(x: Inputs) -> jax.Array:
  return jax.nn.sigmoid(jnp.abs(x.old[PREV_GRAD.name] - x.g))


def _adopt_update(v, g, p, count, glob):
  return jnp.where(count == 0, jnp.square(g), ema(v, jnp.square(g), 0.9999))


ADOPT_V = Stat("adopt_second_moment", init=jnp.zeros_like, update=_adopt_update)


def _adopt(x: Inputs) -> jax.Array:
  v_prev = jnp.where(x.count == 0, jnp.square(x.g), x.old[ADOPT_V.name])
  return x.g / jnp.maximum(safe_sqrt(v_prev), 1e-6)


SLOW = momentum(0.9999)


def _ademamix(x: Inputs) -> jax.Array:
  m_hat = x.new[M.name] / bias_correction(0.9, x.count)
  v_hat = x.new[V.name] / bias_correction(0.999, x.count)
  return (m_hat + 5.0 * x.new[SLOW.name]) / (safe_sqrt(v_hat) + 1e-8)


def _momentum_feature(decay: float) -> Feature:
  stat = momentum(decay)
  return Feature(
    stat.name, lambda x: x.new[stat.name], (stat,), doc=f"EMA of the gradient at {decay}"
  )


def _rms_feature(decay: float) -> Feature:
  stat = second_moment(decay)
  return Feature(
    f"rms_{decay}",
    lambda x: safe_sqrt(x.new[stat.name]),
    (stat,),
    doc=f"sqrt of the EMA of the squared gradient at {decay}",
  )


def _norm_momentum_feature(decay: float) -> Feature:
  stat = momentum(decay)
  return Feature(
    f"norm_momentum_{decay}",
    lambda x: x.new[stat.name] * jax.lax.rsqrt(x.new[V.name] + 1e-8),
    (stat, V),
    doc=f"momentum_{decay} / sqrt(second_moment_0.999 + 1e-8)",
  )


LION_M = momentum(0.99)
M_ADAM = (M, V)

FEATURES = (
  Feature("grad", lambda x: x.g, doc="the gradient"),
  Feature("param", lambda x: x.p, doc="the parameter"),
  *(_momentum_feature(b) for b in MOMENTUM_DECAYS),
  *(_rms_feature(b) for b in SECOND_MOMENT_DECAYS),
  *(_norm_momentum_feature(b) for b in (0.5, 0.9, 0.99)),
  Feature("adam", _adam, M_ADAM, doc="Adam's direction (b1 0.9, b2 0.999)"),
  Feature("adabelief", _adabelief, (BELIEF,), doc="AdaBelief's direction"),
  Feature("belief", _belief, (BELIEF,), doc="AdaBelief's sqrt(s_hat), s the EMA of (g - m)^2"),
  Feature(
    "lion",
    lambda x: jnp.sign(0.9 * x.old[LION_M.name] + 0.1 * x.g),
    (LION_M,),
    doc="Lion's direction (b1 0.9, b2 0.99)",
  ),
  Feature(
    "sign_agreement",
    lambda x: jnp.sign(x.new[M.name]) * jnp.sign(x.g),
    (M,),
    doc="sign(momentum_0.9) sign(g)",
  ),
  Feature("cautious_adam", _cautious, M_ADAM, doc="Cautious Adam's direction"),
  Feature("grams", lambda x: jnp.sign(x.g) * jnp.abs(_adam(x)), M_ADAM, doc="Grams' direction"),
  Feature("diffgrad_friction", _friction, (PREV_GRAD,), doc="diffGrad's sigmoid(|g_prev - g|)"),
  Feature(
    "diffgrad", lambda x: _adam(x) * _friction(x), (*M_ADAM, PREV_GRAD), doc="diffGrad's direction"
  ),
  Feature("adopt", _adopt, (ADOPT_V,), doc="ADOPT's gradient over the previous step's RMS"),
  Feature("ademamix", _ademamix, (*M_ADAM, SLOW), doc="AdEMAMix's direction (alpha 5)"),
)
