"""µP per-tensor step multipliers (µLO): the `mup=True` option of the `mlp`, `velo`, `celo` and
`celo2` rules.

Thérien et al., µLO: Compute-Efficient Meta-Generalization of Learned Optimizers,
arXiv:2406.00153, after the maximal-update parametrization (µP) of Yang et al., Tensor
Programs V, arXiv:2203.03466. For an update of O(1) per entry whatever the width (as a
learned rule's, or Adam's), the features of a network move by O(1) as it widens only if the
step of every weight whose fan-in is a width shrinks as 1 / fan_in; weights whose fan-in is
the data's dimension (the input layer, embedding tables) and vectors (biases, norm scales)
keep their step. With `mup=True` a rule's update of each tensor is multiplied by

    1 / fan_in   hidden and output weights, fan_in = prod(shape[:-1]) (`[in, out]` kernels
                 and HWIO convolutions, as flax lays them out);
    1            input weights, embedding tables, and every tensor of fewer than two axes.

This is µLO's code (`MuMLP`: input weights and all biases 1, hidden weights 1 / fan_in)
except for the output layer, whose 1 / fan_in µLO puts in the forward pass (the layer's
output is multiplied by it); the networks here are standard-parametrized, so it goes into
the update instead, which changes the function the same way for a scale-invariant update.
Input layers are recognized by `learned_opt.neural_graph.input_kernels` (the `embed` and
`pos` tables of the LMs, else the first layer of a chain of dense / convolution layers);
for parameters of a structure it does not recognize every tensor of two or more axes gets
1 / fan_in. The rule is meta-trained with the multipliers in place, so its learned step
sizes are those of the base width.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import optax

from learned_opt import neural_graph


def multiplier(shape: tuple[int, ...], *, reads_input: bool = False) -> float:
  """The µP step multiplier of a tensor of `shape` (`reads_input`: an input layer's kernel or
  an embedding table)."""
  if len(shape) < 2 or reads_input:
    return 1.0
  return 1.0 / math.prod(shape[:-1])


def multipliers(params: Any) -> Any:
  """Every tensor's multiplier, a tree like `params` of Python floats."""
  inputs = neural_graph.input_kernels(params)
  return jax.tree_util.tree_map_with_path(
    lambda path, p: multiplier(p.shape, reads_input=neural_graph.path_names(path) in inputs),
    params,
  )


def scale_by_mup() -> optax.GradientTransformation:
  """Multiplies each tensor's update by its µP multiplier (`multipliers`); stateless."""

  def update_fn(updates, state, params=None):
    del params
    scaled = jax.tree.map(lambda u, m: (u * m).astype(u.dtype), updates, multipliers(updates))
    return scaled, state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def with_mup(
  tx: optax.GradientTransformationExtraArgs, enabled: bool
) -> optax.GradientTransformationExtraArgs:
  """`tx` followed by `scale_by_mup()` when `enabled`, else `tx` itself."""
  return optax.chain(tx, scale_by_mup()) if enabled else tx
