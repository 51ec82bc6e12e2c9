"""GradNormLoRP's model side: dense kernels as weight-normalized low-rank updates of a frozen W0.

Huang et al., Gradient Weight-normalized Low-rank Projection for Efficient LLM Training,
arXiv:2412.19616. Each selected dense kernel `W ∈ R^{in×out}` is trained as

    W = m · (W0 + I J) / ‖W0 + I J‖_c

with `W0` frozen, `m ∈ R^{out}` one magnitude per column (output unit), `I ∈ R^{in×r}` and
`J ∈ R^{r×out}` the low-rank factors, and `‖·‖_c` the Euclidean norm of each column (over the
input axis; the paper's, and DoRA's per-output-unit norm in torch's (out, in) layout). So the
columns of `W` have norm `m` exactly. At `init`, `m = ‖W0‖_c`, `I` is Gaussian with variance
`1 / in` and `J = 0` (LoRA's and DoRA's start), hence `W = W0`: the wrapped model computes
the original model's function. The other leaves (biases, unselected tensors) stay trainable as
they are, starting from the same init as `W0`.

`W0` is the wrapped task's `init` at `PRNGKey(w0_seed)` (the "pretrained" weights a
fine-tuning run starts from; the same for every run of the wrapped task); it is computed
once and cached on the instance rather than held in a field, which keeps the task a
hashable frozen dataclass (one program per task, as `tasks.train` compiles). The optimizer
side (GaLore's projection of the gradients of `I` and `J`, Adam on `m` and the rest) is the
registry entry `gradnormlorp`.

The authors' code (Jhhuangkay/Gradient-Weight-normalized-Low-rank-Projection-for-Efficient-
LLM-Training@GradNormLoRP/weight_norm_galore.py, wadamw.py) differs: it splits each full
weight into a per-row magnitude and a full-size direction (no `I J`, no frozen `W0`), projects
the direction's gradient with GaLore, and never writes the result back into the model (its
reconstruction is commented out). The paper's formula is followed here.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from tasks.base import Task


def column_norms(v: jax.Array) -> jax.Array:
  """`‖v‖_c`: the Euclidean norm of each column of an (in, out) matrix, shape (out,)."""
  return jnp.sqrt(jnp.sum(v * v, axis=0))


def reconstruct(w0: jax.Array, factors: dict[str, jax.Array]) -> jax.Array:
  """`W = m (W0 + I J) / ‖W0 + I J‖_c` for one kernel; `factors` = {"m", "i", "j"}."""
  v = w0 + factors["i"] @ factors["j"]
  return factors["m"] * v / column_norms(v)


def _name(path) -> str:
  last = path[-1]
  return str(getattr(last, "key", getattr(last, "name", last)))


@dataclasses.dataclass(frozen=True)
class GradNormLoRP(Task):
  """`task` with its dense kernels (2-D leaves named in `kernels`) reparameterized.

  Attributes:
    task: the wrapped task.
    rank: `r`, the inner dimension of `I J` (at most min(in, out) is useful).
    kernels: leaf names of the dense kernels (in, out) to reparameterize.
    w0_seed: the seed of the wrapped task's `init` that gives the frozen `W0`.
  """

  task: Task
  rank: int = 8
  kernels: tuple[str, ...] = ("w",)
  w0_seed: int = 0

  def __post_init__(self):
    if not isinstance(self.rank, int) or self.rank < 1:
      raise ValueError(f"rank must be a positive int, got {self.rank!r}.")

  @property
  def name(self) -> str:  # type: ignore[override]
    return f"{self.task.name}_gradnormlorp_r{self.rank}"

  def selected(self, path, leaf) -> bool:
    return jnp.ndim(leaf) == 2 and _name(path) in self.kernels

  @functools.cached_property
  def _w0(self) -> Any:
    with jax.ensure_compile_time_eval():
      return self.task.init(jax.random.PRNGKey(self.w0_seed))

  def frozen(self) -> Any:
    """The wrapped task's parameters at `PRNGKey(w0_seed)`: `W0` (and the others' init).

    Computed once, eagerly (also when first asked inside a trace), and cached on the
    instance: programs see `W0` as a literal, not as a random draw XLA would constant-fold.
    """
    return self._w0

  def init(self, key):
    base = self.frozen()
    leaves = jax.tree_util.tree_leaves_with_path(base)
    keys = iter(jax.random.split(key, max(len(leaves), 1)))

    def one(path, w0):
      k = next(keys)
      if not self.selected(path, w0):
        return w0
      fan_in, fan_out = w0.shape
      i = jax.random.normal(k, (fan_in, self.rank), w0.dtype) / jnp.sqrt(fan_in)
      j = jnp.zeros((self.rank, fan_out), w0.dtype)
      return {"m": column_norms(w0), "i": i, "j": j}

    if not any(self.selected(p, w) for p, w in leaves):
      raise ValueError(
        f"{self.task.name}: no 2-D leaf named one of {self.kernels}; nothing to reparameterize."
      )
    return jax.tree_util.tree_map_with_path(one, base)

  def to_model(self, params):
    """The wrapped task's parameters: each selected kernel reconstructed from its factors."""
    return jax.tree_util.tree_map_with_path(
      lambda path, w0, p: reconstruct(w0, p) if self.selected(path, w0) else p,
      self.frozen(),
      params,
    )

  def loss(self, params, key, batch):
    return self.task.loss(self.to_model(params), key, batch)

  def outputs(self, params, batch):
    """The wrapped task's outputs (tasks with outputs only), through the reconstructed W."""
    return self.task.outputs(self.to_model(params), batch)

  def loss_of_outputs(self, outputs, batch):
    return self.task.loss_of_outputs(outputs, batch)

  def accuracy(self, params, batch):
    """The wrapped task's accuracy (classifiers only), through the reconstructed W."""
    return self.task.accuracy(self.to_model(params), batch)

  def batches(self, split):
    return self.task.batches(split)

  def normalize(self, loss):
    return self.task.normalize(loss)
