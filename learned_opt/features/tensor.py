"""Features of a whole tensor: Muon's orthogonalized momentum, trust ratios, norms, shape.

    muon              NS5(u) for matrices, u = 0.95 m / (1 - 0.95^(t+1)) + 0.05 g / (1 - 0.95^t)
                      the bias-corrected Nesterov momentum of optax's Muon (m the momentum
                      at 0.95): the Newton–Schulz orthogonalization
                      (`baselines.matrix.newton_schulz`, Muon's quintic coefficients) on the
                      `(prod(shape[:-1]), shape[-1])` view; vectors and scalars get u itself
                      (Jordan et al., https://kellerjordan.github.io/posts/muon/)
    lars_trust_ratio  log(||p|| + 1e-8) - log(||g|| + 1e-8)    (You et al., arXiv:1708.03888)
    lamb_trust_ratio  log(||p|| + 1e-8) - log(||adam|| + 1e-8) (You et al., arXiv:1904.00962)
    log_param_rms, log_grad_rms, log_momentum_rms_0.9   log(rms over the tensor + 1e-8)
    rank              the number of axes;  log_numel   log(number of entries)

All but `muon` are one scalar per tensor: they describe the tensor to rules that condition
on it (the per-tensor LSTM of `learned_opt.velo`) and are not normalized.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from baselines.matrix import matrix_shape, newton_schulz
from learned_opt.features.base import Feature, Inputs, bias_correction, safe_sqrt
from learned_opt.features.moments import M_ADAM, M, _adam, momentum

MUON_M = momentum(0.95)


def _muon(x: Inputs) -> jax.Array:
  u = 0.95 * x.new[MUON_M.name] / bias_correction(0.95, x.count + 1)
  u = u + 0.05 * x.g / bias_correction(0.95, x.count)
  shape = matrix_shape(u.shape)
  if shape is None:
    return u
  return newton_schulz(u.reshape(shape)).reshape(u.shape)


def _log_norm(a: jax.Array) -> jax.Array:
  return jnp.log(safe_sqrt(jnp.sum(jnp.square(a))) + 1e-8)


def _log_rms(a: jax.Array) -> jax.Array:
  return jnp.log(safe_sqrt(jnp.mean(jnp.square(a))) + 1e-8)


FEATURES = (
  Feature("muon", _muon, (MUON_M,), doc="Muon's orthogonalized Nesterov momentum (matrices)"),
  Feature(
    "lars_trust_ratio",
    lambda x: _log_norm(x.p) - _log_norm(x.g),
    scope="tensor",
    doc="log ||p|| / ||g||",
  ),
  Feature(
    "lamb_trust_ratio",
    lambda x: _log_norm(x.p) - _log_norm(_adam(x)),
    M_ADAM,
    scope="tensor",
    doc="log ||p|| / ||adam||",
  ),
  Feature("log_param_rms", lambda x: _log_rms(x.p), scope="tensor", doc="log RMS of p"),
  Feature("log_grad_rms", lambda x: _log_rms(x.g), scope="tensor", doc="log RMS of g"),
  Feature(
    "log_momentum_rms_0.9",
    lambda x: _log_rms(x.new[M.name]),
    (M,),
    scope="tensor",
    doc="log RMS of momentum_0.9",
  ),
  Feature("rank", lambda x: jnp.float32(x.g.ndim), scope="tensor", doc="number of axes"),
  Feature(
    "log_numel",
    lambda x: jnp.float32(math.log(max(x.g.size, 1))),
    scope="tensor",
    doc="log number of entries",
  ),
)
