"""Ghost clipping: DP-SGD's per-example clipping without per-example gradients (T6-18).

A dense layer `z = x W + b` gives example i the weight gradient `x_iᵀ g_i` (g_i = ∂l_i/∂z_i,
rows over a sequence axis T when x is `[B, T, d_in]`), whose squared norm is

    ‖x_iᵀ g_i‖²_F = ⟨x_i x_iᵀ, g_i g_iᵀ⟩   (two T x T Gram matrices; ‖x_i‖² ‖g_i‖² when T = 1),

and a bias gradient `Σ_t g_it`. Li et al. read x from the forward pass and g from one backward
pass of the summed loss, add the layers' squared norms into each example's norm, then run a
second backward pass of the reweighted loss Σ_i c_i l_i with c_i = min(1, C/‖∇l_i‖): the
clipped sum of DP-SGD without a `[B, *W.shape]` array anywhere.

Here the model comes as the extra arg `dense_fn(params, taps) -> (outputs, inputs)`
(`tasks.training`): the outputs with `taps[name]` added to dense layer `name`'s
pre-activation, and every dense layer's input x; layer `name`'s parameters are
`params[name]` = {w, b} (`layer`: a '/'-joined name is a nested path, '' the whole tree).
The gradient with respect to the zero taps is g; the loss is the extra arg
`loss_of_outputs`, a mean over the batch axis of the outputs, so example i's output gradient
is B times the mean loss's. Both backward passes are vector-Jacobian products of one forward
pass of `dense_fn`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines.privacy._dp_sgd import gaussian_noise


class ScaleByGhostClippingState(NamedTuple):
  count: jnp.ndarray
  num_clipped: jnp.ndarray  # examples clipped in the last step


def layer(params: Any, name: str) -> Any:
  """The parameters {w, b} of dense layer `name`: `params[name]`, or for a '/'-joined name
  the nested dict along it ('' is `params` itself, a single layer)."""
  for part in filter(None, name.split("/")):
    params = params[part]
  return params


def check_dense_layers(params: Any, inputs: dict[str, jax.Array], method: str) -> None:
  """Every parameter must be the `w` or `b` of a dense layer that `dense_fn` reports."""
  dense = {(*filter(None, name.split("/")), part) for name in inputs for part in ("w", "b")}
  paths = [tuple(getattr(k, "key", k) for k in p) for p, _ in jax.tree.leaves_with_path(params)]
  other = ["/".join(map(str, p)) for p in paths if p not in dense]
  missing = [n for n in inputs if (*filter(None, n.split("/")), "w") not in paths]
  if other or missing:
    raise ValueError(
      f"{method} covers dense layers only: every parameter must be the 'w' or 'b' of a "
      f"layer in dense_fn's inputs {sorted(inputs)} (layers without 'w': {missing}); other "
      f"leaves: {other}."
    )


def per_example_sq_norms(
  inputs: dict[str, jax.Array], out_grads: dict[str, jax.Array], params: Any
) -> jax.Array:
  """Per-example squared gradient norms [B] of the dense layers, summed over layers.

  Args:
    inputs: {name: x} of shape [B, d_in] or [B, T..., d_in].
    out_grads: {name: g}, g_i = ∂l_i/∂z_i of the same leading shape, last axis d_out.
    params: the parameters; `layer(params, name)` = {"w": [d_in, d_out], "b" (optional)}.
  """
  total = 0.0
  for name, x in inputs.items():
    g = out_grads[name].astype(jnp.float32)
    x = x.astype(jnp.float32)
    b = x.shape[0]
    x, g = x.reshape(b, -1, x.shape[-1]), g.reshape(b, -1, g.shape[-1])
    if x.shape[1] == 1:
      total = total + jnp.sum(x[:, 0] ** 2, -1) * jnp.sum(g[:, 0] ** 2, -1)
    else:  # the ghost norm: two T x T Gram matrices per example
      total = total + jnp.einsum(
        "bts,bts->b", jnp.einsum("btd,bsd->bts", x, x), jnp.einsum("btp,bsp->bts", g, g)
      )
    if "b" in layer(params, name):
      total = total + jnp.sum(jnp.sum(g, 1) ** 2, -1)
  return total


def ghost_clipped_sum(
  params: Any, dense_fn, loss_of_outputs, l2_norm_clip: float
) -> tuple[Any, jax.Array, jax.Array]:
  """(Σ_i c_i ∇l_i, per-example norms [B], number clipped) by ghost clipping (float32)."""
  _, inputs_shape = jax.eval_shape(lambda p: dense_fn(p, None), params)
  check_dense_layers(params, inputs_shape, "Ghost clipping")
  taps = jax.tree.map(
    lambda s: jnp.zeros(s.shape, s.dtype),
    jax.eval_shape(
      lambda p: {n: x @ layer(p, n)["w"] for n, x in dense_fn(p, None)[1].items()}, params
    ),
  )
  outputs, pullback, inputs = jax.vjp(lambda p, t: dense_fn(p, t), params, taps, has_aux=True)
  batch = outputs.shape[0]
  out_grad = jax.grad(loss_of_outputs)(outputs) * batch  # row i: ∂l_i/∂outputs_i
  _, out_grads = pullback(out_grad)  # first backward pass: g per layer, per example
  norms = jnp.sqrt(per_example_sq_norms(inputs, out_grads, params))
  scale = jnp.nan_to_num(jnp.minimum(l2_norm_clip / norms, 1.0), nan=1.0)
  weights = scale.reshape((batch,) + (1,) * (outputs.ndim - 1)).astype(out_grad.dtype)
  summed, _ = pullback(weights * out_grad)  # second backward pass: Σ_i c_i ∇l_i
  summed = jax.tree.map(lambda s: s.astype(jnp.float32), summed)
  return summed, norms, jnp.sum(scale < 1.0).astype(jnp.int32)


def scale_by_ghost_clipping(
  l2_norm_clip: float = 1.0, noise_multiplier: float = 1.1
) -> optax.GradientTransformationExtraArgs:
  r"""DP-SGD's privatized mean gradient, its per-example norms by ghost clipping.

  $$\bar g = \frac1B\Big(\sum_{i=1}^B \nabla l_i \min\big(1, C/\lVert \nabla l_i\rVert_2\big)
    + \mathcal N(0, \sigma^2 C^2 I)\Big),$$

  the per-example norms from each dense layer's inputs and output gradients (module
  docstring), the clipped sum from a second, reweighted backward pass. The incoming gradient
  is not used. Same noise draw as `scale_by_dp_aggregate` for the same key, so the update
  equals DP-SGD's on materialized per-example gradients.

  Args:
    l2_norm_clip: C.
    noise_multiplier: $\sigma$ (0 disables the noise).

  Returns:
    An `optax.GradientTransformationExtraArgs` whose `update` needs `params` and the extra
    args `dense_fn`, `loss_of_outputs` and `key`.

  References:
    Li et al., Large Language Models Can Be Strong Differentially Private Learners,
    https://arxiv.org/abs/2110.05679 (§4, ghost clipping); Abadi et al., Deep Learning with
    Differential Privacy, https://arxiv.org/abs/1607.00133
  """
  if l2_norm_clip <= 0:
    raise ValueError(f"l2_norm_clip must be > 0, got {l2_norm_clip}.")
  if noise_multiplier < 0:
    raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}.")

  def init_fn(params):
    del params
    return ScaleByGhostClippingState(jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32))

  def update_fn(
    updates, state, params=None, *, dense_fn=None, loss_of_outputs=None, key=None, **extra_args
  ):
    del updates, extra_args
    if params is None or dense_fn is None or loss_of_outputs is None or key is None:
      raise ValueError(
        "Ghost clipping needs `params` and the extra args `dense_fn`, `loss_of_outputs` and "
        "`key` in update (tasks with dense layers: tasks.training.has_dense)."
      )
    summed, norms, num_clipped = ghost_clipped_sum(params, dense_fn, loss_of_outputs, l2_norm_clip)
    noise = gaussian_noise(key, summed, noise_multiplier * l2_norm_clip)
    batch = norms.shape[0]
    out = jax.tree.map(lambda s, z, p: ((s + z) / batch).astype(p.dtype), summed, noise, params)
    return out, ScaleByGhostClippingState(optax.safe_increment(state.count), num_clipped)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def ghost_clipping(
  learning_rate: optax.ScalarOrSchedule,
  l2_norm_clip: float = 1.0,
  noise_multiplier: float = 1.1,
  momentum: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
  """DP-SGD with ghost clipping: `dp_sgd`'s chain with `scale_by_ghost_clipping` first."""
  return optax.chain(
    scale_by_ghost_clipping(l2_norm_clip, noise_multiplier),
    optax.trace(decay=momentum) if momentum else optax.identity(),
    optax.scale_by_learning_rate(learning_rate),
  )
