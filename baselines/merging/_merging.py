"""Weight averaging and model merging: procedures on parameter pytrees, not optimizer steps.

- `uniform_average`: one global average of several models (the single final merge of
  decentralized SGD, "A Single Merging Suffices").
- `task_vectors`, `task_arithmetic`: θ = θ0 + λ Σ_k (θ_k - θ0).
- `merge_task_vectors`, `adamerging`, `prediction_entropy`: AdaMerging's task-wise or
  layer-wise coefficients, learned by minimizing an unsupervised loss (prediction entropy).
- `linear_combination`, `lcsc_search`: LCSC's weighted sum of saved checkpoints, with
  coefficients from an evolutionary search on a metric.
- `interpolate`, `adamms_merge`, `adamms_select`: AdaMMS's parameter mapping, linear
  interpolation, and label-free choice of the interpolation coefficient.

Every function takes and returns pytrees; none keeps Python-side state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

PyTree = Any


def _stack(trees: Sequence[PyTree]) -> PyTree:
  if len(trees) == 0:
    raise ValueError("Need at least one parameter pytree.")
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def uniform_average(models: Sequence[PyTree]) -> PyTree:
  """θ = (1/M) Σ_m θ_m, leaf by leaf, in each leaf's dtype (accumulated in float32).

  References:
    A Single Merging Suffices: Recovering Server-based Learning Performance in Decentralized
    Learning (the merge at the end of decentralized SGD)
  """
  return jax.tree.map(
    lambda x, ref: jnp.mean(x.astype(jnp.float32), axis=0).astype(ref.dtype),
    _stack(models),
    models[0],
  )


def task_vectors(base: PyTree, finetuned: Sequence[PyTree]) -> list[PyTree]:
  """τ_k = θ_k - θ0 for every fine-tuned model θ_k."""
  return [jax.tree.map(lambda a, b: a - b, ft, base) for ft in finetuned]


def task_arithmetic(base: PyTree, finetuned: Sequence[PyTree], scale: float = 0.3) -> PyTree:
  """Task arithmetic: θ = θ0 + λ Σ_k (θ_k - θ0).

  Args:
    base: the pre-trained parameters θ0.
    finetuned: the task models θ_k (same structure as `base`).
    scale: λ (0.3 is the usual choice on held-out validation).

  References:
    Ilharco et al., Editing Models with Task Arithmetic, https://arxiv.org/abs/2212.04089
  """
  taus = task_vectors(base, finetuned)
  total = jax.tree.map(lambda *xs: sum(xs[1:], start=xs[0]), *taus)
  return jax.tree.map(lambda b, t: (b + scale * t).astype(b.dtype), base, total)


def merge_task_vectors(base: PyTree, taus: Sequence[PyTree], coefficients: PyTree) -> PyTree:
  """θ = θ0 + Σ_k λ_k τ_k with task-wise or layer-wise coefficients.

  Args:
    base: θ0.
    taus: the K task vectors.
    coefficients: shape (K,) (task-wise), or a pytree like `base` whose leaves have shape (K,)
      (layer-wise: one coefficient per task and per parameter tensor).

  Returns:
    The merged parameters, in `base`'s dtypes.
  """
  stacked = _stack(taus)
  if isinstance(coefficients, jax.Array | np.ndarray):
    coefficients = jax.tree.map(lambda _: jnp.asarray(coefficients), base)

  def one(b, t, c):
    c = c.reshape((-1,) + (1,) * b.ndim).astype(jnp.float32)
    return (b.astype(jnp.float32) + jnp.sum(c * t.astype(jnp.float32), axis=0)).astype(b.dtype)

  return jax.tree.map(one, base, stacked, coefficients)


def prediction_entropy(logits: jax.Array) -> jax.Array:
  """Mean Shannon entropy of softmax(logits) over all leading axes (AdaMerging's objective)."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return -jnp.mean(jnp.sum(jnp.exp(logp) * logp, axis=-1))


def adamerging(
  base: PyTree,
  taus: Sequence[PyTree],
  objective: Callable[[PyTree, jax.Array], jax.Array],
  key: jax.Array,
  *,
  layerwise: bool = True,
  num_steps: int = 500,
  learning_rate: float = 1e-3,
  init_scale: float = 0.3,
) -> tuple[PyTree, PyTree]:
  """AdaMerging: learn merge coefficients by minimizing an unsupervised objective with Adam.

  Coefficients λ start at `init_scale`; each step draws a key, evaluates
  `objective(merge_task_vectors(base, taus, λ), key)` (e.g. the summed `prediction_entropy`
  of the merged model on unlabeled test batches of every task) and takes an Adam step on λ.
  The whole loop is one `lax.scan`.

  Args:
    base: θ0.
    taus: the K task vectors.
    objective: (merged params, key) -> scalar to minimize.
    key: PRNG key, split once per step.
    layerwise: one coefficient per task and per tensor (True) or per task (False).
    num_steps: Adam steps.
    learning_rate: Adam's learning rate (1e-3 in the paper).
    init_scale: initial coefficient (0.3 in the paper).

  Returns:
    (merged params, coefficients).

  References:
    Yang et al., AdaMerging: Adaptive Model Merging for Multi-Task Learning,
    https://arxiv.org/abs/2310.02575
  """
  k = len(taus)
  if layerwise:
    coeffs = jax.tree.map(lambda _: jnp.full((k,), init_scale, jnp.float32), base)
  else:
    coeffs = jnp.full((k,), init_scale, jnp.float32)
  opt = optax.adam(learning_rate)
  loss = lambda c, sk: objective(merge_task_vectors(base, taus, c), sk)

  def step(carry, sk):
    c, s = carry
    g = jax.grad(loss)(c, sk)
    u, s = opt.update(g, s, c)
    return (optax.apply_updates(c, u), s), None

  (coeffs, _), _ = jax.lax.scan(step, (coeffs, opt.init(coeffs)), jax.random.split(key, num_steps))
  return merge_task_vectors(base, taus, coeffs), coeffs


def linear_combination(checkpoints: Sequence[PyTree], coefficients: jax.Array) -> PyTree:
  """θ = Σ_i α_i θ_i over saved checkpoints (LCSC's merged model)."""
  alphas = jnp.asarray(coefficients, jnp.float32)
  if alphas.shape != (len(checkpoints),):
    raise ValueError(f"Need {len(checkpoints)} coefficients, got shape {alphas.shape}.")

  def one(x, ref):
    a = alphas.reshape((-1,) + (1,) * ref.ndim)
    return jnp.sum(a * x.astype(jnp.float32), axis=0).astype(ref.dtype)

  return jax.tree.map(one, _stack(checkpoints), checkpoints[0])


def lcsc_search(
  checkpoints: Sequence[PyTree],
  metric: Callable[[PyTree], jax.Array],
  key: jax.Array,
  *,
  num_iters: int = 100,
  population: int = 8,
  sigma: float = 0.05,
  init: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """LCSC's coefficient search: an elitist evolutionary search minimizing `metric`.

  Starts from `init` (default: all weight on the last checkpoint, i.e. the plain final model);
  each iteration perturbs the best coefficients found so far with Gaussian noise of scale
  `sigma` (`population` candidates), evaluates `metric(linear_combination(...))`, and keeps
  the best. The result is never worse than `init` under `metric`.

  Args:
    checkpoints: the saved checkpoints θ_1..θ_N.
    metric: merged params -> scalar to minimize (e.g. FID, or a validation loss).
    key: PRNG key.
    num_iters: search iterations.
    population: candidates per iteration.
    sigma: mutation scale.
    init: starting coefficients, shape (N,).

  Returns:
    (best coefficients, best metric).

  References:
    Liu et al., Linear Combination of Saved Checkpoints Makes Consistency and Diffusion Models
    Better, https://arxiv.org/abs/2404.02241
  """
  n = len(checkpoints)
  if init is None:
    init = jnp.zeros((n,), jnp.float32).at[-1].set(1.0)
  score = lambda a: metric(linear_combination(checkpoints, a))
  best, best_val = jnp.asarray(init, jnp.float32), score(init)

  def step(carry, k):
    b, bv = carry
    cands = b + sigma * jax.random.normal(k, (population, n))
    vals = jax.lax.map(score, cands)
    i = jnp.argmin(vals)
    better = vals[i] < bv
    return (jnp.where(better, cands[i], b), jnp.where(better, vals[i], bv)), None

  (best, best_val), _ = jax.lax.scan(step, (best, best_val), jax.random.split(key, num_iters))
  return best, best_val


def interpolate(a: PyTree, b: PyTree, alpha: float | jax.Array) -> PyTree:
  """θ = (1 - α) θ_a + α θ_b, leaf by leaf, in `a`'s dtypes."""
  return jax.tree.map(
    lambda x, y: ((1 - alpha) * x.astype(jnp.float32) + alpha * y.astype(jnp.float32)).astype(
      x.dtype
    ),
    a,
    b,
  )


def adamms_merge(
  base: Mapping[str, jax.Array],
  other: Mapping[str, jax.Array],
  alpha: float,
  mapping: Mapping[str, str] | None = None,
) -> dict[str, jax.Array]:
  """AdaMMS's merge of two models of different architectures, on flat name -> array dicts.

  Each tensor of `base` is matched to the tensor of `other` named by `mapping` (default: the
  same name); matched tensors of equal shape are interpolated, θ = (1 - α) θ_base + α θ_other,
  and unmatched ones (architecture-specific) keep `base`'s values.

  Args:
    base: the model whose architecture the result has (flat dict).
    other: the model merged into it (flat dict).
    alpha: interpolation coefficient α.
    mapping: base name -> other name, for the parameters that correspond.

  References:
    Du et al., AdaMMS: Model Merging for Heterogeneous Multimodal Large Language Models with
    Unsupervised Coefficient Optimization, https://arxiv.org/abs/2503.23733
  """
  out = {}
  for name, x in base.items():
    src = (mapping or {}).get(name, name)
    y = other.get(src)
    if y is not None and y.shape == x.shape:
      out[name] = interpolate(x, y, alpha)
    else:
      out[name] = x
  return out


def adamms_select(
  alphas: Sequence[float],
  outputs: Sequence[Any],
  distance: Callable[[Any, Any], float],
  window: int = 1,
) -> float:
  """AdaMMS's label-free choice of α: the candidate whose outputs change least nearby.

  With the candidates sorted by α, score_i is the mean of distance(outputs_i, outputs_j) over
  the neighbours j ≠ i with |j - i| ≤ window; the α with the smallest score is returned (ties:
  the smallest α).

  Args:
    alphas: candidate coefficients (any order).
    outputs: the merged model's outputs on unlabeled inputs, one entry per candidate.
    distance: a disagreement between two candidates' outputs (e.g. the fraction of differing
      generated answers).
    window: how many neighbours on each side are compared.

  Returns:
    The selected α.
  """
  if len(alphas) != len(outputs) or not alphas:
    raise ValueError("Need one output per candidate alpha, and at least one candidate.")
  order = np.argsort(alphas)
  a = [alphas[i] for i in order]
  o = [outputs[i] for i in order]
  scores = []
  for i in range(len(a)):
    nbrs = [j for j in range(max(0, i - window), min(len(a), i + window + 1)) if j != i]
    scores.append(sum(float(distance(o[i], o[j])) for j in nbrs) / max(1, len(nbrs)))
  return float(a[int(np.argmin(scores))])
