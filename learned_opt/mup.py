"""µP-aware per-tensor step multipliers, an option of every learned rule (µLO).

Thérien et al., µLO: Compute-Efficient Meta-Generalization of Learned Optimizers,
arXiv:2406.00153. Under the maximal-update parametrization a tensor's update must shrink
with its fan-in for the network's features to move by O(1) as the width grows. With
`mup=True` a rule's update of each tensor with two or more axes is multiplied by

    1 / fan_in,   fan_in = prod(shape[:-1])   (`[in, out]` kernels, as flax lays them out),

and vectors and scalars (biases, norms) keep a multiplier of 1. The rule is meta-trained
with the multipliers in place, so its learned step sizes are those of the base width.
"""

from __future__ import annotations

import math

import jax
import optax


def multiplier(shape: tuple[int, ...]) -> float:
  """The µP step multiplier of a tensor of `shape`."""
  return 1.0 / math.prod(shape[:-1]) if len(shape) >= 2 else 1.0


def scale_by_mup() -> optax.GradientTransformation:
  """Multiplies each tensor's update by `multiplier(shape)`; stateless."""

  def update_fn(updates, state, params=None):
    del params
    scaled = jax.tree.map(lambda u: (u * multiplier(u.shape)).astype(u.dtype), updates)
    return scaled, state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def with_mup(
  tx: optax.GradientTransformationExtraArgs, enabled: bool
) -> optax.GradientTransformationExtraArgs:
  """`tx` followed by `scale_by_mup()` when `enabled`, else `tx` itself."""
  return optax.chain(tx, scale_by_mup()) if enabled else tx
