"""tpSGD: layer-local training towards fixed random projections of the labels (T4-15).

Target projection SGD (Lomnitz et al.) trains each layer of a feed-forward network on its own:
hidden layer l, with input x_l from a forward pass and output h_l = σ_l(x_l W_l + b_l), moves
towards the local target t_l = y* P_l, a fixed random projection of the targets y* (one-hot
labels), by SGD on

    ℓ_l = ½ mean_i ‖h_{l,i} − t_{l,i}‖²,   ∂ℓ_l/∂W_l = x_lᵀ ((h_l − t_l) ⊙ σ'(z_l)) / B,

and the output layer on the task's loss of its own outputs. Nothing propagates between
layers: forward passes and each layer's local gradient only (direct random target projection,
generalized to any output loss).

The network comes as the extra args `dense_fn(params, taps) -> (outputs, inputs)` (dense
layers in forward order; layer l's output is layer l+1's input), `loss_of_outputs` and
`targets` (`tasks.training`); each local gradient is that of the layer's own loss with
respect to its own parameters only, so the layers below it are held fixed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.privacy._ghost_clipping import check_dense_layers, layer


class ScaleByTpsgdState(NamedTuple):
  count: jax.Array


def projections(key: jax.Array, num_targets: int, widths: list[int], scale: float) -> list:
  """The fixed random matrices P_l [num_targets, width_l], entries N(0, scale²)."""
  return [
    scale * jax.random.normal(jax.random.fold_in(key, i), (num_targets, w))
    for i, w in enumerate(widths)
  ]


def _with_layer(params: Any, name: str, value: Any) -> Any:
  """`params` with layer `name`'s parameter dict replaced by `value`."""
  parts = list(filter(None, name.split("/")))
  if not parts:
    return value
  head, rest = parts[0], "/".join(parts[1:])
  return {**params, head: _with_layer(params[head], rest, value)}


def local_gradients(params: Any, dense_fn, loss_of_outputs, targets, proj_key, scale: float):
  """Each layer's local gradient (float32, shaped like `params`)."""
  _, inputs = jax.eval_shape(lambda p: dense_fn(p, None), params)
  check_dense_layers(params, inputs, "tpSGD")
  names = list(inputs)
  targets = targets.reshape(targets.shape[0], -1).astype(jnp.float32)
  widths = [layer(params, n)["w"].shape[-1] for n in names[:-1]]
  mats = projections(proj_key, targets.shape[1], widths, scale)
  grads = {}
  for i, name in enumerate(names):
    if i == len(names) - 1:  # the output layer: the task's loss of its outputs

      def local(theta, name=name):
        return loss_of_outputs(dense_fn(_with_layer(params, name, theta), None)[0])

    else:  # hidden: its output (the next layer's input) towards targets @ P_l

      def local(theta, name=name, nxt=names[i + 1], target=targets @ mats[i]):
        h = dense_fn(_with_layer(params, name, theta), None)[1][nxt].astype(jnp.float32)
        return 0.5 * jnp.mean(jnp.sum((h - target) ** 2, -1))

    grads[name] = jax.grad(local)(layer(params, name))
  return _assemble(params, grads)


def _assemble(params: Any, grads: dict[str, Any]) -> Any:
  """The per-layer gradients put back into the structure of `params`."""
  out = params
  for name, g in grads.items():
    out = _with_layer(out, name, g)
  return jax.tree.map(lambda g: g.astype(jnp.float32), out)


def scale_by_tpsgd(seed: int = 0, projection_scale: float = 1.0) -> optax.GradientTransformation:
  r"""tpSGD's direction: every layer's local gradient (module docstring); the incoming
  gradient is not used.

  Args:
    seed: the fixed random projections P_l are drawn from `PRNGKey(seed)` (layer l: fold l),
      the same every step.
    projection_scale: standard deviation of P's entries.

  Returns:
    An `optax.GradientTransformationExtraArgs` whose `update` needs `params` and the extra
    args `dense_fn`, `loss_of_outputs` and `targets`.

  References:
    Lomnitz et al., Learning with Local Gradients at the Edge,
    https://arxiv.org/abs/2208.08503; Frenkel et al., Learning without feedback: Fixed random
    learning signals allow for feedforward training of deep neural networks (DRTP),
    https://arxiv.org/abs/1909.01311
  """
  if isinstance(projection_scale, int | float) and projection_scale <= 0:
    raise ValueError(f"projection_scale must be > 0, got {projection_scale}.")

  def init_fn(params):
    del params
    return ScaleByTpsgdState(jnp.zeros([], jnp.int32))

  def update_fn(
    updates, state, params=None, *, dense_fn=None, loss_of_outputs=None, targets=None, **extra_args
  ):
    del updates, extra_args
    if params is None or dense_fn is None or loss_of_outputs is None or targets is None:
      raise ValueError(
        "tpSGD needs `params` and the extra args `dense_fn`, `loss_of_outputs` and `targets` "
        "in update (tasks with dense layers: tasks.training.has_dense)."
      )
    grads = local_gradients(
      params, dense_fn, loss_of_outputs, targets, jax.random.PRNGKey(seed), projection_scale
    )
    out = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
    return out, ScaleByTpsgdState(optax.safe_increment(state.count))

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def tpsgd(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.0,
  seed: int = 0,
  projection_scale: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
  """tpSGD: the local gradients, optional momentum, the learning rate (the paper's SGD)."""
  return optax.chain(
    scale_by_tpsgd(seed, projection_scale),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )
