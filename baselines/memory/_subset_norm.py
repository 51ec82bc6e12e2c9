"""Subset-Norm: one adaptive step size per subset of coordinates (Nguyen et al., 2024)."""

from __future__ import annotations

import jax
import optax

from baselines import axes
from baselines.memory._adam_mini import scale_by_shared_v_adam


def _subset_axes(p: jax.Array) -> tuple[int, ...]:
  """The axes summed over: the larger side of the tensor seen as `[prod(shape[:-1]), shape[-1]]`."""
  if p.ndim < 2:
    return ()
  fan_in, fan_out = axes.matrix_shape(p.shape)
  return tuple(range(p.ndim - 1)) if fan_in >= fan_out else (p.ndim - 1,)


def scale_by_subset_norm(
  *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
  r"""The direction of Adam with Subset-Norm step sizes (AdamSN).

  A tensor with $\mathrm{ndim} \ge 2$ is seen as a matrix $[\prod \text{shape}_{:-1},\
  \text{shape}_{-1}]$; each subset $ψ$ is the set of entries along its larger side (one
  subset per index of the smaller side, so the state is $\min(m, n) \approx \sqrt d$ for a
  square-ish matrix), and its step size uses the squared norm of the gradient on $ψ$:

  .. math::
    v_{t,ψ} = β_2 v_{t-1,ψ} + (1-β_2)\,\|g_{t,ψ}\|^2, \quad
    u_{t,i} = \frac{m_{t,i}/(1-β_1^t)}{\sqrt{v_{t,ψ(i)}/(1-β_2^t)} + ε}.

  Vectors and scalars keep per-coordinate $v$ (Adam). Because $v$ sums rather than
  averages, learning rates are larger than Adam's by about the root of the subset size.

  Args:
    b1: $β_1$, in [0, 1).
    b2: $β_2$, in [0, 1).
    eps: added to the root of the second moment.

  Returns:
    An `optax.GradientTransformation`.

  References:
    Nguyen, Nguyen & Ene, Efficient Adaptive Optimization via Subset-Norm and
    Subspace-Momentum: Fast, Memory-Reduced Training with Convergence Guarantees, 2024,
    https://arxiv.org/abs/2411.07120
  """
  return scale_by_shared_v_adam(_subset_axes, b1=b1, b2=b2, eps=eps, reduce="sum")


def subset_norm(
  learning_rate: optax.ScalarOrSchedule,
  *,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AdamSN (Adam with Subset-Norm step sizes) with decoupled weight decay; see
  `scale_by_subset_norm`.

  Example:
    >>> opt = subset_norm(learning_rate=1e-2)
  """
  return optax.chain(
    scale_by_subset_norm(b1=b1, b2=b2, eps=eps),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
