"""AdaFisher from gradients alone: a diagonal Kronecker-factored Fisher as Adam's denominator.

AdaFisher's factors are the diagonals of A = E[ā āᵀ] (layer inputs, augmented with a
constant 1 for the bias) and G = E[δ δᵀ] (pre-activation gradients), each min-max
normalized. The framework's extra args expose neither, so they are read off the gradients
of the layer's weight W_g (inputs × outputs) and bias b_g, stacked as the augmented matrix
[W_g; b_gᵀ] ((inputs + 1) × outputs): for one example W_g = a δᵀ and b_g = δ, so its row
energies (a_i² ‖δ‖², and ‖δ‖² for the bias row) and column energies ((‖a‖² + 1) δ_j²) are the
authors' factor diagonals up to a scale, which the min-max normalization removes. On a
minibatch gradient this is an approximation (the mean gradient's energies replace
per-example ones); for a convolution too (the kernel's gradient sums over positions).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from baselines import axes

_KERNEL_NAMES = ("w", "kernel", "weight")
_BIAS_NAMES = ("b", "bias")


class ScaleByAdaFisherState(NamedTuple):
  """State of `scale_by_adafisher`."""

  count: jax.Array  # int32 step count
  mu: optax.Updates  # float32 EMA of gradients
  h_diag: optax.Updates  # float32 running diagonal of A: (rows,), (rows + 1,) with a bias,
  #   () for vectors; unused () for biases, embeddings and scalars
  s_diag: optax.Updates  # float32 running diagonal of G: (cols,), (n,) for vectors; unused ()


def min_max_normalize(x: jax.Array, eps: float = 1e-6) -> jax.Array:
  """(x − min x) / (max x − min x + eps) (the authors' `MinMaxNormalization`, eps 1e-6)."""
  lo = jnp.min(x)
  return (x - lo) / (jnp.max(x) - lo + eps)


def kernel_biases(params: optax.Params) -> dict[int, int]:
  """Which leaf is the bias of which kernel, by leaf index in `jax.tree.leaves` order.

  A vector named `b` or `bias` is the bias of the dense or convolution kernel (`baselines.axes`
  layout) named `w`, `kernel` or `weight` beside it (same parent in the tree) when its size
  is the kernel's output width. Reads only shapes and paths.
  """
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  by_parent: dict[tuple[str, ...], dict[str, int]] = {}
  for i, (path, _) in enumerate(flat):
    names = axes.path_names(path)
    if names:
      by_parent.setdefault(names[:-1], {})[names[-1]] = i
  pairs = {}
  for parent, children in by_parent.items():
    kernels = [(n, children[n]) for n in _KERNEL_NAMES if n in children]
    biases = [children[n] for n in _BIAS_NAMES if n in children]
    if len(kernels) != 1 or len(biases) != 1:
      continue
    (name, k), b = kernels[0], biases[0]
    shape = jnp.shape(flat[k][1])
    if (
      axes.detect(shape, (*parent, name)) in ("dense", "conv")
      and jnp.shape(flat[b][1]) == shape[-1:]
    ):
      pairs[k] = b
  return pairs


def _role(x: jax.Array, path, biases: set[int], i: int) -> str:
  """How AdaFisher treats leaf `i`: "kernel", "bias" (of a kernel), "vector" or "plain"."""
  if i in biases:
    return "bias"
  layout = axes.detect(jnp.shape(x), axes.path_names(path))
  if layout in ("dense", "conv"):
    return "kernel"
  return "vector" if layout == "vector" else "plain"


def scale_by_adafisher(
  b1: float = 0.9,
  gammas: tuple[float, float] = (0.92, 0.008),
  damping: float = 1e-3,
  update_interval: jax.typing.ArrayLike = 100,
) -> optax.GradientTransformation:
  r"""The AdaFisher direction m̂_t / F̃ (positive sign; negate to descend).

  Every `update_interval` steps (a `lax.cond`; first at step 0), for each dense or
  convolution kernel seen as a matrix W_g (∏ shape[:-1], shape[-1]) (`baselines.axes`),
  stacked with its bias b_g as the augmented [W_g; b_gᵀ] when it has one (`kernel_biases`):

  .. math::
    H ← (1-γ_0) H + γ_1\, \mathrm{mm}ig(Σ_j [W_g; b_gᵀ][:, j]^2ig),\qquad
    S ← (1-γ_0) S + γ_1\, \mathrm{mm}ig(Σ_i [W_g; b_gᵀ][i, :]^2ig),

  with mm the min-max normalization and H = S = 1 at the start; the kernel's Fisher is
  F̃ = H_{:-1} ⊗ S + λ and its bias's F̃ = H_{-1} S + λ (the last row of the augmented
  H ⊗ S, as the authors' `_get_F_tilde` splits it). Other vectors (norm scales and offsets,
  biases without a kernel beside them) keep their own factors: S over their entries from
  mm(g²) and a scalar H whose new value is 1, the constant input of a bias or norm offset,
  F̃ = H S + λ. Then

  .. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t,\qquad u_t = rac{m_t}{(1-β_1^t)\, F̃}.

  Embedding tables and scalars take F̃ = 1 (momentum SGD), as the authors' code does for
  parameters outside its supported layers (Linear, Conv2d, BatchNorm2d, LayerNorm).

  Deviation kept (gradients alone do not show activations): the authors' LayerNorm and
  BatchNorm share one S between scale and offset (from the offset's gradient) and give
  them a two-entry min-max H of which one is 0 and the other 1 depending on the
  activations; here each takes its own S and H = 1, which changes F̃ by at most
  H S ≤ 0.088 S (≈ 0.09 λ once the factors settle).

  Args:
    b1: β_1, momentum decay.
    gammas: (γ_0, γ_1) of the factor running averages (the authors' [0.92, 0.008]).
    damping: λ > 0 added to the Kronecker product.
    update_interval: steps between factor updates (the authors' TCov).

  Returns:
    An `optax.GradientTransformation` (gradient only).

  References:
    Gomes, Zhang, Belilovsky, Wolf & Hosseini, AdaFisher: Adaptive Second Order Optimization
    via Fisher Information, https://arxiv.org/abs/2405.16397; the authors' code,
    https://github.com/AtlasAnalyticsLab/AdaFisher (`optimizers/AdaFisher.py`)
  """
  if not 0 <= b1 < 1:
    raise ValueError(f"b1 must be in [0, 1), got {b1}.")
  if not (0 <= gammas[0] < 1 and 0 <= gammas[1] < 1):
    raise ValueError(f"gammas must be in [0, 1), got {gammas}.")
  if damping <= 0:
    raise ValueError(f"damping must be > 0, got {damping}.")
  if isinstance(update_interval, int) and update_interval < 1:
    raise ValueError(f"update_interval must be an integer >= 1, got {update_interval}.")
  g0, g1 = gammas

  def roles(tree):
    pairs = kernel_biases(tree)
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return pairs, [_role(x, path, set(pairs.values()), i) for i, (path, x) in enumerate(flat)]

  def init_fn(params):
    pairs, kinds = roles(params)
    leaves, treedef = jax.tree.flatten(params)
    ones = lambda *shape: jnp.ones(shape, jnp.float32)
    h, s = [], []
    for i, (p, kind) in enumerate(zip(leaves, kinds, strict=True)):
      if kind == "kernel":
        rows, cols = axes.matrix_shape(p.shape)
        h.append(ones(rows + (i in pairs)))
        s.append(ones(cols))
      else:
        h.append(ones())
        s.append(ones(p.size) if kind == "vector" else ones())
    return ScaleByAdaFisherState(
      count=jnp.zeros((), jnp.int32),
      mu=jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params),
      h_diag=treedef.unflatten(h),
      s_diag=treedef.unflatten(s),
    )

  def update_fn(updates, state, params=None):
    del params
    count = optax.safe_increment(state.count)
    refresh = state.count % update_interval == 0
    c1 = 1 - b1 ** count.astype(jnp.float32)
    average = lambda old, new: jnp.where(refresh, (1 - g0) * old + g1 * new, old)

    pairs, kinds = roles(updates)
    g, treedef = jax.tree.flatten(updates)
    g = [x.astype(jnp.float32) for x in g]
    mu = [b1 * m + (1 - b1) * x for m, x in zip(treedef.flatten_up_to(state.mu), g, strict=True)]
    h, s = treedef.flatten_up_to(state.h_diag), treedef.flatten_up_to(state.s_diag)
    fisher = [jnp.ones([], jnp.float32)] * len(g)
    for i, kind in enumerate(kinds):
      if kind == "kernel":
        mat = axes.as_matrix(g[i])
        if i in pairs:
          mat = jnp.concatenate([mat, g[pairs[i]][None, :]], axis=0)
        sq = jnp.square(mat)
        h[i] = average(h[i], min_max_normalize(sq.sum(axis=1)))
        s[i] = average(s[i], min_max_normalize(sq.sum(axis=0)))
        full = h[i][:, None] * s[i][None, :] + damping
        fisher[i] = full[: axes.matrix_shape(g[i].shape)[0]].reshape(g[i].shape)
        if i in pairs:
          fisher[pairs[i]] = full[-1]
      elif kind == "vector":
        h[i] = average(h[i], 1.0)
        s[i] = average(s[i], min_max_normalize(jnp.square(g[i])))
        fisher[i] = h[i] * s[i] + damping
    out = [
      (m / c1 / f).astype(x.dtype)
      for m, f, x in zip(mu, fisher, jax.tree.leaves(updates), strict=True)
    ]
    return treedef.unflatten(out), ScaleByAdaFisherState(
      count=count,
      mu=treedef.unflatten(mu),
      h_diag=treedef.unflatten(h),
      s_diag=treedef.unflatten(s),
    )

  return optax.GradientTransformation(init_fn, update_fn)


def adafisher(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  b1: float = 0.9,
  gammas: tuple[float, float] = (0.92, 0.008),
  damping: float = 1e-3,
  update_interval: jax.typing.ArrayLike = 100,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """AdaFisherW: θ ← θ − η (u_t + λ_wd θ), u_t from `scale_by_adafisher` (decoupled decay).

  Args:
    learning_rate: η.
    b1, gammas, damping, update_interval: see `scale_by_adafisher`.
    weight_decay: decoupled weight decay (AdaFisherW).

  Returns:
    An `optax.GradientTransformation`.

  References:
    Gomes et al., AdaFisher: Adaptive Second Order Optimization via Fisher Information,
    https://arxiv.org/abs/2405.16397
  """
  return optax.chain(
    scale_by_adafisher(b1=b1, gammas=gammas, damping=damping, update_interval=update_interval),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )
